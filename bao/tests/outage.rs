//! Database outages, as production sees them: the network to PostgreSQL cut
//! by a TCP proxy that is stopped and started again (the shared server is
//! never stopped), and backends terminated by an administrator. Requests
//! meanwhile answer 503 with `Retry-After` at once, and everything resumes
//! within seconds of the database coming back.

use bao::db::{DbConnection, DbPool};
use bao::testing::{TcpProxy, TestClient, TestDatabase};
use bao::workflow::{self, WorkerSettings, WorkflowCtx};
use diesel::connection::SimpleConnection;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Probe;

#[bao::controller("/probe")]
impl Probe {
    /// One round trip to the database.
    #[get("/")]
    async fn index(db: bao::Db) -> bao::Result<String> {
        db.run(|c: &mut DbConnection| {
            c.batch_execute("SELECT 1")?;
            Ok(())
        })
        .await?;
        Ok("ok".into())
    }
}

#[bao::workflow(name = "greet", retries = 3)]
async fn greet(ctx: WorkflowCtx, name: String) -> bao::Result<String> {
    let text: String = ctx
        .step("compose", || {
            let text = format!("hello {name}");
            async move { Ok::<_, workflow::StepError>(text) }
        })
        .await?;
    Ok(text)
}

bao::app! { controllers: [Probe], workflows: [greet] }

/// `postgres://user@127.0.0.1:5432/db` → the same database through `proxy`.
fn through(url: &str, proxy: &TcpProxy) -> String {
    let (scheme_user, rest) = url.split_once('@').expect("a URL with user@host");
    let (_, path) = rest.split_once('/').expect("a URL with /database");
    format!("{scheme_user}@{}/{path}", proxy.addr())
}

#[bao::test]
async fn a_cut_network_answers_503_at_once_and_recovers_when_it_is_back() {
    let db = TestDatabase::postgres().expect("this test needs PostgreSQL");
    let proxy = TcpProxy::start("127.0.0.1:5432").unwrap();
    let url = through(db.url(), &proxy);
    let config =
        bao::Config::from_vars(&[("BAO_DATABASE_URL", url.as_str()), ("BAO_LOG_LEVEL", "off")])
            .unwrap();
    let client = TestClient::with_config(app(), config).await;
    for _ in 0..5 {
        client.get("/probe").await.assert_ok().assert_see("ok");
    }

    proxy.stop();
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let response = client.get("/probe").await;
        slowest = slowest.max(started.elapsed());
        response.assert_status(503);
        assert_eq!(
            response.header("retry-after"),
            Some("2"),
            "503s say when to retry"
        );
    }
    assert!(
        slowest < Duration::from_secs(1),
        "during the outage every request is answered at once (slowest {slowest:?}), not after the pool's 5 s timeout"
    );
    eprintln!("slowest answer during the outage: {slowest:?}");
    let started = Instant::now();
    client.get("/metrics").await.assert_ok();
    eprintln!("/metrics during the outage: {:?}", started.elapsed());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "/metrics does not wait for the database"
    );
    client.get("/readyz").await.assert_status(503);

    proxy.start_again().unwrap();
    let back = Instant::now();
    loop {
        if client.get("/probe").await.status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "requests succeed again within seconds of the database returning"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("outage end -> first 200: {:?}", back.elapsed());
    for _ in 0..20 {
        client.get("/probe").await.assert_ok();
    }
    client.get("/readyz").await.assert_ok();
}

/// The run's status; a lost connection (this pool's own, terminated too)
/// reads as "unknown" and the caller asks again.
async fn status(pool: &DbPool, id: &str) -> String {
    let id = id.to_string();
    pool.run(move |c| Ok(workflow::store::find_run(c, &id)?.map(|r| r.status)))
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into())
}

async fn wait_completed(pool: &DbPool, id: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if status(pool, id).await == "completed" {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "run {id} did not complete within {within:?} (status {})",
            status(pool, id).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[bao::test]
async fn workers_and_listen_reconnect_after_their_backends_are_terminated() {
    let db = TestDatabase::postgres().expect("this test needs PostgreSQL");
    let pool = DbPool::new(db.url()).unwrap();
    let admin = DbPool::new(db.url()).unwrap();
    // A poll far longer than the test: only a NOTIFY wakes an idle worker,
    // so a run finishing quickly proves the LISTEN connection is alive.
    let settings = WorkerSettings {
        lease: Duration::from_secs(30),
        poll: Duration::from_secs(120),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn(workflow::work(
        pool.clone(),
        vec![greet::definition()],
        settings,
        1,
        stop.clone(),
    ));
    // Let the worker go idle and its LISTEN thread connect.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = greet::start(&admin, "ada".to_string()).await.unwrap();
    wait_completed(&admin, &first.id, Duration::from_secs(10)).await;

    // Terminate every other backend of this database: the worker's pooled
    // connections and its LISTEN connection alike.
    let terminated: i64 = admin
        .run(|c| {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let row: Count = diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .get_result(c)?;
            Ok(row.n)
        })
        .await
        .unwrap();
    assert!(terminated >= 1, "the LISTEN backend was terminated");

    // The LISTEN thread reconnects with backoff; a run started afterwards
    // is picked up through NOTIFY, long before the 120 s poll.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = match greet::start(&admin, "grace".to_string()).await {
        Ok(run) => run,
        // This pool's other connections were terminated too: one retry.
        Err(_) => greet::start(&admin, "grace".to_string()).await.unwrap(),
    };
    let took = wait_completed(&admin, &second.id, Duration::from_secs(15)).await;
    eprintln!("run after the backends were terminated completed in {took:?}");

    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    worker.abort();
}
