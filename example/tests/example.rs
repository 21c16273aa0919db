//! The tutorial app through the real HTTP stack and as a real process.

use bao::testing::{free_port, http_get, wait_until_healthy, Browser, TestClient};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[bao::test]
async fn home_page_renders_in_the_layout() {
    let client = TestClient::new(example::app()).await;
    let res = client.get("/").await;
    res.assert_ok()
        .assert_see("<h1>Welcome to Bao</h1>")
        .assert_see(bao::assets::HTMX_URL)
        .assert_see(bao::assets::ALPINE_URL)
        .assert_see(bao::assets::CSS_URL);
    res.assert_dont_see("unpkg").assert_dont_see("cdn");
}

#[bao::test]
async fn error_pages_use_the_apps_layout() {
    let client = TestClient::new(example::app()).await;
    client
        .get("/no/such/page")
        .await
        .assert_status(404)
        .assert_see("<a class=\"bao-brand\" href=\"/\">Bao Example</a>")
        .assert_see("<h1>Not found</h1>")
        .assert_see("Go to the home page");
    // A wrong method keeps its Allow header under the app's page.
    let wrong = client.delete("/guestbook").await;
    wrong
        .assert_status(405)
        .assert_see("Go to the home page")
        .assert_header("allow", "GET, HEAD, POST");
    // Clients asking for JSON still get problem details.
    let json = client
        .get("/no/such/page")
        .header("Accept", "application/json")
        .await;
    json.assert_status(404).assert_dont_see("<html");
}

#[bao::test]
async fn the_guestbook_form_validates_and_keeps_input() {
    let client = TestClient::new(example::app()).await;
    client
        .get("/guestbook")
        .await
        .assert_see("Nobody has signed yet.");

    client
        .post("/guestbook")
        .csrf()
        .form(&[("name", ""), ("message", "<script>alert(1)</script>")])
        .await
        .assert_status(422)
        .assert_see("Please tell us your name.")
        .assert_see("&#60;script&#62;alert(1)&#60;/script&#62;")
        .assert_dont_see("<script>alert(1)")
        // The form shown again can be posted again: it carries the token.
        .assert_see("name=\"_csrf\" value=\"")
        .assert_dont_see("name=\"_csrf\" value=\"\"");
    client
        .get("/guestbook")
        .await
        .assert_see("Nobody has signed yet.");

    let long = "x".repeat(example::controllers::guestbook::MAX_MESSAGE + 1);
    client
        .post("/guestbook")
        .csrf()
        .form(&[("name", "Ann"), ("message", long.as_str())])
        .await
        .assert_status(422)
        .assert_see("at most 500 characters");

    client
        .post("/guestbook")
        .csrf()
        .form(&[("name", "Ann"), ("message", "Lovely site")])
        .await
        .assert_redirect("/guestbook");
    client
        .get("/guestbook")
        .await
        .assert_see("<strong>Ann</strong>: Lovely site")
        .assert_dont_see("Nobody has signed yet.");
}

#[bao::test]
async fn forms_refuse_bytes_that_are_not_text_on_each_database() {
    for db in bao::testing::TestDatabase::each() {
        let config = bao::Config {
            database_url: db.url().to_string(),
            ..bao::Config::for_tests()
        };
        let client = TestClient::with_config(example::app(), config).await;
        let token = client.csrf_token();
        // Latin-1 bytes where UTF-8 is expected: refused, never stored as U+FFFD.
        let latin1 = format!("_csrf={token}&name=Jos%E9&message=hello");
        client
            .post("/guestbook")
            .body("application/x-www-form-urlencoded", latin1)
            .await
            .assert_status(400)
            .assert_see("The field `name` is not UTF-8 text")
            .assert_see("Go to the home page");
        // A NUL character: 422 naming the field (PostgreSQL cannot store it).
        let nul = format!("_csrf={token}&name=Ann&message=a%00b");
        client
            .post("/guestbook")
            .body("application/x-www-form-urlencoded", nul)
            .await
            .assert_status(422)
            .assert_see("The field `message` contains a NUL character");
        // Clients asking for JSON get problem details.
        let answer = client
            .post("/guestbook")
            .header("Accept", "application/json")
            .body(
                "application/x-www-form-urlencoded",
                format!("_csrf={token}&name=%FF&message=x"),
            )
            .await;
        answer.assert_status(400);
        assert_eq!(answer.json::<serde_json::Value>()["status"], 400);
        client
            .get("/guestbook")
            .await
            .assert_see("Nobody has signed yet.");
        // Proper UTF-8 goes through.
        client
            .post("/guestbook")
            .body(
                "application/x-www-form-urlencoded",
                format!("_csrf={token}&name=Jos%C3%A9&message=ol%C3%A1"),
            )
            .await
            .assert_redirect("/guestbook");
        client.get("/guestbook").await.assert_see("José");
    }
}

#[bao::test]
async fn the_guestbook_pages_its_signatures_and_its_api_changes_nothing() {
    let client = TestClient::new(example::app()).await;
    for i in 1..=120 {
        client
            .post("/api/v1/entries")
            .json(&serde_json::json!({"name": format!("Signer {i}"), "message": "hello"}))
            .await
            .assert_status(201);
    }
    // Newest first, 50 a page.
    let first = client.get("/guestbook").await;
    first
        .assert_ok()
        .assert_see("Signer 120")
        .assert_see("Page 1 of 3")
        .assert_see("href=\"/guestbook?page=2\">Older")
        .assert_dont_see("<strong>Signer 70</strong>");
    client
        .get("/guestbook?page=3")
        .await
        .assert_see("<strong>Signer 1</strong>")
        .assert_see("Page 3 of 3");
    client
        .get("/guestbook?page=99")
        .await
        .assert_see("Page 3 of 3");
    // The API reads and signs; nobody may change or delete an entry.
    client
        .patch("/api/v1/entries/1")
        .json(&serde_json::json!({"message": "defaced"}))
        .await
        .assert_status(405);
    client.delete("/api/v1/entries/1").await.assert_status(405);
    client
        .get("/api/v1/entries/1")
        .await
        .assert_ok()
        .assert_see("\"message\":\"hello\"");
}

#[bao::test]
async fn the_guestbook_refuses_posts_without_the_pages_csrf_token() {
    let client = TestClient::new(example::app()).await;
    // No token at all, and a token from another session: 403, nothing written.
    client
        .post("/guestbook")
        .form(&[("name", "Mallory"), ("message", "forged")])
        .await
        .assert_status(403)
        .assert_see("CSRF");
    let page = client.get("/guestbook").await;
    page.assert_see("name=\"_csrf\"");
    let html = page.text();
    let token = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries the token")
        .to_string();
    client
        .post("/guestbook")
        .form(&[
            ("name", "Mallory"),
            ("message", "forged"),
            ("_csrf", "0".repeat(64).as_str()),
        ])
        .await
        .assert_status(403);
    client
        .get("/guestbook")
        .await
        .assert_see("Nobody has signed yet.");
    // The token the page carried works.
    client
        .post("/guestbook")
        .form(&[
            ("name", "Ann"),
            ("message", "Hi"),
            ("_csrf", token.as_str()),
        ])
        .await
        .assert_redirect("/guestbook");
}

#[bao::test]
async fn stored_markup_and_sql_are_inert() {
    let client = TestClient::new(example::app()).await;
    client
        .post("/guestbook")
        .csrf()
        .form(&[
            ("name", "<img src=x onerror=alert(1)>"),
            (
                "message",
                "'); DROP TABLE entries; -- <script>alert(2)</script>",
            ),
        ])
        .await
        .assert_redirect("/guestbook");
    client
        .get("/guestbook")
        .await
        .assert_ok()
        .assert_dont_see("<img src=x")
        .assert_dont_see("<script>alert(2)")
        .assert_see("&#60;img src=x onerror=alert(1)&#62;")
        .assert_see("&#39;); DROP TABLE entries; -- &#60;script&#62;");
    // The table is still there.
    client
        .post("/guestbook")
        .csrf()
        .form(&[("name", "Bob"), ("message", "still here")])
        .await
        .assert_redirect("/guestbook");
    client.get("/guestbook").await.assert_see("still here");
}

