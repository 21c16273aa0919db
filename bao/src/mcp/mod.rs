//! The MCP server: Bao's build and operate surface as tools for AI coding
//! agents, on the official SDK (`rmcp`).
//!
//! - [`Toolbox`] is a list of [`ToolDef`]s, each a name, a short
//!   description, a JSON schema and an async handler. The operate tools
//!   (runs, traces, health, dead letters, logs, and the write tools behind
//!   `BAO_MCP_ALLOW_WRITE=1`) are here, in [`operate`]; the build tools
//!   (describe, check, generators) are added by the CLI, which can build
//!   the app (`cli::mcp_commands`).
//! - [`BaoMcp`] serves a toolbox as an rmcp `ServerHandler`: over stdio for
//!   `bao mcp:serve`, over streamable HTTP at `/_bao/mcp` for a running app
//!   ([`http`], `BAO_MCP_HTTP=1`).
//!
//! Every answer is compact JSON text, lists are paged with a cursor and
//! capped (the answer says so when it was cut), errors are tool errors that
//! say how to fix them, and known secret values never leave the process.

pub mod http;
pub mod operate;

use futures_util::future::BoxFuture;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The longest answer a tool gives, in characters; longer ones are cut and
/// say so.
pub const MAX_OUTPUT: usize = 16_000;
/// The most items a list gives at once.
pub const MAX_PAGE: usize = 100;

/// What a tool does to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only.
    Read,
    /// Changes runs, approvals or dead letters: listed only with
    /// `BAO_MCP_ALLOW_WRITE=1`, each call audited.
    Write,
    /// Builds the app or writes its source (generators).
    Build,
}

/// One call of a tool.
#[derive(Debug, Clone)]
pub struct Call {
    /// The arguments the client sent.
    pub args: Map<String, Value>,
    /// Who calls, for the audit log: `mcp:CLIENT` and the OS or API user.
    pub actor: String,
}

impl Call {
    /// A string argument.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.args
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A string argument that must be there.
    pub fn required(&self, key: &str) -> Result<&str, ToolError> {
        self.str(key)
            .ok_or_else(|| ToolError::new(format!("`{key}` is required: pass it as a string")))
    }

    /// An integer argument.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ToolError> {
        match self.args.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ToolError::new(format!("`{key}` is an integer, not `{s}`"))),
            Some(other) => Err(ToolError::new(format!(
                "`{key}` is an integer, not {other}"
            ))),
        }
    }

    /// A boolean argument (false when absent).
    pub fn flag(&self, key: &str) -> bool {
        match self.args.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "true" | "1" | "yes"),
            _ => false,
        }
    }

    /// `limit`, within 1..=[`MAX_PAGE`].
    pub fn limit(&self, default: usize) -> Result<usize, ToolError> {
        Ok(self
            .int("limit")?
            .map_or(default, |n| n.clamp(1, MAX_PAGE as i64) as usize))
    }
}

/// A tool's failure: the client shows it to the model, so it says how to
/// fix it.
#[derive(Debug, Clone)]
pub struct ToolError {
    /// What went wrong and what to do.
    pub message: String,
    /// Structured detail (compiler diagnostics, ...).
    pub detail: Option<Value>,
}

impl ToolError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> ToolError {
        ToolError {
            message: message.into(),
            detail: None,
        }
    }

    /// With structured detail.
    pub fn with_detail(mut self, detail: Value) -> ToolError {
        self.detail = Some(detail);
        self
    }
}

impl From<crate::db::DbError> for ToolError {
    fn from(error: crate::db::DbError) -> ToolError {
        ToolError::new(match error {
            crate::db::DbError::NotFound => "not found: check the id (list them first)".into(),
            other => format!("database: {other}"),
        })
    }
}

impl From<crate::Error> for ToolError {
    fn from(error: crate::Error) -> ToolError {
        ToolError::new(error.to_string())
    }
}

