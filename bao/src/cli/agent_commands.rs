//! `bao agents:*`: list the app's agents, run one, show a run, and decide
//! the approval requests of `requires_approval` tools.

use super::{fail, AgentDecideArgs, AgentRunArgs, AgentsPendingArgs, JsonArgs, WorkflowRunArgs};
use crate::agent::{self, approvals, AgentEvent};
use crate::db::DbPool;
use crate::App;
use std::io::Write;
use std::process::ExitCode;

/// The pool, a runtime and the workers' settings from the configuration.
fn prepare(
    app: &App,
) -> Result<
    (
        DbPool,
        tokio::runtime::Runtime,
        crate::workflow::WorkerSettings,
    ),
    ExitCode,
> {
    let ready = super::app_runtime(app)?;
    let settings = crate::workflow::WorkerSettings {
        lease: ready.config.workflow_lease,
        poll: ready.config.workflow_poll,
    };
    Ok((ready.pool, ready.runtime, settings))
}

pub(super) fn list(app: &App, args: &JsonArgs) -> ExitCode {
    let agents: Vec<serde_json::Value> = app.agents().iter().map(|a| a.describe()).collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&agents).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if agents.is_empty() {
        println!("no agents: add `agents: [MyAgent]` to bao::app!");
        return ExitCode::SUCCESS;
    }
    for a in app.agents() {
        let d = &a.def;
        println!("{}  (max {} steps)", d.name, d.max_steps);
        for t in d.tools {
            let approval = if t.requires_approval {
                "  [requires approval]"
            } else {
                ""
            };
            println!("  {}{}: {}", t.name, approval, t.description);
        }
    }
    ExitCode::SUCCESS
}

pub(super) fn run(app: &App, args: &AgentRunArgs) -> ExitCode {
    let Some(entry) = app.agents().iter().find(|a| a.def.name == args.name) else {
        let names: Vec<&str> = app.agents().iter().map(|a| a.def.name).collect();
        return fail(format!(
            "no agent named `{}` (the agents are: {})",
            args.name,
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    };
    let (pool, runtime, settings) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let defs: Vec<_> = app.workflows().to_vec();
    let result = runtime.block_on(async {
        let id = (entry.start)(&pool, &args.message).await?;
        if !args.json {
            println!("run {id} started");
        }
        let printer = args.stream.then(|| {
            let mut events = agent::events::subscribe(&id);
            tokio::spawn(async move {
                let mut out = std::io::stdout();
                while let Ok(event) = events.recv().await {
                    let line = match &event {
                        AgentEvent::Delta { text } => {
                            let _ = write!(out, "{text}");
                            let _ = out.flush();
                            continue;
                        }
                        AgentEvent::Call { tool, arguments, .. } => format!("\n[call {tool}({arguments})]"),
                        AgentEvent::ToolResult { tool, output, error, .. } => {
                            format!("[{} {tool}: {output}]", if *error { "error from" } else { "result of" })
                        }
                        AgentEvent::Approval { request, tool, .. } => {
                            format!("[approval {request} requested for {tool}: bao agents:approve {request}]")
                        }
                        AgentEvent::Final { .. } => continue,
                        AgentEvent::Done { status } => {
                            let _ = writeln!(out, "\n[{status}]");
                            break;
                        }
                    };
                    let _ = writeln!(out, "{line}");
                }
            })
        });
        crate::workflow::run_now(&pool, &defs, &id, settings).await?;
        let run = agent::show(&pool, &id).await?;
        if let Some(printer) = printer {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), printer).await;
        }
        Ok::<_, crate::Error>(run)
    });
    match result {
        Ok(run) => print_run(&run, args.json),
        Err(error) => fail(error),
    }
}

fn print_run(run: &agent::AgentRun, json: bool) -> ExitCode {
    if json {
        println!("{}", serde_json::to_string_pretty(run).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    println!("run {}: {}", run.id, run.status);
    if let Some(outcome) = &run.outcome {
        println!("{}", outcome.answer);
        let cost = outcome
            .cost_usd
            .map_or_else(|| "cost unknown".to_string(), |c| format!("${c:.6}"));
        println!(
            "({} after {} turns, {} tool calls, {} tokens, {cost})",
            outcome.stopped,
            outcome.steps,
            outcome.tool_calls,
            outcome.usage.total()
        );
    }
    if let Some(error) = &run.error {
        println!("error: {error}");
    }
    for p in &run.pending {
        println!(
            "waiting for approval {}: {}({}) — bao agents:approve {} | bao agents:deny {} --reason ..",
            p.id, p.tool, p.arguments, p.id, p.id
        );
    }
    ExitCode::SUCCESS
}

pub(super) fn show(app: &App, args: &WorkflowRunArgs) -> ExitCode {
    let (pool, runtime, _) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match runtime.block_on(agent::show(&pool, &args.run_id)) {
        Ok(run) => print_run(&run, args.json),
        Err(crate::Error::Database(crate::db::DbError::NotFound)) => {
            fail(format!("no run {}", args.run_id))
        }
        Err(error) => fail(error),
    }
}

pub(super) fn pending(app: &App, args: &AgentsPendingArgs) -> ExitCode {
    let (pool, _runtime, _) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let status = if args.all { None } else { Some("pending") };
    let rows = match pool
        .get()
        .and_then(|mut c| approvals::list(&mut c, status, None, args.limit.into()))
    {
        Ok(rows) => rows,
        Err(error) => return fail(error),
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if rows.is_empty() {
        println!(
            "no approval requests{}",
            if args.all { "" } else { " pending" }
        );
    }
    for r in rows {
        println!(
            "{:>6}  {:<9} {}:{}  run {}\n        arguments: {}",
            r.id, r.status, r.agent, r.tool, r.run_id, r.arguments
        );
    }
    ExitCode::SUCCESS
}

pub(super) fn decide(app: &App, args: &AgentDecideArgs, approved: bool) -> ExitCode {
    let (pool, runtime, settings) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let by = args
        .by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into());
    let edited = match (&args.arguments, approved) {
        (None, _) => None,
        (Some(_), false) => return fail("--arguments goes with agents:approve, not deny"),
        (Some(text), true) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) if value.is_object() => Some(value),
            _ => return fail("--arguments is a JSON object, e.g. '{\"text\": \"hello\"}'"),
        },
    };
    let decided =
        pool.get()
            .map_err(approvals::DecideError::from)
            .and_then(|mut c| match &edited {
                Some(arguments) => approvals::approve_edited(
                    &mut c,
                    args.id,
                    &by,
                    arguments,
                    args.reason.as_deref(),
                ),
                None => approvals::decide(&mut c, args.id, approved, &by, args.reason.as_deref()),
            });
    let request = match decided {
        Ok(request) => request,
        Err(error) => return fail(error),
    };
    println!(
        "{} request {} ({}:{}) as {by}",
        if approved { "approved" } else { "denied" },
        request.id,
        request.agent,
        request.tool
    );
    if args.no_resume {
        return ExitCode::SUCCESS;
    }
    // Carry the run on here, so the tool runs (or the refusal reaches the
    // model) now rather than at a worker's next poll.
    let defs: Vec<_> = app.workflows().to_vec();
    let result = runtime.block_on(async {
        crate::workflow::run_now(&pool, &defs, &request.run_id, settings).await?;
        agent::show(&pool, &request.run_id).await
    });
    match result {
        Ok(run) => print_run(&run, false),
        Err(error) => fail(error),
    }
}
