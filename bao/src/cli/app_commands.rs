//! Commands served by the app binary itself: it knows its routes and config.

use super::{fail, Command, JsonArgs, ServeArgs};
use crate::config::{Config, CONFIG_KEYS};
use crate::{App, RouteInfo};
use serde_json::json;
use std::process::ExitCode;

pub(super) fn run(app: App, command: Command) -> ExitCode {
    match command {
        Command::Serve(args) => serve(app, &args),
        Command::Run(args) => serve(
            app,
            &ServeArgs {
                bind: args.bind,
                workers: None,
                allow_unmigrated: false,
            },
        ),
        Command::Routes(args) => {
            // A configuration that does not load is reported by `bao check`;
            // the route table is still worth showing.
            let routes = match Config::from_env() {
                Ok(config) => app.served_routes(&app.resolve_config(config)),
                Err(_) => app.routes(),
            };
            print_routes(&routes, args.json);
            ExitCode::SUCCESS
        }
        Command::Check(args) => check(app, &args),
        Command::Describe(args) => describe(app, &args),
        Command::McpServe => match load_config(&app) {
            Ok(config) => super::mcp_commands::serve(Some(description(&app, &config))),
            Err(code) => code,
        },
        Command::McpTools(args) => super::mcp_commands::list_tools(&args),
        Command::Config(args) => config(&app, &args),
        Command::Init(args) => super::init::run(&args),
        Command::MakeMigration(args) => match load_config(&app) {
            Ok(config) => super::migrations::make(
                &config.migrations_dir,
                &args,
                (!args.empty).then(|| app.model_infos()),
            ),
            Err(code) => code,
        },
        Command::Migrate => with_database(&app, super::migrations::migrate),
        Command::DbSeed => seed(&app),
        Command::DbCreate => db_create(&app),
        Command::DbDrop(args) => db_drop(&app, &args),
        Command::DbReset(args) => match db_drop(&app, &args) {
            code if code != ExitCode::SUCCESS => code,
            _ => match db_create(&app) {
                code if code != ExitCode::SUCCESS => code,
                _ => match with_database(&app, super::migrations::migrate) {
                    code if code != ExitCode::SUCCESS => code,
                    _ if app.seeder().is_some() => seed(&app),
                    code => code,
                },
            },
        },
        Command::MigrateRollback(args) => with_database(&app, |config, conn| {
            super::migrations::rollback(config, conn, args.steps as usize)
        }),
        Command::MigrateStatus(args) => with_database(&app, |config, conn| {
            super::migrations::status(config, conn, args.json)
        }),
        Command::MakeAuth(args) => super::project::make_auth(&args),
        Command::MakeApi(args) => super::project::make_api(&args),
        Command::MakeCrud(args) => super::project::make_crud(&args),
        Command::Worker => super::workflow_commands::worker(app),
        Command::WorkflowsList(args) => {
            with_database(&app, |_, conn| super::workflow_commands::list(conn, &args))
        }
        Command::WorkflowsShow(args) => {
            with_database(&app, |_, conn| super::workflow_commands::show(conn, &args))
        }
        Command::WorkflowsSignal(args) => with_database(&app, |_, conn| {
            super::workflow_commands::signal(conn, &args)
        }),
        Command::WorkflowsCancel(args) => with_database(&app, |_, conn| {
            super::workflow_commands::change(conn, &args, "cancel")
        }),
        Command::WorkflowsReplay(args) if args.deterministic_check => {
            super::workflow_commands::check(&app, &args)
        }
        Command::WorkflowsReplay(args) => with_database(&app, |_, conn| {
            let run = super::WorkflowRunArgs {
                run_id: args.run_id.clone(),
                json: args.json,
            };
            super::workflow_commands::adopt_version(&app, conn, &run)?;
            super::workflow_commands::change(conn, &run, "replay")
        }),
        Command::WorkflowsResume(args) => with_database(&app, |_, conn| {
            super::workflow_commands::change(conn, &args, "resume")
        }),
        Command::SchedulerRun(args) => super::workflow_commands::scheduler_run(app, &args),
        Command::TasksList(args) => with_database(&app, |_, conn| {
            super::workflow_commands::tasks_list(&app, conn, &args)
        }),
        Command::TasksRun(args) => super::workflow_commands::tasks_run(&app, &args),
        Command::WorkflowsStart(args) => super::workflow_commands::start(&app, &args),
        Command::AiAsk(args) => super::ai_commands::ask(&app, &args),
        Command::AiStream(args) => super::ai_commands::stream(&app, &args),
        Command::AiProviders(args) => super::ai_commands::providers(&app, &args),
        Command::Logs(args) => super::log_commands::logs(&app, &args),
        Command::AdminLink(args) => super::plugin_commands::admin_link(&app, &args),
        Command::AdminEject(args) => super::admin_commands::eject(&args),
        Command::PluginsList(args) => super::plugin_commands::list(&app, &args),
        Command::PluginsAudit(args) => super::plugin_commands::audit(&app, &args),
        Command::AgentsList(args) => super::agent_commands::list(&app, &args),
        Command::AgentsRun(args) => super::agent_commands::run(&app, &args),
        Command::AgentsShow(args) => super::agent_commands::show(&app, &args),
        Command::AgentsPending(args) => super::agent_commands::pending(&app, &args),
        Command::AgentsApprove(args) => super::agent_commands::decide(&app, &args, true),
        Command::AgentsDeny(args) => super::agent_commands::decide(&app, &args, false),
        Command::MemoryAdd(args) => super::memory_commands::add(&app, &args),
        Command::MemorySearch(args) => super::memory_commands::search(&app, &args),
        Command::MemoryPrune(args) => super::memory_commands::prune(&app, &args),
        Command::RagIngest(args) => super::memory_commands::ingest(&app, &args),
        Command::RagRetrieve(args) => super::memory_commands::retrieve(&app, &args),
        Command::RagAsk(args) => super::memory_commands::ask(&app, &args),
        Command::DlqList(args) => with_database(&app, |_, conn| {
            super::workflow_commands::dlq_list(conn, &args)
        }),
        Command::DlqReplay(args) => with_database(&app, |_, conn| {
            super::workflow_commands::dlq_replay(&app, conn, &args)
        }),
        Command::DlqPurge(args) => with_database(&app, |_, conn| {
            super::workflow_commands::dlq_purge(conn, &args)
        }),
        Command::MakeController(args) => super::project::make_controller(&args),
        Command::MakeTask(args) => super::project::make_task(&args),
        Command::MakeScript(args) => super::project::make_script(&args),
        Command::RunScript(args) => super::project::run_script(&args),
        Command::MakeDockerfile(args) => super::project::make_dockerfile(&args),
        Command::Openapi(args) => openapi(&app, &args),
        Command::TokensIssue(args) => with_database(&app, |_, conn| {
            super::auth_commands::issue(&app, conn, &args)
        }),
        Command::TokensList(args) => {
            with_database(&app, |_, conn| super::auth_commands::list(conn, &args))
        }
        Command::TokensRevoke(args) => {
            with_database(&app, |_, conn| super::auth_commands::revoke(conn, &args))
        }
        Command::Audit(args) => {
            with_database(&app, |_, conn| super::auth_commands::audit(conn, &args))
        }
        Command::Test(_) => fail(
            "`test` builds the app: run it with the installed CLI (`bao test`) or `cargo test`",
        ),
    }
}

