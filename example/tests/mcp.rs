//! The MCP server of the example app, driven by the official Python client
//! (`mcp`, pinned in .ci/run) over stdio and streamable HTTP, and by raw
//! JSON-RPC lines to prove stdout carries nothing but the protocol.

use bao::testing::{free_port, http_request, LiveServer, TestDatabase};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const SECRET_KEY: &str = "mcp-test-secret-key-0123456789abcdef0123456789abcdef";
const ADMIN_TOKEN: &str = "mcp-test-admin-token-0123456789abcdef";

fn example() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_example"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BAO_SECRET_KEY", SECRET_KEY)
        .env("BAO_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("BAO_LOG_LEVEL", "warn");
    command
}

/// Runs the Python driver; `None` (skipped) only outside CI without `mcp`.
fn python(args: &[String]) -> Option<Value> {
    let out = Command::new("python3")
        .arg("tests/mcp_client.py")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'mcp'") {
        assert!(
            std::env::var_os("CI").is_none(),
            "the Python `mcp` package is missing: .ci/run installs it"
        );
        eprintln!("skipped: pip install mcp==2.3.0 to run this test");
        return None;
    }
    assert!(out.status.success(), "the MCP client failed:\n{stderr}");
    Some(serde_json::from_slice(&out.stdout).expect("the driver prints JSON"))
}

/// Drives `example mcp:serve` over stdio with `env`, making `calls`.
fn over_stdio(db: &TestDatabase, env: &[(&str, &str)], calls: Value) -> Option<Value> {
    // The driver starts the server itself: pass the environment through a
    // small wrapper so the child sees it.
    let mut args = vec!["stdio".to_string(), "env".to_string()];
    for (k, v) in [
        ("BAO_DATABASE_URL", db.url()),
        ("BAO_SECRET_KEY", SECRET_KEY),
        ("BAO_ADMIN_TOKEN", ADMIN_TOKEN),
        ("BAO_LOG_LEVEL", "warn"),
    ]
    .iter()
    .chain(env.iter())
    {
        args.push(format!("{k}={v}"));
    }
    args.push(env!("CARGO_BIN_EXE_example").to_string());
    args.push("mcp:serve".into());
    args.push("--".into());
    args.push(calls.to_string());
    python(&args)
}

fn result(report: &Value, i: usize) -> (bool, Value, &str) {
    let r = &report["results"][i];
    let text = r["text"].as_str().unwrap_or_default();
    let value = serde_json::from_str(text).unwrap_or(Value::Null);
    (r["is_error"].as_bool().unwrap_or(true), value, text)
}

fn no_secrets(report: &Value) {
    let text = report.to_string();
    assert!(!text.contains(SECRET_KEY), "the secret key leaked: {text}");
    assert!(
        !text.contains(ADMIN_TOKEN),
        "the admin token leaked: {text}"
    );
}

