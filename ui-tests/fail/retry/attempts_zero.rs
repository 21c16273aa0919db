#[bao::retry(attempts = 0, backoff = "500ms")]
async fn fetch_user(id: i64) -> Result<String, std::io::Error> {
    Ok(format!("user {id}"))
}

#[bao::retry(attempts = 3, backoff = "fast")]
async fn fetch_team(id: i64) -> Result<String, std::io::Error> {
    Ok(format!("team {id}"))
}

#[bao::retry(attemps = 3)]
async fn fetch_org(id: i64) -> Result<String, std::io::Error> {
    Ok(format!("org {id}"))
}

fn main() {}
