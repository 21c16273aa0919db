use bao::prelude::*;

pub struct Signup {
    pub email: String,
}

#[bao::workflow]
async fn onboard(ctx: WorkflowCtx, input: Signup) -> bao::Result<()> {
    let _ = (ctx, input.email);
    Ok(())
}

fn main() {}
