//! The operate tools: workflow and agent runs, traces, health, dead
//! letters and logs (read only), and the write tools offered with
//! `BAO_MCP_ALLOW_WRITE=1` (each audited under the MCP client and user).
//!
//! They need only the app's configuration and database, so the installed
//! `bao` serves them even when the app does not build.

use super::{page, Access, Call, ToolDef, ToolError, ToolResult};
use crate::admin::store::{self, RunFilter};
use crate::db::{DbError, DbPool};
use crate::Config;
use serde_json::{json, Value};
use std::sync::Arc;

/// What the operate tools work on.
#[derive(Clone)]
pub struct Ops {
    pool: Option<DbPool>,
    config: Arc<Config>,
}

impl Ops {
    /// Tools over this configuration and (when the app has one) database.
    pub fn new(config: Arc<Config>, pool: Option<DbPool>) -> Ops {
        Ops { pool, config }
    }

    fn pool(&self) -> Result<DbPool, ToolError> {
        self.pool.clone().ok_or_else(|| {
            ToolError::new("this app has no database: set BAO_DATABASE_URL (or add models)")
        })
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut crate::db::DbConnection) -> Result<T, DbError> + Send + 'static,
    ) -> Result<T, ToolError> {
        self.pool()?.run(work).await.map_err(missing_tables)
    }
}

/// A run that is not there: say how to find one.
fn no_run(error: ToolError, id: &str) -> ToolError {
    if error.message.starts_with("not found") {
        ToolError::new(format!("no run `{id}`: list them with bao_runs"))
    } else {
        error
    }
}

/// "no such table" means Bao's tables were never made: say how.
fn missing_tables(error: DbError) -> ToolError {
    let text = error.to_string();
    if text.contains("no such table") || text.contains("does not exist") {
        ToolError::new(format!(
            "Bao's tables are not in this database yet ({text}): run `bao migrate` or start the app once"
        ))
    } else {
        error.into()
    }
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// `text` cut to `max` characters, saying how much was left out.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… [{} more chars]", text.chars().count() - max)
}

/// A stored JSON text as JSON when it is short, else clipped text.
fn stored(text: Option<&str>, max: usize) -> Value {
    match text {
        None => Value::Null,
        Some(t) if t.len() <= max => serde_json::from_str(t).unwrap_or_else(|_| json!(t)),
        Some(t) => json!(clip(t, max)),
    }
}

