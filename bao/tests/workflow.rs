//! Durable workflows on SQLite and PostgreSQL, driven by the worker's own
//! `run_one`: steps recorded once, retries, idempotent starts, durable
//! sleeps, signals (before and after the wait), timeouts, cancel, replay and
//! changed step sequences.

use bao::db::{DbConnection, DbError, DbPool};
use bao::testing::TestDatabase;
use bao::workflow::{self, Retry, StepError, WorkerSettings, WorkflowCtx, WorkflowDef};
use diesel::connection::SimpleConnection;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static EXECUTIONS: AtomicU32 = AtomicU32::new(0);
static FLAKY: AtomicU32 = AtomicU32::new(0);
static BROKEN: AtomicU32 = AtomicU32::new(1);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Order {
    pub id: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Approval {
    pub by: String,
}

#[bao::workflow(name = "checkout", retries = 0)]
async fn checkout(ctx: WorkflowCtx, order: Order) -> bao::Result<String> {
    let a: i64 = ctx
        .step("reserve", || async {
            EXECUTIONS.fetch_add(1, Ordering::SeqCst);
            Ok::<_, StepError>(order.id * 10)
        })
        .await?;
    let b: i64 = ctx
        .step_tx("record", move |c: &mut DbConnection| {
            c.batch_execute("INSERT INTO effects (note) VALUES ('charged')")?;
            Ok(a + 1)
        })
        .await?;
    ctx.sleep("cool down", Duration::from_millis(300)).await?;
    let approval: Approval = ctx.wait_signal("approved", Duration::from_secs(60)).await?;
    Ok(format!("{b} by {}", approval.by))
}

#[bao::workflow(name = "flaky", retries = 0)]
async fn flaky(ctx: WorkflowCtx, _input: ()) -> bao::Result<u32> {
    let n = ctx
        .step_with(
            "call",
            Retry::exponential(3, Duration::from_millis(5)),
            || async {
                let n = FLAKY.fetch_add(1, Ordering::SeqCst) + 1;
                if n < 3 {
                    Err(StepError::retryable(format!("attempt {n} failed")))
                } else {
                    Ok(n)
                }
            },
        )
        .await?;
    Ok(n)
}

#[bao::workflow(name = "fragile", retries = 0)]
async fn fragile(ctx: WorkflowCtx, _input: ()) -> bao::Result<()> {
    ctx.step("first", || async {
        EXECUTIONS.fetch_add(1, Ordering::SeqCst);
        Ok::<_, StepError>(())
    })
    .await?;
    ctx.step("second", || async {
        if BROKEN.load(Ordering::SeqCst) == 1 {
            Err(StepError::permanent("the card was declined"))
        } else {
            Ok(())
        }
    })
    .await?;
    Ok(())
}

#[bao::workflow(name = "patient", retries = 0)]
async fn patient(ctx: WorkflowCtx, _input: ()) -> bao::Result<Approval> {
    Ok(ctx
        .wait_signal("approved", Duration::from_millis(150))
        .await?)
}

// Two versions of one workflow: the second changed its steps.
#[bao::workflow(name = "evolving", retries = 0)]
async fn evolving_v1(ctx: WorkflowCtx, _input: ()) -> bao::Result<()> {
    ctx.step("a", || async { Ok::<_, StepError>(()) }).await?;
    ctx.sleep("wait", Duration::from_secs(3600)).await?;
    Ok(())
}

// The steps changed without a version bump.
#[bao::workflow(name = "evolving", retries = 0)]
async fn evolving_v2(ctx: WorkflowCtx, _input: ()) -> bao::Result<()> {
    ctx.step("a", || async { Ok::<_, StepError>(()) }).await?;
    ctx.step("b", || async { Ok::<_, StepError>(()) }).await?;
    Ok(())
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        lease: Duration::from_secs(5),
        poll: Duration::from_millis(20),
    }
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    let mut conn = pool.get().unwrap();
    let id = match db.dialect() {
        bao::db::Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        bao::db::Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    conn.batch_execute(&format!(
        "CREATE TABLE effects (id {id}, note TEXT NOT NULL)"
    ))
    .unwrap();
    bao::db::system::migrate(&mut conn).unwrap();
    pool
}

/// Runs every runnable run until none is left.
async fn drain(pool: &DbPool, defs: &[WorkflowDef]) {
    while workflow::run_one(pool, defs, "test-worker", settings())
        .await
        .unwrap()
    {}
}

async fn status(pool: &DbPool, id: &str) -> (String, Option<String>, Option<String>) {
    let id = id.to_string();
    let run = pool
        .run(move |c| Ok(workflow::store::find_run(c, &id)?.unwrap()))
        .await
        .unwrap();
    (run.status, run.output, run.error)
}

async fn count_effects(pool: &DbPool) -> i64 {
    pool.run(|c| {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let rows: Vec<N> = match c {
            DbConnection::Sqlite(c) => {
                diesel::sql_query("SELECT COUNT(*) AS n FROM effects").load(c)?
            }
            DbConnection::Postgres(c) => {
                diesel::sql_query("SELECT COUNT(*) AS n FROM effects").load(c)?
            }
        };
        Ok::<_, DbError>(rows[0].n)
    })
    .await
    .unwrap()
}

#[bao::test]
async fn steps_run_once_sleeps_and_signals_park_the_run() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        EXECUTIONS.store(0, Ordering::SeqCst);
        let defs = [checkout::definition()];
        let run = checkout::start_with_id(&pool, "order-7", Order { id: 7 })
            .await
            .unwrap();
        assert!(run.created);
        let again = checkout::start_with_id(&pool, "order-7", Order { id: 99 })
            .await
            .unwrap();
        assert_eq!(
            (again.id.as_str(), again.created),
            ("order-7", false),
            "idempotent start"
        );

        drain(&pool, &defs).await;
        assert_eq!(status(&pool, "order-7").await.0, "sleeping");
        drain(&pool, &defs).await;
        assert_eq!(status(&pool, "order-7").await.0, "sleeping", "not due yet");
        tokio::time::sleep(Duration::from_millis(350)).await;
        drain(&pool, &defs).await;
        assert_eq!(
            status(&pool, "order-7").await.0,
            "waiting",
            "now waiting for the signal"
        );

        workflow::signal(&pool, "order-7", "approved", &Approval { by: "ops".into() })
            .await
            .unwrap();
        drain(&pool, &defs).await;
        let (state, output, _) = status(&pool, "order-7").await;
        assert_eq!(
            (state.as_str(), output.as_deref()),
            ("completed", Some("\"71 by ops\""))
        );
        assert_eq!(
            EXECUTIONS.load(Ordering::SeqCst),
            1,
            "the first step ran once across four resumptions"
        );
        assert_eq!(
            count_effects(&pool).await,
            1,
            "the transactional step wrote once"
        );

        // A signal sent before the wait is delivered when the wait begins.
        let early = checkout::start(&pool, Order { id: 1 }).await.unwrap();
        workflow::signal(
            &pool,
            &early.id,
            "approved",
            &Approval { by: "early".into() },
        )
        .await
        .unwrap();
        drain(&pool, &defs).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        drain(&pool, &defs).await;
        assert_eq!(
            status(&pool, &early.id).await.1.as_deref(),
            Some("\"11 by early\"")
        );

        let id = "order-7".to_string();
        let steps = pool
            .run(move |c| workflow::store::steps(c, &id))
            .await
            .unwrap();
        let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "reserve",
                "record",
                "sleep:cool down",
                "wait:approved",
                "signal:approved"
            ]
        );
    }
}

