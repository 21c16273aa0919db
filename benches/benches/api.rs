//! `#[bao::api]` against the same endpoints written by hand with actix-web,
//! an r2d2 pool of diesel SQLite connections and serde: `index` of 20 rows
//! (with its total) and `show` of one row, in-process, on one SQLite file.
//!
//! `cargo bench -p benches --bench api`

use actix_web::{test, web, App, HttpResponse};
use bao::db::Model;
use criterion::{criterion_group, criterion_main, Criterion};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};

#[bao::model(table = "items")]
#[derive(Debug, Clone)]
pub struct Item {
    #[key]
    pub id: i64,
    pub name: String,
    pub score: i32,
}

#[bao::api("/api/items", model = Item)]
pub struct ItemsApi;

bao::app! {
    apis: [ItemsApi],
    models: [Item],
}

#[derive(Queryable, serde::Serialize)]
struct RawItem {
    id: i64,
    name: String,
    score: i32,
}

type RawPool = Pool<ConnectionManager<diesel::SqliteConnection>>;

async fn raw_index(pool: web::Data<RawPool>) -> HttpResponse {
    let pool = pool.clone();
    let (rows, total) = web::block(move || {
        let mut conn = pool.get().unwrap();
        let total: i64 = item::table.count().get_result(&mut conn)?;
        let rows = item::table
            .order(item::id.asc())
            .limit(20)
            .offset(0)
            .load::<RawItem>(&mut conn)?;
        Ok::<_, diesel::result::Error>((rows, total))
    })
    .await
    .unwrap()
    .unwrap();
    HttpResponse::Ok().json(serde_json::json!({
        "data": rows,
        "meta": {"page": 1, "per_page": 20, "total": total, "pages": (total + 19) / 20},
    }))
}

async fn raw_show(pool: web::Data<RawPool>, id: web::Path<i64>) -> HttpResponse {
    let pool = pool.clone();
    let id = id.into_inner();
    match web::block(move || {
        let mut conn = pool.get().unwrap();
        item::table.find(id).first::<RawItem>(&mut conn)
    })
    .await
    .unwrap()
    {
        Ok(row) => HttpResponse::Ok().json(row),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

fn api(c: &mut Criterion) {
    let db = bao::testing::TestDatabase::sqlite();
    {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute(&Item::info().create_table_sql(bao::db::Dialect::Sqlite))
            .unwrap();
        for i in 0..100 {
            conn.batch_execute(&format!(
                "INSERT INTO items (name, score) VALUES ('item {i}', {i})"
            ))
            .unwrap();
        }
    }
    let config = bao::Config::from_vars(&[
        ("BAO_ENV", "test"),
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "error"),
    ])
    .unwrap();
    let path = db.url().trim_start_matches("sqlite://").to_string();
    let rt = actix_rt::Runtime::new().unwrap();
    let bao_service = rt.block_on(bao::__private::service_with_config(app(), config));
    let raw_pool: RawPool = Pool::builder()
        .max_size(4)
        .build(ConnectionManager::new(path))
        .unwrap();
    let raw = rt.block_on(test::init_service(
        App::new()
            .app_data(web::Data::new(raw_pool))
            .route("/raw/items", web::get().to(raw_index))
            .route("/raw/items/{id}", web::get().to(raw_show)),
    ));

    let mut group = c.benchmark_group("index of 20 rows");
    group.bench_function("hand-written actix-web + diesel + serde", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/raw/items").to_request();
                let body = test::call_and_read_body(&raw, req).await;
                assert!(body.len() > 500);
            })
        })
    });
    group.bench_function("bao #[api]", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/api/items").to_request();
                let body = test::call_and_read_body(&bao_service, req).await;
                assert!(body.len() > 500);
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("show");
    group.bench_function("hand-written actix-web + diesel + serde", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/raw/items/42").to_request();
                assert!(test::call_service(&raw, req).await.status().is_success());
            })
        })
    });
    group.bench_function("bao #[api]", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = test::TestRequest::get().uri("/api/items/42").to_request();
                assert!(test::call_service(&bao_service, req)
                    .await
                    .status()
                    .is_success());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, api);
criterion_main!(benches);
