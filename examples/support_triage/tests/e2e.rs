//! The demo as real processes: `support_triage serve` driven by headless
//! Chromium (a customer and an operator, each in a browser of their own),
//! and a server killed with SIGKILL while a ticket waits for approval.

use bao::testing::{free_port, Browser, LiveServer, TestDatabase};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_support_triage"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BAO_LOG_LEVEL", "warn")
        .env("BAO_WORKFLOW_POLL", "100ms")
        .env(
            "BAO_SECRET_KEY",
            "e2e-secret-key-0123456789abcdef0123456789abcdef",
        );
    command
}

fn serve(db: &TestDatabase, port: u16, extra: &[(&str, &str)]) -> LiveServer {
    let mut command = binary();
    command
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in extra {
        command.env(k, v);
    }
    LiveServer::start(command, port)
}

/// Where screenshots go: `SUPPORT_SCREENSHOTS` (the README's come from
/// `SUPPORT_SCREENSHOTS=docs/screenshots`), else the test's target folder.
fn shot(name: &str) -> PathBuf {
    match std::env::var_os("SUPPORT_SCREENSHOTS") {
        Some(dir) => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(dir)
            .join(format!("{name}.png")),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("support-{name}.png")),
    }
}

fn cli(db: &TestDatabase, args: &[&str]) -> serde_json::Value {
    let out = binary()
        .args(args)
        .env("BAO_DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// Waits for `check` to hold, up to [`WAIT`].
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[bao::test]
async fn a_customer_and_an_operator_in_real_browsers() {
    let Some(customer) = Browser::start().await else {
        return;
    };
    let operator = Browser::start().await.expect("a second browser");
    let db = TestDatabase::sqlite();
    let port = free_port();
    let server = serve(&db, port, &[]);
    let base = server.base();

    // The operator signs in and watches the queue.
    operator.goto(&format!("{base}/login")).await;
    operator.fill("input[name=email]", "ops@triage.test").await;
    operator
        .fill("input[name=password]", support_triage::seed::PASSWORD)
        .await;
    operator.click("form button[type=submit]").await;
    operator.goto(&format!("{base}/queue")).await;
    assert!(operator.wait_for("No open tickets", WAIT).await);

    // The customer opens a ticket and lands on its page.
    customer.goto(&format!("{base}/support")).await;
    customer.fill("input[name=email]", "alice@acme.test").await;
    customer
        .fill("input[name=subject]", "Charged twice for March")
        .await;
    customer
        .fill(
            "textarea[name=body]",
            "My card was charged twice for the March invoice. Please help, it is urgent.",
        )
        .await;
    customer.screenshot(&shot("1-new-ticket")).await;
    customer.click("#new-ticket button[type=submit]").await;
    assert!(customer.wait_for("No reply yet", WAIT).await);
    assert!(customer.url().await.contains("/support/tickets/"));

    // The agent's work appears in the operator's queue without a reload.
    assert!(
        operator.wait_for("awaiting_approval", WAIT).await,
        "the queue updates live: {}",
        operator.source().await
    );
    operator.screenshot(&shot("2-queue")).await;
    operator.click("tr[data-ticket] td a").await;
    assert!(operator.wait_for("Reply waiting for approval", WAIT).await);
    let detail = operator.source().await;
    assert!(
        detail.contains("Duplicate charges are refunded"),
        "{detail}"
    );
    operator.screenshot(&shot("3-approval")).await;
    operator.click("#approve").await;
    assert!(
        operator
            .wait_for("Approved: the reply is on its way.", WAIT)
            .await
    );

    // The reply reaches the customer's open page, live.
    assert!(
        customer
            .wait_for("Duplicate charges are refunded", WAIT)
            .await,
        "the customer's page updates live: {}",
        customer.source().await
    );
    assert!(customer.wait_for("answered", WAIT).await);
    customer.screenshot(&shot("4-answered")).await;
    drop(server);
}

#[bao::test]
async fn a_ticket_waiting_for_approval_survives_kill_9() {
    for db in TestDatabase::each() {
        let port = free_port();
        // The mail gateway is down: after its retries the reply's delivery
        // becomes a dead letter (and the breaker counts the failures).
        let gateway = [("SUPPORT_MAIL_URL", "http://127.0.0.1:9/send")];
        let mut server = serve(&db, port, &gateway);
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = server.base();
        let form = client
            .get(format!("{base}/support"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = form
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap()
            .to_string();
        let created = client
            .post(format!("{base}/support"))
            .form(&[
                ("email", "bob@globex.test"),
                ("subject", "Export fails with error 500"),
                (
                    "body",
                    "The CSV export fails with error 500 since this morning.",
                ),
                ("_csrf", token.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 303);
        let page = created.headers()["location"].to_str().unwrap().to_string();

        // Wait until the agent asks for approval, then kill the server.
        let mut pending = serde_json::Value::Null;
        eventually("the approval request", || {
            pending = cli(&db, &["agents:pending", "--json"]);
            pending.as_array().is_some_and(|p| !p.is_empty())
        });
        let id = pending[0]["id"].as_i64().unwrap();
        let run_id = pending[0]["run_id"].as_str().unwrap().to_string();
        let _ = Command::new("kill")
            .args(["-KILL", &server.pid().to_string()])
            .status();
        drop(server);

        // A new server; the operator approves from the CLI.
        server = serve(&db, port, &gateway);
        let approved = binary()
            .args([
                "agents:approve",
                &id.to_string(),
                "--by",
                "ops@triage.test",
                "--no-resume",
            ])
            .env("BAO_DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(approved.status.success(), "{approved:?}");

        // The restarted server's worker finishes the run: the reply is on
        // the customer's page, sent once.
        let mut html = String::new();
        let started = Instant::now();
        while !html.contains("class=\"bao-card reply\"") {
            assert!(started.elapsed() < WAIT, "the reply arrives: {html}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            html = client
                .get(format!("{base}{page}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
        }
        assert_eq!(
            html.matches("class=\"bao-card reply\"").count(),
            1,
            "{html}"
        );
        let run = cli(&db, &["agents:show", &run_id, "--json"]);
        assert_eq!(run["status"], "completed", "{run}");

        // Delivery fails against the dead gateway and, after its retries,
        // lands in the dead-letter queue.
        let mut letters = serde_json::Value::Null;
        eventually("the dead letter", || {
            letters = cli(&db, &["dlq:list", "--json"]);
            letters.as_array().is_some_and(|l| !l.is_empty())
        });
        assert_eq!(letters[0]["queue"], "deliver_reply", "{letters}");
        assert!(
            letters[0]["error"]
                .as_str()
                .unwrap()
                .contains("mail gateway"),
            "{letters}"
        );
        drop(server);
    }
}
