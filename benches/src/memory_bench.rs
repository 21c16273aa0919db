//! Vector memory figures: batched adds per second, the index load (what a
//! first search after start-up costs), and top-5 search p50/p99 with and
//! without a metadata filter, at 100k × 384 on SQLite and PostgreSQL.
//!
//! `cargo run --release -p benches --bin memory-bench [-- ITEMS]`

use bao::memory::VectorMemory;
use std::time::{Duration, Instant};

fn vector(seed: u64, dims: usize) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..dims)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn main() {
    let items: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dims = 384;
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in &databases {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        rt.block_on(async {
            let kb = VectorMemory::open(&pool, "bench", dims).await.unwrap();
            let started = Instant::now();
            for batch in 0..(items / 1000) {
                let rows = (0..1000u64)
                    .map(|i| {
                        let n = batch * 1000 + i;
                        let tag = if n % 10 == 0 { "a" } else { "b" };
                        (format!("item {n}"), bao::json!({"tag": tag}), vector(n + 1, dims))
                    })
                    .collect();
                kb.add_vectors(rows).await.unwrap();
            }
            let adds = items as f64 / started.elapsed().as_secs_f64();
            let started = Instant::now();
            kb.search("", 5).vector(vector(0, dims)).await.unwrap();
            let load = started.elapsed();
            let mut plain = Vec::new();
            let mut filtered = Vec::new();
            for q in 0..40u64 {
                let query = vector(1_000_000 + q, dims);
                let t = Instant::now();
                assert_eq!(kb.search("", 5).vector(query.clone()).await.unwrap().len(), 5);
                plain.push(t.elapsed());
                let t = Instant::now();
                assert_eq!(kb.search("", 5).vector(query).filter("tag", "a").await.unwrap().len(), 5);
                filtered.push(t.elapsed());
            }
            plain.sort();
            filtered.sort();
            let p = |v: &[Duration], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            println!(
                "{:?} {items} x {dims}: adds {adds:.0}/s; first search (index load) {load:?}; top-5 p50 {:?} p99 {:?}; filtered (10%) p50 {:?} p99 {:?}",
                db.dialect(),
                p(&plain, 0.5),
                p(&plain, 0.99),
                p(&filtered, 0.5),
                p(&filtered, 0.99),
            );
        });
    }
}
