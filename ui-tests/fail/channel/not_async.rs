#[bao::channel("orders")]
pub fn may_watch(id: i64) -> bao::Result<bool> {
    Ok(id > 0)
}

fn main() {}
