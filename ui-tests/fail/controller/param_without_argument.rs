pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/{id}")]
    async fn show() -> &'static str {
        "a post"
    }
}

fn main() {}
