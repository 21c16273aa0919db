//! Finding the app around the current folder, building it with cargo, and
//! handing commands to its binary.

use super::{fail, JsonArgs, TestArgs};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

/// The folder of the nearest `Cargo.toml` (from here up) that depends on `bao`.
pub(crate) fn find_app_root() -> Result<PathBuf, String> {
    let start =
        std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            if depends_on_bao(&text) {
                return Ok(dir.to_path_buf());
            }
        }
    }
    Err("not inside a Bao app (no Cargo.toml depending on `bao` here or above): cd into your app, or create one with `bao init --name \"My App\"`".into())
}

fn depends_on_bao(manifest: &str) -> bool {
    bao_codegen::model::manifest_depends_on(manifest, "bao")
}

/// The outcome of a build: the app's executable, or the compiler's messages.
pub(crate) enum Build {
    Built(PathBuf),
    Failed(String),
}

/// What a build left: the app's executable (when it built) and the
/// compiler's messages, rendered and structured.
pub(crate) struct BuildReport {
    pub(crate) executable: Option<PathBuf>,
    pub(crate) success: bool,
    pub(crate) rendered: String,
    /// `{level, message, code, file, line, column, help}` per diagnostic.
    pub(crate) diagnostics: Vec<Value>,
}

/// A compiler message as tools read it: where, what, and the fixes the
/// compiler suggests.
fn diagnostic(message: &Value) -> Value {
    let spans = message["spans"].as_array().cloned().unwrap_or_default();
    let primary = spans
        .iter()
        .find(|s| s["is_primary"].as_bool() == Some(true))
        .or(spans.first());
    let mut help = Vec::new();
    for child in message["children"].as_array().into_iter().flatten() {
        let level = child["level"].as_str().unwrap_or_default();
        let text = child["message"].as_str().unwrap_or_default();
        if text.is_empty() {
            continue;
        }
        let replacement = child["spans"]
            .as_array()
            .and_then(|s| s.iter().find_map(|s| s["suggested_replacement"].as_str()));
        help.push(match replacement {
            Some(r) if !r.is_empty() => format!("{level}: {text} (write `{r}`)"),
            _ => format!("{level}: {text}"),
        });
    }
    serde_json::json!({
        "level": message["level"],
        "message": message["message"],
        "code": message["code"]["code"],
        "file": primary.map(|s| s["file_name"].clone()),
        "line": primary.map(|s| s["line_start"].clone()),
        "column": primary.map(|s| s["column_start"].clone()),
        "label": primary.map(|s| s["label"].clone()),
        "help": help,
    })
}

