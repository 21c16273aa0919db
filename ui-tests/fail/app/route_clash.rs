pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/{id}")]
    async fn show(id: i64) -> String {
        id.to_string()
    }
}

pub struct Articles;

#[bao::controller("/")]
impl Articles {
    #[get("/posts/{slug}")]
    async fn show(slug: String) -> String {
        slug
    }
}

bao::app! {
    controllers: [Posts, Articles],
}

fn main() {}
