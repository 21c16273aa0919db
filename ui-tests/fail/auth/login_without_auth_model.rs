pub struct Notes;

#[bao::controller("/notes", requires_login)]
impl Notes {
    #[get("/")]
    async fn index() -> &'static str {
        "secret"
    }
}

bao::app! {
    controllers: [Notes],
}

fn main() {}
