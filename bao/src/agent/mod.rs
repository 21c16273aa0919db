//! Agents: a model that calls the app's tools, as a durable workflow run.
//!
//! `#[bao::agent]` on an `impl` block turns its `#[tool]` methods into
//! tools (their doc comments are the descriptions, their argument types the
//! JSON schemas) and the type into an [`Agent`]. Each run of an agent is a
//! workflow run named `agent:<name>`: every model turn and every tool call
//! is a step whose result is stored, so a run that crashes resumes without
//! asking the model or running a finished tool again; a
//! `#[tool(requires_approval)]` call parks the run until a person decides
//! ([`approvals::decide`], `bao agents:approve`), once.
//!
//! The loop speaks the provider's native tool calls when it has them
//! (Anthropic, OpenAI, `MockNative`) and otherwise a text protocol (`CALL:
//! tool({..})` / `FINAL: ..`, for Echo, Scripted and Ollama).

pub mod approvals;
pub mod events;
mod tool;

pub use approvals::{Approval, DecideError, Decision};
pub use events::AgentEvent;
pub use tool::{check_arguments, ParamDef, ToolDef, ToolParam};

use crate::ai::{self, AiError, Budget, Chat, ToolCall, Usage};
use crate::db::{DbError, DbPool};
use crate::workflow::{self, Retry, WorkerSettings, WorkflowCtx, WorkflowDef, WorkflowError};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An agent's settings and tools, as `#[bao::agent]` declares them.
#[derive(Debug, Clone, Copy)]
pub struct AgentDef {
    /// Its name (unique in the app); its runs are workflow runs named
    /// `agent:<name>`.
    pub name: &'static str,
    /// The workflow name of its runs.
    pub workflow: &'static str,
    /// What it is for: the doc comment of its `impl` block, the start of
    /// its system prompt.
    pub instructions: &'static str,
    /// The most model turns of one run.
    pub max_steps: u32,
    /// The most tokens of one run (input and output), if limited.
    pub max_tokens: Option<u64>,
    /// The most dollars of one run, if limited.
    pub max_cost_usd: Option<f64>,
    /// Retrieve context before each turn (when memory/RAG is configured).
    pub rag: bool,
    /// How long an approval request waits before it expires.
    pub approval_timeout: Duration,
    /// Its tools.
    pub tools: &'static [ToolDef],
}

/// A type `#[bao::agent]` made an agent.
pub trait Agent: Send + Sync + Sized + 'static {
    /// Its definition.
    const DEFINITION: AgentDef;

    /// The instance a run uses (`Default`, or the agent's own constructor).
    fn create() -> Self;

    /// Runs tool `name` with the model's `arguments` (already checked
    /// against its schema): its output, or an error message for the model.
    fn call_tool<'a>(
        &'a self,
        name: &'a str,
        arguments: serde_json::Value,
    ) -> BoxFuture<'a, Result<String, String>>;
}

/// What a tool returned, as the model reads it: a string as is, anything
/// else as JSON.
pub fn tool_output<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(error) => format!("(the output could not be written as JSON: {error})"),
    }
}

/// Agents are built with `Default` for each run.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "agent `{Self}` has no `Default`: each run builds its agent with `Default::default()`",
    label = "add `#[derive(Default)]` (or `impl Default`) to `{Self}`",
    note = "keep clients and settings in fields that implement `Default`, or read them from the environment in your `impl Default`"
)]
pub trait AgentDefault: Default {}

impl<T: Default> AgentDefault for T {}

#[doc(hidden)]
pub fn __create<A: AgentDefault>() -> A {
    A::default()
}

/// What starts a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInput {
    /// The user's message.
    pub message: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOutcome {
    /// The final answer (for `max_steps` and `budget`, the last text the
    /// model wrote).
    pub answer: String,
    /// `final` (the model answered), `max_steps` or `budget`.
    pub stopped: String,
    /// Model turns taken.
    pub steps: u32,
    /// Tool calls made (including refused ones).
    pub tool_calls: u32,
    /// Tokens used, as the providers reported them.
    pub usage: Usage,
    /// Dollars, when every model's price was known.
    pub cost_usd: Option<f64>,
}

/// A run as its caller sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRun {
    /// The run's id (a workflow run id).
    pub id: String,
    /// The workflow status: completed, waiting (for an approval), pending,
    /// running, sleeping, failed or cancelled.
    pub status: String,
    /// How it ended, once completed.
    pub outcome: Option<AgentOutcome>,
    /// The error of a failed run.
    pub error: Option<String>,
    /// Approval requests still pending.
    pub pending: Vec<Approval>,
}