/// What a tool answers.
pub type ToolResult = Result<Value, ToolError>;
type Handler = Arc<dyn Fn(Call) -> BoxFuture<'static, ToolResult> + Send + Sync>;

/// A tool: its name, what it does, its arguments' schema and its handler.
#[derive(Clone)]
pub struct ToolDef {
    /// `bao_...`.
    pub name: &'static str,
    /// One short sentence.
    pub description: &'static str,
    /// What it does to the system.
    pub access: Access,
    /// The JSON schema of its arguments.
    pub schema: Value,
    handler: Handler,
}

impl std::fmt::Debug for ToolDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolDef").field("name", &self.name).finish()
    }
}

impl ToolDef {
    /// A tool. `args` lists its arguments as `(name, type, description)`
    /// with `type` a JSON schema type; names in `required` must be given.
    pub fn new<F, Fut>(
        name: &'static str,
        description: &'static str,
        access: Access,
        args: &[(&str, &str, &str)],
        required: &[&str],
        handler: F,
    ) -> ToolDef
    where
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ToolResult> + Send + 'static,
    {
        let mut properties = Map::new();
        for (arg, kind, about) in args {
            let schema = match *kind {
                "string[]" => {
                    json!({"type": "array", "items": {"type": "string"}, "description": about})
                }
                kind => json!({"type": kind, "description": about}),
            };
            properties.insert((*arg).to_string(), schema);
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        ToolDef {
            name,
            description,
            access,
            schema,
            handler: Arc::new(move |call| Box::pin(handler(call))),
        }
    }

    fn tool(&self) -> Tool {
        let schema = match &self.schema {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let annotations = ToolAnnotations::new()
            .read_only(self.access == Access::Read)
            .destructive(self.access == Access::Write)
            .open_world(false);
        Tool::new(self.name, self.description, Arc::new(schema)).annotate(annotations)
    }
}

/// The tools one server offers, and what it keeps out of answers.
#[derive(Debug, Clone, Default)]
pub struct Toolbox {
    tools: Vec<ToolDef>,
    /// Write tools left out (no `BAO_MCP_ALLOW_WRITE`), to say so when called.
    withheld: Vec<&'static str>,
    secrets: Vec<String>,
}

impl Toolbox {
    /// An empty toolbox that redacts `secrets` (values) from every answer.
    pub fn new(secrets: Vec<String>) -> Toolbox {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 6).collect();
        // Longest first, so a secret containing another is redacted whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Toolbox {
            tools: Vec::new(),
            withheld: Vec::new(),
            secrets,
        }
    }

    /// Adds tools; write tools only when `allow_write`.
    pub fn add(&mut self, tools: impl IntoIterator<Item = ToolDef>, allow_write: bool) {
        for tool in tools {
            if tool.access != Access::Write || allow_write {
                self.tools.retain(|t| t.name != tool.name);
                self.tools.push(tool);
            } else {
                self.withheld.push(tool.name);
            }
        }
    }

    /// The tools, in order.
    pub fn tools(&self) -> &[ToolDef] {
        &self.tools
    }

    /// The tool list as `tools/list` sends it.
    pub fn listing(&self) -> Vec<Tool> {
        self.tools.iter().map(ToolDef::tool).collect()
    }

