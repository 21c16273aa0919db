//! The golden path, end to end, as a new user takes it: `bao init` in an empty
//! folder, build the app against this checkout's `bao`, run its tests, serve it,
//! then develop with `bao run` through a broken and a fixed build.

use assert_cmd::cargo::cargo_bin;
use bao::testing::{free_port, http_get, wait_until_healthy};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The build cache shared with the workspace, so the new app only compiles itself.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => workspace().join(dir),
        None => workspace().join("target"),
    }
}

fn bao(app: &Path) -> Command {
    let mut command = Command::new(cargo_bin("bao"));
    command
        .current_dir(app)
        .env("CARGO_TARGET_DIR", target_dir());
    command
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// Starts a long-running `bao` command in `app`, its output discarded.
fn spawn(app: &Path, args: &[&str]) -> Child {
    bao(app)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bao starts")
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The admin console's token in the apps these tests serve.
const ADMIN_TOKEN: &str = "a-console-token-of-the-golden-tests-0123456789";

/// `bao serve` of `app` on a free port against `database_url`, once healthy.
fn serve_live(app: &Path, database_url: &str) -> (Child, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // What the server (and the build before it) says, shown if it never
    // becomes healthy.
    let log_path = app.join(format!("serve-{port}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = bao(app)
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", database_url)
        .env("BAO_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    if !wait_until_healthy(&addr, Duration::from_secs(300)) {
        let _ = server.kill();
        let status = server.wait();
        let said = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = said.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "bao serve never became healthy ({status:?}):\n{}",
            tail.join("\n")
        );
    }
    (server, addr)
}

/// A browser's session cookie and CSRF token from a live server.
fn browser_session(addr: &str, cookie: Option<&str>) -> (String, String) {
    let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("Cookie", c)]).unwrap_or_default();
    let csrf = bao::testing::http_request(addr, "GET", "/_bao/csrf", &headers, b"").unwrap();
    let cookie = csrf
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
        .or(cookie.map(str::to_string))
        .unwrap();
    let token = csrf.body.split('"').nth(3).unwrap().to_string();
    (cookie, token)
}

/// Polls `path` until `check` accepts the response.
fn wait_for(addr: &str, path: &str, timeout: Duration, check: impl Fn(u16, &str) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(res) = http_get(addr, path) {
            if check(res.status, &res.body) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn init_build_test_serve_and_develop_a_new_app() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("my-app");
    run(bao(dir.path()).args(["init", "--name", "My App"]));
    assert!(app.join("Cargo.toml").is_file());
    // Resolve dependencies as the workspace did: no downloads, shared artifacts.
    std::fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();

    // `bao check` builds the app and lists its routes.
    let checked = run(bao(&app).arg("check"));
    assert!(checked.contains("configuration valid"), "{checked}");
    assert!(checked.contains("Home::index"), "{checked}");

    // The generated tests pass.
    let tested = run(bao(&app).args(["test"]));
    assert!(tested.contains("home_page_renders"), "{tested}");

    // `bao routes --json` is forwarded to the app binary.
    let routes = run(bao(&app).args(["routes", "--json"]));
    assert!(routes.contains("\"/healthz\""), "{routes}");

    // `bao serve` on a free port answers 200 from `/`.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = spawn(&app, &["serve", "--port", &port.to_string()]);
    assert!(
        wait_until_healthy(&addr, Duration::from_secs(120)),
        "served"
    );
    let home = http_get(&addr, "/").unwrap();
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Welcome to My App"), "{}", home.body);
    app_static_files(&app, &addr, &home.body);
    terminate(&mut server);

    // `bao run`: serves, shows a broken build's errors on the page, recovers.
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut dev = spawn(&app, &["run", "--port", &port.to_string()]);
    assert!(
        wait_for(&addr, "/", Duration::from_secs(120), |s, b| s == 200
            && b.contains("Welcome to My App")),
        "bao run serves the app"
    );
    // Pages reload when the rebuilt app answers: the layout has the script,
    // and the stream it listens to names each start of the app.
    let page = http_get(&addr, "/").unwrap().body;
    assert!(page.contains("/_bao/static/bao-reload-"), "{page}");
    let first_boot = boot_id(&addr);
    let home_rs = app.join("src/controllers/home.rs");
    let original = std::fs::read_to_string(&home_rs).unwrap();
    std::fs::write(
        &home_rs,
        original.replace("app_name: \"My App\",", "app_name: 42,"),
    )
    .unwrap();
    assert!(
        wait_for(&addr, "/", Duration::from_secs(120), |s, b| s == 500
            && b.contains("mismatched types")),
        "bao run shows the compile error on the page"
    );
    std::fs::write(
        &home_rs,
        original.replace("\"My App\",", "\"My Renamed App\","),
    )
    .unwrap();
    assert!(
        wait_for(&addr, "/", Duration::from_secs(120), |s, b| s == 200
            && b.contains("Welcome to My Renamed App")),
        "bao run rebuilds and serves the fixed app"
    );
    let second_boot = boot_id(&addr);
    assert_ne!(
        first_boot, second_boot,
        "a rebuilt app says it is a new one"
    );
    terminate(&mut dev);

    let deadline = Instant::now() + Duration::from_secs(10);
    while http_get(&addr, "/healthz").is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        http_get(&addr, "/healthz").is_err(),
        "stopping bao run stops the app it started"
    );

    // `bao check` fails, with the compiler's message, while the app is broken.
    std::fs::write(
        &home_rs,
        original.replace("app_name: \"My App\",", "app_name: 42,"),
    )
    .unwrap();
    let output = bao(&app).arg("check").output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "bao check fails on a broken app");
    assert!(
        err.contains("mismatched types") && err.contains("does not build"),
        "{err}"
    );
    mcp_tools_on_a_broken_app(&app);

    // `make:migration` refuses while the models are unknown, writing
    // nothing; `--empty` writes blank files without building.
    let before = std::fs::read_dir(app.join("migrations")).map_or(0, |d| d.count());
    let output = bao(&app)
        .args(["make:migration", "add notes"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a broken app gets no migration");
    assert!(
        err.contains("no migration was written")
            && err.contains("mismatched types")
            && err.contains("src/controllers/home.rs")
            && err.contains("--empty"),
        "{err}"
    );
    let after = std::fs::read_dir(app.join("migrations")).map_or(0, |d| d.count());
    assert_eq!(before, after, "nothing was written");
    let empty = run(bao(&app).args(["make:migration", "by hand", "--empty"]));
    assert!(empty.contains("by_hand"), "{empty}");
    for entry in std::fs::read_dir(app.join("migrations")).unwrap().flatten() {
        if entry.file_name().to_string_lossy().ends_with("_by_hand") {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
    std::fs::write(&home_rs, &original).unwrap();
}

/// The app's `static/` folder through `bao serve`: the layout links the
/// fingerprinted stylesheet, which is cached for a year; other URLs are
/// revalidated; nothing outside the folder, hidden or missing is served.
fn app_static_files(app: &Path, addr: &str, home: &str) {
    assert!(
        app.join("static/app.css").is_file(),
        "bao init writes static/app.css"
    );
    assert!(
        !home.contains("bao-reload"),
        "no reload script outside bao run"
    );
    let at = home
        .find("/static/app.css?v=")
        .expect("the layout links the app's stylesheet with its fingerprint");
    let pinned = &home[at..at + home[at..].find('"').unwrap()];
    let css = http_get(addr, pinned).unwrap();
    assert_eq!(css.status, 200);
    assert!(
        css.header("content-type").unwrap().starts_with("text/css"),
        "{:?}",
        css.headers
    );
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(css.body.contains("own styles"), "{}", css.body);
    let plain = http_get(addr, "/static/app.css").unwrap();
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    let etag = plain.header("etag").expect("an ETag").to_string();
    let again = bao::testing::http_request(
        addr,
        "GET",
        "/static/app.css",
        &[("If-None-Match", &etag)],
        b"",
    )
    .unwrap();
    assert_eq!(again.status, 304);
    std::fs::write(app.join("static/.secret"), "hidden").unwrap();
    for path in [
        "/static/missing.css",
        "/static/.secret",
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/",
    ] {
        let refused = http_get(addr, path).unwrap();
        assert!(
            matches!(refused.status, 400 | 404),
            "{path}: {}",
            refused.status
        );
        assert!(!refused.body.contains("[package]") && !refused.body.contains("hidden"));
    }
    std::fs::remove_file(app.join("static/.secret")).unwrap();
}

/// The start id `/_bao/dev/reload` sends first.
fn boot_id(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /_bao/dev/reload HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    while !seen.contains("event: boot\ndata: ")
        || !seen[seen.find("data: ").unwrap()..].contains('\n')
    {
        let n = stream.read(&mut buf).expect("the reload stream answers");
        assert!(n > 0, "the reload stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let data = &seen[seen.find("data: ").unwrap() + 6..];
    data[..data.find('\n').unwrap()].to_string()
}

/// The MCP build tools run in the installed `bao`, so they answer while the
/// app does not build: `bao_check` returns the compiler's errors as
/// structured diagnostics, `bao_describe` says why it cannot describe, the
/// generators' dry runs list files and write nothing. Driven by the
/// official Python client.
fn mcp_tools_on_a_broken_app(app: &Path) {
    let calls = serde_json::json!([
        ["bao_check", {}],
        ["bao_describe", {}],
        ["bao_list", {"kind": "controllers"}],
        ["bao_make_controller", {"name": "Reports", "public": true, "dry_run": true}],
    ]);
    let out = Command::new("python3")
        .arg(workspace().join("example/tests/mcp_client.py"))
        .args(["stdio", "env", "-C"])
        .arg(app)
        .arg(format!("CARGO_TARGET_DIR={}", target_dir().display()))
        .arg(cargo_bin("bao"))
        .args(["mcp:serve", "--", &calls.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'mcp'") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs the Python `mcp` package"
        );
        eprintln!("skipped: pip install mcp==2.3.0 to drive the MCP server");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let answer = |i: usize| -> (bool, serde_json::Value) {
        let r = &report["results"][i];
        let text = r["text"].as_str().unwrap();
        (
            r["is_error"].as_bool().unwrap(),
            serde_json::from_str(text).unwrap_or_else(|_| panic!("JSON: {text}")),
        )
    };
    let (_, check) = answer(0);
    assert_eq!(check["ok"], false, "{check}");
    let first = &check["errors"][0];
    assert_eq!(first["file"], "src/controllers/home.rs", "{check}");
    assert!(first["line"].as_u64().unwrap() > 0, "{check}");
    assert!(first["column"].as_u64().is_some(), "{check}");
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("mismatched types"),
        "{check}"
    );
    let (failed, describe) = answer(1);
    assert!(failed, "{describe}");
    assert!(
        describe["error"]
            .as_str()
            .unwrap()
            .contains("does not build"),
        "{describe}"
    );
    assert_eq!(describe["detail"][0]["file"], "src/controllers/home.rs");
    let (_, listed) = answer(2);
    assert!(
        listed["items"]
            .to_string()
            .contains("src/controllers/home.rs"),
        "{listed}"
    );
    let (failed, planned) = answer(3);
    assert!(!failed, "{planned}");
    assert!(
        planned["files"]
            .to_string()
            .contains("src/controllers/reports.rs"),
        "{planned}"
    );
    assert!(
        !app.join("src/controllers/reports.rs").exists(),
        "a dry run writes nothing"
    );
}

/// `bao make:auth` on a new app: the dry run writes nothing, the generator
/// refuses to run twice, the generated code is formatted, its tests pass, and
/// the token commands work against a user registered through the live
/// server, on SQLite and PostgreSQL.
#[test]
fn make_auth_scaffolds_pages_that_work_and_tokens_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("auth-app");
    run(bao(dir.path()).args(["init", "--name", "Auth App"]));
    std::fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();

    let dry = run(bao(&app).args(["make:auth", "--dry-run"]));
    assert!(
        dry.contains("src/models/user.rs") && dry.contains("create_users"),
        "{dry}"
    );
    assert!(
        !app.join("src/models/user.rs").exists(),
        "a dry run writes nothing"
    );
    run(bao(&app).arg("make:auth"));
    let again = bao(&app).arg("make:auth").output().unwrap();
    assert!(!again.status.success(), "make:auth does not run twice");
    assert!(String::from_utf8_lossy(&again.stderr).contains("auth is set up"));

    let fmt = Command::new("cargo")
        .args(["fmt", "--check"])
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "generated code is formatted:\n{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    // The app restyles the admin console's tasks page: a misspelt variable
    // fails the build naming the page's type, the fixed page is served.
    let ejected = run(bao(&app).args(["admin:eject", "tasks"]));
    assert!(
        ejected.contains("views/admin/base.html") && ejected.contains("views/admin/tasks.html"),
        "{ejected}"
    );
    let tasks_page = app.join("views/admin/tasks.html");
    let ejected_text = std::fs::read_to_string(&tasks_page).unwrap();
    std::fs::write(
        &tasks_page,
        ejected_text.replace("<h1>Tasks</h1>", "<h1>{{ task_total }}</h1>"),
    )
    .unwrap();
    let broken = bao(&app).arg("check").output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&broken.stdout),
        String::from_utf8_lossy(&broken.stderr)
    );
    assert!(!broken.status.success(), "{said}");
    assert!(
        said.contains("no field `task_total`")
            && said.contains("views_admin_tasks_html::TasksPage"),
        "{said}"
    );
    std::fs::write(
        &tasks_page,
        ejected_text.replace(
            "<h1>Tasks</h1>",
            "<h1 id=\"own-tasks\">Work of {{ frame.app_name }}</h1>",
        ),
    )
    .unwrap();
    let tested = run(bao(&app).arg("test"));
    assert!(
        tested.contains("register_sign_out_and_sign_in_again"),
        "{tested}"
    );

    // A model of the user's, then `make:api` for it: login required by
    // default (the app has auth), registered with the model in bao::app!.
    std::fs::write(
        app.join("src/models/note.rs"),
        "//! Notes.\n\n/// A note.\n#[bao::model(table = \"notes\")]\npub struct Note {\n    #[key]\n    pub id: i64,\n    #[validate(length(min = 1, max = 200))]\n    pub title: String,\n    pub done: bool,\n}\n",
    )
    .unwrap();
    let models = std::fs::read_to_string(app.join("src/models/mod.rs")).unwrap();
    std::fs::write(
        app.join("src/models/mod.rs"),
        format!("{models}pub mod note;\n"),
    )
    .unwrap();
    let wrong = bao(&app).args(["make:api", "Nope"]).output().unwrap();
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("the models are: Note, User"));
    run(bao(&app).args(["make:api", "Note"]));
    let lib = std::fs::read_to_string(app.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("apis: [apis::note::NotesApi]") && lib.contains("models::note::Note"),
        "{lib}"
    );
    let made = run(bao(&app).args(["make:migration", "create notes"]));
    assert!(made.contains("create table notes"), "{made}");
    let tested = run(bao(&app).arg("test"));
    assert!(
        tested.contains("creates_shows_updates_and_deletes_a_note"),
        "{tested}"
    );
    let spec = run(bao(&app).arg("openapi"));
    assert!(
        spec.contains("\"/api/v1/notes/{id}\"") && spec.contains("\"bearerFormat\": \"bao-token\""),
        "{spec}"
    );

    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let with_db = |command: &mut Command| {
            command.env("BAO_DATABASE_URL", db.url());
        };
        let mut migrate = bao(&app);
        with_db(migrate.arg("migrate"));
        let migrated = run(&mut migrate);
        assert!(
            migrated.contains("create_users") && migrated.contains("create_notes"),
            "{migrated}"
        );

        let mut missing = bao(&app);
        with_db(missing.args(["tokens:issue", "1"]));
        let out = missing.output().unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no user with id 1"));

        // Register through the live server, as a browser would.
        let (mut server, addr) = serve_live(&app, db.url());
        let bearer = format!("Bearer {ADMIN_TOKEN}");
        let own = bao::testing::http_request(
            &addr,
            "GET",
            "/_bao/admin/tasks",
            &[("Authorization", &bearer)],
            b"",
        )
        .unwrap();
        assert_eq!(own.status, 200, "{}", own.body);
        assert!(
            own.body.contains("id=\"own-tasks\">Work of Auth App<"),
            "{}",
            own.body
        );
        let (cookie, token) = browser_session(&addr, None);
        let forged = bao::testing::http_request(
            &addr,
            "POST",
            "/register",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"email=eve%40example.com&password=a+long+enough+password",
        )
        .unwrap();
        assert_eq!(forged.status, 403, "{}", forged.body);
        let registered = bao::testing::http_request(
            &addr,
            "POST",
            "/register",
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &token),
            ],
            b"email=ann%40example.com&password=a+long+enough+password",
        )
        .unwrap();
        assert_eq!(registered.status, 303, "{}", registered.body);
        // The redirect's flash message shows in the generated layout, once.
        let mut cookies: Vec<String> = registered
            .headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next().map(str::to_string))
            .collect();
        cookies.push(cookie.clone());
        let jar = cookies.join("; ");
        let home = bao::testing::http_request(&addr, "GET", "/", &[("Cookie", &jar)], b"").unwrap();
        assert!(
            home.body.contains("Welcome! Your account is ready."),
            "the layout shows the flash: {}",
            home.body
        );
        // make:auth grew the layout: who is signed in, and a log-out form.
        assert!(
            home.body.contains("ann@example.com")
                && home.body.contains("action=\"/logout\"")
                && !home.body.contains(">Sign in</a>"),
            "{}",
            home.body
        );
        let anonymous = bao::testing::http_request(&addr, "GET", "/", &[], b"").unwrap();
        assert!(
            anonymous.body.contains(">Sign in</a>") && !anonymous.body.contains("ann@example.com"),
            "{}",
            anonymous.body
        );
        terminate(&mut server);

        let mut issue = bao(&app);
        with_db(issue.args(["tokens:issue", "1", "--name", "ci", "--expires", "30d"]));
        let issued = run(&mut issue);
        let plaintext = issued
            .lines()
            .find(|l| l.starts_with("bao_"))
            .expect("the token is printed")
            .to_string();
        let mut list = bao(&app);
        with_db(list.args(["tokens:list", "1"]));
        let listed = run(&mut list);
        assert!(
            listed.contains("ci") && listed.contains("active"),
            "{listed}"
        );
        assert!(
            !listed.contains(&plaintext),
            "the token is never shown again"
        );
        let mut revoke = bao(&app);
        with_db(revoke.args(["tokens:revoke", &plaintext]));
        assert!(run(&mut revoke).contains("revoked token"));
        let mut list = bao(&app);
        with_db(list.args(["tokens:list", "1", "--json"]));
        assert!(run(&mut list).contains("\"revoked_at\": 1"), "revoked");
        let mut audit = bao(&app);
        with_db(audit.arg("audit"));
        let log = run(&mut audit);
        for action in [
            "register",
            "login",
            "token_issued",
            "token_revoked",
            "csrf_denied",
        ] {
            assert!(log.contains(action), "{action} in\n{log}");
        }
    }
}

