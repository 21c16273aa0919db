#[bao::channel("orders")]
pub async fn may_watch(id: i64) -> bool {
    id > 0
}

fn main() {}
