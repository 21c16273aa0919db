//! Fault tolerance through the public API and the HTTP stack: `#[bao::retry]`,
//! circuit breakers (their state in `/metrics` and `bao describe`), and
//! `bao::dead_letter` on SQLite and PostgreSQL.

use bao::fault::{CircuitBreaker, CircuitError, CircuitState};
use bao::prelude::*;
use bao::testing::{TestClient, TestDatabase};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static CALLS: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, PartialEq)]
enum FetchError {
    Timeout,
    NotFound,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

fn transient(e: &FetchError) -> bool {
    *e == FetchError::Timeout
}

/// Times out `fail_first` times, then answers.
#[bao::retry(attempts = 3, backoff = "5ms", when = transient)]
async fn fetch_user(id: i64, fail_first: u32) -> Result<String, FetchError> {
    let n = CALLS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Err(FetchError::NotFound);
    }
    if n < fail_first {
        return Err(FetchError::Timeout);
    }
    Ok(format!("user {id}"))
}

#[bao::test]
async fn retry_retries_transient_errors_up_to_the_attempts() {
    CALLS.store(0, Ordering::SeqCst);
    assert_eq!(fetch_user(7, 2).await, Ok("user 7".into()));
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        3,
        "two failures, then success"
    );

    CALLS.store(0, Ordering::SeqCst);
    assert_eq!(fetch_user(7, 10).await, Err(FetchError::Timeout));
    assert_eq!(CALLS.load(Ordering::SeqCst), 3, "three attempts in all");

    CALLS.store(0, Ordering::SeqCst);
    assert_eq!(fetch_user(0, 0).await, Err(FetchError::NotFound));
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        1,
        "a permanent error is not retried"
    );
    assert!(bao::fault::metrics::render().contains("bao_retries_total{call=\"fetch_user\"} 4"));
}

pub struct Payments;

#[bao::controller("/pay")]
impl Payments {
    /// Charges through the `payments` breaker; `?fail=1` makes the provider fail.
    #[post("/")]
    #[csrf_exempt]
    async fn charge(query: Query<std::collections::HashMap<String, String>>) -> HttpResponse {
        let fail = query.get("fail").is_some();
        let breaker = CircuitBreaker::named("payments");
        match breaker
            .call(|| async move {
                if fail {
                    Err("provider down")
                } else {
                    Ok("charged")
                }
            })
            .await
        {
            Ok(body) => HttpResponse::Ok().body(body),
            Err(CircuitError::Open { retry_in, .. }) => HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", retry_in.as_secs().max(1).to_string()))
                .body("payments unavailable"),
            Err(CircuitError::Inner(e)) => HttpResponse::BadGateway().body(e),
        }
    }
}

bao::app! {
    name: "Fault Test",
    controllers: [Payments],
}

#[bao::test]
async fn the_breaker_opens_after_n_failures_and_half_opens_after_the_timeout() {
    let breaker = CircuitBreaker::named("payments")
        .failure_threshold(3)
        .recovery_timeout(Duration::from_millis(200));
    let client = TestClient::new(app()).await;
    for _ in 0..3 {
        client.post("/pay?fail=1").send().await.assert_status(502);
    }
    assert_eq!(breaker.state(), CircuitState::Open);
    client
        .post("/pay")
        .send()
        .await
        .assert_status(503)
        .assert_see("payments unavailable");
    client
        .get("/metrics")
        .await
        .assert_see("bao_circuit_state{name=\"payments\"} 1")
        .assert_see("bao_circuit_rejected_total{name=\"payments\"} 1");

    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    client
        .get("/metrics")
        .await
        .assert_see("bao_circuit_state{name=\"payments\"} 2");
    // The trial call succeeds: closed again.
    client
        .post("/pay")
        .send()
        .await
        .assert_ok()
        .assert_see("charged");
    assert_eq!(breaker.state(), CircuitState::Closed);
    client
        .get("/metrics")
        .await
        .assert_see("bao_circuit_state{name=\"payments\"} 0")
        .assert_see("bao_circuit_opened_total{name=\"payments\"} 1");
}

