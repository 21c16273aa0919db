#[bao::task]
fn send_receipt(order_id: i64) -> bao::Result<()> {
    let _ = order_id;
    Ok(())
}

fn main() {}
