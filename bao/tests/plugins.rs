//! Plugins: lifecycle order (startup in registration order before serving,
//! shutdown in reverse after the drain), a failed startup in `/readyz`,
//! their routes served, and their capabilities enforced at run time
//! (undeclared secrets and hosts refused, redirects to undeclared hosts
//! refused, every use recorded for `plugins:audit`).

use bao::plugin::{controller, Capabilities, PluginController, PluginCtx};
use bao::testing::{free_port, http_get, wait_until_healthy, TestClient, TestDatabase};
use bao::Plugin;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STUB: Mutex<Option<u16>> = Mutex::new(None);

fn event(e: impl Into<String>) {
    EVENTS.lock().unwrap().push(e.into());
}

pub struct Hooks;

#[bao::controller("/hooks")]
impl Hooks {
    #[get("/ping")]
    async fn ping() -> &'static str {
        "pong"
    }
}

/// Calls a declared host, reads a declared secret, uses the database, and
/// tries what it did not declare.
#[derive(Default)]
pub struct Payments;

impl Plugin for Payments {
    const NAME: &'static str = "payments";
    const CAPABILITIES: Capabilities = Capabilities::new()
        .hosts(&["127.0.0.1"])
        .secrets(&["PAYMENTS_TEST_KEY"])
        .db()
        .routes();
    const CONTROLLERS: &'static [PluginController] = &[controller::<Hooks>()];

    async fn startup(&self, ctx: &PluginCtx<Self>) -> bao::Result<()> {
        event("payments:startup");
        let key = ctx.secret("PAYMENTS_TEST_KEY")?;
        let port = STUB.lock().unwrap().expect("the stub runs");
        let answer = ctx
            .http()
            .get(&format!("http://127.0.0.1:{port}/ok"))?
            .bearer_auth(&key)
            .send()
            .await
            .map_err(|e| bao::Error::Internal(e.to_string()))?;
        event(format!(
            "payments:declared-host:{}",
            answer.status().as_u16()
        ));
        match ctx.secret("DATABASE_PASSWORD") {
            Err(e) => event(format!("payments:refused-secret:{e}")),
            Ok(_) => event("payments:read-an-undeclared-secret"),
        }
        match ctx.http().get("http://localhost:9/steal") {
            Err(e) => event(format!("payments:refused-host:{e}")),
            Ok(_) => event("payments:called-an-undeclared-host"),
        }
        // A declared host that redirects to an undeclared one.
        let redirected = ctx
            .http()
            .get(&format!("http://127.0.0.1:{port}/redirect"))?
            .send()
            .await;
        event(format!("payments:redirect-refused:{}", redirected.is_err()));
        let db = ctx.db()?;
        db.ping().await?;
        event("payments:db");
        Ok(())
    }

    async fn shutdown(&self, _ctx: &PluginCtx<Self>) {
        event("payments:shutdown");
    }
}

/// Fails to start.
#[derive(Default)]
pub struct Flaky;

impl Plugin for Flaky {
    const NAME: &'static str = "flaky";
    const CAPABILITIES: Capabilities = Capabilities::new();

    async fn startup(&self, _ctx: &PluginCtx<Self>) -> bao::Result<()> {
        event("flaky:startup");
        Err(bao::Error::Internal("the upstream is down".into()))
    }

    async fn shutdown(&self, _ctx: &PluginCtx<Self>) {
        event("flaky:shutdown");
    }
}

/// Starts and stops.
#[derive(Default)]
pub struct Quiet;

impl Plugin for Quiet {
    const NAME: &'static str = "quiet";
    const CAPABILITIES: Capabilities = Capabilities::new();

    async fn startup(&self, _ctx: &PluginCtx<Self>) -> bao::Result<()> {
        event("quiet:startup");
        Ok(())
    }

    async fn shutdown(&self, _ctx: &PluginCtx<Self>) {
        event("quiet:shutdown");
    }
}

bao::app! { plugins: [Payments, Flaky, Quiet] }

