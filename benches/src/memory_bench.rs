//! Vector memory figures: batched adds per second, the index load (what a
//! first search after start-up costs), and top-5 search p50/p99 with and
//! without a metadata filter, at 100k × 384 on SQLite and PostgreSQL; the
//! recall@10 of the 8-bit scan against a brute-force reference, the
//! process's resident memory before and after the index is loaded; keyword
//! search in the database's full-text index, and on SQLite the search by
//! sqlite-vec inside the database (`in_database()`).
//!
//! `cargo run --release -p benches --bin memory-bench [-- ITEMS]`

use bao::memory::VectorMemory;
use bao::testing::random_vector as vector;
use std::time::{Duration, Instant};

/// The process's resident set size in MiB (Linux).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
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
            // What autovacuum does within a minute of a bulk load: without
            // statistics, PostgreSQL's planner skips the full-text index.
            if db.dialect() == bao::db::Dialect::Postgres {
                pool.run(|c| {
                    use diesel::connection::SimpleConnection;
                    Ok(c.batch_execute("VACUUM ANALYZE bao_vector_items")?)
                })
                .await
                .unwrap();
            }
            let before = rss_mib();
            let started = Instant::now();
            kb.search("", 5).vector(vector(0, dims)).await.unwrap();
            let load = started.elapsed();
            let index_mib = rss_mib() - before;
            // Recall@10 against a brute-force reference over the same vectors.
            let stored: Vec<Vec<f32>> = (0..items).map(|n| unit(vector(n + 1, dims))).collect();
            let (mut found, mut wanted) = (0usize, 0usize);
            for q in 0..10u64 {
                let query = unit(vector(2_000_000 + q, dims));
                let mut all: Vec<(u64, f32)> = stored
                    .iter()
                    .enumerate()
                    .map(|(n, v)| (n as u64, v.iter().zip(&query).map(|(a, b)| a * b).sum()))
                    .collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1));
                let want: Vec<String> = all[..10].iter().map(|(n, _)| format!("item {n}")).collect();
                let hits = kb.search("", 10).vector(query).await.unwrap();
                found += hits.iter().filter(|h| want.contains(&h.text)).count();
                wanted += 10;
            }
            let recall = found as f64 / wanted as f64;
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
            // Keyword search: "item" is in every text, a number in one.
            for (case, common) in [("a word found in one item", ""), ("and a word found in every item", "item ")] {
                let mut keyword = Vec::new();
                for q in 0..20u64 {
                    let t = Instant::now();
                    let hits = kb
                        .search(&format!("{common}{}", q * 997 + 10), 5)
                        .mode(bao::memory::Mode::Keyword)
                        .await
                        .unwrap();
                    keyword.push(t.elapsed());
                    assert_eq!(hits[0].text, format!("item {}", q * 997 + 10));
                }
                keyword.sort();
                println!(
                    "{:?} keyword (full-text index), {case}: p50 {:?} p99 {:?}",
                    db.dialect(),
                    p(&keyword, 0.5),
                    p(&keyword, 0.99)
                );
            }
            if db.dialect() == bao::db::Dialect::Sqlite {
                let in_db = kb.in_database();
                let (mut plain, mut filtered) = (Vec::new(), Vec::new());
                for q in 0..10u64 {
                    let query = vector(1_000_000 + q, dims);
                    let t = Instant::now();
                    assert_eq!(in_db.search("", 5).vector(query.clone()).await.unwrap().len(), 5);
                    plain.push(t.elapsed());
                    let t = Instant::now();
                    let hits = in_db.search("", 5).vector(query).filter("tag", "a").await.unwrap();
                    assert_eq!(hits.len(), 5);
                    filtered.push(t.elapsed());
                }
                plain.sort();
                filtered.sort();
                println!(
                    "Sqlite in the database (sqlite-vec, exact, nothing cached): top-5 p50 {:?} p99 {:?}; filtered (10%) p50 {:?} p99 {:?}",
                    p(&plain, 0.5),
                    p(&plain, 0.99),
                    p(&filtered, 0.5),
                    p(&filtered, 0.99),
                );
            }
            println!(
                "{:?} {items} x {dims}: adds {adds:.0}/s; first search (index load) {load:?}, index {index_mib:.0} MiB; top-5 p50 {:?} p99 {:?}; filtered (10%) p50 {:?} p99 {:?}; recall@10 {recall:.3}",
                db.dialect(),
                p(&plain, 0.5),
                p(&plain, 0.99),
                p(&filtered, 0.5),
                p(&filtered, 0.99),
            );
        });
    }
}
