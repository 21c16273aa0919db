use bao::task::TaskCtx;

#[bao::every("30s", missed = "sometimes", retrys = 2)]
async fn heartbeat(ctx: TaskCtx) {
    let _ = ctx;
}

#[bao::every("30s", tz = "Europe/Paris")]
async fn zoned(ctx: TaskCtx) {
    let _ = ctx;
}

fn main() {}
