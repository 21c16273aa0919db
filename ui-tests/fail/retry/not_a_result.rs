#[bao::retry(attempts = 3)]
async fn count_users() -> u64 {
    42
}

#[bao::retry(attempts = 3)]
async fn ping() {}

#[bao::retry(attempts = 3)]
fn fetch(id: i64) -> Result<i64, String> {
    Ok(id)
}

fn main() {}