pub(super) fn load_config(app: &App) -> Result<Config, ExitCode> {
    let config = Config::from_env()
        .map(|config| app.resolve_config(config))
        .map_err(|e| fail(format!("configuration: {e}")))?;
    // After `.env` is loaded: a misspelt setting would otherwise be ignored
    // without a word.
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    for (name, near) in Config::unknown_variables(names.iter().map(String::as_str)) {
        match near {
            Some(near) => eprintln!(
                "warning: {name} is not a Bao setting and is ignored; did you mean {near}? (`bao config` lists them all)"
            ),
            None => eprintln!(
                "warning: {name} is not a Bao setting and is ignored (`bao config` lists them all)"
            ),
        }
    }
    Ok(config)
}

/// `bao db:seed`: pending migrations, then the app's seed function.
fn seed(app: &App) -> ExitCode {
    let Some(seeder) = app.seeder().cloned() else {
        return fail("this app has no seed data: register it in `setup` with `app.seed(|db| async move { .. })`");
    };
    let migrated = with_database(app, super::migrations::migrate);
    if migrated != ExitCode::SUCCESS {
        return migrated;
    }
    let ready = match super::app_runtime(app) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match ready.runtime.block_on(seeder(ready.pool.clone())) {
        Ok(()) => {
            println!("seeded");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("seeding failed: {e}")),
    }
}

