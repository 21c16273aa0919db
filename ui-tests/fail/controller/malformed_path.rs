pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("{id")]
    async fn show() -> &'static str {
        "post"
    }

    #[get("/{1st}")]
    async fn first() -> &'static str {
        "first"
    }
}

fn main() {}
