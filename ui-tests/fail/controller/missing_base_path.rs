pub struct Posts;

#[bao::controller]
impl Posts {
    #[get("/")]
    async fn index() -> &'static str {
        "posts"
    }
}

fn main() {}
