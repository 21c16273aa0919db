//! Durable tasks and the dead-letter queue on SQLite and PostgreSQL:
//! execution, retries, dead letters and their replay, priorities, delays
//! and deduplication.

use bao::db::DbPool;
use bao::task::{self, dlq, Enqueue};
use bao::testing::TestDatabase;
use diesel::connection::SimpleConnection;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

static SEEN: Mutex<Vec<i64>> = Mutex::new(Vec::new());
static FAILURES_LEFT: AtomicU32 = AtomicU32::new(0);

#[bao::task(retries = 2)]
async fn record(n: i64, label: String) -> bao::Result<()> {
    let _ = label;
    if FAILURES_LEFT.load(Ordering::SeqCst) > 0 {
        FAILURES_LEFT.fetch_sub(1, Ordering::SeqCst);
        return Err(bao::Error::Internal(format!("flaky failure for {n}")));
    }
    SEEN.lock().unwrap().push(n);
    Ok(())
}

#[bao::task(kind = "cpu", max_concurrency = 2)]
async fn crunch(n: i64) -> bao::Result<()> {
    std::thread::sleep(Duration::from_millis(5));
    SEEN.lock().unwrap().push(n * 100);
    Ok(())
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    bao::db::system::migrate(&mut pool.get().unwrap()).unwrap();
    SEEN.lock().unwrap().clear();
    pool
}

fn make_due(pool: &DbPool) {
    pool.get()
        .unwrap()
        .batch_execute("UPDATE bao_tasks SET run_at = 0 WHERE status = 'queued'")
        .unwrap();
}

#[bao::test]
async fn tasks_run_retry_and_land_in_the_dead_letter_queue() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let defs = [record::definition(), crunch::definition()];
        FAILURES_LEFT.store(0, Ordering::SeqCst);
        record::enqueue(&pool, 1, "one".into()).await.unwrap();
        crunch::enqueue(&pool, 2).await.unwrap();
        assert_eq!(task::drain(&pool, &defs).await.unwrap(), 2);
        let mut seen = SEEN.lock().unwrap().clone();
        seen.sort();
        assert_eq!(seen, [1, 200]);

        // Two failures, then success on the third attempt.
        SEEN.lock().unwrap().clear();
        FAILURES_LEFT.store(2, Ordering::SeqCst);
        let flaky = record::enqueue(&pool, 3, "three".into()).await.unwrap();
        task::drain(&pool, &defs).await.unwrap();
        assert!(
            SEEN.lock().unwrap().is_empty(),
            "the retry waits for its backoff"
        );
        make_due(&pool);
        task::drain(&pool, &defs).await.unwrap();
        make_due(&pool);
        task::drain(&pool, &defs).await.unwrap();
        assert_eq!(*SEEN.lock().unwrap(), [3]);
        let row = task::store::find(&mut pool.get().unwrap(), flaky.id)
            .unwrap()
            .unwrap();
        assert_eq!((row.status.as_str(), row.attempts), ("done", 3));

        // Out of attempts: dead-lettered with its payload; a replay runs it.
        SEEN.lock().unwrap().clear();
        FAILURES_LEFT.store(3, Ordering::SeqCst);
        let doomed = record::enqueue(&pool, 4, "four".into()).await.unwrap();
        for _ in 0..3 {
            make_due(&pool);
            task::drain(&pool, &defs).await.unwrap();
        }
        let row = task::store::find(&mut pool.get().unwrap(), doomed.id)
            .unwrap()
            .unwrap();
        assert_eq!(row.status, "dead");
        let letters = dlq::list(&mut pool.get().unwrap(), Some("record"), 10).unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].payload, "[4,\"four\"]");
        assert_eq!(letters[0].attempts, 3);
        assert!(letters[0].error.contains("flaky failure for 4"));
        let outcome =
            bao::task::replay_dead_letter(&mut pool.get().unwrap(), letters[0].id, Some(3))
                .unwrap();
        assert!(outcome.starts_with("re-enqueued as task"), "{outcome}");
        task::drain(&pool, &defs).await.unwrap();
        assert_eq!(*SEEN.lock().unwrap(), [4], "the replayed task ran");
        let again = bao::task::replay_dead_letter(&mut pool.get().unwrap(), letters[0].id, Some(3));
        assert!(again.is_err(), "a letter replays once");
        assert_eq!(dlq::purge(&mut pool.get().unwrap(), "record").unwrap(), 1);
    }
}

#[bao::test]
async fn priorities_delays_and_dedup_keys() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        FAILURES_LEFT.store(0, Ordering::SeqCst);
        let defs = [record::definition()];
        record::enqueue(&pool, 1, "low".into()).await.unwrap();
        record::enqueue_with(
            &pool,
            Enqueue {
                priority: 10,
                ..Enqueue::default()
            },
            2,
            "high".into(),
        )
        .await
        .unwrap();
        record::enqueue_with(
            &pool,
            Enqueue {
                delay: Some(Duration::from_secs(3600)),
                ..Enqueue::default()
            },
            3,
            "later".into(),
        )
        .await
        .unwrap();
        let key = || Enqueue {
            dedup_key: Some("receipt-9".into()),
            ..Enqueue::default()
        };
        let first = record::enqueue_with(&pool, key(), 9, "once".into())
            .await
            .unwrap();
        let second = record::enqueue_with(&pool, key(), 9, "once".into())
            .await
            .unwrap();
        assert_eq!(
            (first.id, first.created, second.created),
            (second.id, true, false)
        );
        task::drain(&pool, &defs).await.unwrap();
        assert_eq!(
            *SEEN.lock().unwrap(),
            [2, 1, 9],
            "priority first, then age; the delayed one waits"
        );
        // Once done, the key is free again.
        assert!(
            record::enqueue_with(&pool, key(), 9, "again".into())
                .await
                .unwrap()
                .created
        );
    }
}

