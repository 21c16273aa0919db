//! Durable workflow figures on SQLite (a WAL file) and PostgreSQL: the
//! latency of one no-op step (its record committed, fenced by the lease),
//! p50 and p99 over 50 runs of 20 steps; runs started per second; and the
//! time to finish 1,000 runs whose worker died (expired leases).
//!
//! `cargo run --release -p benches --bin workflow-bench`

use bao::workflow::{self, StepError, WorkerSettings, WorkflowCtx};
use serde::{Deserialize, Serialize};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static SAMPLES: Mutex<Vec<Duration>> = Mutex::new(Vec::new());

#[derive(Serialize, Deserialize)]
struct Steps {
    n: u32,
}

#[bao::workflow(name = "bench_steps")]
async fn bench_steps(ctx: WorkflowCtx, input: Steps) -> bao::Result<u32> {
    for i in 0..input.n {
        let started = Instant::now();
        ctx.step(&format!("noop {i}"), || async { Ok::<_, StepError>(i) })
            .await?;
        SAMPLES.lock().unwrap().push(started.elapsed());
    }
    Ok(input.n)
}

#[bao::task(max_concurrency = 16)]
async fn bench_noop(n: u32) -> bao::Result<()> {
    let _ = n;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    // 2,000 tasks are enqueued at once: lift the in-flight bound above it
    // (set before any thread starts).
    std::env::set_var("BAO_MAX_INFLIGHT_TASKS", "10000");
    let rt = tokio::runtime::Runtime::new().unwrap();
    for db in &databases {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        bao::db::system::migrate(&mut pool.get().unwrap()).unwrap();
        let defs = [bench_steps::definition()];
        let settings = WorkerSettings {
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(10),
        };
        rt.block_on(async {
            SAMPLES.lock().unwrap().clear();
            for _ in 0..50 {
                bench_steps::start(&pool, Steps { n: 20 }).await.unwrap();
            }
            let started = Instant::now();
            while workflow::run_one(&pool, &defs, "bench", settings).await.unwrap() {}
            let total = started.elapsed();
            let mut samples = SAMPLES.lock().unwrap().clone();
            samples.sort();
            println!(
                "{:?}: no-op step p50 {:?}, p99 {:?} ({} steps; 50 runs of 20 in {:?} with claims and releases)",
                db.dialect(),
                percentile(&samples, 0.5),
                percentile(&samples, 0.99),
                samples.len(),
                total
            );

            let started = Instant::now();
            let mut ids = Vec::new();
            for _ in 0..1000 {
                ids.push(bench_steps::start(&pool, Steps { n: 1 }).await.unwrap().id);
            }
            let elapsed = started.elapsed();
            println!(
                "{:?}: {:.0} runs started per second (one at a time)",
                db.dialect(),
                1000.0 / elapsed.as_secs_f64()
            );

            // A crash: every run claimed by a worker that died.
            pool.run(|c| {
                use diesel::connection::SimpleConnection;
                c.batch_execute(
                    "UPDATE bao_workflow_runs SET status = 'running', lease_owner = 'dead', \
                     lease_token = lease_token + 1, lease_expires_at = 0 WHERE status = 'pending'",
                )?;
                Ok(())
            })
            .await
            .unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let started = Instant::now();
            let worker = tokio::spawn(workflow::work(pool.clone(), defs.to_vec(), settings, 4, stop.clone()));
            loop {
                let done = pool
                    .run(|c| workflow::store::list_runs(c, Some("completed"), 2000))
                    .await
                    .unwrap()
                    .len();
                if done >= 1050 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            println!(
                "{:?}: 1,000 runs of a dead worker (expired leases) finished in {:?} (4 concurrent runs)",
                db.dialect(),
                started.elapsed()
            );
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = worker.await;
            let _ = ids;

            // Tasks: enqueue-only rate from one caller, then 2,000 no-op
            // tasks enqueued by 8 concurrent callers (as from requests)
            // while 2 worker loops run them.
            let started = Instant::now();
            for n in 0..1000 {
                bench_noop::enqueue(&pool, n).await.unwrap();
            }
            let enqueued = started.elapsed();
            let drained = bao::task::drain(&pool, &[bench_noop::definition()])
                .await
                .unwrap();
            assert_eq!(drained, 1000);
            println!(
                "{:?}: {:.0} enqueues per second from one caller, one at a time",
                db.dialect(),
                1000.0 / enqueued.as_secs_f64()
            );
            let before = pool
                .run(|c| bao::task::store::count(c, "done"))
                .await
                .unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let task_settings = bao::task::TaskSettings {
                lease: Duration::from_secs(30),
                poll: Duration::from_millis(5),
            };
            let started = Instant::now();
            let workers = tokio::spawn(bao::task::work(
                pool.clone(),
                vec![bench_noop::definition()],
                task_settings,
                2,
                stop.clone(),
            ));
            let producers: Vec<_> = (0..8u32)
                .map(|p| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        for n in 0..250 {
                            bench_noop::enqueue(&pool, p * 1000 + n).await.unwrap();
                        }
                    })
                })
                .collect();
            for p in producers {
                p.await.unwrap();
            }
            loop {
                let done = pool
                    .run(|c| bao::task::store::count(c, "done"))
                    .await
                    .unwrap();
                if done - before >= 2000 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let elapsed = started.elapsed();
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = workers.await;
            println!(
                "{:?}: {:.0} no-op tasks enqueued and completed per second (8 callers, 2 worker loops; 2,000 in {:?})",
                db.dialect(),
                2000.0 / elapsed.as_secs_f64(),
                elapsed
            );
        });
    }
}
