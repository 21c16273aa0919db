use bao::prelude::*;

#[bao::workflow]
fn onboard(ctx: WorkflowCtx, input: String) -> bao::Result<()> {
    let _ = (ctx, input);
    Ok(())
}

fn main() {}
