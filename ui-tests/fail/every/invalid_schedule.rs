use bao::task::TaskCtx;

#[bao::every("every 30 parsecs")]
async fn sync(ctx: TaskCtx) {
    let _ = ctx;
}

#[bao::every("tuesday at 25:00")]
async fn digest(ctx: TaskCtx) {
    let _ = ctx;
}

#[bao::every(cron = "0 */5 * *")]
async fn five_minutes(ctx: TaskCtx) {
    let _ = ctx;
}

#[bao::every(cron = "0 0 9 * * Mon", tz = "Europe/Pariss")]
async fn weekly(ctx: TaskCtx) {
    let _ = ctx;
}

#[bao::every(cron = "0 60 * * * *")]
async fn hourly(ctx: TaskCtx) {
    let _ = ctx;
}

fn main() {}
