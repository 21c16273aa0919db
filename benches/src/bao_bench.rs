//! The Bao side of the database benchmarks: TechEmpower-style "single query"
//! (`/db`) and "fortunes" (`/fortunes`) endpoints on a `#[bao::model]` and a
//! typed view. `benches/db-load.sh` runs it against `raw-actix-db`.

mod rng;

use bao::prelude::*;

#[bao::model(table = "worlds")]
#[derive(Debug, Clone, serde::Serialize)]
pub struct World {
    #[key]
    pub id: i64,
    pub random_number: i32,
}

#[bao::model(table = "fortunes")]
#[derive(Debug, Clone)]
pub struct Fortune {
    #[key]
    pub id: i64,
    pub message: String,
}

#[bao::view("fortunes.html")]
pub struct FortunesPage {
    pub fortunes: Vec<Fortune>,
}

pub struct Bench;

#[bao::controller("/")]
impl Bench {
    /// One random row as JSON.
    #[get("/db")]
    async fn db(db: Db) -> bao::Result<Json<World>> {
        let id = 1 + (rng::next() % 10_000) as i64;
        Ok(Json(World::find_or_fail(&db, id).await?))
    }

    /// Every fortune plus one added at request time, sorted, as HTML.
    #[get("/fortunes")]
    async fn fortunes(db: Db) -> bao::Result<View<FortunesPage>> {
        let mut fortunes = Fortune::all(&db).await?;
        fortunes.push(Fortune {
            id: 0,
            message: "Additional fortune added at request time.".into(),
        });
        fortunes.sort_by(|a, b| a.message.cmp(&b.message));
        Ok(View(FortunesPage { fortunes }))
    }
}

bao::app! {
    name: "Bao Bench",
    controllers: [Bench],
    models: [World, Fortune],
}

fn main() -> std::process::ExitCode {
    bao::cli::main(app())
}
