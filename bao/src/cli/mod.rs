//! The `bao` command line. One definition serves two binaries:
//!
//! - the installed `bao` (`cargo install --path bao`) runs the commands that
//!   write source or drive cargo (`init`, `run`, `check`, `test`) itself, and
//!   forwards the others to the app binary with `cargo run --`;
//! - the app binary calls [`main`] with its `App` and serves `serve`, `routes`,
//!   `describe`, `config` and `check` directly.

mod admin_commands;
mod agent_commands;
mod ai_commands;
mod app_commands;
mod auth_commands;
mod dev;
mod init;
mod log_commands;
mod mcp_commands;
pub use mcp_commands::McpToolsArgs;
mod memory_commands;
mod migrations;
mod plugin_commands;
pub use log_commands::LogsArgs;
mod project;
mod workflow_commands;

use crate::App;
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

/// Bao: the full-stack web framework where a misconfigured app does not compile.
#[derive(Debug, Parser)]
#[command(
    name = "bao",
    version,
    propagate_version = true,
    arg_required_else_help = true
)]
#[command(
    after_help = "Inside an app, `serve`, `routes`, `describe` and `config` run the app's own binary (`cargo run --`)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new Bao app in a new folder (also `bao new`)
    #[command(alias = "new")]
    Init(InitArgs),
    /// Development server: rebuilds and restarts on every change to src/, views/, static/ or Cargo.toml; open pages reload
    Run(RunArgs),
    /// Production server (no rebuilds); stops gracefully on SIGTERM
    Serve(ServeArgs),
    /// Build the app and list its routes; exits non-zero if it does not build or its config is invalid
    Check(JsonArgs),
    /// List the app's routes
    Routes(JsonArgs),
    /// Describe the app for tools and AI agents: routes, config keys, versions
    Describe(JsonArgs),
    /// Print the resolved configuration, secrets redacted
    Config(JsonArgs),
    /// Run the app's tests (cargo nextest if installed, else cargo test)
    Test(TestArgs),
    /// Write the migration that brings the database to the models: migrations/VERSION_NAME/{sqlite,postgres}/{up,down}.sql
    #[command(name = "make:migration")]
    MakeMigration(MakeMigrationArgs),
    /// Apply pending migrations in order, each in its own transaction
    Migrate,
    /// Fill the database with the app's seed data (App::seed), after applying pending migrations
    #[command(name = "db:seed")]
    DbSeed,
    /// Create the database BAO_DATABASE_URL names (PostgreSQL: through the server's `postgres` database; SQLite: the file and its folder)
    #[command(name = "db:create")]
    DbCreate,
    /// Drop the database BAO_DATABASE_URL names (refused in production without --force)
    #[command(name = "db:drop")]
    DbDrop(DbDropArgs),
    /// Drop, create and migrate the database, then seed it when the app has seed data (refused in production without --force)
    #[command(name = "db:reset")]
    DbReset(DbDropArgs),
    /// Roll back the last applied migrations with their down.sql
    #[command(name = "migrate:rollback")]
    MigrateRollback(RollbackArgs),
    /// List migrations as applied, pending, changed or missing, with checksums
    #[command(name = "migrate:status")]
    MigrateStatus(JsonArgs),
    /// Generate email + password auth: User model, migration, login/register/logout pages, tests
    #[command(name = "make:auth")]
    MakeAuth(GenerateArgs),
    /// Mint an API token for a user; it is printed once and stored only as a hash
    #[command(name = "tokens:issue")]
    TokensIssue(TokensIssueArgs),
    /// List a user's API tokens (never the tokens themselves)
    #[command(name = "tokens:list")]
    TokensList(TokensListArgs),
    /// Revoke an API token by its id or by the token itself
    #[command(name = "tokens:revoke")]
    TokensRevoke(TokensRevokeArgs),
    /// Show the newest entries of the audit log (logins, logouts, tokens, denials)
    Audit(AuditArgs),
    /// Print or write the OpenAPI document of the app's #[bao::api] resources
    Openapi(OpenapiArgs),
    /// Generate a JSON API resource and its tests for an existing model
    #[command(name = "make:api")]
    MakeApi(MakeApiArgs),
    /// Generate a model, its migration, pages to list/show/create/edit/delete it, and tests
    #[command(name = "make:crud")]
    MakeCrud(MakeCrudArgs),
    /// Generate a controller with one page per action, its views and tests
    #[command(name = "make:controller")]
    MakeController(MakeControllerArgs),
    /// Generate a background task (or, with --every/--cron, a schedule) and its test
    #[command(name = "make:task")]
    MakeTask(MakeTaskArgs),
    /// Generate a script in examples/ that runs against the app's models and database (bao run-script NAME)
    #[command(name = "make:script")]
    MakeScript(MakeScriptArgs),
    /// Build and run a script from examples/ with the app's configuration and database; arguments after the name are passed on
    #[command(name = "run-script")]
    RunScript(RunScriptArgs),
    /// Generate a Dockerfile (cached dependency layer, slim non-root image, health check) and .dockerignore
    #[command(name = "make:dockerfile")]
    MakeDockerfile(GenerateArgs),
    /// Run workflow workers without the web server, until SIGTERM
    Worker,
    /// List workflow runs, newest first
    #[command(name = "workflows:list")]
    WorkflowsList(WorkflowsListArgs),
    /// Show a workflow run and its steps
    #[command(name = "workflows:show")]
    WorkflowsShow(WorkflowRunArgs),
    /// Start a run of a workflow with a JSON input; --wait runs it here until it finishes or parks
    #[command(name = "workflows:start")]
    WorkflowsStart(WorkflowStartArgs),
    /// Send a signal (with a JSON payload) to a workflow run
    #[command(name = "workflows:signal")]
    WorkflowsSignal(SignalArgs),
    /// Cancel a workflow run that has not finished
    #[command(name = "workflows:cancel")]
    WorkflowsCancel(WorkflowRunArgs),
    /// Run a failed or cancelled workflow run again: completed steps are not re-run
    #[command(name = "workflows:replay")]
    WorkflowsReplay(ReplayArgs),
    /// Wake a sleeping or waiting workflow run now
    #[command(name = "workflows:resume")]
    WorkflowsResume(WorkflowRunArgs),
    /// Run the #[bao::every] scheduler (and the task workers that run its ticks) until SIGTERM
    #[command(name = "scheduler:run")]
    SchedulerRun(SchedulerRunArgs),
    /// List the app's tasks and schedules (with their next slot), then recent tasks, newest first
    #[command(name = "tasks:list")]
    TasksList(TasksListArgs),
    /// Run a task now (stored like any task; its outcome printed), or only enqueue it with --enqueue
    #[command(name = "tasks:run")]
    TasksRun(TasksRunArgs),
    /// List dead letters (failed-for-good tasks and workflow runs), newest first
    #[command(name = "dlq:list")]
    DlqList(DlqListArgs),
    /// Replay a dead letter: the task is enqueued again, the run started again
    #[command(name = "dlq:replay")]
    DlqReplay(DlqReplayArgs),
    /// Delete every dead letter of a queue
    #[command(name = "dlq:purge")]
    DlqPurge(DlqPurgeArgs),
    /// Ask the app's AI router and print the answer
    #[command(name = "ai:ask")]
    AiAsk(AiAskArgs),
    /// Ask the app's AI router and print the answer as it streams
    #[command(name = "ai:stream")]
    AiStream(AiAskArgs),
    /// List the AI providers in the order they are tried, with models, prices and circuit state
    #[command(name = "ai:providers")]
    AiProviders(JsonArgs),
    /// Print the app's recent log lines (from BAO_LOG_FILE), filtered by level or request id; --follow keeps printing
    #[command(name = "logs")]
    Logs(LogsArgs),
    /// Print a one-time link (valid 15 minutes) that signs a browser in to the admin console (needs BAO_ADMIN_TOKEN)
    #[command(name = "admin:link")]
    AdminLink(AdminLinkArgs),
    /// Copy the admin console's page templates into views/admin/, where they replace Bao's (all pages, or those named)
    #[command(name = "admin:eject")]
    AdminEject(AdminEjectArgs),
    /// List the app's plugins and what each declared (hosts, secrets, database, routes)
    #[command(name = "plugins:list")]
    PluginsList(JsonArgs),
    /// Compare what each plugin declared with what it used and was refused (recorded in the database)
    #[command(name = "plugins:audit")]
    PluginsAudit(JsonArgs),
    /// List the app's agents and their tools (with the JSON schemas of their arguments in --json)
    #[command(name = "agents:list")]
    AgentsList(JsonArgs),
    /// Run an agent on a message here until it answers or waits for an approval
    #[command(name = "agents:run")]
    AgentsRun(AgentRunArgs),
    /// Show an agent run: status, answer, usage, pending approvals
    #[command(name = "agents:show")]
    AgentsShow(WorkflowRunArgs),
    /// List approval requests of tools that require one, newest first
    #[command(name = "agents:pending")]
    AgentsPending(AgentsPendingArgs),
    /// Approve a tool call (once), then carry its run on
    #[command(name = "agents:approve")]
    AgentsApprove(AgentDecideArgs),
    /// Deny a tool call (once): the model is told it was refused
    #[command(name = "agents:deny")]
    AgentsDeny(AgentDecideArgs),
    /// Add a text to a vector memory (made on first use with the embedder's dimensions)
    #[command(name = "memory:add")]
    MemoryAdd(MemoryAddArgs),
    /// Search a vector memory by meaning, keywords or both
    #[command(name = "memory:search")]
    MemorySearch(MemorySearchArgs),
    /// Delete a vector memory's oldest items by age and/or count
    #[command(name = "memory:prune")]
    MemoryPrune(MemoryPruneArgs),
    /// Split a file (or each .md/.txt file of a folder) into chunks and store them for retrieval
    #[command(name = "rag:ingest")]
    RagIngest(RagIngestArgs),
    /// The chunks that best match a query
    #[command(name = "rag:retrieve")]
    RagRetrieve(RagRetrieveArgs),
    /// Answer a question from the ingested documents, with sources
    #[command(name = "rag:ask")]
    RagAsk(RagAskArgs),
    /// Serve the MCP server on stdin/stdout for AI coding agents (build and operate tools)
    #[command(name = "mcp:serve")]
    McpServe,
    /// List the MCP server's tools and the size of their list in tokens
    #[command(name = "mcp:tools")]
    McpTools(McpToolsArgs),
}

