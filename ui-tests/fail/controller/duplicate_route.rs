pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/{id}")]
    async fn show(id: i64) -> String {
        id.to_string()
    }

    #[get("/{slug}")]
    async fn by_slug(slug: String) -> String {
        slug
    }
}

fn main() {}
