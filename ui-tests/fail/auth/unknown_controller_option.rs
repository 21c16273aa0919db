pub struct Notes;

#[bao::controller("/notes", requires_logn)]
impl Notes {
    #[get("/")]
    async fn index() -> &'static str {
        "hi"
    }
}

fn main() {}
