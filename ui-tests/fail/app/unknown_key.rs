pub struct Home;

#[bao::controller("/")]
impl Home {
    #[get("/")]
    async fn index() -> &'static str {
        "home"
    }
}

bao::app! {
    controler: [Home],
}

fn main() {}
