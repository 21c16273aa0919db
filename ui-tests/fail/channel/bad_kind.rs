// A kind that cannot be part of a URL; the app that lists it gets no
// second error.
#[bao::channel("Orders!")]
pub async fn may_watch(id: i64) -> bao::Result<bool> {
    Ok(id > 0)
}

bao::app! { channels: [may_watch] }

fn main() {}