#[bao::test]
async fn retries_permanent_errors_replay_cancel_and_timeouts() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        FLAKY.store(0, Ordering::SeqCst);
        let defs = [
            flaky::definition(),
            fragile::definition(),
            patient::definition(),
        ];
        let run = flaky::start(&pool, ()).await.unwrap();
        drain(&pool, &defs).await;
        assert_eq!(
            status(&pool, &run.id).await.1.as_deref(),
            Some("3"),
            "third attempt"
        );
        let id = run.id.clone();
        let steps = pool
            .run(move |c| workflow::store::steps(c, &id))
            .await
            .unwrap();
        assert_eq!(
            (steps[0].status.as_str(), steps[0].attempts),
            ("completed", 3)
        );

        EXECUTIONS.store(0, Ordering::SeqCst);
        BROKEN.store(1, Ordering::SeqCst);
        let run = fragile::start(&pool, ()).await.unwrap();
        drain(&pool, &defs).await;
        let (state, _, error) = status(&pool, &run.id).await;
        assert_eq!(state, "failed");
        assert!(error.unwrap().contains("the card was declined"));
        // Out of retries: the run is in the dead-letter queue too.
        let letters =
            bao::task::dlq::list(&mut pool.get().unwrap(), Some("workflow:fragile"), 10).unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(
            letters[0].source_id.as_deref(),
            Some(format!("workflow:{}", run.id).as_str())
        );
        // Replay after the fix: only the failed step runs again.
        BROKEN.store(0, Ordering::SeqCst);
        assert!(workflow::replay(&pool, &run.id).await.unwrap());
        drain(&pool, &defs).await;
        assert_eq!(status(&pool, &run.id).await.0, "completed");
        assert_eq!(
            EXECUTIONS.load(Ordering::SeqCst),
            1,
            "the completed step was not re-run"
        );

        // Timeout.
        let waiting = patient::start(&pool, ()).await.unwrap();
        drain(&pool, &defs).await;
        assert_eq!(status(&pool, &waiting.id).await.0, "waiting");
        tokio::time::sleep(Duration::from_millis(200)).await;
        drain(&pool, &defs).await;
        let (state, _, error) = status(&pool, &waiting.id).await;
        assert_eq!(state, "failed");
        assert!(error
            .unwrap()
            .contains("no `approved` signal arrived in time"));

        // Cancel a parked run: it never runs again.
        let cancelled = patient::start(&pool, ()).await.unwrap();
        drain(&pool, &defs).await;
        assert!(workflow::cancel(&pool, &cancelled.id).await.unwrap());
        workflow::signal(
            &pool,
            &cancelled.id,
            "approved",
            &Approval { by: "x".into() },
        )
        .await
        .unwrap();
        drain(&pool, &defs).await;
        assert_eq!(status(&pool, &cancelled.id).await.0, "cancelled");
        assert!(
            !workflow::cancel(&pool, &cancelled.id).await.unwrap(),
            "already over"
        );
    }
}

