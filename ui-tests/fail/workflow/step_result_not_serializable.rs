use bao::prelude::*;

pub struct Receipt;

#[bao::workflow]
async fn onboard(ctx: WorkflowCtx, input: String) -> bao::Result<()> {
    let _receipt: Receipt = ctx
        .step("charge", || async { Ok::<_, StepError>(Receipt) })
        .await?;
    let _ = input;
    Ok(())
}

fn main() {}
