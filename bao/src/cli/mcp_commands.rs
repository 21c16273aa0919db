//! `bao mcp:serve` and `bao mcp:tools`: the MCP server over stdio, with the
//! build tools (which drive cargo and the generators, so they work while
//! the app does not compile) added to the operate tools of [`crate::mcp`].

use super::fail;
use super::project::{build_report, files_under, find_app_root, rust_files};
use crate::mcp::{
    self, operate, page, Access, BaoMcp, Call, ToolDef, ToolError, ToolResult, Toolbox,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// `bao mcp:tools`.
#[derive(Debug, clap::Args)]
pub struct McpToolsArgs {
    /// Print the tools as `tools/list` sends them (with their schemas)
    #[arg(long)]
    pub json: bool,
}

/// Where the build tools work: the app's folder, and what they learned.
struct Project {
    root: Result<PathBuf, String>,
    /// The app binary's description, with the source state it was built from.
    described: Mutex<Option<(SourceState, Value)>>,
    /// The app's own description when this server runs inside the app binary.
    in_app: Option<Value>,
}

/// The newest change under the app's source, and how many files there are.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceState {
    newest: SystemTime,
    files: usize,
}

fn source_state(root: &Path) -> SourceState {
    fn walk(dir: &Path, state: &mut SourceState) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, state);
            } else if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                state.files += 1;
                state.newest = state.newest.max(modified);
            }
        }
    }
    let mut state = SourceState {
        newest: SystemTime::UNIX_EPOCH,
        files: 0,
    };
    for dir in [
        "src",
        "views",
        "build.rs",
        "Cargo.toml",
        "Cargo.lock",
        "migrations",
    ] {
        let path = root.join(dir);
        if path.is_dir() {
            walk(&path, &mut state);
        } else if let Ok(modified) = std::fs::metadata(&path).and_then(|m| m.modified()) {
            state.files += 1;
            state.newest = state.newest.max(modified);
        }
    }
    state
}

/// The first errors of a failed build, as a tool error.
fn build_failed(report: &super::project::BuildReport) -> ToolError {
    let errors: Vec<&Value> = report
        .diagnostics
        .iter()
        .filter(|d| d["level"] == "error")
        .take(10)
        .collect();
    ToolError::new(format!(
        "the app does not build ({} error(s)): fix the first one and call again (bao_check lists them all)",
        report.diagnostics.iter().filter(|d| d["level"] == "error").count()
    ))
    .with_detail(json!(errors))
}

impl Project {
    fn root(&self) -> Result<&Path, ToolError> {
        self.root.as_deref().map_err(|e| ToolError::new(e.clone()))
    }