/// The read tools, then the write tools.
pub fn tools(ops: &Ops) -> Vec<ToolDef> {
    vec![
        tool(
            ops,
            "bao_runs",
            "Workflow and agent runs, newest first (agent runs are workflow `agent:NAME`).",
            Access::Read,
            &[
                (
                    "status",
                    "string",
                    "pending|running|sleeping|waiting|completed|failed|cancelled",
                ),
                ("workflow", "string", "exact workflow name"),
                (
                    "from",
                    "string",
                    "created on or after this day, YYYY-MM-DD (UTC)",
                ),
                (
                    "to",
                    "string",
                    "created on or before this day, YYYY-MM-DD (UTC)",
                ),
                ("limit", "integer", "1-100, default 20"),
                ("cursor", "string", "next_cursor of the previous answer"),
            ],
            &[],
            runs,
        ),
        tool(
            ops,
            "bao_trace",
            "One run: status, input, output, error and each step with result, error and timing.",
            Access::Read,
            &[
                ("run_id", "string", "the run's id"),
                ("cursor", "string", "for runs with many steps"),
            ],
            &["run_id"],
            trace,
        ),
        tool(
            ops,
            "bao_agent_trace",
            "One agent run: model turns, tool calls, approvals, tokens and cost.",
            Access::Read,
            &[("run_id", "string", "the run's id")],
            &["run_id"],
            agent_trace,
        ),
        tool(
            ops,
            "bao_health",
            "The running server's /healthz, /readyz and key metrics.",
            Access::Read,
            &[],
            &[],
            health,
        ),
        tool(
            ops,
            "bao_dlq_list",
            "Dead letters (failed-for-good tasks and runs), newest first.",
            Access::Read,
            &[
                ("queue", "string", "a task name or workflow:NAME"),
                ("limit", "integer", "1-100, default 20"),
                ("cursor", "string", "next_cursor of the previous answer"),
            ],
            &[],
            dlq_list,
        ),
        tool(
            ops,
            "bao_logs",
            "The app's latest log lines (BAO_LOG_FILE), oldest of the page first.",
            Access::Read,
            &[
                (
                    "level",
                    "string",
                    "error|warn|info|debug|trace: that level and above",
                ),
                ("request_id", "string", "only this request's lines"),
                ("limit", "integer", "1-100, default 30"),
                ("cursor", "string", "next_cursor: older lines"),
            ],
            &[],
            logs,
        ),
        tool(
            ops,
            "bao_last_error",
            "The latest 5xx response: its request id and that request's log lines.",
            Access::Read,
            &[],
            &[],
            last_error,
        ),
        tool(
            ops,
            "bao_workflow_replay",
            "Run a failed or cancelled run again (completed steps are kept).",
            Access::Write,
            &[("run_id", "string", "the run's id")],
            &["run_id"],
            replay,
        ),
        tool(
            ops,
            "bao_workflow_resume",
            "Wake a sleeping or waiting run now.",
            Access::Write,
            &[("run_id", "string", "the run's id")],
            &["run_id"],
            resume,
        ),
        tool(
            ops,
            "bao_dlq_replay",
            "Replay a dead letter: enqueue the task or restart the run.",
            Access::Write,
            &[("id", "integer", "the dead letter's id")],
            &["id"],
            dlq_replay,
        ),
        tool(
            ops,
            "bao_agent_approve",
            "Approve an agent's pending tool call (see bao_agent_trace).",
            Access::Write,
            &[
                ("id", "integer", "the approval's id"),
                ("reason", "string", "optional note"),
                (
                    "arguments",
                    "object",
                    "approve these arguments instead of the model's",
                ),
            ],
            &["id"],
            |ops, call| decide(ops, call, true),
        ),
        tool(
            ops,
            "bao_agent_deny",
            "Deny an agent's pending tool call; the reason goes to the model.",
            Access::Write,
            &[
                ("id", "integer", "the approval's id"),
                ("reason", "string", "why"),
            ],
            &["id", "reason"],
            |ops, call| decide(ops, call, false),
        ),
    ]
}

#[allow(clippy::too_many_arguments)]
fn tool<F, Fut>(
    ops: &Ops,
    name: &'static str,
    description: &'static str,
    access: Access,
    args: &[(&str, &str, &str)],
    required: &[&str],
    f: F,
) -> ToolDef
where
    F: Fn(Ops, Call) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ToolResult> + Send + 'static,
{
    let ops = ops.clone();
    ToolDef::new(name, description, access, args, required, move |call| {
        f(ops.clone(), call)
    })
}

async fn runs(ops: Ops, call: Call) -> ToolResult {
    let limit = call.limit(20)? as i64;
    if let Some(status) = call.str("status") {
        if !store::RUN_STATUSES.contains(&status) {
            return Err(ToolError::new(format!(
                "`status` is one of {}",
                store::RUN_STATUSES.join(", ")
            )));
        }
    }
    let filter = RunFilter {
        workflow: call.str("workflow").unwrap_or_default().to_string(),
        status: call.str("status").unwrap_or_default().to_string(),
        from: call.str("from").unwrap_or_default().to_string(),
        to: call.str("to").unwrap_or_default().to_string(),
        before: call.str("cursor").unwrap_or_default().to_string(),
    };
    filter.check().map_err(ToolError::new)?;
    let mut rows = ops
        .read(move |c| store::runs(c, &filter, limit + 1))
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let items: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "workflow": r.workflow, "status": r.status, "attempts": r.attempts,
                "error": r.error.as_deref().map(|e| clip(e, 200)),
                "created_at": iso(r.created_at), "updated_at": iso(r.updated_at),
            })
        })
        .collect();
    let mut out = json!({ "items": items });
    if let (true, Some(last)) = (more, rows.last()) {
        out["next_cursor"] = json!(format!("{}:{}", last.created_at, last.id));
        out["note"] = json!("more runs: pass next_cursor as cursor");
    }
    Ok(out)
}

