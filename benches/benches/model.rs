//! Overhead of Bao's model helpers over the same work written by hand with
//! diesel (pool checkout, blocking-pool hop, query) on a SQLite file:
//! `find` by key and `create`.
//!
//! `cargo bench -p benches --bench model`

use bao::db::{DbPool, Model};
use criterion::{criterion_group, criterion_main, Criterion};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

#[bao::model(table = "fortunes")]
#[derive(Debug, Clone)]
pub struct Fortune {
    #[key]
    pub id: i64,
    pub message: String,
}

fn model(c: &mut Criterion) {
    let db = bao::testing::TestDatabase::sqlite();
    let pool = DbPool::new(db.url()).unwrap();
    pool.get()
        .unwrap()
        .batch_execute(&Fortune::info().create_table_sql(bao::db::Dialect::Sqlite))
        .unwrap();
    let rt = actix_rt::Runtime::new().unwrap();
    rt.block_on(async {
        for i in 0..100 {
            Fortune::create(
                &pool,
                NewFortune {
                    message: format!("fortune {i}"),
                },
            )
            .await
            .unwrap();
        }
    });

    let mut group = c.benchmark_group("find by key");
    group.bench_function("raw diesel", |b| {
        b.iter(|| {
            rt.block_on(async {
                let pool = pool.clone();
                let row: (i64, String) = actix_web::web::block(move || {
                    let mut conn = pool.get().unwrap();
                    fortune::table
                        .find(42_i64)
                        .first::<(i64, String)>(&mut *conn)
                })
                .await
                .unwrap()
                .unwrap();
                assert_eq!(row.0, 42);
            })
        })
    });
    group.bench_function("bao Fortune::find", |b| {
        b.iter(|| {
            rt.block_on(async {
                let row = Fortune::find_or_fail(&pool, 42).await.unwrap();
                assert_eq!(row.id, 42);
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("create");
    group.bench_function("raw diesel", |b| {
        b.iter(|| {
            rt.block_on(async {
                let pool = pool.clone();
                actix_web::web::block(move || {
                    let mut conn = pool.get().unwrap();
                    diesel::insert_into(fortune::table)
                        .values(fortune::message.eq("raw"))
                        .returning(fortune::all_columns)
                        .get_result::<(i64, String)>(&mut *conn)
                })
                .await
                .unwrap()
                .unwrap();
            })
        })
    });
    group.bench_function("bao Fortune::create", |b| {
        b.iter(|| {
            rt.block_on(async {
                Fortune::create(
                    &pool,
                    NewFortune {
                        message: "bao".into(),
                    },
                )
                .await
                .unwrap();
            })
        })
    });
    group.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
