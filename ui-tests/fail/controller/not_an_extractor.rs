pub struct Posts;

pub struct Database;

#[bao::controller("/posts")]
impl Posts {
    #[get("/")]
    async fn index(db: Database) -> &'static str {
        let _ = db;
        "posts"
    }
}

fn main() {}