fn form_body(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (k, v) in fields {
        if !body.is_empty() {
            body.push('&');
        }
        let enc = |s: &str| {
            s.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        body.push_str(&format!("{}={}", enc(k), enc(v)));
    }
    body.into_bytes()
}

/// Every generator on one new app: `make:auth`, `make:crud` with every field
/// type, `make:controller`, `make:api`, `make:task` (a task and two
/// schedules), `make:migration`, `make:dockerfile`.
/// Bad arguments write nothing; the result is formatted, lint-free, its
/// generated tests pass on SQLite and PostgreSQL, and the CRUD pages work
/// through a live server on each database.
#[test]
fn every_generator_grows_an_app_that_builds_and_passes_its_tests() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("shop");
    run(bao(dir.path()).args(["init", "--name", "Shop"]));
    std::fs::copy(workspace().join("Cargo.lock"), app.join("Cargo.lock")).unwrap();
    let lib_before = std::fs::read_to_string(app.join("src/lib.rs")).unwrap();

    // Bad arguments: a message naming the valid choices, nothing written.
    for (args, expected) in [
        (vec!["make:crud", "Tasks", "name"], "write `Task`"),
        (
            vec!["make:crud", "Task", "name:colour"],
            "the types are str, text, int",
        ),
        (vec!["make:crud", "Task", "type:str"], "not a field name"),
        (
            vec!["make:crud", "Task", "owner:ref:User"],
            "ending in `_id`",
        ),
        (
            vec!["make:crud", "Task", "name"],
            "run `bao make:auth` first, or pass --public",
        ),
        (vec!["make:controller", "reports"], "UpperCamelCase"),
        (vec!["make:task", "SendReceipt"], "snake_case function name"),
        (
            vec!["make:task", "digest", "--every", "fortnightly"],
            "accepted forms",
        ),
    ] {
        let out = bao(&app).args(&args).output().unwrap();
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(app.join("src/lib.rs")).unwrap(),
        lib_before
    );
    assert!(!app.join("src/models").exists(), "nothing was written");

    run(bao(&app).arg("make:auth"));
    let fields = [
        "name:str",
        "count:int",
        "done:bool",
        "due:datetime",
        "notes:text",
        "price:decimal",
        "starts:date",
        "at:time",
        "status:enum(open|closed)",
        "owner_id:ref:User",
    ];
    let mut crud = vec!["make:crud", "Task"];
    crud.extend(fields);
    let dry = run(bao(&app).args(crud.iter().chain(["--dry-run"].iter())));
    assert!(
        dry.contains("src/controllers/tasks.rs") && dry.contains("dry run"),
        "{dry}"
    );
    assert!(
        !app.join("src/models/task.rs").exists(),
        "a dry run writes nothing"
    );
    let made = run(bao(&app).args(&crud));
    assert!(
        made.contains("create table tasks"),
        "the migration comes with the model:\n{made}"
    );
    let again = bao(&app).args(&crud).output().unwrap();
    assert!(!again.status.success(), "no overwrite without --force");

    // A model without references: its form reads no database.
    run(bao(&app).args(["make:crud", "Tag", "label:str"]));
    run(bao(&app).args(["make:controller", "Reports", "--actions", "index,show"]));
    run(bao(&app).args(["make:api", "Task"]));
    run(bao(&app).args(["make:task", "send_receipt"]));
    run(bao(&app).args([
        "make:task",
        "nightly_digest",
        "--every",
        "every day at 02:00",
    ]));
    run(bao(&app).args(["make:task", "sync_prices", "--cron", "*/5 * * * *"]));
    // Everything generated is formatted.
    let fmt = Command::new("cargo")
        .args(["fmt", "--check"])
        .current_dir(&app)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "{}",
        String::from_utf8_lossy(&fmt.stdout)
    );
    // A change to a model, then its migration.
    let model_rs = app.join("src/models/task.rs");
    let model = std::fs::read_to_string(&model_rs).unwrap();
    std::fs::write(
        &model_rs,
        model.replace(
            "    pub created_at: NaiveDateTime,",
            "    #[default(0)]\n    pub priority: i64,\n    pub created_at: NaiveDateTime,",
        ),
    )
    .unwrap();
    // The generated controller still builds: the new field takes its
    // default on create and is left alone on update.
    let controller_rs = app.join("src/controllers/tasks.rs");
    // Until its migration is written, `bao check` says what is missing.
    let unmigrated = bao(&app).arg("check").output().unwrap();
    let said = String::from_utf8_lossy(&unmigrated.stderr);
    assert!(!unmigrated.status.success(), "{said}");
    assert!(
        said.contains("add column tasks.priority") && said.contains("bao make:migration"),
        "{said}"
    );
    // Production refuses to serve it; development would warn.
    let refused = bao(&app)
        .arg("serve")
        .env("BAO_ENV", "production")
        .env("BAO_SECRET_KEY", "k".repeat(64))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(
        said.contains("add column tasks.priority") && said.contains("--allow-unmigrated"),
        "{said}"
    );
    let priority = run(bao(&app).args(["make:migration", "add priority to tasks"]));
    assert!(priority.contains("add column tasks.priority"), "{priority}");
    run(bao(&app).arg("make:dockerfile"));
    let dockerfile = std::fs::read_to_string(app.join("Dockerfile")).unwrap();
    for needle in [
        "cargo chef cook",
        "USER 10001",
        "HEALTHCHECK",
        "/healthz",
        "--bin shop",
    ] {
        assert!(dockerfile.contains(needle), "{needle}");
    }
    assert!(app.join(".dockerignore").is_file());
    match Command::new("hadolint")
        .arg(app.join("Dockerfile"))
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "hadolint:\n{}",
            String::from_utf8_lossy(&out.stdout)
        ),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("hadolint is not installed: .ci/run installs it")
        }
        Err(_) => eprintln!("skipped: hadolint is not installed"),
    }

    // Lint-free (after the hand edits above, formatted as a user would).
    let formatted = Command::new("cargo")
        .arg("fmt")
        .current_dir(&app)
        .status()
        .unwrap();
    assert!(formatted.success());
    let clippy = Command::new("cargo")
        .args(["clippy", "--all-targets", "--", "-D", "warnings"])
        .current_dir(&app)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert!(
        clippy.status.success(),
        "{}",
        String::from_utf8_lossy(&clippy.stderr)
    );

    // The generated tests, on SQLite and on PostgreSQL.
    let tested = run(bao(&app).arg("test"));
    for test in [
        "creates_lists_edits_and_deletes_a_task",
        "invalid_input_is_shown_again",
        "each_user_sees_only_their_own_tasks",
        "every_reports_page_renders",
        "lists_tasks_a_page_at_a_time",
        "send_receipt_runs",
        "nightly_digest_fires_once_per_slot",
        "sync_prices_fires_once_per_slot",
    ] {
        assert!(tested.contains(test), "{test} in\n{tested}");
    }
    let on_postgres = run(bao(&app).arg("test").env("BAO_TEST_DATABASE", "postgres"));
    assert!(
        on_postgres.contains("creates_lists_edits_and_deletes_a_task"),
        "{on_postgres}"
    );

    // Scripts against the app's models: make:script writes one, run-script
    // builds and runs it with the app's configuration; factories fill the
    // tables (a task needs users: their factory makes them).
    run(bao(&app).args(["make:script", "hello"]));
    let hello = run(bao(&app).args(["run-script", "hello", "a", "--b"]));
    assert!(
        hello.contains("\"Task\"") && hello.contains("[\"a\", \"--b\"]"),
        "{hello}"
    );
    std::fs::write(
        app.join("examples/seed_tasks.rs"),
        "use shop::models::task::Task;\nuse shop::models::user::User;\n\n\
         fn main() -> std::process::ExitCode {\n    \
         bao::script::run(shop::app(), |ctx| async move {\n        \
         Task::factory().count(3).create(&ctx.db).await?;\n        \
         println!(\"{} tasks of {} users\", Task::count(&ctx.db).await?, User::count(&ctx.db).await?);\n        \
         Ok(())\n    })\n}\n",
    )
    .unwrap();
    let scratch = dir.path().join("scripts.db");
    let scratch_url = format!("sqlite://{}", scratch.display());
    run(bao(&app)
        .arg("migrate")
        .env("BAO_DATABASE_URL", &scratch_url));
    let seeded = run(bao(&app)
        .args(["run-script", "examples/seed_tasks.rs"])
        .env("BAO_DATABASE_URL", &scratch_url));
    // Each task's two keys to users (`owner_id` from the spec, `user_id`
    // of the owned pages) got a user of their own.
    assert!(seeded.contains("3 tasks of 6 users"), "{seeded}");
    let missing = bao(&app).args(["run-script", "nope"]).output().unwrap();
    assert!(!missing.status.success());
    let said = String::from_utf8_lossy(&missing.stderr);
    assert!(
        said.contains("the scripts are: hello, seed_tasks")
            && said.contains("bao make:script nope"),
        "{said}"
    );

    // Incremental build after editing one controller.
    std::fs::write(
        &controller_rs,
        std::fs::read_to_string(&controller_rs)
            .unwrap()
            .replace("Task created.", "Task created!"),
    )
    .unwrap();
    let started = Instant::now();
    let built = Command::new("cargo")
        .arg("build")
        .current_dir(&app)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert!(built.status.success());
    eprintln!(
        "incremental build after editing one controller: {:?}",
        started.elapsed()
    );

    // The pages through a live server, on each database.
    let mut databases = vec![bao::testing::TestDatabase::sqlite()];
    databases.extend(bao::testing::TestDatabase::postgres());
    for db in &databases {
        let mut migrate = bao(&app);
        migrate.arg("migrate").env("BAO_DATABASE_URL", db.url());
        run(&mut migrate);
        let (mut server, addr) = serve_live(&app, db.url());
        let (cookie, token) = browser_session(&addr, None);
        let post = |path: &str, cookie: &str, fields: &[(&str, &str)]| {
            bao::testing::http_request(
                &addr,
                "POST",
                path,
                &[
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("Cookie", cookie),
                ],
                &form_body(fields),
            )
            .unwrap()
        };
        let registered = post(
            "/register",
            &cookie,
            &[
                ("email", "ann@example.com"),
                ("password", "a long enough password"),
                ("_csrf", &token),
            ],
        );
        assert_eq!(registered.status, 303);
        let signed_in = registered
            .header("set-cookie")
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_string();
        let (cookie, token) = browser_session(&addr, Some(&signed_in));
        let valid = [
            ("name", "Ship it"),
            ("count", "3"),
            ("done", "true"),
            ("due", "2026-12-01T09:30"),
            ("notes", "<b>bold</b> notes"),
            ("price", "12.50"),
            ("starts", "2026-12-01"),
            ("at", "09:30"),
            ("status", "closed"),
            ("owner_id", "1"),
        ];
        let mut with_token: Vec<(&str, &str)> = valid.to_vec();
        with_token.push(("_csrf", &token));
        let invalid: Vec<(&str, &str)> = with_token
            .iter()
            .map(|(k, v)| match *k {
                "name" => (*k, ""),
                "count" => (*k, "three"),
                _ => (*k, *v),
            })
            .collect();
        let rejected = post("/tasks", &cookie, &invalid);
        assert_eq!(rejected.status, 422, "{}", rejected.body);
        assert!(
            rejected.body.contains("can&#39;t be blank")
                || rejected.body.contains("can't be blank"),
            "{}",
            rejected.body
        );
        assert!(
            rejected.body.contains("value=\"three\""),
            "the input is kept"
        );
        let listed =
            bao::testing::http_request(&addr, "GET", "/tasks", &[("Cookie", &cookie)], b"")
                .unwrap();
        assert!(listed.body.contains("No tasks yet."), "nothing was written");
        let created = post("/tasks", &cookie, &with_token);
        assert_eq!(created.status, 303, "{}", created.body);
        let listed =
            bao::testing::http_request(&addr, "GET", "/tasks", &[("Cookie", &cookie)], b"")
                .unwrap();
        assert!(
            listed.body.contains("Ship it")
                && listed.body.contains("12.5")
                && listed.body.contains("<a href=\"/tasks\">Tasks</a>")
                && listed.body.contains("<a href=\"/tags\">Tags</a>"),
            "{}",
            listed.body
        );
        assert!(!listed.body.contains("<b>bold</b>"), "escaped");
        let mut edited = with_token.clone();
        edited[0] = ("name", "Shipped");
        assert_eq!(post("/tasks/1", &cookie, &edited).status, 303);
        let shown =
            bao::testing::http_request(&addr, "GET", "/tasks/1", &[("Cookie", &cookie)], b"")
                .unwrap();
        assert!(
            shown.body.contains("Shipped")
                && shown.body.contains("closed")
                && shown.body.contains("class=\"bao-danger\"")
                && shown.body.contains("data-confirm=\"Delete task #1?"),
            "{}",
            shown.body
        );
        assert_eq!(
            post("/tasks/1/delete", &cookie, &[("_csrf", &token)]).status,
            303
        );
        let gone =
            bao::testing::http_request(&addr, "GET", "/tasks/1", &[("Cookie", &cookie)], b"")
                .unwrap();
        assert_eq!(gone.status, 404);
        // Bao's 404 in the app's own layout (views/error.html), with the
        // signed-in user and a way home.
        assert!(
            gone.body
                .contains("<a class=\"bao-brand\" href=\"/\">Shop</a>")
                && gone.body.contains("ann@example.com")
                && gone.body.contains("Go to the home page")
                && gone.body.contains("There is nothing at this address."),
            "{}",
            gone.body
        );
        if db.url().starts_with("sqlite") {
            browser_walk(&addr);
        }
        let missing = bao::testing::http_request(&addr, "GET", "/no/such/page", &[], b"").unwrap();
        assert_eq!(missing.status, 404);
        assert!(
            missing.body.contains(">Sign in</a>") && missing.body.contains("Go to the home page"),
            "{}",
            missing.body
        );
        terminate(&mut server);
    }
}

