pub struct Health;

#[bao::controller("/")]
impl Health {
    #[get("/healthz")]
    async fn mine() -> &'static str {
        "ok"
    }
}

bao::app! {
    controllers: [Health],
}

fn main() {}