#[bao::test]
async fn plaintext_and_json_endpoints() {
    let client = TestClient::new(example::app()).await;
    let text = client.get("/plaintext").await;
    text.assert_ok();
    assert_eq!(text.text(), "Hello, World!");
    client
        .get("/json")
        .await
        .assert_json(bao::json!({"message": "Hello, World!"}));
}

fn example_binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_example"))
}

#[test]
fn piped_commands_end_quietly_and_misspelt_settings_are_named() {
    // A reader that is gone before the command writes (`| head` that has
    // stopped): the command ends without a panic.
    let db = bao::testing::TestDatabase::sqlite();
    let mut child = example_binary()
        .args(["describe", "--json"])
        .env("BAO_DATABASE_URL", db.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
    // A setting Bao does not read is named, with the one meant.
    let out = example_binary()
        .arg("config")
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_PROT", "9000")
        .env("BAO_SOMETHING_ELSE_ENTIRELY", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("BAO_PROT is not a Bao setting and is ignored; did you mean BAO_PORT?")
            && stderr.contains("BAO_SOMETHING_ELSE_ENTIRELY is not a Bao setting"),
        "{stderr}"
    );
}

#[test]
fn serve_starts_fast_and_stops_on_sigterm() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let db = bao::testing::TestDatabase::sqlite();
    let started = Instant::now();
    let child = example_binary()
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_LOG_FORMAT", "json")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until_healthy(&addr, Duration::from_secs(10)),
        "healthy"
    );
    eprintln!("first 200 from /healthz after {:?}", started.elapsed());
    let res = http_get(&addr, "/").unwrap();
    assert_eq!(res.status, 200);
    assert!(res.body.contains("Welcome to Bao"));
    // `serve` in development applied the migrations before listening.
    let guestbook = http_get(&addr, "/guestbook").unwrap();
    assert_eq!(guestbook.status, 200, "{}", guestbook.body);
    let id = http_get(&addr, "/plaintext").unwrap();
    let request_id = id.header("x-request-id").unwrap().to_string();

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);
    let logs = String::from_utf8_lossy(&output.stderr);
    let line = logs
        .lines()
        .find(|l| l.contains(&request_id) && l.contains("\"status\":200"))
        .unwrap_or_else(|| panic!("an access log line carries the request id:\n{logs}"));
    let parsed: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(parsed["route"], "/plaintext");
    assert!(
        logs.contains("\"stopped\"") || logs.contains("stopped"),
        "{logs}"
    );
}

#[test]
fn malformed_config_fails_at_start_with_the_variable_name() {
    let output = example_binary()
        .args(["serve"])
        .env("BAO_PORT", "eighty")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("BAO_PORT") && err.contains("a port number"),
        "{err}"
    );
}