async fn trace(ops: Ops, call: Call) -> ToolResult {
    let id = call.required("run_id")?.to_string();
    let shown = id.clone();
    let (run, steps) = ops
        .read(move |c| {
            let run = crate::workflow::store::find_run(c, &id)?.ok_or(DbError::NotFound)?;
            let steps = crate::workflow::store::steps(c, &id)?;
            Ok((run, steps))
        })
        .await
        .map_err(|e| no_run(e, &shown))?;
    let mut previous = run.created_at;
    let steps: Vec<Value> = steps
        .iter()
        .map(|s| {
            let took = s.finished_at - previous;
            previous = s.finished_at;
            json!({
                "seq": s.seq, "name": s.name, "status": s.status, "attempts": s.attempts,
                "result": stored(s.result.as_deref(), 300),
                "error": s.error.as_deref().map(|e| clip(e, 300)),
                "finished_at": iso(s.finished_at), "ms_since_previous": took,
            })
        })
        .collect();
    let mut out = json!({
        "id": run.id, "workflow": run.workflow, "version": run.version, "status": run.status,
        "attempts": run.attempts, "input": stored(Some(&run.input), 500),
        "output": stored(run.output.as_deref(), 500), "error": run.error.as_deref().map(|e| clip(e, 500)),
        "created_at": iso(run.created_at), "updated_at": iso(run.updated_at),
        "wake_at": run.wake_at.map(iso),
    });
    out["steps"] = page(steps, &call, 50)?;
    Ok(out)
}

async fn agent_trace(ops: Ops, call: Call) -> ToolResult {
    let id = call.required("run_id")?.to_string();
    let shown = id.clone();
    let (run, steps, approvals) = ops
        .read(move |c| {
            let run = crate::workflow::store::find_run(c, &id)?.ok_or(DbError::NotFound)?;
            let steps = crate::workflow::store::steps(c, &id)?;
            let approvals = crate::agent::approvals::list(c, None, Some(&id), 100)?;
            Ok((run, steps, approvals))
        })
        .await
        .map_err(|e| no_run(e, &shown))?;
    if !run.workflow.starts_with("agent:") {
        return Err(ToolError::new(format!(
            "run {} is a `{}` workflow run, not an agent's: use bao_trace",
            run.id, run.workflow
        )));
    }
    let mut turns = Vec::new();
    let mut tool_calls = Vec::new();
    for s in &steps {
        let result: Value = s
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or(Value::Null);
        if s.name.starts_with("turn-") {
            turns.push(json!({
                "step": s.name, "status": s.status,
                "text": result["text"].as_str().map(|t| clip(t, 300)),
                "tool_calls": result["tool_calls"].as_array().map(|calls| calls.iter().map(|c| json!({"name": c["name"], "arguments": c["arguments"]})).collect::<Vec<_>>()),
                "usage": result.get("usage"), "provider": result.get("provider"), "model": result.get("model"),
                "cost_usd": result.get("cost_usd"), "error": s.error.as_deref().map(|e| clip(e, 300)),
            }));
        } else if s.name.starts_with("tool:") {
            tool_calls.push(json!({
                "step": s.name, "status": s.status, "result": stored(s.result.as_deref(), 300),
                "error": s.error.as_deref().map(|e| clip(e, 300)),
            }));
        }
    }
    let outcome: Value = run
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or(Value::Null);
    let approvals: Vec<Value> = approvals
        .iter()
        .map(|a| {
            json!({
                "id": a.id, "tool": a.tool, "status": a.status,
                "arguments": serde_json::from_str::<Value>(&a.arguments).unwrap_or(Value::Null),
                "requested_at": iso(a.requested_at), "decided_by": a.decided_by,
            })
        })
        .collect();
    Ok(json!({
        "id": run.id, "agent": run.workflow.trim_start_matches("agent:"), "status": run.status,
        "error": run.error.as_deref().map(|e| clip(e, 500)),
        "answer": outcome["answer"].as_str().map(|t| clip(t, 1000)),
        "stopped": outcome.get("stopped"), "usage": outcome.get("usage"), "cost_usd": outcome.get("cost_usd"),
        "turns": turns, "tool_calls": tool_calls, "approvals": approvals,
    }))
}

