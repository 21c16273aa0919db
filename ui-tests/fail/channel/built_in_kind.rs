#[bao::channel("workflow")]
pub async fn may_watch(id: String) -> bao::Result<bool> {
    Ok(!id.is_empty())
}

fn main() {}