/// What a tool call step stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ToolOutcome {
    output: String,
    error: bool,
}

/// A model turn as stored: the reply, or the budget refusal that ended the
/// run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Turn {
    Reply(ai::Reply),
    OverBudget(String),
}

/// The workflow definition of agent `A`'s runs (what `bao::app! { agents:
/// [..] }` registers).
pub fn workflow_def<A: Agent>() -> WorkflowDef {
    WorkflowDef {
        name: A::DEFINITION.workflow,
        version: 1,
        retries: 2,
        run: |ctx, input| Box::pin(drive_json::<A>(ctx, input)),
    }
}

async fn drive_json<A: Agent>(
    ctx: WorkflowCtx,
    input: serde_json::Value,
) -> Result<serde_json::Value, crate::Error> {
    let input: AgentInput = serde_json::from_value(input)
        .map_err(|e| crate::Error::BadRequest(format!("agent input: {e}")))?;
    let outcome = drive::<A>(&ctx, input).await?;
    serde_json::to_value(outcome).map_err(|e| crate::Error::Internal(e.to_string()))
}

/// The system prompt: the agent's instructions, and the text protocol when
/// the provider has no native tool calls.
fn system_prompt(def: &AgentDef, native: bool) -> String {
    let mut prompt = if def.instructions.trim().is_empty() {
        format!("You are the `{}` agent.", def.name)
    } else {
        def.instructions.trim().to_string()
    };
    if !native && !def.tools.is_empty() {
        prompt.push_str(
            "\n\nYou can use tools. To call one, answer with one line and nothing else:\n\
             CALL: tool_name({\"argument\": \"value\"})\n\
             When you have the answer, write:\nFINAL: the answer\n\nTools:\n",
        );
        for t in def.tools {
            prompt.push_str(&format!(
                "- {}({}): {}\n",
                t.name,
                t.schema()["properties"],
                t.description
            ));
        }
    }
    prompt
}

/// `CALL: name({...})` or `FINAL: text` in a text reply.
enum TextMove {
    Call(String, serde_json::Value),
    Final(String),
}

fn parse_text_protocol(text: &str) -> TextMove {
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("CALL:") {
            let rest = rest.trim();
            if let Some((name, args)) = rest.split_once('(') {
                let args = args.trim().strip_suffix(')').unwrap_or(args).trim();
                let arguments = if args.is_empty() {
                    serde_json::json!({})
                } else {
                    serde_json::from_str(args)
                        .unwrap_or(serde_json::Value::String(args.to_string()))
                };
                return TextMove::Call(name.trim().to_string(), arguments);
            }
        }
        if let Some(rest) = line.strip_prefix("FINAL:") {
            let at = text.find("FINAL:").map_or(0, |i| i + "FINAL:".len());
            let _ = rest;
            return TextMove::Final(text[at..].trim().to_string());
        }
    }
    TextMove::Final(text.trim().to_string())
}

