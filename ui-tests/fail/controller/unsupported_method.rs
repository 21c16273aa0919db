pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[fetch("/")]
    async fn index() -> &'static str {
        "posts"
    }
}

fn main() {}