/// Runs `cargo build --message-format=json` for the app; with `echo`, the
/// compiler's messages are printed to stderr as they come.
pub(crate) fn build_report(root: &Path, echo: bool) -> Result<BuildReport, String> {
    let manifest = root.join("Cargo.toml");
    let mut child = Command::new(cargo())
        .args(["build", "--message-format=json", "--manifest-path"])
        .arg(&manifest)
        .stdout(Stdio::piped())
        .stderr(if echo {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let stdout = child.stdout.take().ok_or("cargo gave no output")?;
    let manifest_text = manifest.canonicalize().unwrap_or(manifest.clone());
    let mut executable = None;
    let mut rendered = String::new();
    let mut diagnostics = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        match message["reason"].as_str() {
            Some("compiler-message") => {
                if let Some(text) = message["message"]["rendered"].as_str() {
                    if echo {
                        eprint!("{text}");
                    }
                    rendered.push_str(text);
                }
                diagnostics.push(diagnostic(&message["message"]));
            }
            Some("compiler-artifact") => {
                let ours = message["manifest_path"]
                    .as_str()
                    .is_some_and(|p| Path::new(p) == manifest_text);
                if let (true, Some(exe)) = (ours, message["executable"].as_str()) {
                    executable = Some(PathBuf::from(exe));
                }
            }
            _ => {}
        }
    }
    let status = child.wait().map_err(|e| format!("cargo failed: {e}"))?;
    Ok(BuildReport {
        executable,
        success: status.success(),
        rendered,
        diagnostics,
    })
}

/// Runs `cargo build` for the app, printing diagnostics as they come.
pub(crate) fn build(root: &Path) -> Result<Build, String> {
    let report = build_report(root, true)?;
    match (report.success, report.executable) {
        (true, Some(exe)) => Ok(Build::Built(exe)),
        (true, None) => Err(
            "the app built but has no binary: add src/main.rs calling `bao::cli::main(app())`"
                .into(),
        ),
        (false, _) if report.rendered.is_empty() => Ok(Build::Failed(
            "cargo build failed (see the output above)".into(),
        )),
        (false, _) => Ok(Build::Failed(report.rendered)),
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The app's root and freshly built binary.
fn build_or_exit() -> Result<(PathBuf, PathBuf), ExitCode> {
    let root = find_app_root().map_err(fail)?;
    match build(&root).map_err(fail)? {
        Build::Built(exe) => Ok((root, exe)),
        Build::Failed(_) => Err(fail("the app does not build; fix the errors above")),
    }
}

/// Builds the app and runs its binary with this process's arguments.
pub(super) fn forward() -> ExitCode {
    let (root, exe) = match build_or_exit() {
        Ok(built) => built,
        Err(code) => return code,
    };
    exec(&root, &exe, std::env::args_os().skip(1))
}

/// `bao make:migration`: the app binary generates it from the models. When
/// the app does not build, the models are unknown: nothing is written and
/// the first compiler error is shown (`--empty` writes blank files instead,
/// without building).
pub(super) fn make_migration(args: &super::MakeMigrationArgs) -> ExitCode {
    let root = match find_app_root() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if args.empty {
        return super::migrations::make(&root.join("migrations"), args, None);
    }
    let report = match build_report(&root, false) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match (report.success, &report.executable) {
        (true, Some(exe)) => exec(&root, exe, std::env::args_os().skip(1)),
        (true, None) => {
            fail("the app built but has no binary: add src/main.rs calling `bao::cli::main(app())`")
        }
        (false, _) => {
            let first = report
                .diagnostics
                .iter()
                .find(|d| d["level"] == "error")
                .map(|d| {
                    let mut text = format!(
                        "{}\n  --> {}:{}:{}",
                        d["message"].as_str().unwrap_or_default(),
                        d["file"].as_str().unwrap_or("?"),
                        d["line"],
                        d["column"]
                    );
                    for help in d["help"].as_array().into_iter().flatten() {
                        text.push_str(&format!("\n  = {}", help.as_str().unwrap_or_default()));
                    }
                    text
                })
                .unwrap_or_else(|| "cargo build failed (run `bao check` to see why)".into());
            fail(format!(
                "the app does not build, so its models are unknown and no migration was written; the first error:\n{first}\n\nFix it and run this again, or write a migration by hand with `bao make:migration \"{}\" --empty`",
                args.name
            ))
        }
    }
}

/// `bao check`: build, then let the binary validate its config and list routes.
pub(super) fn check(args: &JsonArgs) -> ExitCode {
    let (root, exe) = match build_or_exit() {
        Ok(built) => built,
        Err(code) => return code,
    };
    let mut argv = vec!["check".to_string()];
    if args.json {
        argv.push("--json".into());
    }
    exec(&root, &exe, argv.into_iter().map(Into::into))
}

/// Runs the app binary from the app's root, where `.env` and `migrations/` are.
fn exec(root: &Path, exe: &Path, args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    let mut command = Command::new(exe);
    command.current_dir(root).args(args);
    exec_command(command)
}

/// `bao test`: cargo nextest when installed, cargo test otherwise.
pub(super) fn test(args: &TestArgs) -> ExitCode {
    let root = match find_app_root() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let nextest = Command::new(cargo())
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut command = Command::new(cargo());
    if nextest {
        command.args(["nextest", "run"]);
    } else {
        command.arg("test");
    }
    command.current_dir(&root).args(&args.args);
    exec_command(command)
}

/// Runs `command`, passing its exit code on.
fn exec_command(mut command: Command) -> ExitCode {
    match command.status() {
        Ok(status) => match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::FAILURE,
        },
        Err(e) => fail(format!(
            "cannot run `{}`: {e}",
            command.get_program().to_string_lossy()
        )),
    }
}

/// The crate name of the package in `root` (`my-app` → `my_app`).
fn crate_name(root: &Path) -> Result<String, String> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if let (true, Some(value)) = (in_package, line.strip_prefix("name")) {
            let value = value.trim_start().trim_start_matches('=').trim();
            return Ok(value.trim_matches('"').replace('-', "_"));
        }
    }
    Err(format!("{} has no [package] name", manifest.display()))
}

