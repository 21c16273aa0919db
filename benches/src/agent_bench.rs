//! Overhead of one agent step (a model turn and a tool call, both no-ops
//! against `Scripted`, each stored as a workflow step) on SQLite and
//! PostgreSQL, next to a bare no-op workflow step: p50 and p99.
//!
//! `cargo run --release -p benches --bin agent-bench`

use bao::ai::{Router, Scripted};
use bao::workflow::{StepError, WorkerSettings, WorkflowCtx};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Bench;

#[bao::agent(name = "bench", max_steps = 100)]
impl Bench {
    /// Does nothing.
    #[tool]
    async fn noop(&self, n: u32) -> bao::Result<String> {
        Ok(n.to_string())
    }
}

#[derive(Serialize, Deserialize)]
struct Steps {
    n: u32,
}

#[bao::workflow(name = "bench_plain")]
async fn bench_plain(ctx: WorkflowCtx, input: Steps) -> bao::Result<u32> {
    for i in 0..input.n {
        ctx.step(&format!("noop {i}"), || async { Ok::<_, StepError>(i) })
            .await?;
    }
    Ok(input.n)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    const RUNS: u32 = 30;
    const STEPS: u32 = 10;
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in &databases {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        bao::db::system::migrate(&mut pool.get().unwrap()).unwrap();
        let (mut agent, mut plain) = (Vec::new(), Vec::new());
        rt.block_on(async {
            for _ in 0..RUNS {
                let mut script: Vec<String> = (0..STEPS)
                    .map(|i| format!("CALL: noop({{\"n\": {i}}})"))
                    .collect();
                script.push("FINAL: done".into());
                bao::ai::install(Router::new().provider(Scripted::new(script)));
                let started = Instant::now();
                let run = Bench::run(&pool, "go").await.unwrap();
                assert_eq!(run.status, "completed");
                agent.push(started.elapsed() / (STEPS + 1));

                let id = bench_plain::start(&pool, Steps { n: STEPS * 2 })
                    .await
                    .unwrap()
                    .id;
                let settings = WorkerSettings {
                    lease: Duration::from_secs(30),
                    poll: Duration::from_millis(10),
                };
                let started = Instant::now();
                bao::workflow::run_now(&pool, &[bench_plain::definition()], &id, settings)
                    .await
                    .unwrap();
                plain.push(started.elapsed() / STEPS);
            }
        });
        agent.sort();
        plain.sort();
        println!(
            "{:?}: agent step (turn + tool call) p50 {:?} p99 {:?}; two plain workflow steps p50 {:?} p99 {:?}",
            db.dialect(),
            percentile(&agent, 0.5),
            percentile(&agent, 0.99),
            percentile(&plain, 0.5),
            percentile(&plain, 0.99),
        );
    }
}