#[test]
fn config_redacts_secrets() {
    let output = example_binary()
        .args(["config", "--json"])
        .env("BAO_SECRET_KEY", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t")
        .env("BAO_DATABASE_URL", "postgres://bob:hunter2@db/app")
        .output()
        .unwrap();
    assert!(output.status.success());
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(!out.contains("s3cr3t") && !out.contains("hunter2"), "{out}");
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["BAO_DATABASE_URL"], "postgres://bob:****@db/app");
    assert_eq!(parsed["BAO_SECRET_KEY"], "<redacted>");

    // The text form shows values as one would type them, and every key.
    let text = example_binary().arg("config").output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for line in [
        "BAO_SHUTDOWN_DRAIN_TIMEOUT   = 30s  (default)",
        "BAO_MAX_BODY_SIZE            = 2MiB  (default)",
        "BAO_AUDIT_RETENTION          = 90d  (default)",
        "BAO_WORKFLOW_LEASE           = 30s  (default)",
        "BAO_LOG_FILE                 = (unset)  (default)",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    assert!(!text.contains("=   ("), "no blank values:\n{text}");
}

#[test]
fn routes_and_describe_are_machine_readable() {
    let output = example_binary()
        .args(["routes", "--json"])
        .output()
        .unwrap();
    let routes: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let paths: Vec<&str> = routes
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for path in [
        "/",
        "/guestbook",
        "/plaintext",
        "/json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/uptime",
    ] {
        assert!(paths.contains(&path), "{path} in {paths:?}");
    }
    let output = example_binary()
        .args(["describe", "--json"])
        .output()
        .unwrap();
    let described: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(described["app"]["name"], "Bao Example");
    assert!(described["config"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["name"] == "BAO_PORT"));
    assert!(described["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "serve"));
    assert!(described["bao"]["version"].is_string());
    assert_eq!(described["models"][0]["table"], "entries");
    assert_eq!(described["agents"][0]["name"], "librarian");
    assert_eq!(
        described["agents"][0]["tools"][0]["parameters"]["properties"]["text"]["type"], "string",
        "tool schemas are part of the description"
    );
    assert_eq!(described["models"][0]["columns"][0]["primary_key"], true);
    assert_eq!(described["plugins"][0]["name"], "uptime");
    let channels: Vec<(String, String)> = described["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().into(),
                c["access"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            ("guestbook".to_string(), "authorized".to_string()),
            ("echo".into(), "socket".into()),
            ("workflow".into(), "operators".into()),
            ("agent_stream".into(), "operators".into()),
        ]
    );
}

#[test]
fn migrate_commands_work_on_each_database() {
    for db in bao::testing::TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        for dialect in ["sqlite", "postgres"] {
            let folder = dir
                .path()
                .join("migrations/20260101000000_create_notes")
                .join(dialect);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::write(
                folder.join("up.sql"),
                "CREATE TABLE notes (title TEXT NOT NULL);",
            )
            .unwrap();
            std::fs::write(folder.join("down.sql"), "DROP TABLE notes;").unwrap();
        }
        let run = |args: &[&str]| {
            let output = example_binary()
                .current_dir(dir.path())
                .env("BAO_DATABASE_URL", db.url())
                .args(args)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{args:?}: {text}");
            text
        };
        assert!(run(&["migrate"]).contains("Applied 20260101000000_create_notes"));
        assert!(run(&["migrate"]).contains("Nothing to migrate"));
        let status: serde_json::Value =
            serde_json::from_str(&run(&["migrate:status", "--json"])).unwrap();
        assert_eq!(status[0]["state"], "applied", "{:?}", db.dialect());
        assert!(run(&["migrate:rollback", "--steps", "1"])
            .contains("Rolled back 20260101000000_create_notes"));
        assert!(run(&["migrate:status"]).starts_with("pending"));
    }
}

#[test]
fn make_migration_generates_sql_from_the_models() {
    let db = bao::testing::TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    let run = |args: &[&str]| {
        let output = example_binary()
            .current_dir(dir.path())
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_MIGRATIONS_DIR", &migrations)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?}: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    };
    let out = run(&["make:migration", "create entries"]);
    assert!(out.contains("create table entries (Entry)"), "{out}");
    let folder = std::fs::read_dir(&migrations)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let up = std::fs::read_to_string(folder.join("postgres/up.sql")).unwrap();
    assert!(
        up.contains("CREATE TABLE entries") && up.contains("id BIGSERIAL PRIMARY KEY"),
        "{up}"
    );
    assert!(migrations.join("schema.json").is_file());

    let again = run(&["make:migration", "nothing new"]);
    assert!(again.contains("models match the last snapshot"), "{again}");
    assert!(run(&["migrate"]).contains("_create_entries"));
}

/// Runs a Python tool; `None` when it is not installed outside CI (CI
/// installs it in `.ci/run`, so there a missing tool fails the test).
fn python_tool(program: &str, args: &[&str]) -> Option<std::process::Output> {
    match Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
    {
        Ok(out) if !String::from_utf8_lossy(&out.stderr).contains("No module named") => Some(out),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{program} {args:?} is not installed: .ci/run installs it with pip")
        }
        _ => {
            eprintln!(
                "skipped: {program} {args:?} is not installed (pip install it to run this check)"
            );
            None
        }
    }
}

#[test]
fn the_committed_openapi_document_matches_the_code_and_is_valid() {
    let check = example_binary()
        .args(["openapi", "--check", "openapi.json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "example/openapi.json is stale; run `cargo run -p example -- openapi --out example/openapi.json`:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap();
    assert!(
        committed.contains("\"/api/v1/entries/{id}\""),
        "the API resource"
    );
    assert!(
        committed.contains("\"Status_json\""),
        "the #[openapi] controller route"
    );
    if let Some(out) = python_tool("python3", &["-m", "openapi_spec_validator", "openapi.json"]) {
        assert!(
            out.status.success(),
            "openapi-spec-validator rejects the document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A property-based fuzzer (schemathesis) drives the running example API
/// from its own document: no 5xx, every response as documented.
#[test]
fn the_api_survives_a_schema_driven_fuzzer() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let db = bao::testing::TestDatabase::sqlite();
    let mut child = example_binary()
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_LOG_LEVEL", "error")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_until_healthy(&addr, Duration::from_secs(10)),
        "healthy"
    );
    let spec = format!("http://{addr}/openapi.json");
    let result = python_tool(
        "st",
        &[
            "run",
            &spec,
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--seed",
            "20261127",
            "--no-color",
        ],
    );
    let _ = child.kill();
    let _ = child.wait();
    if let Some(out) = result {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "schemathesis found problems:\n{text}");
        assert!(text.contains("No issues found"), "{text}");
    }
}

fn tally_marks(pool: &bao::db::DbPool, run_id: &str) -> (i64, i64) {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        total: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        distinct_steps: i64,
    }
    let query = format!(
        "SELECT COUNT(*) AS total, COUNT(DISTINCT step) AS distinct_steps FROM tally_marks WHERE run_id = '{run_id}'"
    );
    let mut conn = pool.get().unwrap();
    let rows: Vec<Counts> = match &mut *conn {
        bao::db::DbConnection::Sqlite(c) => diesel::sql_query(&query).load(c).unwrap(),
        bao::db::DbConnection::Postgres(c) => diesel::sql_query(&query).load(c).unwrap(),
    };
    (rows[0].total, rows[0].distinct_steps)
}

fn run_status(pool: &bao::db::DbPool, run_id: &str) -> String {
    let mut conn = pool.get().unwrap();
    bao::workflow::store::find_run(&mut conn, run_id)
        .unwrap()
        .unwrap()
        .status
}

/// The database with the example's migrations applied by its binary.
#[test]
fn plugins_are_listed_serve_their_routes_and_are_audited() {
    let db = bao::testing::TestDatabase::sqlite();
    let listed = example_binary()
        .args(["plugins:list", "--json"])
        .env("BAO_DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["name"], "uptime");
    assert_eq!(listed[0]["capabilities"]["db"], true);
    assert_eq!(listed[0]["routes"][0]["path"], "/uptime");
    let text = example_binary()
        .arg("plugins:list")
        .env("BAO_DATABASE_URL", db.url())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("uptime") && text.contains("database: yes"),
        "{text}"
    );

    // Before the plugin ever ran, the audit says it declared the database
    // and has not used it.
    let audit = |db: &bao::testing::TestDatabase| -> serde_json::Value {
        let out = example_binary()
            .args(["plugins:audit", "--json"])
            .env("BAO_DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    assert_eq!(audit(&db)[0]["declared_but_unused"]["db"], true);

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = example_binary()
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_LOG_LEVEL", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until_healthy(&addr, Duration::from_secs(10)));
    let uptime = http_get(&addr, "/uptime").unwrap();
    assert_eq!(uptime.status, 200);
    assert!(uptime.body.starts_with("up "), "{}", uptime.body);
    let ready = http_get(&addr, "/readyz").unwrap();
    assert_eq!(ready.status, 200, "{}", ready.body);
    let _ = child.kill();
    let _ = child.wait();
    let audited = audit(&db);
    assert_eq!(audited[0]["used"]["db"], true, "{audited}");
    assert_eq!(audited[0]["declared_but_unused"]["db"], false, "{audited}");
    assert_eq!(audited[0]["refused"]["hosts"], serde_json::json!([]));
}

fn migrated_pool(db: &bao::testing::TestDatabase) -> bao::db::DbPool {
    let migrated = example_binary()
        .arg("migrate")
        .env("BAO_DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    bao::db::DbPool::new(db.url()).unwrap()
}

fn spawn_worker(db: &bao::testing::TestDatabase) -> std::process::Child {
    spawn_worker_with(db, "4")
}

fn spawn_worker_with(db: &bao::testing::TestDatabase, concurrency: &str) -> std::process::Child {
    spawn_worker_polling(db, concurrency, "50ms")
}

fn spawn_worker_polling(
    db: &bao::testing::TestDatabase,
    concurrency: &str,
    poll: &str,
) -> std::process::Child {
    example_binary()
        .arg("worker")
        .env("BAO_WORKFLOW_CONCURRENCY", concurrency)
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_WORKFLOW_LEASE", "1s")
        .env("BAO_WORKFLOW_POLL", poll)
        .env("BAO_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The crash test: a worker process is killed with SIGKILL in the middle of
/// a run (often inside a step's open transaction); a new worker takes the
/// run over once the lease expires and finishes it, and every step's side
/// effect exists exactly once.
#[test]
fn a_workflow_survives_kill_9_with_each_step_done_exactly_once() {
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let pool = migrated_pool(db);
        let steps = 40;
        let run = bao::testing::block_on(example::workflows::tally::start(
            &pool,
            example::workflows::Tally {
                steps,
                pause_ms: 25,
            },
        ))
        .unwrap();

        let mut worker = spawn_worker(db);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tally_marks(&pool, &run.id).0 < 8 {
            assert!(Instant::now() < deadline, "the worker makes progress");
            std::thread::sleep(Duration::from_millis(20));
        }
        worker.kill().unwrap(); // SIGKILL: no cleanup, the lease stays behind
        worker.wait().unwrap();
        let (at_kill, _) = tally_marks(&pool, &run.id);
        assert!(
            at_kill < i64::from(steps),
            "killed mid-run ({at_kill} marks)"
        );
        assert_eq!(
            run_status(&pool, &run.id),
            "running",
            "the dead worker's lease remains"
        );

        let restarted = Instant::now();
        let mut worker = spawn_worker(db);
        let mut took_over = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        while run_status(&pool, &run.id) != "completed" {
            if took_over.is_none() && tally_marks(&pool, &run.id).0 > at_kill {
                took_over = Some(restarted.elapsed());
            }
            assert!(
                Instant::now() < deadline,
                "the run completes after the restart"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{:?}: takeover after restart {:?} (lease 1s), run completed {:?} after restart",
            db.dialect(),
            took_over,
            restarted.elapsed()
        );
        let (total, distinct) = tally_marks(&pool, &run.id);
        assert_eq!(
            (total, distinct),
            (i64::from(steps), i64::from(steps)),
            "each step exactly once"
        );

        // The CLI sees the run as it is.
        let cli = |args: &[&str]| {
            let out = example_binary()
                .args(args)
                .env("BAO_DATABASE_URL", db.url())
                .output()
                .unwrap();
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        };
        let (ok, listed) = cli(&["workflows:list", "--status", "completed"]);
        assert!(ok && listed.contains(&run.id), "{listed}");
        let (ok, shown) = cli(&["workflows:show", &run.id]);
        assert!(
            ok && shown.contains("mark 39") && shown.contains("completed"),
            "{shown}"
        );
        let (ok, checked) = cli(&["workflows:replay", &run.id, "--deterministic-check"]);
        assert!(
            ok && checked.contains("every completed step gives its recorded result"),
            "{checked}"
        );
        assert_eq!(
            tally_marks(&pool, &run.id).0,
            i64::from(steps),
            "the check wrote nothing"
        );
        let (ok, refused) = cli(&["workflows:cancel", &run.id]);
        assert!(!ok && refused.contains("it is completed"), "{refused}");
        let (ok, bad) = cli(&["workflows:signal", &run.id, "approved", "{not json"]);
        assert!(!ok && bad.contains("is not JSON"), "{bad}");
        // Start runs from the CLI: --wait runs it here; an id makes it
        // idempotent; a wrong name or input says what is wrong.
        let (ok, waited) = cli(&[
            "workflows:start",
            "tally",
            r#"{"steps": 3, "pause_ms": 0}"#,
            "--id",
            "cli-tally-1",
            "--wait",
        ]);
        assert!(
            ok && waited.contains("run cli-tally-1 (tally v1) started: completed")
                && waited.contains("output: 3"),
            "{waited}"
        );
        assert_eq!(tally_marks(&pool, "cli-tally-1"), (3, 3));
        let (ok, again) = cli(&[
            "workflows:start",
            "tally",
            r#"{"steps": 3, "pause_ms": 0}"#,
            "--id",
            "cli-tally-1",
        ]);
        assert!(ok && again.contains("already exists: completed"), "{again}");
        let (ok, queued) = cli(&[
            "workflows:start",
            "tally",
            r#"{"steps": 1, "pause_ms": 0}"#,
            "--json",
        ]);
        let queued_json: serde_json::Value =
            serde_json::from_str(&queued).unwrap_or_else(|e| panic!("{e}: {queued}"));
        // The worker running beside this test may have taken it already.
        assert!(
            ok && queued_json["created"] == true
                && ["pending", "running", "completed"]
                    .contains(&queued_json["run"]["status"].as_str().unwrap_or("")),
            "{queued}"
        );
        let (ok, unknown) = cli(&["workflows:start", "taly"]);
        assert!(
            !ok && unknown.contains("did you mean `tally`?")
                && unknown.contains("the workflows are: tally"),
            "{unknown}"
        );
        let (ok, bad_input) = cli(&["workflows:start", "tally", "{steps: 3}"]);
        assert!(
            !ok && bad_input.contains("the input is not JSON"),
            "{bad_input}"
        );
        let (ok, wrong_shape) =
            cli(&["workflows:start", "tally", r#"{"steps": "many"}"#, "--wait"]);
        assert!(
            !ok && wrong_shape.contains("failed") && wrong_shape.contains("error:"),
            "{wrong_shape}"
        );
        let _ = Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status();
        let _ = worker.wait();
    }
}

/// Two worker processes on one PostgreSQL database share the runs: no step
/// runs twice, both do work, and the wall time is reported against one
/// worker alone.
#[test]
fn two_postgres_workers_share_runs_without_running_a_step_twice() {
    let Some(db) = bao::testing::TestDatabase::postgres() else {
        return;
    };
    let pool = migrated_pool(&db);
    let start_runs = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                bao::testing::block_on(example::workflows::tally::start(
                    &pool,
                    example::workflows::Tally {
                        steps: 15,
                        pause_ms: 20,
                    },
                ))
                .unwrap()
                .id
            })
            .collect()
    };
    let wait_done = |runs: &[String]| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !runs.iter().all(|r| run_status(&pool, r) == "completed") {
            assert!(Instant::now() < deadline, "the runs complete");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let runs = start_runs(6);
    let started = Instant::now();
    let mut one = spawn_worker_with(&db, "1");
    wait_done(&runs);
    let alone = started.elapsed();
    let _ = one.kill();
    let _ = one.wait();

    let runs = start_runs(6);
    let started = Instant::now();
    let mut a = spawn_worker_with(&db, "1");
    let mut b = spawn_worker_with(&db, "1");
    wait_done(&runs);
    let together = started.elapsed();
    for w in [&mut a, &mut b] {
        let _ = w.kill();
        let _ = w.wait();
    }
    eprintln!("6 runs of 15 steps: one worker {alone:?}, two workers {together:?}");
    let mut workers = std::collections::BTreeSet::new();
    for run in &runs {
        let (total, distinct) = tally_marks(&pool, run);
        assert_eq!((total, distinct), (15, 15), "each step exactly once");
        let mut conn = pool.get().unwrap();
        if let bao::db::DbConnection::Postgres(c) = &mut *conn {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct W {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                worker: i64,
            }
            let rows: Vec<W> = diesel::sql_query(format!(
                "SELECT DISTINCT worker FROM tally_marks WHERE run_id = '{run}'"
            ))
            .load(c)
            .unwrap();
            workers.extend(rows.into_iter().map(|w| w.worker));
        }
    }
    assert_eq!(workers.len(), 2, "both workers took runs");
}

/// On PostgreSQL a started run wakes an idle worker through NOTIFY, long
/// before its next poll (here 30 s away).
#[test]
fn postgres_workers_wake_on_notify() {
    let Some(db) = bao::testing::TestDatabase::postgres() else {
        return;
    };
    let pool = migrated_pool(&db);
    let mut worker = spawn_worker_polling(&db, "1", "30s");
    // Let the worker find nothing and go idle.
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    let run = bao::testing::block_on(example::workflows::tally::start(
        &pool,
        example::workflows::Tally {
            steps: 1,
            pause_ms: 0,
        },
    ))
    .unwrap();
    while run_status(&pool, &run.id) != "completed" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "woken by NOTIFY, not by the 30 s poll"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!(
        "run completed {:?} after start (poll 30 s)",
        started.elapsed()
    );
    let _ = worker.kill();
    let _ = worker.wait();
}

fn task_marks(pool: &bao::db::DbPool, n: u32) -> i64 {
    tally_marks(pool, &format!("task-{n}")).0
}

/// SIGKILL during a task: it runs again after the restart; tasks finished
/// before the kill never run again.
#[test]
fn a_task_killed_mid_run_runs_again_and_finished_ones_never_do() {
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let pool = migrated_pool(db);
        let ids: Vec<i64> = (0..4)
            .map(|n| {
                bao::testing::block_on(example::workflows::slow_mark::enqueue(&pool, n, 400))
                    .unwrap()
                    .id
            })
            .collect();
        let spawn = || {
            example_binary()
                .arg("worker")
                .env("BAO_DATABASE_URL", db.url())
                .env("BAO_TASK_CONCURRENCY", "1")
                .env("BAO_WORKFLOW_LEASE", "1s")
                .env("BAO_WORKFLOW_POLL", "50ms")
                .env("BAO_LOG_LEVEL", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let status = |id: i64| {
            let mut conn = pool.get().unwrap();
            bao::task::store::find(&mut conn, id)
                .unwrap()
                .unwrap()
                .status
        };
        let mut worker = spawn();
        let deadline = Instant::now() + Duration::from_secs(30);
        // Kill while the second task is running (the first is done).
        while !(status(ids[0]) == "done" && task_marks(&pool, 1) == 1) {
            assert!(Instant::now() < deadline, "the worker makes progress");
            std::thread::sleep(Duration::from_millis(10));
        }
        worker.kill().unwrap();
        worker.wait().unwrap();
        assert_eq!(status(ids[1]), "running", "killed mid-task");

        let mut worker = spawn();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ids.iter().any(|id| status(*id) != "done") {
            assert!(
                Instant::now() < deadline,
                "every task finishes after the restart"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(task_marks(&pool, 0), 1, "a finished task never runs again");
        assert_eq!(task_marks(&pool, 1), 2, "the killed task ran again");
        assert_eq!((task_marks(&pool, 2), task_marks(&pool, 3)), (1, 1));
        let _ = Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status();
        let _ = worker.wait();
    }
}

/// Two scheduler processes on one database: every one-second slot of `beat`
/// is claimed by one of them and runs once.
#[test]
fn two_scheduler_processes_fire_each_slot_once() {
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let pool = migrated_pool(db);
        let spawn = || {
            example_binary()
                .arg("scheduler:run")
                .env("BAO_DATABASE_URL", db.url())
                .env("BAO_WORKFLOW_POLL", "20ms")
                .env("BAO_LOG_LEVEL", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut schedulers = [spawn(), spawn()];
        let deadline = Instant::now() + Duration::from_secs(30);
        while tally_marks(&pool, "beat").0 < 4 {
            assert!(Instant::now() < deadline, "the schedulers fire");
            std::thread::sleep(Duration::from_millis(50));
        }
        for s in &mut schedulers {
            let _ = Command::new("kill")
                .args(["-TERM", &s.id().to_string()])
                .status();
        }
        for s in &mut schedulers {
            let status = s.wait().unwrap();
            assert!(status.success(), "a scheduler stops cleanly on SIGTERM");
        }
        let (total, distinct) = tally_marks(&pool, "beat");
        assert_eq!(total, distinct, "no slot ran twice");
        let mut conn = pool.get().unwrap();
        let ticks = bao::task::store::list(&mut conn, None, 1000).unwrap();
        let beats: Vec<_> = ticks.iter().filter(|t| t.name == "every:beat").collect();
        let slots: std::collections::BTreeSet<&str> =
            beats.iter().map(|t| t.args.as_str()).collect();
        assert_eq!(slots.len(), beats.len(), "one tick per slot: {beats:?}");
        let done = beats.iter().filter(|t| t.status == "done").count();
        assert_eq!(
            i64::try_from(done).unwrap(),
            total,
            "each finished tick marked once"
        );
    }
}

/// SIGTERM while a task runs past the drain timeout: the worker releases
/// its lease on the way out, so a new worker takes the task at once instead
/// of waiting for the lease to expire.
#[test]
fn a_stopping_worker_releases_unfinished_tasks() {
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let pool = migrated_pool(db);
        let id = bao::testing::block_on(example::workflows::slow_mark::enqueue(&pool, 7, 3000))
            .unwrap()
            .id;
        let spawn = || {
            example_binary()
                .arg("worker")
                .env("BAO_DATABASE_URL", db.url())
                .env("BAO_WORKFLOW_LEASE", "60s")
                .env("BAO_WORKFLOW_POLL", "20ms")
                .env("BAO_SHUTDOWN_DRAIN_TIMEOUT", "200ms")
                .env("BAO_LOG_LEVEL", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let task = |id: i64| {
            let mut conn = pool.get().unwrap();
            bao::task::store::find(&mut conn, id).unwrap().unwrap()
        };
        let mut worker = spawn();
        let deadline = Instant::now() + Duration::from_secs(30);
        while task_marks(&pool, 7) == 0 {
            assert!(Instant::now() < deadline, "the worker starts the task");
            std::thread::sleep(Duration::from_millis(10));
        }
        let stopping = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status();
        assert!(worker.wait().unwrap().success());
        assert!(
            stopping.elapsed() < Duration::from_secs(2),
            "the worker stops after the drain timeout, not after the task: {:?}",
            stopping.elapsed()
        );
        let released = task(id);
        assert_eq!(released.status, "queued", "released, not left running");
        assert_eq!(
            released.attempts, 0,
            "the interrupted attempt is not counted"
        );

        // A new worker takes it at once (the 60 s lease is not waited out).
        let mut worker = spawn();
        let deadline = Instant::now() + Duration::from_secs(15);
        while task(id).status != "done" {
            assert!(
                Instant::now() < deadline,
                "the task finishes on the new worker"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status();
        let _ = worker.wait();
    }
}

/// `scheduler:run --once` fires what is due and runs it; `tasks:list` shows
/// the tasks and schedules with their last slot.
#[test]
fn scheduler_once_and_tasks_list_from_the_cli() {
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let pool = migrated_pool(db);
        let once = example_binary()
            .args(["scheduler:run", "--once"])
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_LEVEL", "warn")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&once.stdout);
        assert!(
            once.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&once.stderr)
        );
        assert!(out.contains("fired beat for slot"), "{out}");
        assert!(out.contains("ran 1 tick(s)"), "{out}");
        assert_eq!(tally_marks(&pool, "beat").0, 1);

        let list = example_binary()
            .args(["tasks:list", "--json"])
            .env("BAO_DATABASE_URL", db.url())
            .output()
            .unwrap();
        assert!(list.status.success());
        let listed: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
        assert_eq!(listed["tasks"][0]["name"], "slow_mark");
        assert_eq!(listed["tasks"][0]["kind"], "cpu");
        assert_eq!(listed["schedules"][0]["name"], "beat");
        assert_eq!(listed["schedules"][0]["schedule"], "1s");
        assert!(listed["schedules"][0]["last_slot"].is_string(), "{listed}");
        assert_eq!(listed["recent"][0]["name"], "every:beat");
        assert_eq!(listed["recent"][0]["status"], "done");

        let text = example_binary()
            .arg("tasks:list")
            .env("BAO_DATABASE_URL", db.url())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("SCHEDULE") && text.contains("beat"), "{text}");

        let help = example_binary()
            .args(["scheduler:run", "--help"])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&help.stdout).contains("--once"));
    }
}

/// An HTTP stub on a free port. `answer(n, body)` gives the `n`th
/// request's reply (its delay in ms, content type and body); every request
/// body is kept.
struct Stub {
    base: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

type Answer = dyn Fn(usize, &str) -> (u64, &'static str, String) + Send + Sync;

fn stub_server(answer: std::sync::Arc<Answer>) -> Stub {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (seen, answer) = (seen.clone(), answer.clone());
            std::thread::spawn(move || {
                // The head, then as much body as Content-Length says.
                let mut request = Vec::new();
                let mut buf = [0u8; 8192];
                let body = loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break text[end + 4..].to_string();
                        }
                    }
                };
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(body.clone());
                    seen.len() - 1
                };
                let (delay, content_type, reply) = answer(n, &body);
                std::thread::sleep(Duration::from_millis(delay));
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    reply.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(reply.as_bytes());
            });
        }
    });
    Stub { base, bodies }
}

/// A stub that answers every request with `body`.
fn http_stub(content_type: &'static str, body: String) -> String {
    stub_server(std::sync::Arc::new(move |_, _| {
        (0, content_type, body.clone())
    }))
    .base
}

#[test]
fn ai_commands_answer_offline_with_echo_and_speak_to_a_provider() {
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut command = example_binary();
        command
            .args(args)
            .env_remove("BAO_AI_PROVIDERS")
            .env_remove("BAO_AI_DEFAULT")
            .env("BAO_LOG_LEVEL", "off");
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).to_string();

    let out = run(&["ai:ask", "hello"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out), "olleh\n", "offline, the router is Echo");
    let out = run(&["ai:stream", "abc"], &[]);
    assert_eq!(text(&out), "cba\n");
    let out = run(&["ai:providers", "--json"], &[]);
    let providers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(providers[0]["name"], "echo");
    assert_eq!(providers[0]["price"], serde_json::json!([0.0, 0.0]));

    let reply = serde_json::json!({
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "from the stub"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 3}
    });
    let base = http_stub("application/json", reply.to_string());
    let openai = [
        ("BAO_AI_PROVIDERS", "openai"),
        ("OPENAI_API_KEY", "sk-cli-test"),
        ("OPENAI_BASE_URL", base.as_str()),
    ];
    let out = run(&["ai:ask", "hi", "--json"], &openai);
    assert!(out.status.success(), "{out:?}");
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["text"], "from the stub");
    assert_eq!(reply["provider"], "openai");
    assert_eq!(reply["usage"]["output_tokens"], 3);
    assert!(reply["cost_usd"].as_f64().unwrap() > 0.0);

    let stream = concat!(
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"stre\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"amed\"}}]}\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":2}}\n\n",
        "data: [DONE]\n\n"
    );
    let base = http_stub("text/event-stream", stream.to_string());
    let openai = [
        ("BAO_AI_PROVIDERS", "openai"),
        ("OPENAI_API_KEY", "sk-cli-test"),
        ("OPENAI_BASE_URL", base.as_str()),
    ];
    let out = run(&["ai:stream", "hi"], &openai);
    assert_eq!(text(&out), "streamed\n", "{out:?}");

    // A provider listed without its key: a clear error, the key's name.
    let out = run(
        &["ai:ask", "hi"],
        &[("BAO_AI_PROVIDERS", "anthropic"), ("ANTHROPIC_API_KEY", "")],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ANTHROPIC_API_KEY"),
        "{out:?}"
    );
    let out = run(&["ai:ask", "--help"], &[]);
    assert!(text(&out).contains("--provider"));
}