/// `bao make:auth`: writes the user model, its migration, the account pages
/// and their tests, and registers them in `bao::app!`. Checks everything
/// before writing anything; never overwrites without `--force`. Does not
/// need the app to build.
pub(super) fn make_auth(args: &super::GenerateArgs) -> ExitCode {
    match plan_auth(args) {
        Ok(files) => write_plan(
            &files,
            args,
            "Auth is set up: /register, /login and /logout. Next: `bao migrate`, then `bao test`.\n\
             Protect a controller with #[bao::controller(\"/notes\", requires_login)] and take `user: CurrentUser`.",
        ),
        Err(e) => fail(e),
    }
}

fn plan_auth(args: &super::GenerateArgs) -> Result<Vec<(PathBuf, String)>, String> {
    let root = find_app_root()?;
    let crate_name = crate_name(&root)?;
    let read = |path: &str| std::fs::read_to_string(root.join(path));
    let lib = read("src/lib.rs").map_err(|e| format!("cannot read src/lib.rs: {e}"))?;
    let mut lib = bao_codegen::scaffold::register_auth(&lib)?;
    lib = bao_codegen::scaffold::add_module(&lib, "models");
    let mut files = place(
        &root,
        bao_codegen::scaffold::auth_files(&crate_name),
        args.force,
    )?;
    files.push((root.join("src/lib.rs"), lib));
    let models = read("src/models/mod.rs")
        .unwrap_or_else(|_| "//! The app's models, one module each.\n".to_string());
    files.push((
        root.join("src/models/mod.rs"),
        bao_codegen::scaffold::add_module(&models, "user"),
    ));
    let controllers = read("src/controllers/mod.rs")
        .map_err(|e| format!("cannot read src/controllers/mod.rs: {e}"))?;
    files.push((
        root.join("src/controllers/mod.rs"),
        bao_codegen::scaffold::add_module(&controllers, "auth"),
    ));
    // The layout shows who is signed in, with a log-out button.
    if let Ok(layout) = read("views/layout.html") {
        match bao_codegen::scaffold::layout_add_account(&layout) {
            Some(layout) => files.push((root.join("views/layout.html"), layout)),
            None => eprintln!(
                "note: views/layout.html has no `{{# bao:account #}}` line, so it was left as it is; \
                 show the signed-in user with `{{% if let Some(user) = current_user %}}{{{{ user.email }}}}{{% endif %}}` \
                 and log out with a POST form to /logout carrying {{{{ csrf_field }}}}"
            ),
        }
    }
    // The migration, planned from the snapshot like `make:migration`.
    let migrations = root.join("migrations");
    let old = crate::db::read_snapshot(&migrations).map_err(|e| e.to_string())?;
    if old.tables.contains_key("users") && !args.force {
        return Err("the schema snapshot (migrations/schema.json) already has a `users` table: auth seems set up; run with --force to write the files anyway".into());
    }
    let mut new = old.clone();
    new.tables
        .extend(crate::db::Schema::from_models(&[crate::auth::USER_MODEL]).tables);
    let change = crate::db::diff(&old, &new);
    if !change.up.is_empty() {
        let version = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
        for (path, contents) in
            crate::db::new_migration_files(&version, "create_users", Some(&change))
        {
            files.push((migrations.join(path), contents));
        }
        files.push((
            migrations.join(crate::db::SNAPSHOT),
            serde_json::to_string_pretty(&new).unwrap_or_default() + "\n",
        ));
    }
    Ok(files)
}

fn write_plan(files: &[(PathBuf, String)], args: &super::GenerateArgs, done: &str) -> ExitCode {
    if args.dry_run {
        for (path, contents) in files {
            println!("--- {}\n{contents}", path.display());
        }
        println!("(dry run: nothing was written)");
        return ExitCode::SUCCESS;
    }
    for (path, contents) in files {
        if let Some(parent) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return fail(format!("cannot create {}: {e}", parent.display()));
            }
        }
        if let Err(e) = std::fs::write(path, contents) {
            return fail(format!("cannot write {}: {e}", path.display()));
        }
        println!("  wrote {}", path.display());
    }
    // The generated Rust is formatted as `cargo fmt` would leave it.
    let rust: Vec<&PathBuf> = files
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    let formatted = Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(&rust)
        .status();
    if !formatted.is_ok_and(|s| s.success()) {
        eprintln!("warning: rustfmt did not run on the generated files; run `cargo fmt`");
    }
    println!("{done}");
    ExitCode::SUCCESS
}