/// The agent loop, inside a workflow run.
pub async fn drive<A: Agent>(
    ctx: &WorkflowCtx,
    input: AgentInput,
) -> Result<AgentOutcome, crate::Error> {
    let def = A::DEFINITION;
    let agent = A::create();
    let router = ai::router();
    let native = router.native_tools(&Chat::new());
    let mut chat = Chat::new().system(system_prompt(&def, native));
    if def.rag {
        // Retrieved once per run, stored as a step: a resumed run sees the
        // same context. It travels as data, never as instructions.
        let (db, question) = (ctx.db().clone(), input.message.clone());
        let context: String = ctx
            .step_with("rag-context", Retry::none(), move || {
                let (db, question) = (db.clone(), question.clone());
                async move {
                    let chunks = crate::rag::retrieve(&db, &question, 4)
                        .await
                        .map_err(|e| workflow::StepError::retryable(e.to_string()))?;
                    Ok::<_, workflow::StepError>(if chunks.is_empty() {
                        String::new()
                    } else {
                        crate::rag::context_envelope(&chunks)
                    })
                }
            })
            .await?;
        if !context.is_empty() {
            chat = chat.user(context);
        }
    }
    chat = chat.user(input.message.clone());
    if native {
        for t in def.tools {
            chat = chat.tool(t.spec());
        }
    }
    let run_id = ctx.run_id().to_string();
    let events = events::Publisher::new(&run_id, ctx.db());
    let mut usage = Usage::default();
    let mut cost = Some(0.0);
    let mut tool_calls = 0u32;
    let mut last_text = String::new();
    let mut stopped = "max_steps";
    let mut steps = 0;
    while steps < def.max_steps {
        steps += 1;
        let mut budget = Budget::unlimited();
        if let Some(max) = def.max_tokens {
            budget = budget.max_tokens(max.saturating_sub(usage.total()));
        }
        if let Some(max) = def.max_cost_usd {
            budget = budget.usd((max - cost.unwrap_or(0.0)).max(0.0));
        }
        let turn: Turn = {
            let (chat, events) = (chat.clone(), events.clone());
            ctx.step_with(&format!("turn-{steps}"), Retry::none(), move || {
                let (chat, events) = (chat.clone(), events.clone());
                async move { model_turn(&chat, budget, &events).await }
            })
            .await?
        };
        let reply = match turn {
            Turn::Reply(reply) => reply,
            Turn::OverBudget(why) => {
                tracing::info!(run = %run_id, agent = def.name, %why, "agent run stopped by its budget");
                stopped = "budget";
                break;
            }
        };
        usage.input_tokens += reply.usage.input_tokens;
        usage.output_tokens += reply.usage.output_tokens;
        cost = match (cost, reply.cost_usd) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        last_text = reply.text.clone();
        // Native tool calls, else the text protocol.
        let calls: Vec<ToolCall> = if !reply.tool_calls.is_empty() {
            reply.tool_calls.clone()
        } else {
            match parse_text_protocol(&reply.text) {
                TextMove::Final(text) => {
                    last_text = text;
                    stopped = "final";
                    break;
                }
                TextMove::Call(name, arguments) => vec![ToolCall {
                    id: format!("call_{steps}"),
                    name,
                    arguments,
                }],
            }
        };
        let native_calls = !reply.tool_calls.is_empty();
        if native_calls {
            chat = chat.assistant_calls(reply.text.clone(), calls.clone());
        } else {
            chat = chat.assistant(reply.text.clone());
        }
        for call in calls {
            tool_calls += 1;
            events.publish(AgentEvent::Call {
                id: call.id.clone(),
                tool: call.name.clone(),
                arguments: call.arguments.clone(),
            });
            let result = call_tool(ctx, &agent, &def, &call, &events).await?;
            events.publish(AgentEvent::ToolResult {
                id: call.id.clone(),
                tool: call.name.clone(),
                output: result.output.clone(),
                error: result.error,
            });
            let text = if result.error {
                format!("ERROR: {}", result.output)
            } else {
                result.output
            };
            chat = if native_calls {
                chat.tool_result(call.id.clone(), text)
            } else {
                chat.user(format!("RESULT of {}: {text}", call.name))
            };
        }
    }
    events.publish(AgentEvent::Final {
        text: last_text.clone(),
    });
    events.publish(AgentEvent::Done {
        status: stopped.to_string(),
    });
    Ok(AgentOutcome {
        answer: last_text,
        stopped: stopped.to_string(),
        steps,
        tool_calls,
        usage,
        cost_usd: cost,
    })
}

/// One model turn, streamed so that its text goes out as events.
async fn model_turn(
    chat: &Chat,
    budget: Budget,
    events: &events::Publisher,
) -> Result<Turn, workflow::StepError> {
    let result = ai::with_budget(budget, async {
        let mut stream = ai::router().stream(chat).await?;
        let mut text = String::new();
        while let Some(piece) = stream.next().await {
            let piece = piece?;
            events.publish(AgentEvent::Delta {
                text: piece.clone(),
            });
            text.push_str(&piece);
        }
        let (usage, cost_usd) = stream.usage().unwrap_or_default();
        Ok::<_, AiError>(ai::Reply {
            text,
            tool_calls: stream.tool_calls().to_vec(),
            usage,
            provider: stream.provider().to_string(),
            model: stream.model().to_string(),
            cost_usd,
            stop_reason: None,
        })
    })
    .await;
    match result {
        Ok(reply) => Ok(Turn::Reply(reply)),
        Err(AiError::BudgetExceeded(why)) => Ok(Turn::OverBudget(why)),
        Err(error) if error.is_retryable() => {
            Err(workflow::StepError::retryable(error.to_string()))
        }
        Err(error) => Err(workflow::StepError::permanent(error.to_string())),
    }
}

/// What a running tool may reach: the app's database and its run.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The app's database.
    pub db: DbPool,
    /// The id of the agent run calling the tool.
    pub run_id: String,
}

tokio::task_local! {
    static TOOL_CONTEXT: ToolContext;
}

/// The context of the tool running now: `let db = bao::agent::context()?.db;`.
pub fn context() -> crate::Result<ToolContext> {
    TOOL_CONTEXT.try_with(ToolContext::clone).map_err(|_| {
        crate::Error::Internal(
            "bao::agent::context() is available inside a running #[tool] only".into(),
        )
    })
}