/// The metric families `bao_health` sums up.
const KEY_METRICS: &[&str] = &[
    "bao_http_requests_total",
    "bao_http_requests_in_flight",
    "bao_db_pool_connections",
    "bao_tasks_inflight",
    "bao_dead_letters",
    "bao_agent_approvals",
    "bao_circuit_breaker_state",
    "bao_channel_subscribers",
    "bao_ai_requests_total",
    "process_resident_memory_bytes",
];

async fn health(ops: Ops, _call: Call) -> ToolResult {
    let host = match ops.config.host.as_str() {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        other => other,
    };
    let base = format!("http://{host}:{}", ops.config.port);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| ToolError::new(e.to_string()))?;
    let get = |path: &str| {
        let mut request = client.get(format!("{base}{path}"));
        if let (true, Some(token)) = (path == "/metrics", ops.config.metrics_token.as_deref()) {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let healthz = match get("/healthz").await {
        Ok(r) => r,
        Err(e) => {
            return Err(ToolError::new(format!(
                "the server at {base} does not answer ({e}): start it with `bao serve` (or `bao run`), or set BAO_HOST/BAO_PORT to where it runs"
            )))
        }
    };
    let healthz_status = healthz.status().as_u16();
    let ready = get("/readyz")
        .await
        .map_err(|e| ToolError::new(e.to_string()))?;
    let ready_status = ready.status().as_u16();
    let ready_body: Value = ready.json().await.unwrap_or(Value::Null);
    let mut metrics = serde_json::Map::new();
    let metrics_note = match get("/metrics").await {
        Ok(r) if r.status().is_success() => {
            let text = r.text().await.unwrap_or_default();
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let Some((series, value)) = line.rsplit_once(' ') else {
                    continue;
                };
                let family = series.split('{').next().unwrap_or(series);
                if !KEY_METRICS.contains(&family) {
                    continue;
                }
                let value: f64 = value.parse().unwrap_or(0.0);
                // Requests by status class; the rest summed per family.
                let key = if family == "bao_http_requests_total" {
                    let class = series
                        .split("status=\"")
                        .nth(1)
                        .and_then(|s| s.chars().next())
                        .map_or("other".to_string(), |c| format!("{c}xx"));
                    format!("http_requests_{class}")
                } else {
                    family.trim_start_matches("bao_").to_string()
                };
                let sum = metrics.get(&key).and_then(Value::as_f64).unwrap_or(0.0) + value;
                metrics.insert(key, json!(sum));
            }
            None
        }
        Ok(r) => Some(format!(
            "/metrics answered {}: set BAO_METRICS_TOKEN here as on the server",
            r.status().as_u16()
        )),
        Err(e) => Some(format!("/metrics: {e}")),
    };
    Ok(json!({
        "server": base, "healthz": healthz_status, "readyz": ready_status,
        "checks": ready_body.get("checks"), "metrics": metrics, "metrics_note": metrics_note,
    }))
}