#[bao::test]
async fn a_changed_step_sequence_fails_the_run_and_names_the_mismatch() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let run = evolving_v1::start(&pool, ()).await.unwrap();
        drain(&pool, &[evolving_v1::definition()]).await;
        assert_eq!(status(&pool, &run.id).await.0, "sleeping");
        // The code changed under the running run; wake it with the new code.
        let id = run.id.clone();
        pool.run(move |c| {
            c.batch_execute(&format!(
                "UPDATE bao_workflow_runs SET wake_at = 0 WHERE id = '{id}'"
            ))?;
            Ok(())
        })
        .await
        .unwrap();
        drain(&pool, &[evolving_v2::definition()]).await;
        let (state, _, error) = status(&pool, &run.id).await;
        assert_eq!(state, "failed");
        let error = error.unwrap();
        assert!(
            error.contains("step 1 was recorded as `sleep:wait` but the code now runs `b`"),
            "{error}"
        );
    }
}

bao::app! {
    name: "Workflows",
    workflows: [checkout, flaky, fragile, patient],
}

#[bao::test]
async fn the_run_page_shows_steps_streams_changes_and_replays() {
    let db = TestDatabase::sqlite();
    let pool = setup(&db);
    BROKEN.store(1, Ordering::SeqCst);
    let run = fragile::start(&pool, ()).await.unwrap();
    drain(&pool, &[fragile::definition()]).await;
    assert_eq!(status(&pool, &run.id).await.0, "failed");
    let config = bao::Config::from_vars(&[
        ("BAO_ENV", "test"),
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "warn"),
    ])
    .unwrap();
    let client = bao::testing::TestClient::with_config(app(), config).await;
    let page = client.get(&format!("/_bao/workflows/{}", run.id)).await;
    page.assert_ok()
        .assert_see("fragile")
        .assert_see("the card was declined")
        .assert_see("Replay")
        .assert_see(bao::assets::WORKFLOW_JS_URL);
    client.get("/_bao/workflows/nope").await.assert_status(404);
    // The page has its way back to the list, and its times.
    page.assert_see("href=\"/_bao/workflows?workflow=fragile\"")
        .assert_see("Started ")
        .assert_see("Finished (UTC)");
    // The list of runs, filtered by status.
    client
        .get("/_bao/workflows")
        .await
        .assert_ok()
        .assert_see(&format!("href=\"/_bao/workflows/{}\"", run.id))
        .assert_see("Workflow runs");
    client
        .get("/_bao/workflows?status=failed&workflow=fragile")
        .await
        .assert_ok()
        .assert_see(&run.id);
    client
        .get("/_bao/workflows?status=completed")
        .await
        .assert_ok()
        .assert_see("No runs match these filters");
    client
        .get("/_bao/workflows?status=broken")
        .await
        .assert_status(400)
        .assert_see("the statuses are pending, running");
    page.assert_see(&format!(
        "data-events=\"/_bao/channels/workflow/{}\"",
        run.id
    ));
    let state = client
        .get(&format!("/_bao/workflows/{}/state", run.id))
        .await;
    state.assert_ok();
    let state: serde_json::Value = state.json();
    assert_eq!(state["run"]["status"], "failed");
    assert_eq!(state["steps"][1]["status"], "failed", "{state}");

    let mut progress = bao::channels::subscribe(&pool, "workflow", &run.id, None);
    let replay = format!("/_bao/workflows/{}/replay", run.id);
    client.post(&replay).await.assert_status(403);
    assert_eq!(status(&pool, &run.id).await.0, "failed", "nothing changed");
    client
        .post(&replay)
        .csrf()
        .form(&[("confirm", "yes")])
        .await
        .assert_redirect(&format!("/_bao/workflows/{}", run.id));
    assert_eq!(status(&pool, &run.id).await.0, "pending");
    // The page's channel hears of it (through the database, as other
    // processes do).
    let message = tokio::time::timeout(std::time::Duration::from_secs(10), progress.rx.recv())
        .await
        .expect("the replay reaches the run's channel")
        .unwrap();
    assert!(
        message.data.contains("\"status\":\"pending\""),
        "{}",
        message.data
    );
    BROKEN.store(0, Ordering::SeqCst);
    drain(&pool, &[fragile::definition()]).await;
    assert_eq!(status(&pool, &run.id).await.0, "completed");
    assert!(app()
        .routes()
        .iter()
        .any(|r| r.path == "/_bao/workflows/{run_id}"));

    // In production, without users, the page does not exist.
    let production = bao::Config::from_vars(&[
        ("BAO_ENV", "production"),
        ("BAO_SECRET_KEY", "a-production-secret-that-is-long-enough"),
        ("BAO_DATABASE_URL", db.url()),
    ])
    .unwrap();
    bao::testing::TestClient::with_config(app(), production)
        .await
        .get(&format!("/_bao/workflows/{}", run.id))
        .await
        .assert_status(404);
    bao::testing::TestClient::with_config(app(), production_again(&db))
        .await
        .get("/_bao/workflows")
        .await
        .assert_status(404);
}