    /// The app's `describe --json`, rebuilt only when its source changed.
    fn description(&self) -> Result<Value, ToolError> {
        if let Some(description) = &self.in_app {
            return Ok(description.clone());
        }
        let root = self.root()?;
        let state = source_state(root);
        if let Some((seen, description)) = &*self.described.lock().expect("not poisoned") {
            if *seen == state {
                return Ok(description.clone());
            }
        }
        let report = build_report(root, false).map_err(ToolError::new)?;
        let exe = match (report.success, &report.executable) {
            (true, Some(exe)) => exe.clone(),
            (true, None) => return Err(ToolError::new(
                "the app built but has no binary: add src/main.rs calling `bao::cli::main(app())`",
            )),
            (false, _) => return Err(build_failed(&report)),
        };
        let output = Command::new(&exe)
            .args(["describe", "--json"])
            .current_dir(root)
            .output()
            .map_err(|e| ToolError::new(format!("cannot run {}: {e}", exe.display())))?;
        if !output.status.success() {
            return Err(ToolError::new(format!(
                "`describe` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let description: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| ToolError::new(format!("`describe --json` gave no JSON: {e}")))?;
        *self.described.lock().expect("not poisoned") = Some((state, description.clone()));
        Ok(description)
    }
}

/// Runs blocking work of a build tool off the async executor.
async fn blocking(work: impl FnOnce() -> ToolResult + Send + 'static) -> ToolResult {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(ToolError::new(format!("the tool stopped: {e}"))))
}

fn build_tool<F>(
    project: &Arc<Project>,
    name: &'static str,
    description: &'static str,
    args: &[(&str, &str, &str)],
    required: &[&str],
    f: F,
) -> ToolDef
where
    F: Fn(&Project, &Call) -> ToolResult + Send + Sync + Copy + 'static,
{
    let project = project.clone();
    // Generators write source; the other build tools only read it.
    let access = if name.starts_with("bao_make_") {
        Access::Build
    } else {
        Access::Read
    };
    ToolDef::new(name, description, access, args, required, move |call| {
        let project = project.clone();
        blocking(move || f(&project, &call))
    })
}

/// Attribute macros that mark each kind of item `bao_list` finds in `src/`.
const KINDS: &[(&str, &[&str])] = &[
    ("controllers", &["controller"]),
    ("models", &["model"]),
    ("apis", &["api"]),
    ("workflows", &["workflow"]),
    ("tasks", &["task", "every"]),
    ("agents", &["agent"]),
    ("channels", &["channel", "ws"]),
    ("views", &["view"]),
];

/// Folders `bao_list` lists the files of.
const FOLDERS: &[(&str, &str)] = &[
    ("templates", "views"),
    ("migrations", "migrations"),
    ("tests", "tests"),
    ("static", "static"),
];

/// The name of the item an attribute at `lines[at]` is on.
fn item_name(lines: &[&str], at: usize) -> Option<String> {
    for line in lines.iter().skip(at + 1).take(12) {
        let line = line.trim();
        if line.starts_with("#[") || line.starts_with("///") || line.starts_with("//") {
            continue;
        }
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        let at = words
            .iter()
            .position(|w| matches!(*w, "struct" | "fn" | "impl" | "enum" | "mod"))?;
        return words.get(at + 1).map(|w| (*w).to_string());
    }
    None
}

/// `{name, file, line}` of each item of a kind in `src/`.
fn find_items(root: &Path, kind: &str) -> Vec<Value> {
    let Some((_, attrs)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let line = line.trim_start();
            let marked = attrs.iter().any(|a| {
                [format!("#[bao::{a}"), format!("#[{a}(")].iter().any(|p| {
                    line.starts_with(p.as_str())
                        && !line[p.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                }) || line == format!("#[{a}]")
            });
            if marked {
                out.push(json!({
                    "name": item_name(&lines, n),
                    "file": relative(root, &file),
                    "line": n + 1,
                }));
            }
        }
    }
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn list(project: &Project, call: &Call) -> ToolResult {
    let root = project.root()?;
    let kinds: Vec<&str> = KINDS
        .iter()
        .map(|(k, _)| *k)
        .chain(FOLDERS.iter().map(|(k, _)| *k))
        .collect();
    let kind = call.str("kind").ok_or_else(|| {
        ToolError::new(format!("`kind` is required: one of {}", kinds.join(", ")))
    })?;
    if let Some((_, folder)) = FOLDERS.iter().find(|(k, _)| *k == kind) {
        let mut files = Vec::new();
        files_under(&root.join(folder), None, &mut files);
        let items = files.iter().map(|f| json!(relative(root, f))).collect();
        return page(items, call, 50);
    }
    if !KINDS.iter().any(|(k, _)| *k == kind) {
        return Err(ToolError::new(format!(
            "no kind `{kind}`: one of {}",
            kinds.join(", ")
        )));
    }
    page(find_items(root, kind), call, 50)
}

/// Where `fn NAME` or `struct NAME` is declared in `src/` (in `within`
/// only, when given).
fn declaration(root: &Path, name: &str) -> Option<Value> {
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    declaration_in(root, &files, name)
}

/// A route's handler: `fn HANDLER` in the file that declares its controller.
fn handler_location(root: &Path, controller: &str, handler: &str) -> Option<Value> {
    let file = declaration(root, controller)?;
    let path = root.join(file["file"].as_str()?);
    declaration_in(root, &[path], handler)
}

fn declaration_in(root: &Path, files: &[PathBuf], name: &str) -> Option<Value> {
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let words: Vec<&str> = line
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect();
            let declares = words
                .windows(2)
                .any(|w| matches!(w[0], "fn" | "struct" | "enum" | "impl") && w[1] == name);
            if declares && !line.trim_start().starts_with("//") {
                return Some(json!({"file": relative(root, file), "line": n + 1}));
            }
        }
    }
    None
}

fn inspect(project: &Project, call: &Call) -> ToolResult {
    let kinds = ["model", "route", "workflow", "task", "agent", "api"];
    let kind = call.str("kind").ok_or_else(|| {
        ToolError::new(format!("`kind` is required: one of {}", kinds.join(", ")))
    })?;
    let name = call.required("name")?;
    let root = project.root()?;
    let description = match project.description() {
        Ok(description) => description,
        Err(error) => {
            // The source still says where things are.
            return Err(error.with_detail(json!({
                "source": declaration(root, name),
                "note": "the app does not build, so only the source location is known",
            })));
        }
    };
    let section = match kind {
        "model" => "models",
        "route" => "routes",
        "workflow" => "workflows",
        "task" => "tasks",
        "agent" => "agents",
        "api" => "apis",
        other => {
            return Err(ToolError::new(format!(
                "no kind `{other}`: one of {}",
                kinds.join(", ")
            )))
        }
    };
    let items = description[section].as_array().cloned().unwrap_or_default();
    let wanted = name.to_ascii_lowercase();
    let matches = |item: &Value| -> bool {
        ["name", "table", "path", "handler", "struct", "model"]
            .iter()
            .filter_map(|k| item[*k].as_str())
            .any(|v| v.to_ascii_lowercase() == wanted)
    };
    let found: Vec<Value> = items.into_iter().filter(|i| matches(i)).collect();
    if found.is_empty() {
        return Err(ToolError::new(format!(
            "no {kind} `{name}`: see bao_describe with section \"{section}\""
        )));
    }
    let mut out = json!({ "kind": kind, "items": found });
    for item in out["items"].as_array_mut().into_iter().flatten() {
        let symbol = item["handler"]
            .as_str()
            .or_else(|| item["struct"].as_str())
            .or_else(|| item["name"].as_str())
            .unwrap_or(name)
            .to_string();
        let routed = match (item["controller"].as_str(), item["handler"].as_str()) {
            (Some(controller), Some(handler)) if controller != "bao" => {
                handler_location(root, controller, handler)
            }
            _ => None,
        };
        item["source"] = routed
            .or_else(|| declaration(root, &symbol))
            .or_else(|| declaration(root, name))
            .unwrap_or(Value::Null);
        if kind == "model" {
            if let Some(table) = item["table"].as_str() {
                item["migrations"] = json!(migrations_of(root, table));
            }
        }
    }
    Ok(out)
}

/// The migration files that mention `table`.
fn migrations_of(root: &Path, table: &str) -> Vec<String> {
    let mut files = Vec::new();
    files_under(&root.join("migrations"), None, &mut files);
    files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sql"))
        .filter(|f| {
            std::fs::read_to_string(f).is_ok_and(|t| {
                t.contains(&format!("\"{table}\""))
                    || t.contains(&format!(" {table} "))
                    || t.contains(&format!(" {table}("))
                    || t.contains(&format!(" {table}\n"))
            })
        })
        .map(|f| relative(root, f))
        .collect()
}

fn check(project: &Project, _call: &Call) -> ToolResult {
    let root = project.root()?;
    let report = build_report(root, false).map_err(ToolError::new)?;
    let errors: Vec<&Value> = report
        .diagnostics
        .iter()
        .filter(|d| d["level"] == "error")
        .collect();
    let warnings: Vec<&Value> = report
        .diagnostics
        .iter()
        .filter(|d| d["level"] == "warning")
        .collect();
    let mut out = json!({
        "ok": report.success,
        "errors": errors.iter().take(20).collect::<Vec<_>>(),
        "error_count": errors.len(),
        "warnings": warnings.iter().take(10).collect::<Vec<_>>(),
        "warning_count": warnings.len(),
    });
    if errors.len() > 20 {
        out["note"] = json!("first 20 errors shown: fix them and check again");
    }
    if let (true, Some(exe)) = (report.success, report.executable) {
        // The binary validates its configuration.
        let config = Command::new(&exe)
            .args(["check", "--json"])
            .current_dir(root)
            .output()
            .map_err(|e| ToolError::new(format!("cannot run {}: {e}", exe.display())))?;
        let config_ok = config.status.success();
        out["ok"] = json!(config_ok);
        out["config"] = if config_ok {
            json!({"ok": true})
        } else {
            json!({"ok": false, "error": operate::clip(String::from_utf8_lossy(&config.stderr).trim(), 2000)})
        };
    }
    Ok(out)
}

fn routes_table(project: &Project, _call: &Call) -> ToolResult {
    let description = project.description()?;
    let routes = description["routes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut table = String::new();
    for r in &routes {
        table.push_str(&format!(
            "{:<7}{:<40}{:<28}{}\n",
            r["method"].as_str().unwrap_or_default(),
            r["path"].as_str().unwrap_or_default(),
            r["handler"].as_str().unwrap_or_default(),
            r["access"].as_str().unwrap_or_default()
        ));
    }
    Ok(json!({"count": routes.len(), "table": table}))
}

/// Runs a generator of this `bao` (or this app binary) in the app's folder.
fn generate(project: &Project, call: &Call, mut argv: Vec<String>) -> ToolResult {
    let root = project.root()?;
    let dry_run = call.flag("dry_run");
    if dry_run {
        argv.push("--dry-run".into());
    }
    if call.flag("force") && argv[0] != "make:migration" {
        argv.push("--force".into());
    }
    let exe = std::env::current_exe()
        .map_err(|e| ToolError::new(format!("cannot find this program: {e}")))?;
    let output = Command::new(exe)
        .args(&argv)
        .current_dir(root)
        .output()
        .map_err(|e| ToolError::new(format!("cannot run the generator: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    if !output.status.success() {
        return Err(ToolError::new(format!(
            "`bao {}` failed: {}",
            argv.join(" "),
            operate::clip(stderr.trim().trim_start_matches("error: "), 3000)
        )));
    }
    let mut files = Vec::new();
    if dry_run {
        // `--- PATH` then the contents, per file.
        let mut current: Option<(String, String)> = None;
        for line in stdout.lines() {
            if let Some(path) = line.strip_prefix("--- ") {
                files.extend(current.take());
                current = Some((path.to_string(), String::new()));
            } else if line.starts_with("(dry run") {
                continue;
            } else if let Some((_, contents)) = current.as_mut() {
                contents.push_str(line);
                contents.push('\n');
            }
        }
        files.extend(current);
        let files: Vec<Value> = files
            .into_iter()
            .map(|(path, contents)| {
                json!({"path": relative(root, Path::new(&path)), "contents": operate::clip(&contents, 3000)})
            })
            .collect();
        return Ok(json!({"dry_run": true, "files": files}));
    }
    let written: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("wrote "))
        .map(|p| relative(root, Path::new(p)))
        .collect();
    Ok(json!({
        "written": written,
        "output": operate::clip(stdout.trim(), 2000),
        "warnings": (!stderr.trim().is_empty()).then(|| operate::clip(stderr.trim(), 1000)),
    }))
}

fn tools(project: &Arc<Project>) -> Vec<ToolDef> {
    let dry = (
        "dry_run",
        "boolean",
        "return the files instead of writing them",
    );
    let force = ("force", "boolean", "overwrite files that exist");
    let public = ("public", "boolean", "no login required");
    vec![
        {
            let project = project.clone();
            mcp::describe_tool(move || project.description())
        },
        build_tool(project, "bao_check", "Build the app and validate its config; compiler errors come back as file, line, column, message, help.",
            &[], &[], check),
        build_tool(project, "bao_list", "Files of a kind: controllers, models, apis, workflows, tasks, agents, channels, views, templates, migrations, tests, static.",
            &[("kind", "string", "what to list"), ("cursor", "string", "next_cursor of the previous answer")], &["kind"], list),
        build_tool(project, "bao_inspect", "One item in depth with its source location: a model (and its migrations), route, api, workflow, task or agent.",
            &[("kind", "string", "model|route|api|workflow|task|agent"), ("name", "string", "its name, table, path or handler")],
            &["kind", "name"], inspect),
        build_tool(project, "bao_routes_table", "The app's routes as a text table: method, path, handler, access.", &[], &[], routes_table),
        build_tool(project, "bao_make_controller", "Generate a controller with pages, views and tests.",
            &[("name", "string", "UpperCamelCase, e.g. Reports"), ("actions", "string", "comma-separated, default index"), public, dry, force],
            &["name"], |p, call| {
                let mut argv = vec!["make:controller".to_string(), call.required("name")?.to_string()];
                if let Some(actions) = call.str("actions") { argv.extend(["--actions".into(), actions.into()]); }
                if call.flag("public") { argv.push("--public".into()); }
                generate(p, call, argv)
            }),
        build_tool(project, "bao_make_crud", "Generate a model, its migration, CRUD pages and tests.",
            &[("model", "string", "singular UpperCamelCase, e.g. Task"),
              ("fields", "string[]", "name[:type]; types str text int float bool datetime date time decimal enum(a|b) ref:Model"),
              public, dry, force],
            &["model", "fields"], |p, call| {
                let mut argv = vec!["make:crud".to_string(), call.required("model")?.to_string()];
                let fields: Vec<String> = match call.args.get("fields") {
                    Some(Value::Array(items)) => items.iter().filter_map(|f| f.as_str().map(str::to_string)).collect(),
                    Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
                    _ => Vec::new(),
                };
                if fields.is_empty() {
                    return Err(ToolError::new("`fields` is required: e.g. [\"title:str\", \"done:bool\"]"));
                }
                argv.extend(fields);
                if call.flag("public") { argv.push("--public".into()); }
                generate(p, call, argv)
            }),
        build_tool(project, "bao_make_migration", "Write the migration that brings the database to the models (both dialects).",
            &[("name", "string", "what it does, e.g. add notes to tasks"), dry], &["name"], |p, call| {
                generate(p, call, vec!["make:migration".to_string(), call.required("name")?.to_string()])
            }),
        build_tool(project, "bao_make_api", "Generate a JSON API resource (and tests) for a model.",
            &[("model", "string", "a #[bao::model] struct, e.g. Note"), public, dry, force], &["model"], |p, call| {
                let mut argv = vec!["make:api".to_string(), call.required("model")?.to_string()];
                if call.flag("public") { argv.push("--public".into()); }
                generate(p, call, argv)
            }),
    ]
}

/// The toolbox of `bao mcp:serve` in the current folder; `in_app` is the
/// app's own description when this runs inside the app binary.
fn toolbox(in_app: Option<Value>) -> Result<(Toolbox, String), String> {
    let root = find_app_root();
    if let Ok(root) = &root {
        // `.env` and `migrations/` are read from the app's folder.
        std::env::set_current_dir(root)
            .map_err(|e| format!("cannot enter {}: {e}", root.display()))?;
    }
    let config = crate::Config::from_env().map_err(|e| format!("configuration: {e}"))?;
    let pool = crate::db::DbPool::new(&config.database_url).ok();
    let app_name = in_app
        .as_ref()
        .and_then(|d| d["app"]["name"].as_str().map(str::to_string))
        .or_else(|| {
            root.as_ref()
                .ok()
                .and_then(|r| r.file_name())
                .map(|n| n.to_string_lossy().to_string())
        })
        .unwrap_or_else(|| "no app".into());
    let allow_write = config.mcp_allow_write;
    let mut toolbox = Toolbox::new(mcp::secret_values(&config));
    let project = Arc::new(Project {
        root,
        described: Mutex::new(None),
        in_app,
    });
    toolbox.add(tools(&project), allow_write);
    let ops = operate::Ops::new(Arc::new(config), pool);
    toolbox.add(operate::tools(&ops), allow_write);
    Ok((toolbox, app_name))
}

/// `bao mcp:serve`: JSON-RPC on stdin/stdout, logs on stderr only.
pub(super) fn serve(in_app: Option<Value>) -> ExitCode {
    let (toolbox, app_name) = match toolbox(in_app) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    // Logs go to stderr: stdout carries the protocol and nothing else.
    let level = std::env::var("BAO_LOG_LEVEL").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let server = BaoMcp::new(toolbox, &app_name);
    let served = runtime.block_on(async move {
        use rmcp::ServiceExt;
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| e.to_string())?;
        running.waiting().await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("mcp: {e}")),
    }
}

/// `bao mcp:tools`: the tools and the size of their list.
pub(super) fn list_tools(args: &McpToolsArgs) -> ExitCode {
    let config = crate::Config::from_env().unwrap_or_default();
    let project = Arc::new(Project {
        root: Err("listing only".into()),
        described: Mutex::new(None),
        in_app: None,
    });
    let mut toolbox = Toolbox::new(Vec::new());
    toolbox.add(tools(&project), true);
    toolbox.add(
        operate::tools(&operate::Ops::new(Arc::new(config), None)),
        true,
    );
    let listing = serde_json::to_string(&json!({"tools": toolbox.listing()})).unwrap_or_default();
    if args.json {
        println!("{listing}");
        return ExitCode::SUCCESS;
    }
    for tool in toolbox.tools() {
        let gate = match tool.access {
            Access::Write => " (BAO_MCP_ALLOW_WRITE=1)",
            _ => "",
        };
        println!("{:<22} {}{gate}", tool.name, tool.description);
    }
    println!(
        "\n{} tools; the tools/list answer is {} bytes, about {} tokens",
        toolbox.tools().len(),
        listing.len(),
        listing.len().div_ceil(4)
    );
    ExitCode::SUCCESS
}