async fn dlq_list(ops: Ops, call: Call) -> ToolResult {
    let limit = call.limit(20)? as i64;
    let before = match call.str("cursor") {
        None => i64::MAX,
        Some(c) => c
            .parse()
            .map_err(|_| ToolError::new("`cursor` is the next_cursor of the previous answer"))?,
    };
    let queue = call.str("queue").map(str::to_string);
    let mut letters = ops
        .read(move |c| crate::fault::dlq::page(c, queue.as_deref(), Some(before), limit + 1))
        .await?;
    let more = letters.len() as i64 > limit;
    letters.truncate(limit as usize);
    let items: Vec<Value> = letters
        .iter()
        .map(|l| {
            json!({
                "id": l.id, "queue": l.queue, "payload": stored(Some(&l.payload), 300),
                "error": clip(&l.error, 300), "attempts": l.attempts,
                "failed_at": iso(l.last_failed_at), "replayed": l.replayed_at.is_some(),
            })
        })
        .collect();
    let mut out = json!({ "items": items });
    if let (true, Some(last)) = (more, letters.last()) {
        out["next_cursor"] = json!(last.id.to_string());
        out["note"] = json!("more dead letters: pass next_cursor as cursor");
    }
    Ok(out)
}

fn log_file(ops: &Ops) -> Result<std::path::PathBuf, ToolError> {
    ops.config.log_file.clone().ok_or_else(|| {
        ToolError::new(
            "the app keeps no log file: set BAO_LOG_FILE (e.g. log/bao.log) for `bao serve` and `bao worker` and in the environment of this server",
        )
    })
}

async fn logs(ops: Ops, call: Call) -> ToolResult {
    use crate::obs::logging::{read_lines, LineFilter, LEVELS};
    let path = log_file(&ops)?;
    let level = call.str("level").map(str::to_string);
    if level
        .as_deref()
        .is_some_and(|l| !LEVELS.contains(&l.to_ascii_lowercase().as_str()))
    {
        return Err(ToolError::new(
            "`level` is one of error, warn, info, debug, trace",
        ));
    }
    let filter = LineFilter {
        level,
        request_id: call.str("request_id").map(str::to_string),
    };
    let limit = call.limit(30)?;
    let skip: usize = match call.str("cursor") {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| ToolError::new("`cursor` is the next_cursor of the previous answer"))?,
    };
    let lines = tokio::task::spawn_blocking(move || read_lines(&path, &filter))
        .await
        .map_err(|e| ToolError::new(e.to_string()))?;
    let total = lines.len();
    let end = total.saturating_sub(skip);
    let start = end.saturating_sub(limit);
    let items: Vec<Value> = lines[start..end]
        .iter()
        .map(|raw| {
            let line: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
            json!(clip(&crate::obs::logging::human(&line), 600))
        })
        .collect();
    let mut out = json!({ "lines": items, "matching": total });
    if start > 0 {
        out["next_cursor"] = json!((skip + (end - start)).to_string());
        out["note"] = json!("older lines: pass next_cursor as cursor");
    }
    Ok(out)
}

async fn last_error(ops: Ops, _call: Call) -> ToolResult {
    use crate::obs::logging::{read_lines, LineFilter};
    let path = log_file(&ops)?;
    let lines = tokio::task::spawn_blocking(move || read_lines(&path, &LineFilter::default()))
        .await
        .map_err(|e| ToolError::new(e.to_string()))?;
    let request_of = |line: &Value| {
        line["request_id"]
            .as_str()
            .or_else(|| line["span"]["request_id"].as_str())
            .map(str::to_string)
    };
    let failed = lines.iter().rev().find_map(|raw| {
        let line: Value = serde_json::from_str(raw).ok()?;
        let status = line["status"].as_u64()?;
        (status >= 500).then(|| (line.clone(), request_of(&line)))
    });
    let Some((line, request_id)) = failed else {
        return Ok(json!({"found": false, "note": "no 5xx response in the log files"}));
    };
    let related: Vec<Value> = match &request_id {
        Some(id) => lines
            .iter()
            .filter_map(|raw| serde_json::from_str::<Value>(raw).ok())
            .filter(|l| request_of(l).as_deref() == Some(id.as_str()))
            .map(|l| json!(clip(&crate::obs::logging::human(&l), 600)))
            .take(50)
            .collect(),
        None => Vec::new(),
    };
    Ok(json!({
        "found": true, "request_id": request_id, "status": line["status"],
        "route": line["route"], "at": line["timestamp"], "lines": related,
    }))
}

