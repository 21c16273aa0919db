pub struct Notes;

#[bao::controller("/notes")]
impl Notes {
    #[get("/")]
    #[require_login]
    async fn index() -> &'static str {
        "hi"
    }

    #[get("/admin")]
    #[requires_role]
    async fn admin() -> &'static str {
        "hi"
    }
}

fn main() {}