fn migrate(db: &TestDatabase) {
    let out = example()
        .arg("migrate")
        .env("BAO_DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn the_official_client_reads_builds_and_operates_over_stdio() {
    for db in TestDatabase::each() {
        migrate(&db);
        // An agent run (the offline Echo provider answers) and a dead letter.
        let out = example()
            .args(["agents:run", "librarian", "hello there", "--json"])
            .env("BAO_DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        let run_id = run["id"].as_str().unwrap().to_string();
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let letter = rt
            .block_on(bao::dead_letter(&pool, "slow_mark", &json!([7]), "boom", 3))
            .unwrap();

        // A running server writing its log file.
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let port = free_port();
        let mut serve = example();
        serve
            .args(["serve", "--port", &port.to_string()])
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_FILE", &log)
            .env("BAO_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let server = LiveServer::start(serve, port);
        let page = http_request(&server.addr, "GET", "/guestbook", &[], b"").unwrap();
        assert_eq!(page.status, 200);
        // One failing request as the server logs them, for bao_last_error.
        let wait = std::time::Instant::now();
        let line = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("\"status\":200")) {
                break line.to_string();
            }
            assert!(wait.elapsed().as_secs() < 10, "the server logs requests");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut failed: Value = serde_json::from_str(&line).unwrap();
        failed["status"] = json!(503);
        failed["span"]["request_id"] = json!("req-mcp-503");
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(file, "{failed}").unwrap();
        let mut note = failed.clone();
        note["status"] = Value::Null;
        note["message"] = json!("the database went away");
        note["level"] = json!("ERROR");
        writeln!(file, "{note}").unwrap();
        drop(file);

        let log_path = log.display().to_string();
        let port_text = port.to_string();
        let env = [
            ("BAO_LOG_FILE", log_path.as_str()),
            ("BAO_PORT", port_text.as_str()),
        ];
        let calls = json!([
            ["bao_describe", {}],
            ["bao_describe", {"section": "routes", "limit": 5}],
            ["bao_describe", {"section": "routes", "limit": 5, "cursor": "5"}],
            ["bao_describe", {"section": "config", "limit": 100}],
            ["bao_routes_table", {}],
            ["bao_list", {"kind": "models"}],
            ["bao_list", {"kind": "migrations"}],
            ["bao_inspect", {"kind": "model", "name": "Entry"}],
            ["bao_runs", {"limit": 5}],
            ["bao_trace", {"run_id": run_id}],
            ["bao_agent_trace", {"run_id": run_id}],
            ["bao_health", {}],
            ["bao_dlq_list", {}],
            ["bao_logs", {"limit": 3}],
            ["bao_last_error", {}],
            ["bao_dlq_replay", {"id": letter}],
            ["bao_trace", {"run_id": "no-such-run"}],
            ["bao_inspect", {"kind": "route", "name": "/guestbook"}],
        ]);
        let Some(report) = over_stdio(&db, &env, calls) else {
            return;
        };
        no_secrets(&report);
        let tools: Vec<&str> = report["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(tools.contains(&"bao_describe") && tools.contains(&"bao_last_error"));
        assert!(
            !tools.contains(&"bao_dlq_replay"),
            "write tools are off by default"
        );
        let tokens = report["tools_bytes"].as_u64().unwrap() / 4;
        assert!(tokens < 3000, "the tool list is about {tokens} tokens");
        assert!(report["server"].as_str().unwrap().contains("Bao Example"));

        let (err, summary, text) = result(&report, 0);
        assert!(!err, "{text}");
        assert_eq!(summary["app"]["name"], "Bao Example");
        assert_eq!(summary["sections"]["models"]["names"], json!(["Entry"]));
        let (_, first, _) = result(&report, 1);
        let (_, second, _) = result(&report, 2);
        assert_eq!(first["items"].as_array().unwrap().len(), 5);
        assert_eq!(first["next_cursor"], "5", "{first}");
        assert_eq!(second["items"].as_array().unwrap().len(), 5);
        assert_ne!(first["items"][0], second["items"][0], "the cursor pages on");
        let (_, config, text) = result(&report, 3);
        assert!(config["items"].as_array().unwrap().len() > 20, "{text}");
        let (_, table, _) = result(&report, 4);
        assert!(table["table"]
            .as_str()
            .unwrap()
            .contains("POST   /guestbook"));
        let (_, models, _) = result(&report, 5);
        assert_eq!(models["items"][0]["name"], "Entry");
        assert_eq!(models["items"][0]["file"], "src/controllers/guestbook.rs");
        let (_, migrations, _) = result(&report, 6);
        assert!(migrations["total"].as_u64().unwrap() >= 2, "{migrations}");
        let (err, inspected, text) = result(&report, 7);
        assert!(!err, "{text}");
        assert_eq!(
            inspected["items"][0]["source"]["file"],
            "src/controllers/guestbook.rs"
        );
        assert!(
            !inspected["items"][0]["migrations"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{inspected}"
        );
        let (err, runs, text) = result(&report, 8);
        assert!(!err, "{text}");
        assert_eq!(runs["items"][0]["id"], run_id.as_str());
        assert_eq!(runs["items"][0]["workflow"], "agent:librarian");
        let (err, trace, text) = result(&report, 9);
        assert!(!err, "{text}");
        assert_eq!(trace["status"], "completed");
        assert!(trace["steps"]["total"].as_u64().unwrap() >= 1, "{trace}");
        let (err, agent, text) = result(&report, 10);
        assert!(!err, "{text}");
        assert_eq!(agent["agent"], "librarian");
        assert!(!agent["turns"].as_array().unwrap().is_empty(), "{agent}");
        let (err, health, text) = result(&report, 11);
        assert!(!err, "{text}");
        assert_eq!(health["healthz"], 200);
        assert_eq!(health["readyz"], 200);
        assert!(
            health["metrics"]["http_requests_2xx"].as_f64().unwrap() >= 1.0,
            "{health}"
        );
        let (_, letters, _) = result(&report, 12);
        assert_eq!(letters["items"][0]["id"], letter);
        assert_eq!(letters["items"][0]["queue"], "slow_mark");
        let (err, logs, text) = result(&report, 13);
        assert!(!err, "{text}");
        assert_eq!(logs["lines"].as_array().unwrap().len(), 3, "{logs}");
        let (err, last, text) = result(&report, 14);
        assert!(!err, "{text}");
        assert_eq!(last["request_id"], "req-mcp-503");
        assert_eq!(last["status"], 503);
        assert!(last["lines"].to_string().contains("the database went away"));
        let (err, _, text) = result(&report, 15);
        assert!(err, "a write tool is refused without BAO_MCP_ALLOW_WRITE");
        assert!(text.contains("BAO_MCP_ALLOW_WRITE=1"), "{text}");
        let (err, _, text) = result(&report, 16);
        assert!(err && text.contains("bao_runs"), "{text}");
        let (err, routes, text) = result(&report, 17);
        assert!(!err, "{text}");
        let sign = routes["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["method"] == "POST")
            .expect("POST /guestbook");
        assert_eq!(sign["handler"], "sign");
        assert_eq!(
            sign["source"]["file"], "src/controllers/guestbook.rs",
            "{sign}"
        );

        // With writes allowed: the dead letter is replayed and audited.
        let mut env = env.to_vec();
        env.push(("BAO_MCP_ALLOW_WRITE", "1"));
        let report = over_stdio(&db, &env, json!([["bao_dlq_replay", {"id": letter}]])).unwrap();
        assert!(report["tools"].to_string().contains("bao_agent_approve"));
        let (err, replayed, text) = result(&report, 0);
        assert!(!err, "{text}");
        assert_eq!(replayed["id"], letter);
        let out = example()
            .args(["audit", "--json"])
            .env("BAO_DATABASE_URL", db.url())
            .output()
            .unwrap();
        let audit = String::from_utf8_lossy(&out.stdout);
        assert!(audit.contains("mcp.dead_letter.replay"), "{audit}");
        assert!(audit.contains("mcp:"), "the MCP client is named: {audit}");
        drop(server);
    }
}

#[test]
fn stdout_carries_only_the_protocol() {
    let db = TestDatabase::sqlite();
    migrate(&db);
    let mut child = example()
        .arg("mcp:serve")
        .env("BAO_DATABASE_URL", db.url())
        // Verbose logs must still go to stderr only.
        .env("BAO_LOG_LEVEL", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "bao_runs", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "bao_nope", "arguments": {}}}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "bao_describe", "arguments": {}}}),
    ];
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        // Answers may come in any order: read until each request has one.
        let mut lines: Vec<String> = Vec::new();
        for line in stdout.lines().map_while(Result::ok) {
            lines.push(line);
            let answered = (1..=5).all(|id| {
                let id = format!("\"id\":{id},");
                lines.iter().any(|l| l.contains(&id))
            });
            if answered {
                break;
            }
        }
        lines
    });
    for message in &messages {
        writeln!(stdin, "{message}").unwrap();
    }
    stdin.flush().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reader.is_finished() {
        assert!(std::time::Instant::now() < deadline, "the server answers");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let lines = reader.join().unwrap();
    drop(stdin);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert!(lines.len() >= 5, "{lines:?}");
    for line in &lines {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
    }
    let unknown = lines.iter().find(|l| l.contains("\"id\":4")).unwrap();
    assert!(
        unknown.contains("isError") && unknown.contains("no tool"),
        "{unknown}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("mcp tool call"),
        "logs go to stderr: {stderr}"
    );
}