    /// Runs tool `name`; the answer is compact, capped and redacted.
    pub async fn call(&self, name: &str, call: Call) -> (String, bool) {
        let Some(tool) = self.tools.iter().find(|t| t.name == name) else {
            let hidden = self.withheld.contains(&name);
            let message = if hidden {
                format!("`{name}` changes the system and is off: start the server with BAO_MCP_ALLOW_WRITE=1 to allow it")
            } else {
                format!(
                    "no tool `{name}`: the tools are {}",
                    self.tools
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return (self.redact(&json!({"error": message}).to_string()), true);
        };
        let started = std::time::Instant::now();
        let outcome = (tool.handler)(call).await;
        tracing::info!(
            tool = name,
            ok = outcome.is_ok(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mcp tool call"
        );
        let (value, is_error) = match outcome {
            Ok(value) => (value, false),
            Err(error) => {
                let mut value = json!({"error": error.message});
                if let Some(detail) = error.detail {
                    value["detail"] = detail;
                }
                (value, true)
            }
        };
        (self.redact(&cap(value.to_string())), is_error)
    }

    /// `text` with every known secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        redact_hashes(&out)
    }
}

/// Password hashes never leave: `$argon2...` up to the next quote or space.
fn redact_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("$argon2") {
        out.push_str(&rest[..at]);
        out.push_str("[redacted]");
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c == '"' || c == '\\' || c.is_whitespace())
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Cuts an answer longer than [`MAX_OUTPUT`], saying so.
fn cap(text: String) -> String {
    if text.len() <= MAX_OUTPUT {
        return text;
    }
    let mut end = MAX_OUTPUT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[cut: {} more characters; narrow the call (filters, a smaller limit) or use the cursor]",
        &text[..end],
        text.len() - end
    )
}

/// Items `cursor..cursor+limit` of `items`, with the cursor of the next page
/// when there is one.
pub fn page(items: Vec<Value>, call: &Call, default_limit: usize) -> ToolResult {
    let limit = call.limit(default_limit)?;
    let start = match call.str("cursor") {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            ToolError::new(format!(
                "`cursor` is the value of `next_cursor` of the previous answer, not `{c}`"
            ))
        })?,
    };
    let total = items.len();
    let shown: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let next = start + shown.len();
    let mut out = json!({"items": shown, "total": total});
    if next < total {
        out["next_cursor"] = json!(next.to_string());
        out["note"] = json!(format!(
            "showing {}..{} of {total}; pass cursor \"{next}\" for more",
            start + 1,
            next
        ));
    }
    Ok(out)
}

/// Secret values of this process's configuration and environment: the
/// keys, tokens and passwords a tool's answer must never carry.
pub fn secret_values(config: &crate::Config) -> Vec<String> {
    let mut out: Vec<String> = [
        Some(config.secret_key.clone()),
        config.admin_token.clone(),
        config.metrics_token.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (name, value) in std::env::vars() {
        let upper = name.to_ascii_uppercase();
        if ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"]
            .iter()
            .any(|w| upper.contains(w))
        {
            out.push(value);
        }
    }
    // A database URL's password.
    if let Some(password) = url_password(&config.database_url) {
        out.push(password);
    }
    out
}

fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_string())
}

/// The user running this process, for the audit log.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Who is behind a request that came over HTTP (set by [`http`]).
#[derive(Debug, Clone)]
pub(crate) struct HttpActor(pub(crate) String);

/// An MCP server over a [`Toolbox`].
#[derive(Clone)]
pub struct BaoMcp {
    toolbox: Arc<Toolbox>,
    name: String,
    instructions: String,
}

impl BaoMcp {
    /// A server named after the app.
    pub fn new(toolbox: Toolbox, app_name: &str) -> BaoMcp {
        let writes = toolbox.tools().iter().any(|t| t.access == Access::Write);
        BaoMcp {
            toolbox: Arc::new(toolbox),
            name: format!("bao ({app_name})"),
            instructions: format!(
                "Tools to build and operate the Bao app `{app_name}`. Start with bao_describe. \
                 Lists are paged: pass `cursor` from `next_cursor`.{}",
                if writes {
                    ""
                } else {
                    " Write tools are off (BAO_MCP_ALLOW_WRITE=1 turns them on)."
                }
            ),
        }
    }

    /// The toolbox.
    pub fn toolbox(&self) -> &Toolbox {
        &self.toolbox
    }

    fn actor(context: &RequestContext<RoleServer>) -> String {
        if let Some(parts) = context.extensions.get::<::http::request::Parts>() {
            if let Some(HttpActor(who)) = parts.extensions.get::<HttpActor>() {
                return who.clone();
            }
        }
        let client = context
            .peer
            .peer_info()
            .map(|info| info.client_info.name.clone())
            .unwrap_or_else(|| "client".into());
        format!("mcp:{client} ({})", os_user())
    }
}