/// Writes the audit entry of a write tool.
async fn audit(ops: &Ops, call: &Call, action: &str, subject: String) -> Result<(), ToolError> {
    let entry = crate::auth::store::AuditEntry {
        user_id: None,
        action: action.to_string(),
        subject: Some(subject),
        request_id: None,
        ip: None,
        detail: Some(json!({"actor": call.actor, "via": "mcp"}).to_string()),
    };
    ops.read(move |c| crate::auth::store::insert_audit(c, &entry))
        .await
}

async fn replay(ops: Ops, call: Call) -> ToolResult {
    let id = call.required("run_id")?.to_string();
    let pool = ops.pool()?;
    exists(&ops, &id).await?;
    if !crate::workflow::replay(&pool, &id).await? {
        return Err(ToolError::new(format!(
            "run {id} is not failed or cancelled, so it cannot be replayed (see bao_trace)"
        )));
    }
    audit(&ops, &call, "mcp.workflow.replay", id.clone()).await?;
    Ok(
        json!({"run_id": id, "status": "pending", "note": "a worker runs it again; completed steps are kept"}),
    )
}

async fn resume(ops: Ops, call: Call) -> ToolResult {
    let id = call.required("run_id")?.to_string();
    let pool = ops.pool()?;
    exists(&ops, &id).await?;
    if !crate::workflow::resume(&pool, &id).await? {
        return Err(ToolError::new(format!(
            "run {id} is not sleeping or waiting, so there is nothing to resume (see bao_trace)"
        )));
    }
    audit(&ops, &call, "mcp.workflow.resume", id.clone()).await?;
    Ok(json!({"run_id": id, "status": "pending"}))
}

async fn exists(ops: &Ops, id: &str) -> Result<(), ToolError> {
    let id = id.to_string();
    let shown = id.clone();
    ops.read(move |c| crate::workflow::store::find_run(c, &id))
        .await?
        .map(|_| ())
        .ok_or_else(|| ToolError::new(format!("no run `{shown}`: list them with bao_runs")))
}

async fn dlq_replay(ops: Ops, call: Call) -> ToolResult {
    let id = call
        .int("id")?
        .ok_or_else(|| ToolError::new("`id` is required: the dead letter's id (bao_dlq_list)"))?;
    let outcome = ops
        .read(move |c| {
            crate::fault::dlq::find(c, id)?.ok_or(DbError::NotFound)?;
            crate::task::replay_dead_letter(c, id, None)
        })
        .await?;
    audit(&ops, &call, "mcp.dead_letter.replay", id.to_string()).await?;
    Ok(json!({"id": id, "outcome": outcome}))
}

async fn decide(ops: Ops, call: Call, approved: bool) -> ToolResult {
    let id = call
        .int("id")?
        .ok_or_else(|| ToolError::new("`id` is required: the approval's id (bao_agent_trace)"))?;
    let reason = call.str("reason").map(str::to_string);
    let by = call.actor.clone();
    let edited = match call.args.get("arguments") {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) if approved => Some(Value::Object(map.clone())),
        Some(_) if approved => return Err(ToolError::new("`arguments` is a JSON object")),
        Some(_) => return Err(ToolError::new("`arguments` goes with bao_agent_approve")),
    };
    let decided = ops
        .pool()?
        .run(move |c| {
            match &edited {
                Some(arguments) => crate::agent::approvals::approve_edited(
                    c,
                    id,
                    &by,
                    arguments,
                    reason.as_deref(),
                ),
                None => crate::agent::approvals::decide(c, id, approved, &by, reason.as_deref()),
            }
            .map_err(|e| DbError::Config(e.to_string()))
        })
        .await
        .map_err(|e| match e {
            DbError::Config(message) => ToolError::new(message),
            other => missing_tables(other),
        })?;
    Ok(json!({
        "id": decided.id, "status": decided.status, "run_id": decided.run_id, "tool": decided.tool,
        "decided_by": decided.decided_by,
        "note": "the run's worker carries it on (a running `bao serve` or `bao worker`)",
    }))
}