/// The app's database, inside a running `#[tool]`.
pub fn db() -> crate::Result<DbPool> {
    context().map(|c| c.db)
}

/// One tool call: checked, approved when it must be, run once as a step.
async fn call_tool<A: Agent>(
    ctx: &WorkflowCtx,
    agent: &A,
    def: &AgentDef,
    call: &ToolCall,
    events: &events::Publisher,
) -> Result<ToolOutcome, crate::Error> {
    let refuse = |output: String| ToolOutcome {
        output,
        error: true,
    };
    let Some(tool) = def.tools.iter().find(|t| t.name == call.name) else {
        let names: Vec<&str> = def.tools.iter().map(|t| t.name).collect();
        return Ok(refuse(format!(
            "there is no tool `{}`; the tools are: {}",
            call.name,
            names.join(", ")
        )));
    };
    if let Err(why) = check_arguments(&tool.schema(), &call.arguments) {
        return Ok(refuse(format!(
            "invalid arguments for `{}`: {why}",
            tool.name
        )));
    }
    // An operator may approve corrected arguments: the tool runs with those.
    let mut approved_arguments = None;
    if tool.requires_approval {
        let run_id = ctx.run_id().to_string();
        let expires = crate::support::clock::now_ms()
            + i64::try_from(def.approval_timeout.as_millis()).unwrap_or(i64::MAX);
        let request: i64 = {
            let (call, agent_name) = (call.clone(), def.name);
            let run_id = run_id.clone();
            ctx.step_tx(&format!("approval-request:{}", call.id), move |c| {
                approvals::insert(c, &run_id, agent_name, &call, Some(expires))
            })
            .await?
        };
        events.publish(AgentEvent::Approval {
            request,
            tool: tool.name.to_string(),
            arguments: call.arguments.clone(),
        });
        let decision = ctx
            .wait_signal::<Decision>(&approvals::signal_name(&call.id), def.approval_timeout)
            .await;
        match decision {
            Ok(d)
                if d.approved && d.arguments_hash == approvals::arguments_hash(&call.arguments) =>
            {
                if let Some(edited) = d.edited {
                    if let Err(why) = check_arguments(&tool.schema(), &edited) {
                        return Ok(refuse(format!(
                            "{} approved edited arguments that `{}` does not take: {why}",
                            d.by, tool.name
                        )));
                    }
                    approved_arguments = Some(edited);
                }
            }
            Ok(d) if d.approved => {
                return Ok(refuse("the approval was given for other arguments".into()));
            }
            Ok(d) => {
                return Ok(refuse(format!(
                    "a person refused this call ({}){}",
                    d.by,
                    d.reason.map(|r| format!(": {r}")).unwrap_or_default()
                )));
            }
            Err(WorkflowError::Timeout { .. }) => {
                let (run_id, call_id) = (run_id.clone(), call.id.clone());
                ctx.step_tx(&format!("approval-expired:{}", call.id), move |c| {
                    approvals::expire(c, &run_id, &call_id)
                })
                .await?;
                return Ok(refuse("nobody approved this call in time".into()));
            }
            Err(other) => return Err(other.into()),
        }
    }
    let name = tool.name;
    let arguments = approved_arguments.unwrap_or_else(|| call.arguments.clone());
    let context = ToolContext {
        db: ctx.db().clone(),
        run_id: ctx.run_id().to_string(),
    };
    let outcome: ToolOutcome = ctx
        .step_with(&format!("tool:{}", call.id), Retry::none(), || {
            let arguments = arguments.clone();
            let context = context.clone();
            async move {
                let result = TOOL_CONTEXT
                    .scope(context, agent.call_tool(name, arguments))
                    .await;
                Ok::<_, workflow::StepError>(match result {
                    Ok(output) => ToolOutcome {
                        output,
                        error: false,
                    },
                    Err(output) => ToolOutcome {
                        output,
                        error: true,
                    },
                })
            }
        })
        .await?;
    Ok(outcome)
}

/// Starts a run of agent `A` with `message`; a worker (or
/// [`resume`]) carries it on. Returns its id.
pub async fn start<A: Agent>(db: &DbPool, message: &str) -> crate::Result<String> {
    let input = AgentInput {
        message: message.to_string(),
    };
    let handle = workflow::start(db, A::DEFINITION.workflow, 1, &input, None).await?;
    Ok(handle.id)
}