fn production_again(db: &TestDatabase) -> bao::Config {
    bao::Config::from_vars(&[
        ("BAO_ENV", "production"),
        ("BAO_SECRET_KEY", "a-production-secret-that-is-long-enough"),
        ("BAO_DATABASE_URL", db.url()),
    ])
    .unwrap()
}

static DRIFT: AtomicU32 = AtomicU32::new(1);

#[bao::workflow(name = "drifting", retries = 0)]
async fn drifting(ctx: WorkflowCtx, _input: ()) -> bao::Result<u32> {
    let checking = ctx.is_checking();
    let price = ctx
        .step("price", || async move {
            if !checking {
                EXECUTIONS.fetch_add(1, Ordering::SeqCst);
            }
            Ok::<_, StepError>(DRIFT.load(Ordering::SeqCst))
        })
        .await?;
    ctx.step_tx("record", move |c: &mut DbConnection| {
        c.batch_execute("INSERT INTO effects (note) VALUES ('priced')")?;
        Ok(price)
    })
    .await?;
    ctx.sleep("settle", Duration::from_millis(1)).await?;
    Ok(price)
}

#[bao::test]
async fn a_deterministic_check_reports_divergences_and_writes_nothing() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        DRIFT.store(1, Ordering::SeqCst);
        EXECUTIONS.store(0, Ordering::SeqCst);
        let defs = [drifting::definition()];
        let run = drifting::start(&pool, ()).await.unwrap();
        drain(&pool, &defs).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        drain(&pool, &defs).await;
        assert_eq!(status(&pool, &run.id).await.0, "completed");
        assert_eq!(count_effects(&pool).await, 1);

        assert!(
            workflow::check(&pool, &defs, &run.id)
                .await
                .unwrap()
                .is_empty(),
            "same code, same results"
        );
        DRIFT.store(2, Ordering::SeqCst);
        let found = workflow::check(&pool, &defs, &run.id).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].seq, found[0].step.as_str()), (0, "price"));
        assert_eq!(
            (found[0].recorded.as_str(), found[0].now.as_str()),
            ("1", "2")
        );
        assert_eq!(
            count_effects(&pool).await,
            1,
            "the check's writes were rolled back"
        );
        assert_eq!(
            EXECUTIONS.load(Ordering::SeqCst),
            1,
            "side effects skipped while checking"
        );
        assert_eq!(
            status(&pool, &run.id).await.0,
            "completed",
            "the run is untouched"
        );
    }
}