/// `bao db:create`.
fn db_create(app: &App) -> ExitCode {
    let config = match load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let shown = crate::support::units::redact_url(&config.database_url);
    match crate::db::lifecycle::create(&config.database_url) {
        Ok(crate::db::lifecycle::Outcome::Done) => {
            println!("created {shown}");
            ExitCode::SUCCESS
        }
        Ok(crate::db::lifecycle::Outcome::Already) => {
            println!("{shown} already exists");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// `bao db:drop [--force]`.
fn db_drop(app: &App, args: &super::DbDropArgs) -> ExitCode {
    let config = match load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if config.env == crate::config::Environment::Production && !args.force {
        return fail(
            "BAO_ENV is production: dropping its database loses every row; pass --force if that is what you want",
        );
    }
    let shown = crate::support::units::redact_url(&config.database_url);
    match crate::db::lifecycle::drop(&config.database_url, args.force) {
        Ok(crate::db::lifecycle::Outcome::Done) => {
            println!("dropped {shown}");
            ExitCode::SUCCESS
        }
        Ok(crate::db::lifecycle::Outcome::Already) => {
            println!("{shown} does not exist");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

/// Runs `work` with the configured database; errors become the exit status.
fn with_database(
    app: &App,
    work: impl FnOnce(&Config, &mut crate::db::DbConnection) -> Result<(), crate::db::DbError>,
) -> ExitCode {
    let config = match load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::obs::init_logging(&Config {
        log_level: "warn".into(),
        ..config.clone()
    });
    let result = crate::db::DbPool::new(&config.database_url).and_then(|pool| {
        let mut conn = pool.get()?;
        work(&config, &mut conn)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn serve(app: App, args: &ServeArgs) -> ExitCode {
    let mut config = match load_config(&app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(host) = &args.bind.host {
        config.host = host.clone();
    }
    if let Some(port) = args.bind.port {
        config.port = port;
    }
    if let Some(workers) = args.workers {
        config.workers = workers.max(1);
    }
    crate::obs::init_logging(&config);
    match crate::db::unmigrated_changes(app.model_infos(), &config.migrations_dir) {
        Ok(changes) if !changes.is_empty() => {
            let problem = format!(
                "the models changed since the last generated migration ({}), so queries of \
                 those columns and tables will fail:\n{}\nrun `bao make:migration NAME`, review \
                 it, then `bao migrate`",
                config.migrations_dir.join(crate::db::SNAPSHOT).display(),
                changes
                    .iter()
                    .map(|c| format!("  - {c}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            if config.env == crate::config::Environment::Production && !args.allow_unmigrated {
                return fail(format!(
                    "{problem}\n(`bao serve --allow-unmigrated` starts anyway)"
                ));
            }
            // Said on the terminal as well as in the log, which may be JSON.
            eprintln!("warning: {problem}");
            tracing::error!(changes = %changes.join("; "), "models changed without a migration");
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, "could not compare the models with the schema snapshot")
        }
    }
    if config.auto_migrate {
        if let Err(e) = super::migrations::auto_migrate(&config) {
            return fail(e);
        }
    }
    let result = actix_web::rt::System::new().block_on(crate::serve(app, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn check(app: App, args: &JsonArgs) -> ExitCode {
    let config = match load_config(&app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let routes = app.routes();
    // Models changed without a migration would fail at their first query.
    let unmigrated = match crate::db::unmigrated_changes(app.model_infos(), &config.migrations_dir)
    {
        Ok(changes) => changes,
        Err(e) => {
            return fail(format!(
                "cannot compare the models with the schema snapshot: {e}"
            ))
        }
    };
    if !unmigrated.is_empty() {
        if args.json {
            let out = json!({"ok": false, "app": app.name(), "unmigrated": unmigrated, "env": config.env});
            println!("{out:#}");
        } else {
            eprintln!(
                "error: the models changed since the last generated migration ({}):",
                config.migrations_dir.join(crate::db::SNAPSHOT).display()
            );
            for change in &unmigrated {
                eprintln!("  - {change}");
            }
            eprintln!("  write the migration with `bao make:migration NAME` (review it, then `bao migrate`)");
        }
        return ExitCode::FAILURE;
    }
    if args.json {
        let out = json!({"ok": true, "app": app.name(), "routes": routes, "env": config.env});
        println!("{out:#}");
    } else {
        println!(
            "{} {}: configuration valid, {} routes",
            app.name(),
            app.version(),
            routes.len()
        );
        print_routes(&routes, false);
    }
    ExitCode::SUCCESS
}

pub(crate) fn print_routes(routes: &[RouteInfo], as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(routes).unwrap_or_default()
        );
        return;
    }
    let width = routes
        .iter()
        .map(|r| r.path.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<7} {:<width$}  {:<12} HANDLER",
        "METHOD", "PATH", "ACCESS"
    );
    for r in routes {
        let handler = format!("{}::{}", r.controller, r.handler);
        println!(
            "{:<7} {:<width$}  {:<12} {handler}",
            r.method, r.path, r.access
        );
    }
}

/// What `bao describe --json` prints.
pub(super) fn description(app: &App, config: &Config) -> serde_json::Value {
    let resolved = config.resolved();
    let keys: Vec<_> = CONFIG_KEYS
        .iter()
        .map(|k| {
            json!({
                "name": k.name,
                "value": resolved.get(k.name),
                "default": k.default,
                "expected": k.expected,
                "description": k.description,
                "secret": k.secret,
            })
        })
        .collect();
    let commands: Vec<_> = <super::Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .map(|c| json!({"name": c.get_name(), "about": c.get_about().map(|a| a.to_string())}))
        .collect();
    // When the app is running at its configured address, its breakers' live
    // state comes from its /metrics.
    let address = format!("{}:{}", config.host, config.port);
    let live = match crate::fault::metrics::live_breakers(&address) {
        Ok(breakers) => json!({"from": format!("http://{address}/metrics"), "breakers": breakers}),
        Err(_) => serde_json::Value::Null,
    };
    let mut description = json!({
        "app": {"name": app.name(), "version": app.version()},
        "bao": {"version": env!("CARGO_PKG_VERSION")},
        "config": keys,
        "commands": commands,
        "endpoints": {"health": "/healthz", "ready": "/readyz", "metrics": if config.metrics_enabled { Some("/metrics") } else { None }},
        "ai_providers": app.ai_router().map(|r| r.provider_names()),
        "scheduler_enabled": config.enable_scheduler,
        "circuit_breakers": crate::fault::CircuitBreaker::all(),
        "circuit_breakers_live": live,
    });
    if let (Some(out), serde_json::Value::Object(parts)) =
        (description.as_object_mut(), app.parts(config))
    {
        out.extend(parts);
    }
    description
}

fn describe(app: App, args: &JsonArgs) -> ExitCode {
    let config = match load_config(&app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let description = description(&app, &config);
    let live = description["circuit_breakers_live"].clone();
    if args.json {
        println!("{description:#}");
    } else {
        println!(
            "{} {} (bao {})",
            app.name(),
            app.version(),
            env!("CARGO_PKG_VERSION")
        );
        println!("\nRoutes:");
        print_routes(&app.served_routes(&config), false);
        println!("\nChannels:");
        for c in app.channels() {
            println!("  {:<24} {}", c.kind, c.access_name());
        }
        if !app.schedules().is_empty() {
            println!("\nSchedules:");
            for s in app.schedules() {
                println!("  {:<24} {}", s.name, s.text);
            }
        }
        if let Some(breakers) = live["breakers"].as_array().filter(|b| !b.is_empty()) {
            println!(
                "\nCircuit breakers of the server at {}:",
                live["from"].as_str().unwrap_or_default()
            );
            for b in breakers {
                println!(
                    "  {:<24} {:<9} opened {} times, {} calls refused",
                    b["name"].as_str().unwrap_or_default(),
                    b["state"].as_str().unwrap_or_default(),
                    b["opened_total"],
                    b["rejected_total"]
                );
            }
        }
        let breakers = crate::fault::CircuitBreaker::all();
        if !breakers.is_empty() {
            println!("\nCircuit breakers:");
            for b in breakers {
                println!(
                    "  {:<24} {:<9} {} of {} failures, open for {} ms",
                    b.name,
                    b.state.to_string(),
                    b.consecutive_failures,
                    b.failure_threshold,
                    b.recovery_timeout_ms
                );
            }
        }
        println!("\nConfiguration keys:");
        for k in CONFIG_KEYS {
            println!("  {:<28} {}", k.name, k.description);
        }
        println!("\nRun `bao describe --json` for the machine-readable form.");
    }
    ExitCode::SUCCESS
}

/// `bao openapi [--out FILE] [--check [FILE]]`.
fn openapi(app: &App, args: &super::OpenapiArgs) -> ExitCode {
    let Some(document) = app.openapi_document() else {
        return fail("this app has no API resources: add #[bao::api] structs to `apis: [..]` in bao::app! (or run `bao make:api Model`)");
    };
    let json = match document.to_pretty_json() {
        Ok(text) => text + "\n",
        Err(e) => return fail(format!("cannot serialize the document: {e}")),
    };
    if let Some(path) = &args.check {
        return match std::fs::read_to_string(path) {
            Ok(committed) if committed == json => {
                println!("{} matches the code", path.display());
                ExitCode::SUCCESS
            }
            Ok(_) => fail(format!(
                "{} is stale: the API changed; run `bao openapi --out {}` and commit it",
                path.display(),
                path.display()
            )),
            Err(e) => fail(format!(
                "cannot read {}: {e} (write it with `bao openapi --out {}`)",
                path.display(),
                path.display()
            )),
        };
    }
    match &args.out {
        Some(path) => match std::fs::write(path, &json) {
            Ok(()) => {
                println!("wrote {}", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => fail(format!("cannot write {}: {e}", path.display())),
        },
        None => {
            print!("{json}");
            ExitCode::SUCCESS
        }
    }
}

fn config(app: &App, args: &JsonArgs) -> ExitCode {
    let config = match load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let resolved = config.resolved();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resolved).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    for key in CONFIG_KEYS {
        let value = match resolved.get(key.name).map(String::as_str) {
            None | Some("") => "(unset)",
            Some(v) => v,
        };
        let source = if std::env::var_os(key.name).is_some() {
            "set"
        } else {
            "default"
        };
        println!("{:<28} = {value}  ({source})", key.name);
    }
    ExitCode::SUCCESS
}
