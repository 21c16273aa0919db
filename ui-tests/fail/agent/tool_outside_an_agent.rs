/// Posts.
#[bao::tool]
async fn post(text: String) -> bao::Result<String> {
    Ok(text)
}

fn main() {}
