use bao::prelude::*;

pub struct Posts;

#[bao::view("post.html")]
pub struct PostPage {
    pub title: String,
    pub tags: Vec<String>,
}

#[bao::controller("/posts")]
impl Posts {
    #[get("/")]
    async fn show() -> View<PostPage> {
        View(PostPage {
            title: "Hello".into(),
            tags: vec![],
        })
    }
}

bao::app! { controllers: [Posts] }

fn main() {}
