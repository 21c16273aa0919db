//! The installed `bao` command, run as a user runs it.

use assert_cmd::Command;

fn bao() -> Command {
    Command::cargo_bin("bao").expect("the bao binary is built")
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().expect("bao runs").stdout).expect("utf-8")
}

#[test]
fn help_lists_every_command() {
    let out = stdout(bao().arg("--help"));
    for command in [
        "init", "run", "serve", "check", "routes", "describe", "config", "test",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(command)),
            "`{command}` missing from:\n{out}"
        );
    }
}

#[test]
fn help_groups_the_commands() {
    let out = stdout(bao().arg("--help"));
    let heading = |name: &str| {
        out.lines()
            .position(|l| l == name)
            .unwrap_or_else(|| panic!("no `{name}` heading in:\n{out}"))
    };
    let under = |command: &str| {
        let at = out
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{command} ")))
            .unwrap_or_else(|| panic!("`{command}` missing from:\n{out}"));
        out.lines()
            .take(at)
            .filter(|l| l.ends_with(':') && !l.starts_with(' '))
            .last()
            .unwrap()
            .to_string()
    };
    assert!(heading("App:") < heading("Data:") && heading("Data:") < heading("Generate:"));
    for (command, group) in [
        ("init", "App:"),
        ("db:create", "Data:"),
        ("migrate:status", "Data:"),
        ("make:crud", "Generate:"),
        ("workflows:start", "Work:"),
        ("make:auth", "Auth:"),
        ("tokens:issue", "Auth:"),
        ("agents:run", "AI:"),
        ("admin:eject", "Operate:"),
        ("mcp:serve", "Operate:"),
    ] {
        assert_eq!(under(command), group, "{command}");
    }
    // `bao new` is `bao init`.
    let new = stdout(bao().args(["new", "--help"]));
    assert!(new.contains("Usage: bao init"), "{new}");
    // The make:crud example pastes into a shell.
    let crud = stdout(bao().args(["make:crud", "--help"]));
    assert!(crud.contains("'status:enum(open|closed)'"), "{crud}");
}

#[test]
fn every_command_has_help() {
    for command in [
        "init", "run", "serve", "check", "routes", "describe", "config", "test",
    ] {
        let out = stdout(bao().args([command, "--help"]));
        assert!(out.contains("Usage: bao"), "{command} --help:\n{out}");
    }
}

#[test]
fn init_writes_an_app_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("shop");
    bao()
        .args(["init", "--name", "Tom's Shop", "--path"])
        .arg(&app)
        .assert()
        .success();
    for file in [
        "Cargo.toml",
        "askama.toml",
        "src/main.rs",
        "src/lib.rs",
        "src/controllers/home.rs",
        "views/layout.html",
        "views/home/index.html",
        "tests/home.rs",
        ".env.example",
        ".gitignore",
    ] {
        assert!(app.join(file).is_file(), "{file} written");
    }
    let env = std::fs::read_to_string(app.join(".env")).unwrap();
    let key = env
        .lines()
        .find_map(|l| l.strip_prefix("BAO_SECRET_KEY="))
        .expect("a development secret key in .env");
    assert_eq!(key.len(), 64, "32 random bytes as hex");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(
        std::fs::read_to_string(app.join(".gitignore"))
            .unwrap()
            .lines()
            .any(|l| l == ".env"),
        ".env is not committed"
    );
    let manifest = std::fs::read_to_string(app.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"tom-s-shop\""), "{manifest}");
    assert!(manifest.contains("bao = { path = "), "{manifest}");

    std::fs::write(app.join("src/lib.rs"), "// edited by the user\n").unwrap();
    let refused = bao()
        .args(["init", "--name", "Tom's Shop", "--path"])
        .arg(&app)
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&refused.get_output().stderr).to_string();
    assert!(
        err.contains("is not empty") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("src/lib.rs")).unwrap(),
        "// edited by the user\n",
        "nothing was overwritten"
    );

    bao()
        .args(["init", "--force", "--name", "Tom's Shop", "--path"])
        .arg(&app)
        .assert()
        .success();
    assert!(std::fs::read_to_string(app.join("src/lib.rs"))
        .unwrap()
        .contains("bao::app!"));
}

#[test]
fn init_rejects_unusable_names_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = bao()
        .current_dir(dir.path())
        .args(["init", "--name", "async"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("reserved"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn app_commands_outside_an_app_explain_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["routes", "check", "config"] {
        let out = bao()
            .current_dir(dir.path())
            .arg(command)
            .assert()
            .failure();
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            err.contains("not inside a Bao app") && err.contains("bao init"),
            "{err}"
        );
    }
}

#[test]
fn make_migration_writes_both_dialects_and_validates_the_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"shop\"\n\n[dependencies]\nbao = { path = \"../bao\" }\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    // From a subfolder: migrations land in the app's root.
    let out = stdout(bao().current_dir(dir.path().join("src")).args([
        "make:migration",
        "Create posts",
        "--empty",
    ]));
    assert!(out.contains("_create_posts/"), "{out}");
    let migrations: Vec<_> = std::fs::read_dir(dir.path().join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(migrations.len(), 1);
    for file in [
        "sqlite/up.sql",
        "sqlite/down.sql",
        "postgres/up.sql",
        "postgres/down.sql",
    ] {
        assert!(migrations[0].join(file).is_file(), "{file}");
    }

    let dry = stdout(bao().current_dir(dir.path()).args([
        "make:migration",
        "add tags",
        "--dry-run",
        "--empty",
    ]));
    assert!(dry.contains("_add_tags/sqlite/up.sql"), "{dry}");
    let bad = bao()
        .current_dir(dir.path())
        .args(["make:migration", "!!!", "--empty"])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&bad.get_output().stderr).to_string();
    assert!(err.contains("cannot name a migration"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path().join("migrations"))
            .unwrap()
            .count(),
        1,
        "nothing else written"
    );
}

#[test]
fn run_stops_at_once_when_its_port_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../example");
    let output = bao()
        .current_dir(example)
        .args(["run", "--port", &port.to_string()])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}"))
            && err.contains(&format!("bao run --port {}", port + 1)),
        "{err}"
    );
}
