use bao::prelude::*;

#[bao::workflow(name = "onboard")]
async fn onboard(ctx: WorkflowCtx, input: String) -> bao::Result<()> {
    let _ = (ctx, input);
    Ok(())
}

#[bao::workflow(name = "onboard")]
async fn onboard_again(ctx: WorkflowCtx, input: String) -> bao::Result<()> {
    let _ = (ctx, input);
    Ok(())
}

bao::app! {
    workflows: [onboard, onboard_again],
}

fn main() {}