#[bao::test]
async fn dead_letters_are_recorded_and_replay_marks_them() {
    for db in TestDatabase::each() {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        let id = bao::dead_letter(
            &pool,
            "emails",
            &bao::json!({"to": "alice@example.com"}),
            "smtp failed",
            3,
        )
        .await
        .unwrap();
        let mut conn = pool.get().unwrap();
        let letters = bao::fault::dlq::list(&mut conn, Some("emails"), 10).unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].id, id);
        assert_eq!(letters[0].payload, r#"{"to":"alice@example.com"}"#);
        assert_eq!(
            (letters[0].attempts, letters[0].error.as_str()),
            (3, "smtp failed")
        );
        // No task named `emails`: the replay marks it and shows the payload.
        let outcome = bao::task::replay_dead_letter(&mut conn, id, None).unwrap();
        assert!(outcome.contains("alice@example.com"), "{outcome}");
        assert!(bao::task::replay_dead_letter(&mut conn, id, None).is_err());
    }
}

#[test]
fn a_running_servers_breakers_are_read_from_its_metrics() {
    use bao::testing::{free_port, wait_until_healthy};
    let breaker = CircuitBreaker::named("ledger")
        .failure_threshold(1)
        .recovery_timeout(Duration::from_secs(60));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let port_text = port.to_string();
    let config = bao::Config::from_vars(&[("BAO_PORT", &port_text), ("BAO_WORKERS", "1")]).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        bao::__private::block_on(bao::serve_until(app(), config, async move {
            while rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }))
    });
    assert!(wait_until_healthy(&addr, Duration::from_secs(10)));
    // Open "ledger" in this process (the server's), then read it over HTTP.
    let permit = breaker.permit().unwrap();
    permit.failure();
    let refused = bao::__private::block_on(breaker.call(|| async { Ok::<_, &str>(()) }));
    assert!(matches!(refused, Err(CircuitError::Open { .. })));
    let live = bao::fault::metrics::live_breakers(&addr).unwrap();
    let ledger = live.iter().find(|b| b.name == "ledger").expect("listed");
    assert_eq!(
        (
            ledger.state.as_str(),
            ledger.opened_total,
            ledger.rejected_total
        ),
        ("open", 1, 1)
    );
    tx.send(()).unwrap();
    server.join().unwrap().unwrap();
    assert!(
        bao::fault::metrics::live_breakers(&addr).is_err(),
        "nothing answers once the server stopped"
    );
}

#[bao::test]
async fn concurrent_replays_of_one_letter_enqueue_it_once() {
    for db in TestDatabase::each() {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        let id = bao::dead_letter(&pool, "receipts", &bao::json!([7]), "smtp failed", 3)
            .await
            .unwrap();
        // SQLite allows few connections: fewer racers there, same promise.
        let racers = match db.dialect() {
            bao::db::Dialect::Sqlite => 4,
            bao::db::Dialect::Postgres => 16,
        };
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(racers));
        let handles: Vec<_> = (0..racers)
            .map(|_| {
                let (pool, barrier) = (pool.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = pool.get().unwrap();
                    barrier.wait();
                    bao::task::replay_dead_letter(&mut conn, id, Some(3))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "{results:?}");
        for loser in results.iter().filter_map(|r| r.as_ref().err()) {
            assert!(
                loser.to_string().contains("replayed already")
                    || loser.to_string().contains("locked"),
                "{loser}"
            );
        }
        let mut conn = pool.get().unwrap();
        let queued = bao::task::store::list(&mut conn, None, 100).unwrap();
        assert_eq!(
            queued.iter().filter(|t| t.name == "receipts").count(),
            1,
            "the letter was enqueued once"
        );
    }
}