/// An OpenAI-compatible stub: answer `n` is `answers[n]` (the last one
/// repeats) after its delay, as SSE when the request asked for a stream.
fn model_stub(answers: Vec<(u64, serde_json::Value)>) -> Stub {
    stub_server(std::sync::Arc::new(move |n, body| {
        let (delay, answer) = answers[n.min(answers.len() - 1)].clone();
        if body.contains("\"stream\":true") {
            (delay, "text/event-stream", as_sse(&answer))
        } else {
            (delay, "application/json", answer.to_string())
        }
    }))
}

/// A Chat Completions answer as the SSE stream the API sends for it.
fn as_sse(answer: &serde_json::Value) -> String {
    let message = &answer["choices"][0]["message"];
    let mut events = Vec::new();
    if let Some(text) = message["content"].as_str() {
        events.push(serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}}]}));
    }
    for (i, call) in message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        events.push(serde_json::json!({"choices": [{"index": 0, "delta": {"tool_calls": [{
            "index": i, "id": call["id"], "type": "function",
            "function": {"name": call["function"]["name"], "arguments": call["function"]["arguments"]}
        }]}}]}));
    }
    events.push(
        serde_json::json!({"choices": [], "model": answer["model"], "usage": answer["usage"]}),
    );
    let mut out: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    out.push_str("data: [DONE]\n\n");
    out
}

