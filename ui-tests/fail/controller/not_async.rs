pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/")]
    fn index() -> &'static str {
        "posts"
    }
}

fn main() {}
