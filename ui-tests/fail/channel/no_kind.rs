#[bao::channel]
pub async fn may_watch(id: i64) -> bao::Result<bool> {
    Ok(id > 0)
}

fn main() {}