/// `bao make:crud Model field:type ..`: a model, pages and tests, checked
/// before anything is written; then its migration, planned by the app's own
/// binary from the compiled models.
pub(super) fn make_crud(args: &super::MakeCrudArgs) -> ExitCode {
    let files = match plan_crud(args) {
        Ok(files) => files,
        Err(e) => return fail(e),
    };
    let names = bao_codegen::scaffold::CrudNames::new(&args.model);
    let whose = if args.public {
        "anyone may use them"
    } else if args.shared {
        "every signed-in user sees every row"
    } else {
        "each signed-in user sees only the rows they created (pass --shared for rows everyone sees)"
    };
    let done = format!(
        "The {model} pages are at /{plural} (registered in bao::app!); {whose}.",
        model = names.model,
        plural = names.plural
    );
    let written = write_plan(&files, &args.generate, &done);
    if args.generate.dry_run || written != ExitCode::SUCCESS {
        return written;
    }
    // The migration comes from the compiled models, like `make:migration`.
    let root = match find_app_root() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match build(&root) {
        Ok(Build::Built(exe)) => exec(
            &root,
            &exe,
            [
                "make:migration".into(),
                format!("create {}", names.plural).into(),
            ]
            .into_iter(),
        ),
        _ => {
            eprintln!(
                "warning: the app does not build yet, so no migration was written: fix it, then run `bao make:migration \"create {}\"`",
                names.plural
            );
            ExitCode::SUCCESS
        }
    }
}

