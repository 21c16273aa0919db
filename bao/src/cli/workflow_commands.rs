//! `bao worker` and `bao workflows:*`.

use super::{fail, SignalArgs, WorkflowRunArgs, WorkflowsListArgs};
use crate::db::{DbConnection, DbError};
use crate::workflow::store;
use crate::App;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string(),
    )
}

/// Runs the workers until SIGTERM or SIGINT.
pub(super) fn worker(app: App) -> ExitCode {
    let config = match super::app_commands::load_config(&app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::obs::init_logging(&config);
    if app.workflows().is_empty() && app.tasks().is_empty() {
        return fail("this app has no workflows or tasks: add #[bao::workflow] functions to `workflows: [..]` or #[bao::task] functions to `tasks: [..]` in bao::app!");
    }
    let drain = config.shutdown_drain_timeout;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    crate::task::configure(&config);
    let running = crate::app::Running::new(&app, config);
    if running.core.db.is_none() {
        return fail("the database is not usable: check BAO_DATABASE_URL");
    }
    let stop = Arc::new(AtomicBool::new(false));
    // Listening before any work starts: an early SIGTERM still drains.
    watch_signals(&runtime, stop.clone());
    let background = match running.start_workers(stop.clone()) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    runtime.block_on(async {
        running.start_up().await;
        tracing::info!(
            workflows = app.workflows().len(),
            tasks = app.tasks().len(),
            "worker started"
        );
        while !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if let Some(background) = background {
            background.finish(drain).await;
        }
        crate::task::wait_background(drain).await;
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::SUCCESS
}

/// `bao workflows:replay RUN --deterministic-check`: non-zero when a step
/// diverges.
pub(super) fn check(app: &App, args: &super::ReplayArgs) -> ExitCode {
    let config = match super::app_commands::load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let pool = match crate::db::DbPool::new(&config.database_url) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match runtime.block_on(crate::workflow::check(&pool, app.workflows(), &args.run_id)) {
        Ok(found) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&found).unwrap_or_default()
                );
            } else if found.is_empty() {
                println!(
                    "{}: every completed step gives its recorded result",
                    args.run_id
                );
            } else {
                for d in &found {
                    println!(
                        "step {} `{}`: recorded {}, now {}",
                        d.seq, d.step, d.recorded, d.now
                    );
                }
            }
            if found.is_empty() {
                ExitCode::SUCCESS
            } else {
                fail(format!(
                    "{} step(s) diverge from their recorded results",
                    found.len()
                ))
            }
        }
        Err(e) => fail(e),
    }
}

pub(super) fn list(conn: &mut DbConnection, args: &WorkflowsListArgs) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let runs = store::list_runs(conn, args.status.as_deref(), i64::from(args.limit))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return Ok(());
    }
    if runs.is_empty() {
        println!("no workflow runs");
    }
    for r in runs {
        println!(
            "{:<38} {:<20} {:<10} attempts {:<3} {}{}",
            r.id,
            r.workflow,
            r.status,
            r.attempts,
            when(r.created_at),
            r.error.map(|e| format!("  error: {e}")).unwrap_or_default()
        );
    }
    Ok(())
}

pub(super) fn show(conn: &mut DbConnection, args: &WorkflowRunArgs) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let run = store::find_run(conn, &args.run_id)?.ok_or(DbError::NotFound)?;
    let steps = store::steps(conn, &args.run_id)?;
    if args.json {
        println!("{:#}", serde_json::json!({"run": run, "steps": steps}));
        return Ok(());
    }
    println!(
        "{} ({} v{}): {}",
        run.id, run.workflow, run.version, run.status
    );
    println!("  input:  {}", run.input);
    if let Some(output) = &run.output {
        println!("  output: {output}");
    }
    if let Some(error) = &run.error {
        println!("  error:  {error}");
    }
    for s in steps {
        println!(
            "  {:>3}. {:<30} {:<9} attempts {}  {}",
            s.seq,
            s.name,
            s.status,
            s.attempts,
            s.error
                .or(s.result)
                .unwrap_or_default()
                .chars()
                .take(80)
                .collect::<String>()
        );
    }
    Ok(())
}