#[bao::task(max_concurrency = 4)]
async fn nap(n: i64, ms: u64) -> bao::Result<()> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    SEEN.lock().unwrap().push(n);
    Ok(())
}

#[bao::test]
async fn a_slow_task_does_not_hold_up_the_others_of_its_worker() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        nap::enqueue(&pool, 0, 1500).await.unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let settings = task::TaskSettings {
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(10),
        };
        // One worker loop.
        let worker = tokio::spawn(task::work(
            pool.clone(),
            vec![nap::definition()],
            settings,
            1,
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        for n in 1..=3 {
            nap::enqueue(&pool, n, 10).await.unwrap();
        }
        let started = std::time::Instant::now();
        while SEEN.lock().unwrap().len() < 3 {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "the quick tasks ran beside the slow one: {:?}",
                SEEN.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            !SEEN.lock().unwrap().contains(&0),
            "the slow one is still running"
        );
        stop.store(true, Ordering::SeqCst);
        worker.await.unwrap();
        assert_eq!(
            SEEN.lock().unwrap().len(),
            4,
            "stopping lets the task in hand finish"
        );
    }
}

#[bao::test]
async fn finished_tasks_are_pruned_after_the_retention() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        FAILURES_LEFT.store(0, Ordering::SeqCst);
        record::enqueue(&pool, 1, "done soon".into()).await.unwrap();
        task::drain(&pool, &[record::definition()]).await.unwrap();
        record::enqueue(&pool, 2, "still queued".into())
            .await
            .unwrap();
        assert_eq!(
            task::prune(&pool, Duration::from_secs(3600)).await.unwrap(),
            0
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            task::prune(&pool, Duration::from_millis(10)).await.unwrap(),
            1
        );
        let left = task::store::list(&mut pool.get().unwrap(), None, 10).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].status, "queued");
    }
}

#[bao::test]
async fn postgres_workers_wake_on_enqueue_without_waiting_for_their_poll() {
    let Some(db) = TestDatabase::postgres() else {
        return;
    };
    let pool = setup(&db);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let settings = task::TaskSettings {
        lease: Duration::from_secs(30),
        poll: Duration::from_secs(30),
    };
    let worker = tokio::spawn(task::work(
        pool.clone(),
        vec![nap::definition()],
        settings,
        1,
        stop.clone(),
    ));
    // Let the worker find the queue empty and go idle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    nap::enqueue(&pool, 42, 0).await.unwrap();
    while !SEEN.lock().unwrap().contains(&42) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the NOTIFY woke the worker (its poll is 30 s)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("enqueue to done: {:?}", started.elapsed());
    stop.store(true, Ordering::SeqCst);
    // The idle loop sleeps up to its poll: do not wait for it.
    worker.abort();
}

// Not listed in `bao::app!`: the compiler already warns that nothing runs it.
#[allow(dead_code)]
#[bao::task]
async fn forgotten(n: i64) -> bao::Result<()> {
    let _ = n;
    Ok(())
}

#[allow(dead_code)]
#[bao::workflow]
async fn unlisted_flow(ctx: bao::workflow::WorkflowCtx, n: i64) -> bao::Result<i64> {
    let _ = ctx;
    Ok(n)
}

/// Enqueues a task the app lists, one it does not, or starts a workflow it
/// does not list.
pub struct Jobs;

#[bao::controller("/jobs")]
impl Jobs {
    #[post("/{which}")]
    async fn start(which: String, db: bao::Db) -> bao::Result<&'static str> {
        match which.as_str() {
            "listed" => {
                record::enqueue(&db, 9, "listed".into()).await?;
            }
            "forgotten" => {
                forgotten::enqueue(&db, 1).await?;
            }
            _ => {
                unlisted_flow::start(&db, 1).await?;
            }
        }
        Ok("started")
    }
}

bao::app! {
    name: "Tasks test",
    controllers: [Jobs],
    tasks: [record],
}

#[bao::test]
async fn work_the_app_does_not_list_is_refused_when_started() {
    for db in TestDatabase::each() {
        let config = bao::Config {
            database_url: db.url().to_string(),
            ..bao::Config::for_tests()
        };
        let client = bao::testing::TestClient::with_config(app(), config).await;
        client
            .post("/jobs/listed")
            .csrf()
            .await
            .assert_ok()
            .assert_see("started");
        // Nothing would ever run these: the caller hears so at once.
        client
            .post("/jobs/forgotten")
            .csrf()
            .await
            .assert_status(500);
        client.post("/jobs/flow").csrf().await.assert_status(500);
        // Only the listed task was stored.
        let pool = DbPool::new(db.url()).unwrap();
        let queued = bao::task::store::count(&mut pool.get().unwrap(), "queued").unwrap();
        assert_eq!(queued, 1, "{:?}", db.dialect());
    }
}
