pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/{id:[0-9+}")]
    async fn show(id: i64) -> String {
        format!("post {id}")
    }
}

fn main() {}
