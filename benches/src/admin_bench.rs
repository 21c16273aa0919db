//! The admin console's pages with 1,000,000 workflow runs in the table.
//!
//! `cargo run --release -p benches --bin admin-bench -- [RUNS]` fills
//! `bao_workflow_runs` on SQLite and on PostgreSQL (the local server, or
//! `BAO_TEST_POSTGRES_URL`), then times each page through Bao's whole HTTP
//! stack in process (bearer `BAO_ADMIN_TOKEN`): p50 and p99 of 50 requests.

use bao::db::{DbConnection, DbPool};
use bao::testing::{TestClient, TestDatabase};
use diesel::connection::SimpleConnection;
use std::time::{Duration, Instant};

bao::app! { name: "Admin bench" }

const TOKEN: &str = "an-admin-token-for-the-benchmark-only";

fn fill(conn: &mut DbConnection, runs: i64) {
    let now = 1_800_000_000_000i64;
    // Runs over the last two days, a few workflows, mostly completed.
    let sql = match conn {
        DbConnection::Postgres(_) => format!(
            "INSERT INTO bao_workflow_runs (id, workflow, version, status, input, attempts, lease_token, created_at, updated_at) \
             SELECT 'run-' || i, 'flow' || (i % 5), 1, \
                    CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'waiting' ELSE 'completed' END, \
                    '{{}}', 1, 0, {now} - (i * 172800000 / {runs}), {now} \
             FROM generate_series(1::bigint, {runs}::bigint) AS i"
        ),
        DbConnection::Sqlite(_) => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {runs}) \
             INSERT INTO bao_workflow_runs (id, workflow, version, status, input, attempts, lease_token, created_at, updated_at) \
             SELECT 'run-' || i, 'flow' || (i % 5), 1, \
                    CASE WHEN i % 50 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'waiting' ELSE 'completed' END, \
                    '{{}}', 1, 0, {now} - (i * 172800000 / {runs}), {now} FROM n"
        ),
    };
    conn.batch_execute(&sql).unwrap();
    if let DbConnection::Postgres(_) = conn {
        conn.batch_execute("ANALYZE bao_workflow_runs").unwrap();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(label: &str, db: &TestDatabase, runs: i64) {
    let pool = DbPool::new(db.url()).unwrap();
    let started = Instant::now();
    pool.run(move |c| {
        bao::db::system::migrate(c)?;
        fill(c, runs);
        Ok(())
    })
    .await
    .unwrap();
    println!(
        "{label}: {runs} runs inserted in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let config = bao::Config::from_vars(&[
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "off"),
        ("BAO_ADMIN_TOKEN", TOKEN),
    ])
    .unwrap();
    let client = TestClient::with_config(app(), config).await;
    for path in [
        "/_bao/admin",
        "/_bao/admin/runs",
        "/_bao/admin/runs?status=failed",
        "/_bao/admin/runs?workflow=flow3&status=waiting",
        "/_bao/admin/runs?before=1799900000000%3Arun-500000",
        "/_bao/admin/audit",
    ] {
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            let response = client
                .get(path)
                .header("Authorization", &format!("Bearer {TOKEN}"))
                .await;
            times.push(t.elapsed());
            assert_eq!(response.status(), 200, "{path}: {}", response.text());
        }
        times.sort();
        println!(
            "{label}: {path:<50} p50 {:>7.2} ms  p99 {:>7.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0
        );
    }
}

fn main() {
    let runs: i64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    bao::__private::block_on(async {
        let sqlite = TestDatabase::sqlite();
        measure("SQLite", &sqlite, runs).await;
        let pg = TestDatabase::postgres().expect("the benchmark needs PostgreSQL");
        measure("PostgreSQL", &pg, runs).await;
    });
}