#[test]
fn the_http_transport_needs_an_admin_token() {
    let db = TestDatabase::sqlite();
    migrate(&db);
    let port = free_port();
    let mut serve = example();
    serve
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_MCP_HTTP", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = LiveServer::start(serve, port);
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
    .to_string();
    let post = |token: Option<&str>| {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ];
        if let Some(b) = bearer.as_deref() {
            headers.push(("Authorization", b));
        }
        http_request(
            &server.addr,
            "POST",
            "/_bao/mcp",
            &headers,
            initialize.as_bytes(),
        )
        .unwrap()
    };
    assert_eq!(post(None).status, 401);
    assert_eq!(
        post(Some("wrong-token-wrong-token-wrong-token")).status,
        401
    );
    let ok = post(Some(ADMIN_TOKEN));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body.contains("serverInfo"), "{}", ok.body);

    let url = format!("{}/_bao/mcp", server.base());
    let Some(report) = python(&[
        "http".into(),
        url,
        ADMIN_TOKEN.into(),
        "--".into(),
        json!([["bao_describe", {"section": "models"}], ["bao_runs", {}]]).to_string(),
    ]) else {
        return;
    };
    no_secrets(&report);
    let tools = report["tools"].to_string();
    assert!(
        tools.contains("bao_runs") && !tools.contains("bao_make_crud"),
        "{tools}"
    );
    let (err, models, text) = result(&report, 0);
    assert!(!err, "{text}");
    assert_eq!(models["items"][0]["name"], "Entry");
    let (err, runs, text) = result(&report, 1);
    assert!(!err, "{text}");
    assert!(runs["items"].as_array().unwrap().is_empty());
    drop(server);

    // Off unless asked for.
    let port = free_port();
    let mut serve = example();
    serve
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = LiveServer::start(serve, port);
    let off = http_request(
        &server.addr,
        "POST",
        "/_bao/mcp",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        initialize.as_bytes(),
    )
    .unwrap();
    assert_eq!(off.status, 404);
}