/// The first hour of the README in a real browser, on the generated app:
/// the layout's sign-in links, registering, the flash message, who is
/// signed in, a CRUD page reached from the nav, a delete that asks first,
/// the 404 page in the layout, signing out. Screenshots go to
/// `target/tmp/first-hour-*.png`.
fn browser_walk(addr: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let Some(browser) = bao::testing::Browser::start().await else {
            return;
        };
        let shot = |name: &str| {
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("first-hour-{name}.png"))
        };
        let base = format!("http://{addr}");
        browser.goto(&format!("{base}/")).await;
        let home = browser.source().await;
        assert!(
            home.contains(">Sign in</a>") && home.contains("<a href=\"/tags\">Tags</a>"),
            "{home}"
        );
        browser.screenshot(&shot("home")).await;

        browser.goto(&format!("{base}/register")).await;
        browser.fill("input[name='email']", "bea@example.com").await;
        browser
            .fill("input[name='password']", "a long enough password")
            .await;
        browser.click("main form button[type='submit']").await;
        assert!(
            browser
                .wait_for("Welcome! Your account is ready.", Duration::from_secs(10))
                .await,
            "{}",
            browser.source().await
        );
        let signed_in = browser.source().await;
        assert!(
            signed_in.contains("bea@example.com") && signed_in.contains("Sign out</button>"),
            "{signed_in}"
        );
        browser.screenshot(&shot("registered")).await;

        browser.click("nav a[href='/tags']").await;
        assert!(
            browser
                .wait_for("No tags yet.", Duration::from_secs(10))
                .await
        );
        browser.goto(&format!("{base}/tags/new")).await;
        browser.fill("input[name='label']", "urgent").await;
        browser.click("main form button[type='submit']").await;
        assert!(
            browser
                .wait_for("Tag created.", Duration::from_secs(10))
                .await,
            "{}",
            browser.source().await
        );
        browser.screenshot(&shot("created")).await;
        // Delete asks first: Cancel keeps the tag, OK deletes it.
        browser.click("form[data-confirm] button.bao-danger").await;
        let asked = browser.dialog_text().await.expect("delete asks first");
        assert!(asked.contains("Delete tag #1?"), "{asked}");
        browser.answer_dialog(false).await;
        assert!(browser.source().await.contains("urgent"));
        browser.click("form[data-confirm] button.bao-danger").await;
        assert!(browser.dialog_text().await.is_some());
        browser.answer_dialog(true).await;
        assert!(
            browser
                .wait_for("Tag deleted.", Duration::from_secs(10))
                .await,
            "{}",
            browser.source().await
        );
        assert!(browser.source().await.contains("No tags yet."));
        browser.screenshot(&shot("deleted")).await;

        browser.goto(&format!("{base}/tags/99")).await;
        let missing = browser.source().await;
        assert!(
            missing.contains("Go to the home page") && missing.contains("bea@example.com"),
            "{missing}"
        );
        browser.screenshot(&shot("not-found")).await;

        browser.click("nav form button").await;
        assert!(
            browser
                .wait_for("Signed out.", Duration::from_secs(10))
                .await,
            "{}",
            browser.source().await
        );
        assert!(browser.source().await.contains(">Sign in</a>"));
        browser.screenshot(&shot("signed-out")).await;
    });
}