/// `bao workflows:start NAME [INPUT] [--id ID] [--wait] [--json]`.
pub(super) fn start(app: &App, args: &super::WorkflowStartArgs) -> ExitCode {
    let Some(def) = app.workflows().iter().find(|w| w.name == args.name) else {
        let names: Vec<&str> = app.workflows().iter().map(|w| w.name).collect();
        let hint = bao_codegen::diag::closest(&args.name, &names)
            .map(|n| format!("; did you mean `{n}`?"))
            .unwrap_or_default();
        return fail(format!(
            "no workflow named `{}`{hint} (the workflows are: {})",
            args.name,
            if names.is_empty() {
                "none: add #[bao::workflow] functions to `workflows: [..]` in bao::app!".to_string()
            } else {
                names.join(", ")
            }
        ));
    };
    let input: serde_json::Value = match serde_json::from_str(&args.input) {
        Ok(v) => v,
        Err(e) => {
            return fail(format!(
                "the input is not JSON ({e}): quote it for the shell, like '{{\"order_id\": 7}}'"
            ))
        }
    };
    let ready = match super::app_runtime(app) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let settings = crate::workflow::WorkerSettings {
        lease: ready.config.workflow_lease,
        poll: ready.config.workflow_poll,
    };
    let pool = ready.pool.clone();
    let defs: Vec<_> = app.workflows().to_vec();
    let result = ready.runtime.block_on(async {
        let handle =
            crate::workflow::start(&pool, def.name, def.version, &input, args.id.as_deref())
                .await?;
        let find = |id: String| {
            let pool = pool.clone();
            async move {
                pool.run(move |c| store::find_run(c, &id))
                    .await?
                    .ok_or(crate::Error::NotFound)
            }
        };
        let mut run = find(handle.id.clone()).await?;
        if args.wait {
            // Run it here; a worker may have claimed it first, and then
            // this waits for that worker to finish or park it.
            loop {
                match run.status.as_str() {
                    "pending" => {
                        crate::workflow::run_now(&pool, &defs, &run.id, settings).await?;
                    }
                    "running" => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                    _ => break,
                }
                run = find(run.id.clone()).await?;
            }
        }
        Ok::<_, crate::Error>((handle.created, run))
    });
    let (created, run) = match result {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    if args.json {
        println!("{:#}", serde_json::json!({"created": created, "run": run}));
    } else {
        let verb = if created { "started" } else { "already exists" };
        println!(
            "run {} ({} v{}) {verb}: {}",
            run.id, run.workflow, run.version, run.status
        );
        if let Some(output) = &run.output {
            println!("  output: {output}");
        }
        if let Some(error) = &run.error {
            println!("  error:  {error}");
        }
        match run.status.as_str() {
            "pending" => println!(
                "A worker runs it (`bao serve` or `bao worker`); `bao workflows:show {}` shows its steps.",
                run.id
            ),
            "sleeping" | "waiting" => println!(
                "It is parked; a worker carries it on when it is due (`bao workflows:signal {}` sends a signal).",
                run.id
            ),
            _ => {}
        }
    }
    if run.status == "failed" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

pub(super) fn signal(conn: &mut DbConnection, args: &SignalArgs) -> Result<(), DbError> {
    if serde_json::from_str::<serde_json::Value>(&args.payload).is_err() {
        return Err(DbError::Config(format!(
            "the payload `{}` is not JSON: quote it, like '{{\"by\":\"ops\"}}'",
            args.payload
        )));
    }
    crate::db::system::migrate(conn)?;
    store::find_run(conn, &args.run_id)?.ok_or(DbError::NotFound)?;
    store::send_signal(conn, &args.run_id, &args.name, &args.payload)?;
    println!("sent `{}` to {}", args.name, args.run_id);
    Ok(())
}

/// A replayed run continues on this build's version of its workflow.
pub(super) fn adopt_version(
    app: &App,
    conn: &mut DbConnection,
    args: &WorkflowRunArgs,
) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let run = store::find_run(conn, &args.run_id)?.ok_or(DbError::NotFound)?;
    if let Some(def) = app.workflows().iter().find(|d| d.name == run.workflow) {
        store::set_version(conn, &run.id, def.version)?;
    }
    Ok(())
}

pub(super) fn change(
    conn: &mut DbConnection,
    args: &WorkflowRunArgs,
    what: &str,
) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let run = store::find_run(conn, &args.run_id)?.ok_or(DbError::NotFound)?;
    let changed = match what {
        "cancel" => store::set_status(
            conn,
            &run.id,
            &["pending", "running", "sleeping", "waiting"],
            "cancelled",
        )?,
        "replay" => {
            store::drop_failed_steps(conn, &run.id)?;
            store::set_status(conn, &run.id, &["failed", "cancelled"], "pending")?
        }
        _ => store::set_status(conn, &run.id, &["sleeping", "waiting"], "pending")?,
    };
    if changed {
        println!("{what}: {} was {}", run.id, run.status);
        Ok(())
    } else {
        Err(DbError::Config(format!(
            "cannot {what} {}: it is {}",
            run.id, run.status
        )))
    }
}

