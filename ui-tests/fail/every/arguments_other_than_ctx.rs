use bao::task::TaskCtx;

#[bao::every("5m")]
async fn cleanup(ctx: TaskCtx, days: u32) {
    let _ = (ctx, days);
}

#[bao::every("1h")]
async fn report() {}

#[bao::every("1h")]
fn not_async(ctx: TaskCtx) {
    let _ = ctx;
}

fn main() {}
