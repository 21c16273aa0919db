pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/")]
    async fn show(id: i64) -> String {
        id.to_string()
    }
}

fn main() {}
