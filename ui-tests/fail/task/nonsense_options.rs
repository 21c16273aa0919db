#[bao::task(kind = "gpu", retries = 500, max_concurrency = 0, priorty = 3)]
async fn send_receipt(order_id: i64) -> bao::Result<()> {
    let _ = order_id;
    Ok(())
}

#[bao::task(retries = -1, max_concurrency = "3", name = "send receipt")]
async fn refund(order_id: i64) -> bao::Result<()> {
    let _ = order_id;
    Ok(())
}

fn main() {}
