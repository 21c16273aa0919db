use bao::prelude::*;

#[bao::workflow(retries = 1000, version = 0, retires = 3)]
async fn onboard(ctx: WorkflowCtx, input: String) -> bao::Result<()> {
    let _ = (ctx, input);
    Ok(())
}

fn main() {}