/// Answers `/ok` with 200 and `/redirect` with a redirect to `localhost`.
fn stub() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let response = if request.starts_with("GET /redirect") {
                format!("HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_string()
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[test]
fn plugins_start_in_order_stop_in_reverse_and_are_held_to_their_capabilities() {
    // Safety of set_var: this test file's tests run one per process (nextest).
    unsafe { std::env::set_var("PAYMENTS_TEST_KEY", "sk_test") };
    *STUB.lock().unwrap() = Some(stub());
    let db = TestDatabase::sqlite();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let port_text = port.to_string();
    let config = bao::Config::from_vars(&[
        ("BAO_PORT", port_text.as_str()),
        ("BAO_WORKERS", "1"),
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_LOG_LEVEL", "off"),
    ])
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        bao::__private::block_on(bao::serve_until(app(), config, async move {
            while rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }))
    });
    assert!(wait_until_healthy(&addr, Duration::from_secs(10)));
    // Started in registration order, before the server listened.
    let started: Vec<String> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.ends_with(":startup"))
        .cloned()
        .collect();
    assert_eq!(
        started,
        ["payments:startup", "flaky:startup", "quiet:startup"]
    );
    let events = EVENTS.lock().unwrap().clone();
    assert!(
        events.contains(&"payments:declared-host:200".to_string()),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("payments:refused-secret:")
                && e.contains("`DATABASE_PASSWORD` without declaring it")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("payments:refused-host:")
                && e.contains("`localhost` without declaring it")),
        "{events:?}"
    );
    assert!(
        events.contains(&"payments:redirect-refused:true".to_string()),
        "{events:?}"
    );
    assert!(events.contains(&"payments:db".to_string()), "{events:?}");

    // The plugin's route is served; the failed startup shows in /readyz.
    assert_eq!(http_get(&addr, "/hooks/ping").unwrap().body, "pong");
    let ready = http_get(&addr, "/readyz").unwrap();
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert!(ready.body.contains("plugin:flaky"), "{}", ready.body);
    assert!(
        ready.body.contains("the upstream is down"),
        "{}",
        ready.body
    );
    assert!(
        !ready.body.contains("plugin:quiet\":\"") || ready.body.contains("\"plugin:quiet\":\"ok\""),
        "{}",
        ready.body
    );

    tx.send(()).unwrap();
    server.join().unwrap().unwrap();
    let stopped: Vec<String> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.ends_with(":shutdown"))
        .cloned()
        .collect();
    assert_eq!(
        stopped,
        ["quiet:shutdown", "payments:shutdown"],
        "reverse order; a plugin that failed to start is not stopped"
    );

    // Every use and refusal was recorded for `plugins:audit`.
    let pool = bao::db::DbPool::new(db.url()).unwrap();
    let started = std::time::Instant::now();
    let seen = loop {
        let rows = bao::__private::block_on(pool.run(bao::plugin::recorded)).unwrap();
        let seen: Vec<(String, String)> = rows
            .iter()
            .filter(|r| r.plugin == "payments")
            .map(|r| (r.kind.clone(), r.value.clone()))
            .collect();
        if seen.len() >= 5 || started.elapsed() > Duration::from_secs(5) {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for expected in [
        ("db", ""),
        ("host", "127.0.0.1"),
        ("host_refused", "localhost"),
        ("secret", "PAYMENTS_TEST_KEY"),
        ("secret_refused", "DATABASE_PASSWORD"),
    ] {
        assert!(
            seen.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} in {seen:?}"
        );
    }
}

#[bao::test]
async fn the_app_lists_its_plugins_and_serves_their_routes_in_tests() {
    let app = app();
    let names: Vec<&str> = app.plugins().iter().map(|p| p.name).collect();
    assert_eq!(names, ["payments", "flaky", "quiet"]);
    assert_eq!(app.plugins()[0].routes[0].path, "/hooks/ping");
    assert!(app.plugins()[0].capabilities.db);
    assert!(app.routes().iter().any(|r| r.path == "/hooks/ping"));
    let client = TestClient::new(app).await;
    client
        .get("/hooks/ping")
        .await
        .assert_ok()
        .assert_see("pong");
}

#[derive(Default)]
pub struct Sneaky;

impl Plugin for Sneaky {
    const NAME: &'static str = "sneaky";
    const CAPABILITIES: Capabilities = Capabilities::new();

    fn register(&self, app: bao::App) -> bao::App {
        app.controller::<Hooks>()
    }
}

#[test]
fn routes_added_in_register_without_declaring_them_stop_the_app() {
    let result = std::panic::catch_unwind(|| bao::App::new("t", "1").plugin(Sneaky));
    let message = result
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .expect("a panic with a message");
    assert!(
        message
            .contains("plugin `sneaky` added controllers in `register` without declaring routes"),
        "{message}"
    );
}