fn tool_call_answer(tool: &str, arguments: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": tool, "arguments": arguments.to_string()}}]}}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 10}
    })
}

fn text_answer(text: &str) -> serde_json::Value {
    serde_json::json!({
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 60, "completion_tokens": 5}
    })
}

#[test]
fn agents_run_through_the_cli_with_approvals_decided_once() {
    let db = bao::testing::TestDatabase::sqlite();
    let run = |args: &[&str], base: &str| {
        example_binary()
            .args(args)
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_LEVEL", "off")
            .env("BAO_AI_PROVIDERS", "openai")
            .env("OPENAI_API_KEY", "sk-agent-test")
            .env("OPENAI_BASE_URL", base)
            .output()
            .unwrap()
    };
    let text = |out: &std::process::Output| String::from_utf8_lossy(&out.stdout).to_string();

    let out = run(&["agents:list", "--json"], "http://127.0.0.1:9");
    let agents: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(agents[0]["name"], "librarian");
    assert_eq!(agents[0]["tools"][0]["name"], "count_words");
    assert_eq!(
        agents[0]["tools"][0]["parameters"]["required"],
        serde_json::json!(["text"])
    );
    assert_eq!(agents[0]["tools"][1]["requires_approval"], true);

    // A tool round trip in OpenAI's format.
    let stub = model_stub(vec![
        (
            0,
            tool_call_answer("count_words", serde_json::json!({"text": "a b c"})),
        ),
        (0, text_answer("There are 3 words.")),
    ]);
    let out = run(
        &["agents:run", "librarian", "how many words in: a b c"],
        &stub.base,
    );
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out).contains("There are 3 words."), "{}", text(&out));
    let bodies = stub.bodies.lock().unwrap();
    let second: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    let tool_message = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .expect("the tool's result goes back as a tool message");
    assert_eq!(tool_message["tool_call_id"], "call_1");
    assert_eq!(tool_message["content"], "{\"words\":3}");
    drop(bodies);

    // An approval: the run waits, one operator approves, a second cannot.
    let stub = model_stub(vec![
        (
            0,
            tool_call_answer("announce", serde_json::json!({"text": "hello"})),
        ),
        (0, text_answer("Announced.")),
    ]);
    let out = run(&["agents:run", "librarian", "announce hello"], &stub.base);
    assert!(text(&out).contains("waiting"), "{}", text(&out));
    let out = run(&["agents:pending", "--json"], &stub.base);
    let pending: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pending[0]["tool"], "announce");
    assert_eq!(pending[0]["arguments"], "{\"text\":\"hello\"}");
    let id = pending[0]["id"].to_string();
    let out = run(&["agents:approve", &id, "--by", "alice"], &stub.base);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out).contains("Announced."), "{}", text(&out));
    let out = run(&["agents:approve", &id, "--by", "mallory"], &stub.base);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("decided once"),
        "{out:?}"
    );
    let out = run(&["audit", "--json"], &stub.base);
    assert!(text(&out).contains("agent.approve"), "{}", text(&out));
}