pub(super) fn tasks_list(
    app: &App,
    conn: &mut DbConnection,
    args: &super::TasksListArgs,
) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let tasks = crate::task::store::list(conn, args.status.as_deref(), i64::from(args.limit))?;
    let now = chrono::Utc::now();
    let definitions: Vec<serde_json::Value> = app
        .tasks()
        .iter()
        .filter(|t| !t.name.starts_with("every:"))
        .map(|t| {
            serde_json::json!({
                "name": t.name,
                "kind": if t.kind == crate::task::TaskKind::Cpu { "cpu" } else { "io" },
                "max_attempts": t.max_attempts,
                "max_concurrency": t.max_concurrency,
            })
        })
        .collect();
    let schedules: Vec<serde_json::Value> = app
        .schedules()
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "schedule": s.text,
                "task": s.task.name,
                "missed": s.missed,
                "next": s.next_after(now).map(|t| t.to_rfc3339()),
                "last_slot": crate::task::schedule::last_slot(conn, s.name)
                    .ok()
                    .flatten()
                    .map(when),
            })
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "tasks": definitions,
                "schedules": schedules,
                "recent": tasks,
            }))
            .unwrap_or_default()
        );
        return Ok(());
    }
    println!("TASK                     KIND  ATTEMPTS  CONCURRENCY");
    for d in &definitions {
        println!(
            "{:<24} {:<5} {:<9} {}",
            d["name"].as_str().unwrap_or_default(),
            d["kind"].as_str().unwrap_or_default(),
            d["max_attempts"].to_string(),
            d["max_concurrency"]
        );
    }
    if !schedules.is_empty() {
        println!("\nSCHEDULE                 EVERY                          NEXT                       LAST");
        for s in &schedules {
            println!(
                "{:<24} {:<30} {:<26} {}",
                s["name"].as_str().unwrap_or_default(),
                s["schedule"].as_str().unwrap_or_default(),
                s["next"].as_str().unwrap_or("-"),
                s["last_slot"].as_str().unwrap_or("never"),
            );
        }
    }
    println!();
    if tasks.is_empty() {
        println!("no tasks enqueued");
    }
    for t in tasks {
        println!(
            "{:<8} {:<24} {:<7} attempts {}/{} priority {:<3} {}  args {}{}",
            t.id,
            t.name,
            t.status,
            t.attempts,
            t.max_attempts,
            t.priority,
            when(t.created_at),
            t.args,
            t.error.map(|e| format!("  error: {e}")).unwrap_or_default()
        );
    }
    Ok(())
}