fn plan_crud(args: &super::MakeCrudArgs) -> Result<Vec<(PathBuf, String)>, String> {
    use bao_codegen::scaffold::{self as scaffold, FieldKind};
    let mut problems = Vec::new();
    if let Err(e) = scaffold::check_model_name(&args.model) {
        problems.push(e);
    }
    let fields = scaffold::parse_fields(&args.fields).map_err(|e| {
        problems.push(e);
    });
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let mut fields = fields.unwrap_or_default();
    let root = find_app_root()?;
    let crate_name = crate_name(&root)?;
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs"))
        .map_err(|e| format!("cannot read src/lib.rs: {e}"))?;
    if !args.public && !scaffold::app_has_auth(&lib) {
        return Err("the pages would require login, but the app has no user model: run `bao make:auth` first, or pass --public to serve them to anyone".into());
    }
    let access = match (args.public, args.shared) {
        (true, _) => scaffold::CrudAccess::Public,
        (false, true) => scaffold::CrudAccess::Shared,
        (false, false) => scaffold::CrudAccess::Owned,
    };
    if access == scaffold::CrudAccess::Owned && fields.iter().any(|f| f.name == "user_id") {
        return Err("`user_id` is added by make:crud: each row belongs to the user who created it; leave it out, or pass --shared to manage a user_id of your own".into());
    }
    let mut sources = Vec::new();
    rust_files(&src, &mut sources);
    let texts: Vec<String> = sources
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    let names = scaffold::CrudNames::new(&args.model);
    if !args.generate.force
        && texts
            .iter()
            .any(|t| scaffold::find_model(t, &names.model).is_some())
    {
        return Err(format!(
            "a model `{}` exists already: choose another name, or `bao make:api {}` to serve it as JSON",
            names.model, names.model
        ));
    }
    for field in &mut fields {
        if let FieldKind::Ref(target) = &field.kind {
            let found = texts.iter().find_map(|t| scaffold::find_model(t, target));
            // Selects name each row by its best text field.
            field.ref_label = found.as_ref().and_then(scaffold::label_field);
            if found.is_none() {
                return Err(format!(
                    "`{}:ref:{target}` points at no #[bao::model] struct `{target}` in src/{}",
                    field.name,
                    if target == "User" {
                        " (run `bao make:auth` to create users)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    let mut plan = place(
        &root,
        scaffold::crud_files(&crate_name, &names, &fields, access),
        args.generate.force,
    )?;
    let mut lib = scaffold::add_to_app_list(
        &lib,
        "controllers",
        &format!("controllers::{}::{}", names.plural, names.controller),
    )?;
    lib = scaffold::add_to_app_list(
        &lib,
        "models",
        &format!("models::{}::{}", names.snake, names.model),
    )?;
    lib = scaffold::add_module(&lib, "models");
    plan.push((src.join("lib.rs"), lib));
    let models = std::fs::read_to_string(src.join("models/mod.rs"))
        .unwrap_or_else(|_| "//! The app's models, one module each.\n".to_string());
    plan.push((
        src.join("models/mod.rs"),
        scaffold::add_module(&models, &names.snake),
    ));
    let controllers = std::fs::read_to_string(src.join("controllers/mod.rs"))
        .unwrap_or_else(|_| "//! The app's controllers, one module each.\n".to_string());
    plan.push((
        src.join("controllers/mod.rs"),
        scaffold::add_module(&controllers, &names.plural),
    ));
    // The layout's nav links to the new pages.
    if let Ok(layout) = std::fs::read_to_string(root.join("views/layout.html")) {
        let href = format!("/{}", names.plural);
        let text = scaffold::label(&names.plural);
        match scaffold::layout_add_nav_link(&layout, &href, &text) {
            Some(layout) => plan.push((root.join("views/layout.html"), layout)),
            None => eprintln!(
                "note: views/layout.html has no `{{# bao:nav #}}` line, so it was left as it is; \
                 link the pages with <a href=\"{href}\">{text}</a>"
            ),
        }
    }
    Ok(plan)
}

/// The generated files for `root`, refusing to overwrite without `--force`.
fn place(
    root: &Path,
    files: Vec<bao_codegen::scaffold::GeneratedFile>,
    force: bool,
) -> Result<Vec<(PathBuf, String)>, String> {
    let mut plan = Vec::new();
    let mut existing = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        if path.exists() && !force {
            existing.push(file.path.clone());
        }
        plan.push((path, file.contents));
    }
    if existing.is_empty() {
        Ok(plan)
    } else {
        Err(format!(
            "these files exist already: {}; move them away, or run again with --force to overwrite them",
            existing.join(", ")
        ))
    }
}

/// `bao make:script NAME`: `examples/NAME.rs`, run with `bao run-script`.
pub(super) fn make_script(args: &super::MakeScriptArgs) -> ExitCode {
    let plan = (|| -> Result<Vec<(PathBuf, String)>, String> {
        bao_codegen::scaffold::check_script_name(&args.name)?;
        let root = find_app_root()?;
        let crate_name = crate_name(&root)?;
        place(
            &root,
            vec![bao_codegen::scaffold::script_file(&crate_name, &args.name)],
            args.generate.force,
        )
    })();
    let next = format!(
        "Run it with `bao run-script {} [ARGS..]`: cargo builds it against the app, and it runs with the app's configuration.",
        args.name
    );
    match plan {
        Ok(files) => write_plan(&files, &args.generate, &next),
        Err(e) => fail(e),
    }
}

/// `bao run-script NAME [ARGS..]`: `cargo run --example NAME` from the
/// app's root, so the script sees `.env` and `migrations/` as the app does.
pub(super) fn run_script(args: &super::RunScriptArgs) -> ExitCode {
    let root = match find_app_root() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let name = args
        .name
        .trim_start_matches("./")
        .trim_start_matches("examples/")
        .trim_end_matches(".rs")
        .to_string();
    if !root.join("examples").join(format!("{name}.rs")).is_file() {
        let mut scripts: Vec<String> = std::fs::read_dir(root.join("examples"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        let file = e.file_name().to_string_lossy().into_owned();
                        file.strip_suffix(".rs").map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        scripts.sort();
        let known = if scripts.is_empty() {
            "the app has none yet".to_string()
        } else {
            format!("the scripts are: {}", scripts.join(", "))
        };
        return fail(format!(
            "no script examples/{name}.rs ({known}); write one with `bao make:script {name}`"
        ));
    }
    let mut command = Command::new(cargo());
    command
        .current_dir(&root)
        .args(["run", "--quiet", "--example", &name]);
    if args.release {
        command.arg("--release");
    }
    command.arg("--").args(&args.args);
    exec_command(command)
}

/// `bao make:controller Name [--actions a,b]`.
pub(super) fn make_controller(args: &super::MakeControllerArgs) -> ExitCode {
    let plan = (|| -> Result<Vec<(PathBuf, String)>, String> {
        use bao_codegen::scaffold;
        scaffold::check_controller_name(&args.name)?;
        let actions = scaffold::parse_actions(&args.actions)?;
        let root = find_app_root()?;
        let crate_name = crate_name(&root)?;
        let src = root.join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs"))
            .map_err(|e| format!("cannot read src/lib.rs: {e}"))?;
        if !args.public && !scaffold::app_has_auth(&lib) {
            return Err("the pages would require login, but the app has no user model: run `bao make:auth` first, or pass --public".into());
        }
        let (files, path) =
            scaffold::controller_files(&crate_name, &args.name, &actions, args.public);
        let mut plan = place(&root, files, args.generate.force)?;
        let lib = scaffold::add_to_app_list(&lib, "controllers", &path)?;
        plan.push((src.join("lib.rs"), lib));
        let module = path.split("::").nth(1).unwrap_or_default().to_string();
        let controllers = std::fs::read_to_string(src.join("controllers/mod.rs"))
            .unwrap_or_else(|_| "//! The app's controllers, one module each.\n".to_string());
        plan.push((
            src.join("controllers/mod.rs"),
            scaffold::add_module(&controllers, &module),
        ));
        Ok(plan)
    })();
    match plan {
        Ok(files) => write_plan(
            &files,
            &args.generate,
            "The controller is registered in bao::app!; `bao routes` lists its pages.",
        ),
        Err(e) => fail(e),
    }
}

/// `bao make:task NAME [--every S | --cron E]`.
pub(super) fn make_task(args: &super::MakeTaskArgs) -> ExitCode {
    use bao_codegen::scaffold::{self, TaskSchedule};
    let schedule = match (&args.every, &args.cron) {
        (Some(every), _) => TaskSchedule::Every(every.clone()),
        (None, Some(cron)) => TaskSchedule::Cron(cron.clone()),
        (None, None) => TaskSchedule::None,
    };
    let plan = (|| -> Result<Vec<(PathBuf, String)>, String> {
        scaffold::check_task(&args.name, &schedule)?;
        let root = find_app_root()?;
        let crate_name = crate_name(&root)?;
        let src = root.join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs"))
            .map_err(|e| format!("cannot read src/lib.rs: {e}"))?;
        let (files, path, list) = scaffold::task_files(&crate_name, &args.name, &schedule);
        let mut plan = place(&root, files, args.generate.force)?;
        let lib = scaffold::add_module(&scaffold::add_to_app_list(&lib, list, &path)?, "tasks");
        plan.push((src.join("lib.rs"), lib));
        let tasks = std::fs::read_to_string(src.join("tasks/mod.rs")).unwrap_or_else(|_| {
            "//! The app's background tasks and schedules, one module each.\n".to_string()
        });
        plan.push((
            src.join("tasks/mod.rs"),
            scaffold::add_module(&tasks, &args.name),
        ));
        Ok(plan)
    })();
    let next = if schedule == TaskSchedule::None {
        format!(
            "The task is registered in bao::app!; enqueue it with `tasks::{0}::{0}::enqueue(&db, id)`, and `bao serve` or `bao worker` runs it (`bao tasks:run {0} '[1]'` runs it now).",
            args.name
        )
    } else {
        format!(
            "The schedule is registered in bao::app!; it fires with BAO_ENABLE_SCHEDULER=1 in `bao serve`, or under `bao scheduler:run` (`bao tasks:run {}` runs one tick now).",
            args.name
        )
    };
    match plan {
        Ok(files) => write_plan(&files, &args.generate, &next),
        Err(e) => fail(e),
    }
}

/// `bao make:dockerfile`.
pub(super) fn make_dockerfile(args: &super::GenerateArgs) -> ExitCode {
    let plan = (|| -> Result<Vec<(PathBuf, String)>, String> {
        let root = find_app_root()?;
        let package = crate_name(&root)?;
        // The binary is named after the package, dashes and all.
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
        let package = manifest
            .lines()
            .find_map(|l| {
                l.trim().strip_prefix("name").map(|v| {
                    v.trim_start()
                        .trim_start_matches('=')
                        .trim()
                        .trim_matches('"')
                        .to_string()
                })
            })
            .unwrap_or(package);
        place(
            &root,
            bao_codegen::scaffold::docker_files(&package),
            args.force,
        )
    })();
    match plan {
        Ok(files) => write_plan(
            &files,
            args,
            "Build with `docker build -t my-app .`; run with `docker run -e BAO_SECRET_KEY=... -e BAO_DATABASE_URL=... -p 8000:8000 my-app`.",
        ),
        Err(e) => fail(e),
    }
}

/// The files under `dir`, depth first and sorted; only those ending in
/// `.EXT` when `ext` is given.
pub(super) fn files_under(dir: &Path, ext: Option<&str>, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, ext, out);
        } else if ext.is_none_or(|ext| path.extension().is_some_and(|e| e == ext)) {
            out.push(path);
        }
    }
}

/// The `.rs` files under `dir`, depth first.
pub(super) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_under(dir, Some("rs"), out);
}

/// The Rust path of an item defined in `file` (under `src`).
fn module_path(src: &Path, file: &Path, name: &str) -> String {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    let mut path = vec!["crate".to_string()];
    path.extend(parts);
    path.push(name.to_string());
    path.join("::")
}

/// `bao make:api Model`: the resource and its tests for a model found in
/// `src/` (read, not compiled), registered in `bao::app!`.
pub(super) fn make_api(args: &super::MakeApiArgs) -> ExitCode {
    match plan_api(args) {
        Ok(files) => write_plan(
            &files,
            &args.generate,
            "The API is registered in bao::app!: `bao routes` lists it, /docs explores it, \
             `bao openapi --out openapi.json` writes its document. Next: `bao test`.",
        ),
        Err(e) => fail(e),
    }
}

fn plan_api(args: &super::MakeApiArgs) -> Result<Vec<(PathBuf, String)>, String> {
    let name = args.model.trim();
    let is_type_name = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if !is_type_name {
        return Err(format!(
            "`{name}` is not a model name: give the model's struct name, in UpperCamelCase, like `Note`"
        ));
    }
    let root = find_app_root()?;
    let crate_name = crate_name(&root)?;
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = None;
    let mut models_seen = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Some(model) = bao_codegen::scaffold::find_model(&text, name) {
            found = Some((module_path(&src, file, name), model));
            break;
        }
        if text.contains("model") {
            for line in text
                .lines()
                .filter(|l| l.trim_start().starts_with("pub struct "))
            {
                let ident: String = line.trim_start()["pub struct ".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if bao_codegen::scaffold::find_model(&text, &ident).is_some() {
                    models_seen.push(ident);
                }
            }
        }
    }
    let Some((model_path, model)) = found else {
        let known = if models_seen.is_empty() {
            "there are none yet".to_string()
        } else {
            format!("the models are: {}", models_seen.join(", "))
        };
        return Err(format!(
            "no #[bao::model] struct `{name}` in src/ ({known})"
        ));
    };
    let lib = std::fs::read_to_string(src.join("lib.rs"))
        .map_err(|e| format!("cannot read src/lib.rs: {e}"))?;
    if !args.public && !bao_codegen::scaffold::app_has_auth(&lib) {
        return Err(format!(
            "the `{name}` API would require login, but the app has no user model: run `bao make:auth` first, or pass --public to serve it to anyone"
        ));
    }
    let (generated, resource) = bao_codegen::scaffold::api_files(
        &crate_name,
        &model,
        &model_path,
        args.public,
        args.shared,
    );
    let mut plan = place(&root, generated, args.generate.force)?;
    let mut lib = bao_codegen::scaffold::add_to_app_list(&lib, "apis", &resource)?;
    // The model must be listed for migrations and `bao describe`.
    let listed = model_path.trim_start_matches("crate::");
    lib = bao_codegen::scaffold::add_to_app_list(&lib, "models", listed)?;
    lib = bao_codegen::scaffold::add_module(&lib, "apis");
    plan.push((src.join("lib.rs"), lib));
    let apis = std::fs::read_to_string(src.join("apis/mod.rs"))
        .unwrap_or_else(|_| "//! The app's JSON API resources, one module each.\n".to_string());
    let module = resource.split("::").nth(1).unwrap_or_default().to_string();
    plan.push((
        src.join("apis/mod.rs"),
        bao_codegen::scaffold::add_module(&apis, &module),
    ));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_bao_dependencies() {
        assert!(depends_on_bao(
            "[dependencies]\nbao = { path = \"../bao\" }\n"
        ));
        assert!(depends_on_bao("[dependencies]\nbao.workspace = true\n"));
        assert!(depends_on_bao("[dependencies.bao]\nversion = \"0.1\"\n"));
        assert!(!depends_on_bao("[dependencies]\nbaobab = \"1\"\n"));
    }
}
