pub struct Nothing;

#[bao::channel("orders")]
pub async fn may_watch(nothing: Nothing, id: i64) -> bao::Result<bool> {
    let _ = nothing;
    Ok(id > 0)
}

fn main() {}
