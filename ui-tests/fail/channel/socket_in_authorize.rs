#[bao::channel("orders")]
pub async fn may_watch(socket: bao::channels::Socket, id: i64) -> bao::Result<bool> {
    let _ = socket;
    Ok(id > 0)
}

fn main() {}