static NAPPER_FAILURES: AtomicU32 = AtomicU32::new(0);

/// Sleeps three times, then fails once, then succeeds.
#[bao::workflow(name = "napper", retries = 1)]
async fn napper(ctx: WorkflowCtx, _input: ()) -> bao::Result<String> {
    for i in 0..3 {
        ctx.sleep(&format!("nap {i}"), Duration::from_millis(5))
            .await?;
    }
    if NAPPER_FAILURES.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(bao::Error::Internal("the first real failure".into()));
    }
    Ok("rested".into())
}

#[bao::test]
async fn sleeps_and_takeovers_do_not_use_up_retries() {
    for db in TestDatabase::each() {
        let pool = DbPool::new(db.url()).unwrap();
        NAPPER_FAILURES.store(0, Ordering::SeqCst);
        let defs = [napper::definition()];
        let run = napper::start(&pool, ()).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            drain(&pool, &defs).await;
            let (state, output, _) = status(&pool, &run.id).await;
            if state == "completed" {
                assert_eq!(output.as_deref(), Some("\"rested\""));
                break;
            }
            assert_ne!(state, "failed", "three sleeps used up the one retry");
            assert!(std::time::Instant::now() < deadline, "{state}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let attempts = pool
            .run({
                let id = run.id.clone();
                move |c| Ok(workflow::store::find_run(c, &id)?.unwrap().attempts)
            })
            .await
            .unwrap();
        assert_eq!(attempts, 1, "one failure of the body, counted once");
    }
}

#[bao::workflow(name = "bumped", version = 1)]
async fn bumped_v1(ctx: WorkflowCtx, _input: ()) -> bao::Result<()> {
    let _ = ctx;
    Ok(())
}

#[bao::workflow(name = "bumped", version = 2)]
async fn bumped_v2(ctx: WorkflowCtx, _input: ()) -> bao::Result<()> {
    let _ = ctx;
    Ok(())
}

#[bao::test]
async fn a_run_flagged_after_a_version_bump_is_dead_lettered() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let run = bumped_v1::start(&pool, ()).await.unwrap();
        assert_eq!(bumped_v1::definition().version, 1);
        // Deployed: version 2 of the code meets the run started on 1.
        drain(&pool, &[bumped_v2::definition()]).await;
        let (state, _, error) = status(&pool, &run.id).await;
        assert_eq!(state, "failed");
        assert!(error.unwrap().contains("started on version 1"));
        let mut conn = pool.get().unwrap();
        let letters = bao::fault::dlq::list(&mut conn, Some("workflow:bumped"), 10).unwrap();
        assert_eq!(
            letters.len(),
            1,
            "the flagged run is in the dead-letter queue"
        );
        assert_eq!(
            letters[0].source_id.as_deref(),
            Some(format!("workflow:{}", run.id).as_str())
        );
    }
}