/// Starts a run of agent `A` under the id `run_id`: starting again with the
/// same id returns the existing run (an idempotency key, e.g. `ticket-42`,
/// which the agent's tools can read back from [`context`]).
pub async fn start_with_id<A: Agent>(
    db: &DbPool,
    run_id: &str,
    message: &str,
) -> crate::Result<String> {
    let input = AgentInput {
        message: message.to_string(),
    };
    let handle = workflow::start(db, A::DEFINITION.workflow, 1, &input, Some(run_id)).await?;
    Ok(handle.id)
}

/// Starts a run of agent `A` and carries it on here until it completes or
/// parks (for an approval).
pub async fn run<A: Agent>(db: &DbPool, message: &str) -> crate::Result<AgentRun> {
    let id = start::<A>(db, message).await?;
    resume::<A>(db, &id).await
}

/// Carries run `run_id` of agent `A` on here (after an approval, or to
/// finish a run a crashed process left), then reports where it stands.
pub async fn resume<A: Agent>(db: &DbPool, run_id: &str) -> crate::Result<AgentRun> {
    let defs = [workflow_def::<A>()];
    let settings = WorkerSettings {
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(250),
    };
    // Until it parks or ends; a retryable failure is retried after its
    // backoff by a worker, not here.
    workflow::run_now(db, &defs, run_id, settings).await?;
    show(db, run_id).await
}

/// Where run `run_id` stands.
pub async fn show(db: &DbPool, run_id: &str) -> crate::Result<AgentRun> {
    let id = run_id.to_string();
    let (run, pending) = db
        .run(move |c| {
            let run = workflow::store::find_run(c, &id)?.ok_or(DbError::NotFound)?;
            let pending = approvals::list(c, Some("pending"), Some(&id), 100)?;
            Ok((run, pending))
        })
        .await?;
    let outcome = run
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str::<AgentOutcome>(o).ok());
    Ok(AgentRun {
        id: run.id,
        status: run.status,
        outcome,
        error: run.error,
        pending,
    })
}

/// The agents of an app (what `bao::app! { agents: [..] }` registers), for
/// the CLI and `bao describe`.
#[derive(Clone, Default)]
pub struct Agents {
    pub(crate) entries: Vec<AgentEntry>,
}

/// One registered agent.
#[derive(Clone)]
pub struct AgentEntry {
    /// Its definition.
    pub def: AgentDef,
    /// The workflow of its runs.
    pub workflow: WorkflowDef,
    /// Starts a run (for `bao agents:run`).
    pub start: for<'a> fn(&'a DbPool, &'a str) -> BoxFuture<'a, crate::Result<String>>,
}

impl AgentEntry {
    /// The entry of agent `A`.
    pub fn of<A: Agent>() -> AgentEntry {
        AgentEntry {
            def: A::DEFINITION,
            workflow: workflow_def::<A>(),
            start: |db, message| Box::pin(start::<A>(db, message)),
        }
    }
}

impl AgentEntry {
    /// As `bao describe --json` and `bao agents:list --json` show it: its
    /// settings and its tools with their JSON schemas.
    pub fn describe(&self) -> serde_json::Value {
        let d = &self.def;
        serde_json::json!({
            "name": d.name,
            "workflow": d.workflow,
            "instructions": d.instructions,
            "max_steps": d.max_steps,
            "max_tokens": d.max_tokens,
            "max_cost_usd": d.max_cost_usd,
            "rag": d.rag,
            "approval_timeout_ms": u64::try_from(d.approval_timeout.as_millis()).unwrap_or(u64::MAX),
            "tools": d.tools.iter().map(|t| serde_json::json!({
                "name": t.name,
                "description": t.description,
                "requires_approval": t.requires_approval,
                "scope": t.scope,
                "parameters": t.schema(),
            })).collect::<Vec<_>>(),
        })
    }
}

impl Agents {
    /// The registered agents.
    pub fn entries(&self) -> &[AgentEntry] {
        &self.entries
    }
}

impl crate::subsystem::Subsystem for Agents {
    fn name(&self) -> &'static str {
        "agents"
    }

    fn mount(&self, core: &crate::subsystem::Core) -> crate::subsystem::Mounted {
        let mounted = crate::subsystem::Mounted::new();
        let (Some(pool), false) = (core.db.clone(), self.entries.is_empty()) else {
            return mounted;
        };
        let Some(gauge) = crate::obs::metrics::StatusGauge::register(
            &core.metrics,
            "bao_agent_approvals",
            "bao_agent_approvals",
            "Approval requests of agent tools by status",
        ) else {
            return mounted;
        };
        mounted.metrics(move || {
            let (gauge, pool) = (gauge.clone(), pool.clone());
            async move {
                gauge.refresh(&pool).await;
                String::new()
            }
        })
    }
}
