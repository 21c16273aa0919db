//! Graceful shutdown of a real server: probes report it, new requests are
//! shed, in-flight requests and background work finish, hooks run in
//! reverse order.

use bao::testing::{free_port, http_get, wait_until_healthy};
use bao::Config;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Slow;

#[bao::controller("/")]
impl Slow {
    #[get("/slow")]
    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(800)).await;
        "finished"
    }

    #[get("/fast")]
    async fn fast() -> &'static str {
        "fast"
    }

    /// Starts background work that outlives the request.
    #[get("/later")]
    async fn later() -> &'static str {
        bao::background(async {
            // Longer than the slowest request: only the wait at shutdown
            // lets it finish.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            BACKGROUND_DONE.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        "started"
    }
}

static BACKGROUND_DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

bao::app! { controllers: [Slow] }

#[test]
fn shutdown_drains_in_flight_requests_and_runs_hooks_in_reverse() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let order = Arc::new(Mutex::new(Vec::new()));
    let (first, second) = (order.clone(), order.clone());
    let app = app()
        .on_shutdown("first", move || {
            let order = first.clone();
            async move { order.lock().unwrap().push("first") }
        })
        .on_shutdown("second", move || {
            let order = second.clone();
            async move { order.lock().unwrap().push("second") }
        });
    let port_text = port.to_string();
    let config = Config::from_vars(&[
        ("BAO_PORT", &port_text),
        ("BAO_WORKERS", "2"),
        ("BAO_SHUTDOWN_DRAIN_TIMEOUT", "5s"),
    ])
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        bao::__private::block_on(bao::serve_until(app, config, async move {
            while rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }))
    });
    assert!(
        wait_until_healthy(&addr, Duration::from_secs(10)),
        "server came up"
    );

    assert_eq!(http_get(&addr, "/later").unwrap().body, "started");
    let slow_addr = addr.clone();
    let in_flight = std::thread::spawn(move || http_get(&slow_addr, "/slow"));
    std::thread::sleep(Duration::from_millis(200));
    tx.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(100));

    let health = http_get(&addr, "/healthz").unwrap();
    assert_eq!(health.status, 503);
    assert_eq!(health.body, r#"{"ok":false,"reason":"shutting_down"}"#);
    let shed = http_get(&addr, "/fast").unwrap();
    assert_eq!(shed.status, 503, "new requests are shed: {}", shed.body);

    let slow = in_flight.join().unwrap().unwrap();
    assert_eq!((slow.status, slow.body.as_str()), (200, "finished"));
    server.join().unwrap().unwrap();
    assert_eq!(*order.lock().unwrap(), vec!["second", "first"]);
    assert!(
        BACKGROUND_DONE.load(std::sync::atomic::Ordering::SeqCst),
        "background work finished within the drain timeout"
    );
    assert!(
        http_get(&addr, "/healthz").is_err(),
        "the server stopped listening"
    );
}
