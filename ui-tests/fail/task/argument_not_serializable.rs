pub struct Order {
    pub id: i64,
}

#[bao::task]
async fn send_receipt(order: Order) -> bao::Result<()> {
    let _ = order.id;
    Ok(())
}

fn main() {}
