#[bao::channel("orders")]
pub async fn may_watch(id: i64) -> bao::Result<bool> {
    Ok(id > 0)
}

#[bao::ws("orders")]
pub async fn order_socket(socket: bao::channels::Socket) -> bao::Result<()> {
    let _ = socket;
    Ok(())
}

bao::app! { channels: [may_watch, order_socket] }

fn main() {}