#[test]
fn a_run_killed_between_a_tool_call_and_the_next_turn_resumes_without_repeating_either() {
    use std::io::BufRead;
    let db = bao::testing::TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let tool_log = dir.path().join("tools.log");
    // Turn 1 asks for the tool; turn 2 hangs long enough to be killed; its
    // retry after the restart answers.
    let stub = model_stub(vec![
        (
            0,
            tool_call_answer("count_words", serde_json::json!({"text": "one two"})),
        ),
        (30_000, text_answer("never delivered")),
        (0, text_answer("Two words.")),
    ]);
    let command = |args: &[&str]| {
        let mut command = example_binary();
        command
            .args(args)
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_LEVEL", "off")
            .env("BAO_AI_PROVIDERS", "openai")
            .env("OPENAI_API_KEY", "sk-agent-test")
            .env("OPENAI_BASE_URL", &stub.base)
            .env("EXAMPLE_TOOL_LOG", &tool_log)
            .env("BAO_WORKFLOW_LEASE", "2s")
            .env("BAO_WORKFLOW_POLL", "100ms");
        command
    };
    let mut child = command(&["agents:run", "librarian", "count: one two"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let run_id = first
        .strip_prefix("run ")
        .and_then(|r| r.strip_suffix(" started"))
        .unwrap_or_else(|| panic!("the run id first: {first}"))
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stub.bodies.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "the second turn was asked");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    assert_eq!(
        std::fs::read_to_string(&tool_log).unwrap().lines().count(),
        1
    );

    // A worker takes the run over once its lease expires.
    let mut worker = command(&["worker"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcome = loop {
        let out = command(&["agents:show", &run_id, "--json"])
            .output()
            .unwrap();
        let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if run["status"] == "completed" {
            break run;
        }
        assert!(
            Instant::now() < deadline,
            "the run completed after the restart: {run}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    assert_eq!(outcome["outcome"]["answer"], "Two words.");
    assert_eq!(
        std::fs::read_to_string(&tool_log).unwrap().lines().count(),
        1,
        "the finished tool call did not run again"
    );
    let bodies = stub.bodies.lock().unwrap();
    let first_turns = bodies
        .iter()
        .filter(|b| !b.contains("\"role\":\"tool\""))
        .count();
    assert_eq!(
        first_turns, 1,
        "the finished first turn was not asked again"
    );
    assert_eq!(bodies.len(), 3, "only the turn in flight was asked again");
}

#[test]
fn memory_and_rag_commands_work_through_the_binary() {
    let db = bao::testing::TestDatabase::sqlite();
    let run = |args: &[&str]| {
        example_binary()
            .args(args)
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_LEVEL", "off")
            .env_remove("BAO_AI_PROVIDERS")
            .output()
            .unwrap()
    };
    let json = |out: &std::process::Output| -> serde_json::Value {
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    run(&[
        "memory:add",
        "kb",
        "Bao bounds every background task.",
        "--metadata",
        "{\"source\": \"docs\"}",
    ]);
    run(&[
        "memory:add",
        "kb",
        "Background music plays in the lobby.",
        "--metadata",
        "{\"source\": \"venue\"}",
    ]);
    let hits = json(&run(&[
        "memory:search",
        "kb",
        "background task bounds",
        "--k",
        "5",
        "--filter",
        "source=docs",
        "--json",
    ]));
    assert_eq!(hits.as_array().unwrap().len(), 1);
    assert_eq!(hits[0]["text"], "Bao bounds every background task.");
    let out = run(&[
        "memory:search",
        "kb",
        "lobby",
        "--mode",
        "keyword",
        "--explain",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("lobby"));
    let explained = String::from_utf8_lossy(&out.stderr);
    assert!(
        explained.contains("FTS5 index ranked by BM25") && explained.contains("items of no tenant"),
        "{explained}"
    );
    let out = run(&["memory:search", "kb", "lobby", "--explain"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exact cosine scan"));
    let out = run(&[
        "memory:search",
        "kb",
        "background task bounds",
        "--in-database",
        "--mode",
        "hybrid",
        "--filter",
        "source=docs",
        "--explain",
        "--json",
    ]);
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        hits[0]["text"], "Bao bounds every background task.",
        "{hits}"
    );
    let explained = String::from_utf8_lossy(&out.stderr);
    assert!(
        explained.contains("sqlite-vec") && explained.contains("FTS5"),
        "{explained}"
    );

    // A tenant's items: stamped by --tenant, found only with it.
    run(&[
        "memory:add",
        "kb",
        "Acme's lobby has a piano.",
        "--tenant",
        "7",
    ]);
    let theirs = json(&run(&[
        "memory:search",
        "kb",
        "piano",
        "--mode",
        "keyword",
        "--tenant",
        "7",
        "--json",
    ]));
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    let others = json(&run(&[
        "memory:search",
        "kb",
        "piano",
        "--mode",
        "keyword",
        "--json",
    ]));
    assert_eq!(others.as_array().unwrap().len(), 0, "{others}");
    let pruned = json(&run(&["memory:prune", "kb", "--max-items", "1", "--json"]));
    assert_eq!(pruned["removed"], 1);
    let out = run(&["memory:prune", "kb"]);
    assert!(!out.status.success(), "prune needs a limit");

    let docs = tempfile::tempdir().unwrap();
    std::fs::write(
        docs.path().join("tasks.md"),
        "Tasks are bounded by BAO_MAX_INFLIGHT_TASKS.\n\nOver the bound, enqueue fails.",
    )
    .unwrap();
    std::fs::write(
        docs.path().join("bread.txt"),
        "Bread needs flour and water.",
    )
    .unwrap();
    let ingested = json(&run(&[
        "rag:ingest",
        "--from-file",
        &docs.path().display().to_string(),
        "--json",
    ]));
    assert_eq!(ingested.as_array().unwrap().len(), 2);
    // Smaller chunks on request, at sentence ends.
    let small = json(&run(&[
        "rag:ingest",
        "--from-file",
        &docs.path().join("tasks.md").display().to_string(),
        "--chunk-chars",
        "50",
        "--overlap",
        "0",
        "--json",
    ]));
    assert_eq!(small[0]["chunks"], 2, "{small}");
    let chunks = json(&run(&[
        "rag:retrieve",
        "how are tasks bounded?",
        "--k",
        "1",
        "--json",
    ]));
    assert!(
        chunks[0]["source"].as_str().unwrap().ends_with("tasks.md"),
        "{chunks}"
    );
    let answer = json(&run(&["rag:ask", "how are tasks bounded?", "--json"]));
    assert!(!answer["sources"].as_array().unwrap().is_empty());
    // Another tenant's document set is empty until it ingests.
    let none = json(&run(&[
        "rag:retrieve",
        "how are tasks bounded?",
        "--tenant",
        "7",
        "--json",
    ]));
    assert_eq!(none.as_array().unwrap().len(), 0, "{none}");
    let one = json(&run(&[
        "rag:ingest",
        "--from-file",
        &docs.path().join("bread.txt").display().to_string(),
        "--tenant",
        "7",
        "--json",
    ]));
    assert_eq!(one.as_array().unwrap().len(), 1);
    let found = json(&run(&[
        "rag:retrieve",
        "flour",
        "--tenant",
        "7",
        "--mode",
        "keyword",
        "--json",
    ]));
    assert!(
        found[0]["source"].as_str().unwrap().ends_with("bread.txt"),
        "{found}"
    );
}

/// The hidden CSRF input of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"_csrf\"").expect("a CSRF field");
    let value = &html[at..];
    let start = value.find("value=\"").expect("its value") + "value=\"".len();
    value[start..start + value[start..].find('"').unwrap()].to_string()
}

#[test]
fn a_flash_survives_a_real_browser_like_client_and_shows_once() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let db = bao::testing::TestDatabase::sqlite();
    let mut child = example_binary()
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_LOG_LEVEL", "warn")
        .env("BAO_ENV", "development")
        .spawn()
        .unwrap();
    assert!(
        wait_until_healthy(&addr, Duration::from_secs(15)),
        "healthy"
    );
    let result = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                // A cookie store and redirects followed, as a browser does.
                let client = reqwest::Client::builder()
                    .cookie_store(true)
                    .build()
                    .unwrap();
                let base = format!("http://{addr}");
                let page = client
                    .get(format!("{base}/guestbook"))
                    .send()
                    .await
                    .unwrap();
                let token = csrf_of(&page.text().await.unwrap());
                let after = client
                    .post(format!("{base}/guestbook"))
                    .form(&[
                        ("name", "Ada"),
                        ("message", "Hello there"),
                        ("_csrf", token.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(after.status(), 200, "followed the 303 to the list");
                let html = after.text().await.unwrap();
                assert!(
                    html.contains("Thanks for signing, Ada!"),
                    "the flash shows: {html}"
                );
                let again = client
                    .get(format!("{base}/guestbook"))
                    .send()
                    .await
                    .unwrap();
                let html = again.text().await.unwrap();
                assert!(!html.contains("Thanks for signing"), "and only once");
                assert!(html.contains("Hello there"));
            });
    });
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Where a browser test's screenshot goes (`target/tmp/admin-NAME.png`).
fn shot(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("admin-{name}.png"))
}

/// The admin console in a real browser: sign in with a one-time link,
/// approve an agent's pending tool call, replay a dead letter, and see the
/// pages change.
#[bao::test]
async fn the_admin_console_works_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let db = bao::testing::TestDatabase::sqlite();
    let stub = model_stub(vec![
        (
            0,
            tool_call_answer(
                "announce",
                serde_json::json!({"text": "tea at <b>five</b>"}),
            ),
        ),
        (0, text_answer("FINAL: announced")),
    ]);
    let env = |cmd: &mut Command| {
        cmd.env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_LEVEL", "warn")
            .env("BAO_AI_PROVIDERS", "openai")
            .env("OPENAI_API_KEY", "sk-browser-test")
            .env("OPENAI_BASE_URL", &stub.base)
            .env(
                "BAO_ADMIN_TOKEN",
                "a-token-for-the-browser-test-of-the-console",
            );
    };
    // An agent run waiting for a person to approve its tool call.
    let mut run = example_binary();
    run.args(["agents:run", "librarian", "announce tea"]);
    env(&mut run);
    let out = run.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A dead letter.
    let pool = bao::db::DbPool::new(db.url()).unwrap();
    let letter = bao::dead_letter(
        &pool,
        "webhooks",
        &serde_json::json!({"order": 7}),
        "HTTP 502",
        5,
    )
    .await
    .unwrap();

    let port = free_port();
    let mut serve = example_binary();
    serve.args(["serve", "--port", &port.to_string()]);
    env(&mut serve);
    let mut server = serve
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    assert!(wait_until_healthy(&addr, Duration::from_secs(15)));
    let base = format!("http://{addr}");
    let mut link = example_binary();
    link.args(["admin:link", "--json", "--base-url", &base]);
    env(&mut link);
    let out = link.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();

    browser.goto(&url).await;
    let overview = browser.source().await;
    assert!(overview.contains("signed in as admin-link"), "{overview}");
    assert!(
        overview.contains("id=\"pending-approvals\">1<"),
        "one pending approval: {overview}"
    );
    browser.screenshot(&shot("overview")).await;

    // The overview is live: a dead letter written by another process shows
    // up without a reload (server-sent events from /_bao/admin/live).
    let before = overview
        .split("id=\"dead-letters\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse::<i64>().ok())
        .expect("the overview shows the dead-letter count");
    bao::dead_letter(
        &pool,
        "webhooks",
        &serde_json::json!({"order": 8}),
        "HTTP 503",
        5,
    )
    .await
    .unwrap();
    assert!(
        browser
            .wait_for(
                &format!("id=\"dead-letters\">{}<", before + 1),
                Duration::from_secs(10)
            )
            .await,
        "the overview updated live: {}",
        browser.source().await
    );

    // The app's own template for the tasks page (views/admin/tasks.html).
    browser.goto(&format!("{base}/_bao/admin/tasks")).await;
    let tasks = browser.source().await;
    assert!(
        tasks.contains("id=\"example-tasks\">Background work of the guestbook"),
        "{tasks}"
    );
    browser.screenshot(&shot("tasks-shadowed")).await;

    browser.goto(&format!("{base}/_bao/admin/approvals")).await;
    let approvals = browser.source().await;
    assert!(
        approvals.contains("tea at &lt;b&gt;five&lt;/b&gt;"),
        "{approvals}"
    );
    browser.screenshot(&shot("approvals")).await;
    browser
        .click("article.bao-card form[action$='/approve'] button")
        .await;
    browser
        .wait_for("No request waits for a decision.", Duration::from_secs(10))
        .await;
    let decided = browser.source().await;
    assert!(decided.contains("approved"), "{decided}");
    assert!(
        decided.contains("No request waits for a decision."),
        "{decided}"
    );
    browser.screenshot(&shot("approved")).await;

    // The run carries on in the server's worker and finishes.
    let started = Instant::now();
    loop {
        let pending = pool
            .run(|c| bao::agent::approvals::list(c, None, None, 10))
            .await
            .unwrap();
        let run_id = pending[0].run_id.clone();
        let status = pool
            .run(move |c| bao::workflow::store::find_run(c, &run_id))
            .await
            .unwrap()
            .unwrap()
            .status;
        if status == "completed" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the approved run completed ({status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser
        .goto(&format!("{base}/_bao/admin/dead-letters"))
        .await;
    assert!(browser.source().await.contains("HTTP 502"));
    browser
        .click(&format!("#letter-{letter} form button"))
        .await;
    assert!(
        browser
            .wait_for(&format!("Dead letter {letter}:"), Duration::from_secs(10))
            .await,
        "{}",
        browser.source().await
    );
    browser.screenshot(&shot("dead-letters")).await;
    // Purging a queue asks first (data-confirm): Cancel keeps the letters,
    // OK deletes them.
    browser
        .goto(&format!("{base}/_bao/admin/dead-letters?queue=webhooks"))
        .await;
    browser.click("button[value='purge']").await;
    let asked = browser.dialog_text().await.expect("purging asks first");
    assert!(
        asked.contains("Delete every dead letter of webhooks"),
        "{asked}"
    );
    browser.answer_dialog(false).await;
    assert!(
        browser.source().await.contains("HTTP 503"),
        "nothing was purged"
    );
    browser.click("button[value='purge']").await;
    assert!(browser.dialog_text().await.is_some());
    browser.answer_dialog(true).await;
    assert!(
        browser
            .wait_for("Purged 2 dead letters of webhooks", Duration::from_secs(10))
            .await,
        "{}",
        browser.source().await
    );

    browser.goto(&format!("{base}/_bao/admin/audit")).await;
    let audit = browser.source().await;
    for action in [
        "admin.login",
        "admin.approval.approve",
        "admin.dead_letter.replay",
        "admin.dead_letters.purge",
    ] {
        assert!(audit.contains(action), "{action} in the audit page");
    }
    browser.screenshot(&shot("audit")).await;
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn logs_reads_the_servers_log_file_by_level_and_request() {
    let db = bao::testing::TestDatabase::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log/bao.log");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = example_binary()
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_LOG_FILE", &log)
        .env("BAO_LOG_LEVEL", "info")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until_healthy(&addr, Duration::from_secs(10)));
    let answered = http_get(&addr, "/plaintext").unwrap();
    let request_id = answered.header("x-request-id").unwrap().to_string();
    let _ = http_get(&addr, "/no-such-page");
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();

    let logs = |args: &[&str]| {
        let out = example_binary()
            .arg("logs")
            .args(args)
            .env("BAO_DATABASE_URL", db.url())
            .env("BAO_LOG_FILE", &log)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let mine = logs(&["--json", "--request-id", &request_id]);
    assert!(
        !mine.trim().is_empty(),
        "the request's lines are in the file"
    );
    for line in mine.lines() {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(line.to_string().contains(&request_id), "{line}");
    }
    assert!(mine.contains("/plaintext"), "{mine}");
    let all = logs(&["-n", "1000"]);
    assert!(
        all.contains("plugin started") && all.contains("/plaintext"),
        "{all}"
    );
    let last_two = logs(&["-n", "2"]);
    assert_eq!(last_two.lines().count(), 2, "{last_two}");
    let warnings = logs(&["--level", "error"]);
    assert!(!warnings.contains("/plaintext"), "{warnings}");
    let bad = example_binary()
        .args(["logs", "--level", "loud"])
        .env("BAO_LOG_FILE", &log)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let none = example_binary()
        .arg("logs")
        .env("BAO_DATABASE_URL", db.url())
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("BAO_LOG_FILE"));
}

/// `bao db:create`, `db:drop` and `db:reset` through the app binary, on a
/// SQLite file and a PostgreSQL database of their own; what a missing or
/// mistyped database says.
#[test]
fn the_database_lifecycle_from_the_cli() {
    let cli = |url: &str, args: &[&str], production: bool| {
        let mut command = example_binary();
        command.args(args).env("BAO_DATABASE_URL", url);
        if production {
            command.env("BAO_ENV", "production").env(
                "BAO_SECRET_KEY",
                "a-production-secret-key-for-the-lifecycle-test",
            );
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };

    // SQLite: the file and its folder.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data/app.db");
    let url = format!("sqlite://{}", file.display());
    let (ok, said) = cli(&url, &["db:create"], false);
    assert!(ok && said.contains("created"), "{said}");
    assert!(file.is_file());
    let (ok, said) = cli(&url, &["db:create"], false);
    assert!(ok && said.contains("already exists"), "{said}");
    let (ok, said) = cli(&url, &["db:reset"], false);
    assert!(
        ok && said.contains("dropped") && said.contains("created") && said.contains("Applied"),
        "{said}"
    );
    let (ok, said) = cli(&url, &["db:drop"], true);
    assert!(!ok && said.contains("pass --force"), "{said}");
    assert!(file.is_file(), "a refused drop keeps the file");
    let (ok, said) = cli(&url, &["db:drop", "--force"], true);
    assert!(ok && said.contains("dropped"), "{said}");
    assert!(!file.exists());

    // Mistyped or unusable SQLite URLs name the problem.
    let (ok, said) = cli("sqlite:/app.db", &["migrate"], false);
    assert!(
        !ok && said.contains("sqlite://app.db") && said.contains("sqlite:///app.db"),
        "{said}"
    );
    let (ok, said) = cli("sqlite:///no-such-folder-here/app.db", &["migrate"], false);
    assert!(
        !ok && said.contains("/no-such-folder-here/app.db") && said.contains("folder exist"),
        "{said}"
    );

    // PostgreSQL: a database of this test's own on the test server.
    if bao::testing::TestDatabase::postgres().is_none() {
        return;
    }
    let server = std::env::var("BAO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| bao::testing::DEFAULT_POSTGRES_ADMIN_URL.to_string());
    let base = server.split('?').next().unwrap();
    let name = format!("bao_lifecycle_{}", uuid::Uuid::new_v4().simple());
    let url = format!(
        "{}/{name}?sslmode=disable",
        &base[..base.rfind('/').unwrap()]
    );
    let (ok, said) = cli(&url, &["migrate"], false);
    assert!(
        !ok && said.contains("does not exist") && said.contains("bao db:create"),
        "{said}"
    );
    let (ok, said) = cli(&url, &["db:create"], false);
    assert!(ok && said.contains("created"), "{said}");
    let (ok, said) = cli(&url, &["db:create"], false);
    assert!(ok && said.contains("already exists"), "{said}");
    let (ok, said) = cli(&url, &["migrate"], false);
    assert!(ok, "{said}");
    {
        use diesel::Connection;
        let _busy = diesel::PgConnection::establish(&url).unwrap();
        let (ok, said) = cli(&url, &["db:drop"], false);
        assert!(
            !ok && said.contains("stop the app's servers and workers first"),
            "{said}"
        );
        let (ok, said) = cli(&url, &["db:reset", "--force"], false);
        assert!(ok && said.contains("Applied"), "{said}");
    }
    let (ok, said) = cli(&url, &["db:drop"], false);
    assert!(ok && said.contains("dropped"), "{said}");
    let (ok, said) = cli(&url, &["db:drop"], false);
    assert!(ok && said.contains("does not exist"), "{said}");
}
