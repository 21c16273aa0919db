//! The baseline of the database benchmarks: actix-web, an r2d2 pool of
//! diesel connections and askama, written by hand, with the endpoints of
//! `bao-bench` (`/db`, `/fortunes`) on the same database (`DATABASE_URL`).

mod rng;

use actix_web::{web, App, HttpResponse, HttpServer};
use askama::Template;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};

/// SQLite or PostgreSQL behind one connection type, as in Bao.
#[derive(diesel::MultiConnection)]
enum AnyConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

diesel::table! {
    worlds (id) {
        id -> BigInt,
        random_number -> Integer,
    }
}

diesel::table! {
    fortunes (id) {
        id -> BigInt,
        message -> Text,
    }
}

#[derive(Queryable, serde::Serialize)]
struct World {
    id: i64,
    random_number: i32,
}

#[derive(Queryable)]
struct Fortune {
    id: i64,
    message: String,
}

#[derive(Template)]
#[template(path = "fortunes.html")]
struct FortunesPage {
    fortunes: Vec<Fortune>,
}

type DbPool = Pool<ConnectionManager<AnyConnection>>;

async fn db(pool: web::Data<DbPool>) -> HttpResponse {
    let id = 1 + (rng::next() % 10_000) as i64;
    let pool = pool.clone();
    let world = web::block(move || {
        let mut conn = pool.get().expect("a pooled connection");
        worlds::table.find(id).first::<World>(&mut conn)
    })
    .await;
    match world {
        Ok(Ok(world)) => HttpResponse::Ok().json(world),
        _ => HttpResponse::InternalServerError().finish(),
    }
}

async fn fortunes(pool: web::Data<DbPool>) -> HttpResponse {
    let pool = pool.clone();
    let rows = web::block(move || {
        let mut conn = pool.get().expect("a pooled connection");
        fortunes::table
            .order(fortunes::id)
            .load::<Fortune>(&mut conn)
    })
    .await;
    let Ok(Ok(mut fortunes)) = rows else {
        return HttpResponse::InternalServerError().finish();
    };
    fortunes.push(Fortune {
        id: 0,
        message: "Additional fortune added at request time.".into(),
    });
    fortunes.sort_by(|a, b| a.message.cmp(&b.message));
    match (FortunesPage { fortunes }).render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"ok": true}))
}

fn main() -> std::io::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://bench.db".into());
    // diesel tries PostgreSQL first, then opens a SQLite file at the path.
    let path = url.strip_prefix("sqlite://").unwrap_or(&url).to_string();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8002);
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let max = if path.starts_with("postgres") { 16 } else { 4 };
    // Same pool settings as Bao's: no `SELECT 1` on every checkout.
    let pool: DbPool = Pool::builder()
        .max_size(max)
        .test_on_check_out(false)
        .build(ConnectionManager::new(path))
        .expect("the database opens");
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(pool.clone()))
                .route("/db", web::get().to(db))
                .route("/fortunes", web::get().to(fortunes))
                .route("/healthz", web::get().to(healthz))
        })
        .workers(workers)
        .bind(("127.0.0.1", port))?
        .run()
        .await
    })
}