/// `bao memory:add`.
#[derive(Debug, Args)]
pub struct MemoryAddArgs {
    /// The memory's name
    pub name: String,
    /// The text
    pub text: String,
    /// Metadata, a JSON object (filter on it in searches)
    #[arg(long, default_value = "{}")]
    pub metadata: String,
    /// Work in this tenant's items only (a tenant id, as `bao::Tenant(N)`)
    #[arg(long)]
    pub tenant: Option<i64>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao memory:search`.
#[derive(Debug, Args)]
pub struct MemorySearchArgs {
    /// The memory's name
    pub name: String,
    /// What to look for
    pub query: String,
    /// How many results
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Keep only items whose metadata has key=value (repeatable)
    #[arg(long)]
    pub filter: Vec<String>,
    /// vector, keyword or hybrid
    #[arg(long, default_value = "vector")]
    pub mode: crate::memory::Mode,
    /// Search by meaning inside SQLite with sqlite-vec (nothing cached in RAM; slower)
    #[arg(long)]
    pub in_database: bool,
    /// Say on stderr how the search ran (index, filters, time)
    #[arg(long)]
    pub explain: bool,
    /// Work in this tenant's items only (a tenant id, as `bao::Tenant(N)`)
    #[arg(long)]
    pub tenant: Option<i64>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao memory:prune`.
#[derive(Debug, Args)]
pub struct MemoryPruneArgs {
    /// The memory's name
    pub name: String,
    /// Delete items older than this, e.g. 30d, 12h
    #[arg(long, value_parser = parse_lifetime)]
    pub max_age: Option<std::time::Duration>,
    /// Keep at most this many of the newest items
    #[arg(long)]
    pub max_items: Option<usize>,
    /// Work in this tenant's items only (a tenant id, as `bao::Tenant(N)`)
    #[arg(long)]
    pub tenant: Option<i64>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao rag:ingest`.
#[derive(Debug, Args)]
pub struct RagIngestArgs {
    /// A title (default: the file's name; each file's name for a folder)
    #[arg(long)]
    pub title: Option<String>,
    /// The file, or a folder of .md and .txt files; ingesting a file again replaces its chunks
    #[arg(long)]
    pub from_file: std::path::PathBuf,
    /// The longest chunk, in characters (chunks end at paragraphs, sentences or words)
    #[arg(long, default_value_t = crate::rag::CHUNK_CHARS)]
    pub chunk_chars: usize,
    /// How many characters of a chunk's end start the next one (at most half of --chunk-chars)
    #[arg(long, default_value_t = crate::rag::OVERLAP_CHARS)]
    pub overlap: usize,
    /// Work in this tenant's items only (a tenant id, as `bao::Tenant(N)`)
    #[arg(long)]
    pub tenant: Option<i64>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao rag:retrieve`.
#[derive(Debug, Args)]
pub struct RagRetrieveArgs {
    /// What to look for
    pub query: String,
    /// How many chunks
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// hybrid (default), vector or keyword
    #[arg(long, default_value = "hybrid")]
    pub mode: crate::memory::Mode,
    /// Work in this tenant's items only (a tenant id, as `bao::Tenant(N)`)
    #[arg(long)]
    pub tenant: Option<i64>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao rag:ask`.
#[derive(Debug, Args)]
pub struct RagAskArgs {
    /// The question
    pub question: String,
    /// How many chunks to give the model
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Work in this tenant's items only (a tenant id, as `bao::Tenant(N)`)
    #[arg(long)]
    pub tenant: Option<i64>,
    /// Print JSON (answer and sources) instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao agents:run`.
#[derive(Debug, Args)]
pub struct AgentRunArgs {
    /// The agent's name (see agents:list)
    pub name: String,
    /// The user's message
    pub message: String,
    /// Print the run's events (text, tool calls, results) as they happen
    #[arg(long)]
    pub stream: bool,
    /// Print the run as JSON at the end
    #[arg(long)]
    pub json: bool,
}

/// `bao agents:pending`.
#[derive(Debug, Args)]
pub struct AgentsPendingArgs {
    /// Every request (approved, denied, expired too), not only pending ones
    #[arg(long)]
    pub all: bool,
    /// How many, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao agents:approve` and `bao agents:deny`.
#[derive(Debug, Args)]
pub struct AgentDecideArgs {
    /// The request's id (see agents:pending)
    pub id: i64,
    /// Who decides, recorded and audited (default: $USER)
    #[arg(long)]
    pub by: Option<String>,
    /// Why (shown to the model with a denial)
    #[arg(long)]
    pub reason: Option<String>,
    /// Only record the decision; a worker carries the run on
    #[arg(long)]
    pub no_resume: bool,
    /// Approve these arguments (a JSON object) instead of the model's; the
    /// tool runs with them once they fit its schema
    #[arg(long)]
    pub arguments: Option<String>,
}

/// `bao ai:ask` and `bao ai:stream`.
#[derive(Debug, Args)]
pub struct AiAskArgs {
    /// The prompt
    pub prompt: String,
    /// A system message before it
    #[arg(long)]
    pub system: Option<String>,
    /// Ask only this provider (no fallback)
    #[arg(long)]
    pub provider: Option<String>,
    /// Use this model instead of the provider's configured one
    #[arg(long)]
    pub model: Option<String>,
    /// The longest answer, in tokens
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Print JSON (text, usage, cost, provider, model) instead of the text
    #[arg(long)]
    pub json: bool,
}

/// `bao scheduler:run`.
#[derive(Debug, Args)]
pub struct SchedulerRunArgs {
    /// Fire each schedule's latest due slot (unless fired already), run those ticks, and exit
    #[arg(long)]
    pub once: bool,
}

/// `bao tasks:run`.
#[derive(Debug, Args)]
pub struct TasksRunArgs {
    /// The task's name
    pub name: String,
    /// Its arguments as a JSON array, in order, e.g. '[42]'
    #[arg(default_value = "[]")]
    pub args: String,
    /// Only enqueue it (a worker runs it); by default it also runs here, now
    #[arg(long)]
    pub enqueue: bool,
}

/// `bao tasks:list`.
#[derive(Debug, Args)]
pub struct TasksListArgs {
    /// Only tasks with this status (queued, running, done, dead)
    #[arg(long, value_parser = ["queued", "running", "done", "dead"])]
    pub status: Option<String>,
    /// How many of the newest tasks
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao dlq:list`.
#[derive(Debug, Args)]
pub struct DlqListArgs {
    /// Only this queue (a task's name, or workflow:NAME)
    #[arg(long)]
    pub queue: Option<String>,
    /// How many, newest first
    #[arg(long, default_value_t = 50)]
    pub tail: u32,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao dlq:replay`.
#[derive(Debug, Args)]
pub struct DlqReplayArgs {
    /// The dead letter's id
    pub id: i64,
}

/// `bao dlq:purge`.
#[derive(Debug, Args)]
pub struct DlqPurgeArgs {
    /// The queue to empty
    #[arg(long)]
    pub queue: String,
}

/// `bao workflows:list`.
#[derive(Debug, Args)]
pub struct WorkflowsListArgs {
    /// Only runs with this status (pending, running, sleeping, waiting, completed, failed, cancelled)
    #[arg(long)]
    pub status: Option<String>,
    /// How many runs
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// A command about one workflow run.
#[derive(Debug, Args)]
pub struct WorkflowRunArgs {
    /// The run's id
    pub run_id: String,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao db:drop` and `bao db:reset`.
#[derive(Debug, Args)]
pub struct DbDropArgs {
    /// Allow it in production, and end other sessions on a PostgreSQL database
    #[arg(long)]
    pub force: bool,
}

/// `bao workflows:start`.
#[derive(Debug, Args)]
pub struct WorkflowStartArgs {
    /// The workflow's name (`bao workflows:list` shows runs; `bao describe` the workflows)
    pub name: String,
    /// The input as JSON, e.g. '{"order_id": 7}' (default: null)
    #[arg(default_value = "null")]
    pub input: String,
    /// The run's id (an idempotency key: starting the same id twice gives the existing run)
    #[arg(long)]
    pub id: Option<String>,
    /// Run it here, now, until it completes, fails or parks (sleeps, waits for a signal)
    #[arg(long)]
    pub wait: bool,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao workflows:replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The run's id
    pub run_id: String,
    /// Do not replay: re-run the completed steps without writing anything
    /// and report each whose result differs from the recorded one
    #[arg(long)]
    pub deterministic_check: bool,
    /// Print JSON instead of text (with --deterministic-check)
    #[arg(long)]
    pub json: bool,
}

/// `bao workflows:signal`.
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The run's id
    pub run_id: String,
    /// The signal's name
    pub name: String,
    /// Its payload, as JSON (default: null)
    #[arg(default_value = "null")]
    pub payload: String,
}

/// `bao make:controller`.
#[derive(Debug, Args)]
pub struct MakeControllerArgs {
    /// The controller, UpperCamelCase, e.g. Reports
    pub name: String,
    /// Comma-separated actions; `index` is `/`, `show` is `/{id}`, others `/name`
    #[arg(long, default_value = "index")]
    pub actions: String,
    /// Serve the pages without login (the default requires a signed-in user)
    #[arg(long)]
    pub public: bool,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// `bao make:task`.
#[derive(Debug, Args)]
#[command(
    after_help = "Schedules: --every \"30s\", \"5m\", \"1h\", \"every day at 06:30\", \"monday at 9am\", \"weekdays at 17:45\"; or --cron \"0 */5 * * * *\" (seconds first; a 5-field crontab line works too)"
)]
pub struct MakeTaskArgs {
    /// The task's function, snake_case, e.g. send_receipt
    pub name: String,
    /// Make it a schedule that fires this often
    #[arg(long, conflicts_with = "cron")]
    pub every: Option<String>,
    /// Make it a schedule with this cron expression
    #[arg(long)]
    pub cron: Option<String>,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// `bao make:script`.
#[derive(Debug, Args)]
pub struct MakeScriptArgs {
    /// The script, snake_case: examples/NAME.rs
    pub name: String,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// `bao run-script`.
#[derive(Debug, Args)]
#[command(
    after_help = "A script is examples/NAME.rs calling bao::script::run(app, |ctx| async move { .. }) (bao make:script NAME writes one).\nBao has no Rust REPL: a script is the console, kept in the app and run again at will."
)]
pub struct RunScriptArgs {
    /// The script: NAME or examples/NAME.rs
    pub name: String,
    /// Arguments for the script (ctx.args)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Build in release mode (for scripts over many rows)
    #[arg(long)]
    pub release: bool,
}

/// `bao make:crud`.
#[derive(Debug, Args)]
#[command(
    after_help = "Field types: str (default), text, int, float, bool, datetime, date, time, decimal, 'enum(a|b|c)', ref:Model\n\nExample: bao make:crud Task name:str done:bool due:datetime 'status:enum(open|closed)' owner_id:ref:User\n(quote enum fields: `|` and `(` mean something to the shell)"
)]
pub struct MakeCrudArgs {
    /// The model, singular and UpperCamelCase, e.g. Task
    pub model: String,
    /// Fields as name[:type]
    #[arg(required = true)]
    pub fields: Vec<String>,
    /// Serve the pages without login (the default requires a signed-in user)
    #[arg(long, conflicts_with = "shared")]
    pub public: bool,
    /// Let every signed-in user see and change every row (the default: each row is its creator's, with a user_id)
    #[arg(long)]
    pub shared: bool,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// `bao openapi`.
#[derive(Debug, Args)]
pub struct OpenapiArgs {
    /// Write the document to this file instead of printing it
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Compare with this file (default: openapi.json) and fail if it differs from the code
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "openapi.json")]
    pub check: Option<std::path::PathBuf>,
}

/// `bao make:api`.
#[derive(Debug, Args)]
pub struct MakeApiArgs {
    /// The model to serve, e.g. Note (a #[bao::model] struct in src/)
    pub model: String,
    /// Serve it without login (the default requires a signed-in user)
    #[arg(long)]
    pub public: bool,
    /// Let every signed-in user reach every row (by default a model with a
    /// `user_id` key is owned: each user reaches only their own rows)
    #[arg(long, conflicts_with = "public")]
    pub shared: bool,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

/// Options of every generator.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Print the files instead of writing them
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite files that already exist (the only way a generator overwrites)
    #[arg(long)]
    pub force: bool,
}

/// `bao tokens:issue`.
#[derive(Debug, Args)]
pub struct TokensIssueArgs {
    /// The user's id
    pub user_id: i64,
    /// A name to recognise the token by, e.g. "ci"
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Lifetime, e.g. 30d, 12h, 90m (default: no expiry)
    #[arg(long, value_parser = parse_lifetime)]
    pub expires: Option<std::time::Duration>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

fn parse_lifetime(text: &str) -> Result<std::time::Duration, String> {
    crate::support::units::parse_duration(text)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a duration: write 30d, 12h, 90m or 3600s"))
}

/// `bao tokens:list`.
#[derive(Debug, Args)]
pub struct TokensListArgs {
    /// The user's id
    pub user_id: i64,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao tokens:revoke`.
#[derive(Debug, Args)]
pub struct TokensRevokeArgs {
    /// The token's id (from tokens:list) or the token itself
    pub token: String,
}

/// `bao audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// How many entries, newest first
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub tail: u32,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao make:migration`.
#[derive(Debug, Args)]
pub struct MakeMigrationArgs {
    /// What the migration does, e.g. "create posts"
    pub name: String,
    /// Print the files instead of writing them
    #[arg(long)]
    pub dry_run: bool,
    /// Write empty up/down files to fill by hand, without building the app
    /// (otherwise the SQL comes from the compiled models, and a broken build
    /// is refused)
    #[arg(long)]
    pub empty: bool,
}

/// `bao migrate:rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// How many migrations to roll back, newest first
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub steps: u32,
}

/// `bao init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The app's name, e.g. "My App" (its folder and package become my-app)
    #[arg(long)]
    pub name: String,
    /// Folder to create (default: the package name, in the current folder)
    #[arg(long)]
    pub path: Option<std::path::PathBuf>,
    /// Write into the folder even if it is not empty (overwrites Bao's files)
    #[arg(long)]
    pub force: bool,
    /// Depend on the bao crate at this path (default: the checkout this CLI was built from)
    #[arg(long, conflicts_with = "bao_version")]
    pub bao_path: Option<std::path::PathBuf>,
    /// Depend on this version of bao from the registry instead of a path
    #[arg(long)]
    pub bao_version: Option<String>,
}

/// Where a server listens (`bao run`, `bao serve`).
#[derive(Debug, Clone, Args)]
pub struct BindArgs {
    /// Address to bind (default: BAO_HOST or 127.0.0.1)
    #[arg(long)]
    pub host: Option<String>,
    /// Port to bind (default: BAO_PORT or 8000)
    #[arg(long)]
    pub port: Option<u16>,
}

/// `bao run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub bind: BindArgs,
}

/// `bao serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub bind: BindArgs,
    /// HTTP worker threads (default: BAO_WORKERS or the number of CPUs)
    #[arg(long)]
    pub workers: Option<usize>,
    /// Start in production although the models changed since the last generated migration
    #[arg(long)]
    pub allow_unmigrated: bool,
}

/// `bao admin:link`.
#[derive(Debug, Args)]
pub struct AdminLinkArgs {
    /// The address browsers reach the app at (default: http://BAO_HOST:BAO_PORT)
    #[arg(long)]
    pub base_url: Option<String>,
    /// Print {"url": .., "expires_at": ..} as JSON
    #[arg(long)]
    pub json: bool,
}

/// `bao admin:eject`.
#[derive(Debug, Args)]
pub struct AdminEjectArgs {
    /// Pages to copy: overview, runs, approvals, dead_letters, tasks, audit, base (default: all)
    pub pages: Vec<String>,
    /// Overwrite templates already under views/admin/
    #[arg(long)]
    pub force: bool,
}

/// `--json` for commands that print data.
#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

/// `bao test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Arguments passed on to the test runner (after `--`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// The group a command is listed under in `bao --help`, by its name.
fn group_of(name: &str) -> &'static str {
    let prefix = name.split(':').next().unwrap_or(name);
    match (prefix, name) {
        (_, "make:auth") | ("tokens", _) => "Auth",
        ("make", _) => "Generate",
        ("migrate" | "db", _) => "Data",
        ("worker" | "workflows" | "tasks" | "scheduler" | "dlq", _) => "Work",
        ("ai" | "agents" | "memory" | "rag", _) => "AI",
        ("logs" | "admin" | "plugins" | "mcp", _) => "Operate",
        _ => "App",
    }
}

/// The commands of `cmd` under their group headings.
fn grouped_commands(cmd: &clap::Command) -> String {
    const GROUPS: &[&str] = &["App", "Data", "Generate", "Work", "Auth", "AI", "Operate"];
    let width = cmd
        .get_subcommands()
        .map(|c| c.get_name().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for group in GROUPS {
        let mut lines = cmd
            .get_subcommands()
            .filter(|c| !c.is_hide_set() && group_of(c.get_name()) == *group)
            .map(|c| {
                let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
                format!("  {:<width$}  {about}\n", c.get_name())
            })
            .peekable();
        if lines.peek().is_none() {
            continue;
        }
        out.push_str(&format!("{group}:\n"));
        out.extend(lines);
        out.push('\n');
    }
    out
}

/// Parses the command line, with `--help` listing commands by group.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = Cli::command();
    let listing = grouped_commands(&cmd);
    let cmd = cmd.help_template(format!(
        "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{listing}Options:\n{{options}}{{after-help}}"
    ));
    Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit())
}

/// A command piped into a reader that stops early (`bao describe --json |
/// head`) ends quietly, as Unix tools do, instead of panicking when it next
/// writes: the default action of SIGPIPE, which Rust's runtime ignores.
/// Servers and workers keep Rust's default: a closed log pipe must not stop
/// them.
fn quiet_broken_pipes(command: &Command) {
    if matches!(
        command,
        Command::Run(_) | Command::Serve(_) | Command::Worker | Command::SchedulerRun(_)
    ) {
        return;
    }
    #[cfg(unix)]
    // SAFETY: resetting a signal's disposition to its default, before any
    // thread is started, has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The entry point of an app binary: `fn main() -> ExitCode { bao::cli::main(my_app::app()) }`.
pub fn main(app: App) -> ExitCode {
    let cli = parse_cli();
    quiet_broken_pipes(&cli.command);
    app_commands::run(app, cli.command)
}

/// The entry point of the installed `bao` binary.
pub fn installed_main() -> ExitCode {
    let cli = parse_cli();
    quiet_broken_pipes(&cli.command);
    match cli.command {
        Command::Init(args) => init::run(&args),
        Command::Run(args) => dev::run(&args),
        Command::Check(args) => project::check(&args),
        Command::Test(args) => project::test(&args),
        Command::MakeMigration(args) => project::make_migration(&args),
        Command::MakeAuth(args) => project::make_auth(&args),
        Command::MakeApi(args) => project::make_api(&args),
        Command::MakeCrud(args) => project::make_crud(&args),
        Command::MakeController(args) => project::make_controller(&args),
        Command::MakeTask(args) => project::make_task(&args),
        Command::MakeScript(args) => project::make_script(&args),
        Command::RunScript(args) => project::run_script(&args),
        Command::MakeDockerfile(args) => project::make_dockerfile(&args),
        Command::McpServe => mcp_commands::serve(None),
        Command::McpTools(args) => mcp_commands::list_tools(&args),
        Command::AdminEject(args) => admin_commands::eject(&args),
        _ => project::forward(),
    }
}

/// What the AI, agent and memory commands share: the app's configuration,
/// its pool (Bao's tables in place), its AI router installed (the one
/// `setup` gave `App::ai`, else `BAO_AI_*`), and a runtime.
pub(crate) struct AppRuntime {
    pub(crate) config: crate::Config,
    pub(crate) pool: crate::db::DbPool,
    pub(crate) runtime: tokio::runtime::Runtime,
}

pub(crate) fn app_runtime(app: &App) -> Result<AppRuntime, ExitCode> {
    let config = app_commands::load_config(app)?;
    crate::obs::init_logging(&crate::Config {
        log_level: "warn".into(),
        ..config.clone()
    });
    let pool = crate::db::DbPool::new(&config.database_url).map_err(fail)?;
    {
        let mut conn = pool.get().map_err(fail)?;
        pool.ensure_system_tables(&mut conn).map_err(fail)?;
    }
    let router = match app.ai_router() {
        Some(router) => router.clone(),
        None => crate::ai::Router::from_names(
            Some(&config.ai_providers.join(",")),
            config.ai_default.as_deref(),
        )
        .map_err(fail)?,
    };
    crate::ai::install(router);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))?;
    Ok(AppRuntime {
        config,
        pool,
        runtime,
    })
}

/// Prints an error the way every Bao command does and returns failure.
pub(crate) fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}
