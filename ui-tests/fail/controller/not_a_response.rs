pub struct Posts;

pub struct Post {
    pub title: String,
}

#[bao::controller("/posts")]
impl Posts {
    #[get("/")]
    async fn index() -> Post {
        Post { title: "hi".into() }
    }
}

fn main() {}