static SLOW_STEPS: AtomicU32 = AtomicU32::new(0);

/// Three steps of 300 ms each, counted as they begin.
#[bao::workflow(name = "three_slow_steps")]
async fn three_slow_steps(ctx: WorkflowCtx, _input: ()) -> bao::Result<u32> {
    for i in 0..3u32 {
        ctx.step(&format!("step {i}"), || async move {
            SLOW_STEPS.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, StepError>(i)
        })
        .await?;
    }
    Ok(3)
}

/// Waits until `n` slow steps have begun.
async fn steps_begun(n: u32) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while SLOW_STEPS.load(Ordering::SeqCst) < n {
        assert!(std::time::Instant::now() < deadline, "the step began");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One workflow worker loop in the background, and its stop flag.
fn spawn_worker(
    pool: &DbPool,
    defs: &[WorkflowDef],
) -> (
    tokio::task::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = tokio::spawn(workflow::work(
        pool.clone(),
        defs.to_vec(),
        settings(),
        1,
        stop.clone(),
    ));
    (worker, stop)
}

#[bao::test]
async fn a_stopping_worker_releases_its_run_after_the_current_step() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        SLOW_STEPS.store(0, Ordering::SeqCst);
        let defs = vec![three_slow_steps::definition()];
        let run = three_slow_steps::start(&pool, ()).await.unwrap();
        let (worker, stop) = spawn_worker(&pool, &defs);
        steps_begun(1).await;
        stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .expect("the worker stopped after the current step")
            .unwrap();
        assert_eq!(
            SLOW_STEPS.load(Ordering::SeqCst),
            1,
            "no step began after the stop"
        );
        let (state, _, _) = status(&pool, &run.id).await;
        assert_eq!(state, "pending", "released at once, not left running");
        drain(&pool, &defs).await;
        let (state, output, _) = status(&pool, &run.id).await;
        assert_eq!(
            (state.as_str(), output.as_deref()),
            ("completed", Some("3"))
        );
        assert_eq!(
            SLOW_STEPS.load(Ordering::SeqCst),
            3,
            "the finished step did not run again"
        );

        // At the drain timeout, a run still in a step is released too.
        SLOW_STEPS.store(0, Ordering::SeqCst);
        let run = three_slow_steps::start(&pool, ()).await.unwrap();
        let (worker, stop) = spawn_worker(&pool, &defs);
        steps_begun(1).await;
        assert_eq!(workflow::release_held(&pool).await.unwrap(), 1);
        let (state, _, _) = status(&pool, &run.id).await;
        assert_eq!(state, "pending");
        stop.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(Duration::from_secs(5), worker).await;
        drain(&pool, &defs).await;
        let (state, _, _) = status(&pool, &run.id).await;
        assert_eq!(state, "completed");
    }
}