/// `bao tasks:run NAME [ARGS] [--enqueue]`.
pub(super) fn tasks_run(app: &App, args: &super::TasksRunArgs) -> ExitCode {
    let config = match super::app_commands::load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::obs::init_logging(&config);
    crate::task::configure(&config);
    let pool = match crate::db::DbPool::new(&config.database_url) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let enqueued = pool
        .get()
        .and_then(|mut conn| enqueue_by_name(app, &mut conn, args));
    let (def, id) = match enqueued {
        Ok(found) => found,
        Err(e) => return fail(e),
    };
    if args.enqueue {
        println!("enqueued task {id} ({})", def.name);
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    match runtime.block_on(crate::task::run_now(&pool, def, id)) {
        Ok(Some(row)) if row.status == "done" => {
            println!("task {id} ({}) done", def.name);
            ExitCode::SUCCESS
        }
        Ok(Some(row)) => fail(format!(
            "task {id} ({}) failed: {}; it is {} ({} of {} attempts{})",
            def.name,
            row.error.unwrap_or_default(),
            row.status,
            row.attempts,
            row.max_attempts,
            if row.status == "dead" {
                ", see `bao dlq:list`"
            } else {
                ", a worker retries it"
            }
        )),
        Ok(None) => fail(format!(
            "task {id} was taken by a worker before it could run here"
        )),
        Err(e) => fail(e),
    }
}

fn enqueue_by_name(
    app: &App,
    conn: &mut DbConnection,
    args: &super::TasksRunArgs,
) -> Result<(crate::task::TaskDef, i64), DbError> {
    // A schedule's name runs one tick of it, for the current time.
    let schedule = app
        .schedules()
        .iter()
        .find(|s| s.name == args.name || s.task.name == args.name);
    let def = schedule
        .map(|s| &s.task)
        .or_else(|| app.tasks().iter().find(|t| t.name == args.name));
    let Some(def) = def else {
        let names: Vec<&str> = app
            .tasks()
            .iter()
            .map(|t| t.name.strip_prefix("every:").unwrap_or(t.name))
            .collect();
        return Err(DbError::Config(format!(
            "no task `{}`: the tasks are {}",
            args.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )));
    };
    let value: serde_json::Value = if schedule.is_some() {
        serde_json::json!({ "slot": crate::support::clock::now_ms(), "catch_up": false })
    } else {
        serde_json::from_str(&args.args).map_err(|e| {
            DbError::Config(format!("the arguments `{}` are not JSON: {e}", args.args))
        })?
    };
    if schedule.is_none() && !value.is_array() {
        return Err(DbError::Config(
            "the arguments are a JSON array, in order: '[42]'".into(),
        ));
    }
    crate::db::system::migrate(conn)?;
    let (id, _) = crate::task::store::insert(
        conn,
        def.name,
        &value.to_string(),
        0,
        i32::try_from(def.max_attempts).unwrap_or(i32::MAX),
        0,
        None,
        crate::task::max_inflight(),
    )?
    .ok_or_else(|| DbError::Conflict("the task queue is full: try again later".into()))?;
    Ok((*def, id))
}

/// `bao scheduler:run [--once]`.
pub(super) fn scheduler_run(app: App, args: &super::SchedulerRunArgs) -> ExitCode {
    let config = match super::app_commands::load_config(&app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::obs::init_logging(&config);
    crate::task::configure(&config);
    if app.schedules().is_empty() {
        return fail("this app has no schedules: add #[bao::every(\"30s\")] functions to `schedules: [..]` in bao::app!");
    }
    let pool = match crate::db::DbPool::new(&config.database_url) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Err(e) = pool
        .get()
        .and_then(|mut c| crate::db::system::migrate(&mut c))
    {
        return fail(e);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let ticks: Vec<crate::task::TaskDef> = app.schedules().iter().map(|s| s.task).collect();
    if args.once {
        let owner = format!("scheduler:{}", std::process::id());
        let mut scheduler = crate::task::Scheduler::new(app.schedules().to_vec(), owner);
        let outcome = runtime.block_on(async {
            let fired = scheduler.fire_due_once(&pool, chrono::Utc::now()).await?;
            for f in &fired {
                println!(
                    "fired {} for slot {} (task {})",
                    f.schedule,
                    f.slot.to_rfc3339(),
                    f.task_id
                );
            }
            if fired.is_empty() {
                println!("nothing due: every schedule's latest slot has fired");
            }
            crate::task::drain(&pool, &ticks).await
        });
        return match outcome {
            Ok(n) => {
                println!("ran {n} tick(s)");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    let stop = Arc::new(AtomicBool::new(false));
    watch_signals(&runtime, stop.clone());
    runtime.block_on(async {
        let settings = crate::task::TaskSettings {
            lease: config.workflow_lease,
            poll: config.workflow_poll,
        };
        let workers = tokio::spawn(crate::task::work(
            pool.clone(),
            ticks,
            settings,
            config.task_concurrency,
            stop.clone(),
        ));
        crate::task::run_scheduler(pool.clone(), app.schedules().to_vec(), stop).await;
        crate::task::drain_then_release(&pool, workers, config.shutdown_drain_timeout).await;
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    ExitCode::SUCCESS
}

/// Sets `stop` on SIGINT or SIGTERM, listening from now on.
fn watch_signals(runtime: &tokio::runtime::Runtime, stop: Arc<AtomicBool>) {
    let _inside = runtime.enter();
    let signals = crate::app::Signals::install();
    runtime.spawn(async move {
        signals.recv().await;
        stop.store(true, Ordering::SeqCst);
    });
}

pub(super) fn dlq_list(conn: &mut DbConnection, args: &super::DlqListArgs) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let letters = crate::task::dlq::list(conn, args.queue.as_deref(), i64::from(args.tail))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&letters).unwrap_or_default()
        );
        return Ok(());
    }
    if letters.is_empty() {
        println!("the dead-letter queue is empty");
    }
    for d in letters {
        println!(
            "{:<6} {:<28} attempts {:<3} {}  {}  payload {}{}",
            d.id,
            d.queue,
            d.attempts,
            when(d.last_failed_at),
            d.error,
            d.payload,
            d.replay_outcome
                .map(|o| format!("  replayed: {o}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub(super) fn dlq_replay(
    app: &App,
    conn: &mut DbConnection,
    args: &super::DlqReplayArgs,
) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let letter = crate::task::dlq::find(conn, args.id)?.ok_or(DbError::NotFound)?;
    let task_attempts = app
        .tasks()
        .iter()
        .find(|t| t.name == letter.queue)
        .map(|t| i32::try_from(t.max_attempts).unwrap_or(1));
    let outcome = crate::task::replay_dead_letter(conn, args.id, task_attempts)?;
    println!("dead letter {}: {outcome}", args.id);
    Ok(())
}

pub(super) fn dlq_purge(
    conn: &mut DbConnection,
    args: &super::DlqPurgeArgs,
) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let n = crate::task::dlq::purge(conn, &args.queue)?;
    println!("purged {n} dead letter(s) of `{}`", args.queue);
    Ok(())
}
