use bao::prelude::*;
use bao::web::Data;

pub struct Pages;

#[derive(serde::Deserialize)]
pub struct Search {
    pub q: String,
}

#[bao::view("hello.html")]
pub struct Hello {
    pub name: String,
}

#[bao::controller("/pages")]
impl Pages {
    /// Lists pages.
    #[get("/")]
    async fn index(search: Query<Search>, _req: HttpRequest) -> View<Hello> {
        View(Hello { name: search.q.clone() })
    }

    #[get("/{id}")]
    async fn show(id: u64) -> String {
        id.to_string()
    }

    #[post("/{section}/{id}")]
    async fn update(id: i32, section: String, counter: Data<u32>) -> bao::Result<Redirect> {
        let _ = (id, section, counter);
        Ok(Redirect::to("/pages"))
    }

    #[delete("/{id}")]
    async fn destroy(id: i64) -> HttpResponse {
        let _ = id;
        HttpResponse::NoContent().finish()
    }

    fn helper() -> u8 {
        1
    }
}

pub struct Api;

#[bao::controller("/api")]
impl Api {
    #[put("/pages/{id}")]
    async fn replace(id: i64, body: Json<serde_json::Value>) -> Json<serde_json::Value> {
        let _ = id;
        body
    }

    #[patch("/pages/{id}")]
    async fn touch(id: i64) -> &'static str {
        let _ = (id, Pages::helper());
        "ok"
    }
}

bao::app! {
    name: "Pass",
    controllers: [Pages, Api],
}

fn main() {
    let routes = app().routes();
    assert!(routes.iter().any(|r| r.path == "/pages/{section}/{id}"));
    assert_eq!(ROUTES.len(), 2);
}