impl ServerHandler for BaoMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                self.name.clone(),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(self.instructions.clone())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.toolbox.listing()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = Call {
            args: request.arguments.unwrap_or_default(),
            actor: Self::actor(&context),
        };
        let (text, is_error) = self.toolbox.call(&request.name, call).await;
        let content = vec![ContentBlock::text(text)];
        Ok(if is_error {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        }
        .into())
    }
}

/// `bao_describe`, answering from what `describe` returns: the app binary's
/// `describe --json` (stdio, which may build the app, so it runs off the
/// executor) or the running app's own parts (HTTP).
pub fn describe_tool<F>(describe: F) -> ToolDef
where
    F: Fn() -> Result<Value, ToolError> + Send + Sync + 'static,
{
    let describe = Arc::new(describe);
    ToolDef::new(
        "bao_describe",
        "The app: routes, models, APIs, workflows, tasks, schedules, agents, plugins, config. Pass section for one in full.",
        Access::Read,
        &[
            ("section", "string", "one part in full, e.g. routes, models, config"),
            ("cursor", "string", "next_cursor of the previous answer"),
        ],
        &[],
        move |call| {
            let describe = describe.clone();
            async move {
                tokio::task::spawn_blocking(move || describe_answer(&describe()?, &call))
                    .await
                    .unwrap_or_else(|e| Err(ToolError::new(format!("the tool stopped: {e}"))))
            }
        },
    )
}

/// The answer of `bao_describe` from an app's description (`bao describe
/// --json`): without `section`, each part's size and names; with one, that
/// part in full, paged.
pub fn describe_answer(description: &Value, call: &Call) -> ToolResult {
    let Value::Object(parts) = description else {
        return Err(ToolError::new("the app gave no description"));
    };
    let label = |item: &Value| -> Value {
        if let (Some(method), Some(path)) = (item["method"].as_str(), item["path"].as_str()) {
            return json!(format!("{method} {path}"));
        }
        ["name", "table", "kind", "path"]
            .iter()
            .find_map(|k| item[*k].as_str())
            .map_or_else(|| json!(operate::clip(&item.to_string(), 80)), |s| json!(s))
    };
    match call.str("section") {
        None => {
            let mut out = Map::new();
            let mut sections = Map::new();
            for (key, value) in parts {
                match value {
                    Value::Array(items) => {
                        let names: Vec<Value> = items.iter().take(30).map(label).collect();
                        let mut entry = json!({"count": items.len()});
                        // Commands and config keys are long and the same in
                        // every app: counted only.
                        if !matches!(key.as_str(), "commands" | "config") {
                            entry["names"] = json!(names);
                        }
                        if items.len() > 30 {
                            entry["note"] = json!(format!("first 30: pass section \"{key}\""));
                        }
                        sections.insert(key.clone(), entry);
                    }
                    Value::Object(_) | Value::Null => {
                        if matches!(key.as_str(), "app" | "bao" | "endpoints") {
                            out.insert(key.clone(), value.clone());
                        } else if !value.is_null() {
                            sections.insert(key.clone(), json!({"object": true}));
                        }
                    }
                    other => {
                        out.insert(key.clone(), other.clone());
                    }
                }
            }
            out.insert("sections".into(), Value::Object(sections));
            out.insert(
                "next".into(),
                json!("pass section (e.g. \"routes\", \"models\") for one part in full"),
            );
            Ok(Value::Object(out))
        }
        Some(section) => match parts.get(section) {
            Some(Value::Array(items)) => page(items.clone(), call, 50),
            Some(other) => Ok(other.clone()),
            None => Err(ToolError::new(format!(
                "no section `{section}`: the sections are {}",
                parts.keys().cloned().collect::<Vec<_>>().join(", ")
            ))),
        },
    }
}
