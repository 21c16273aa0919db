//! Anthropic's Messages API.

use crate::ai::http::{HttpSettings, Transport};
use crate::ai::provider::ChunkStream;
use crate::ai::{AiError, Chat, Chunk, Provider, Reply, Role, ToolCall, Usage};
use futures_util::future::BoxFuture;
use futures_util::stream::StreamExt;
use serde_json::{json, Value};

/// The default base URL.
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";
/// The API version sent in `anthropic-version`.
const API_VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API: this is sent when a chat sets none.
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// Anthropic.
#[derive(Debug, Clone)]
pub struct Anthropic {
    key: Option<String>,
    base: String,
    model: String,
    transport: Transport,
}

impl Anthropic {
    /// With API key `key`, model `claude-sonnet-4-20250514`.
    pub fn new(key: impl Into<String>) -> Anthropic {
        let key: String = key.into();
        Anthropic {
            key: Some(key).filter(|k| !k.is_empty()),
            base: ANTHROPIC_BASE_URL.into(),
            model: "claude-sonnet-4-20250514".into(),
            transport: Transport::new("anthropic", HttpSettings::default()),
        }
    }

    /// From `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` and `BAO_AI_MODEL_ANTHROPIC`.
    pub fn from_env() -> Anthropic {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut provider = Anthropic::new(var("ANTHROPIC_API_KEY").unwrap_or_default());
        if let Some(base) = var("ANTHROPIC_BASE_URL") {
            provider = provider.base_url(&base);
        }
        if let Some(model) = var("BAO_AI_MODEL_ANTHROPIC") {
            provider = provider.model(&model);
        }
        provider
    }

    /// Another base URL (a proxy, a stub in tests).
    pub fn base_url(mut self, base: &str) -> Anthropic {
        self.base = base.trim_end_matches('/').to_string();
        self
    }

    /// The model.
    pub fn model(mut self, model: &str) -> Anthropic {
        self.model = model.to_string();
        self
    }

    /// Timeouts and retries.
    pub fn http(mut self, settings: HttpSettings) -> Anthropic {
        self.transport = Transport::new("anthropic", settings);
        self
    }

    fn post(&self, body: Value) -> impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + '_ {
        let url = format!("{}/v1/messages", self.base);
        move |client| {
            let request = client
                .post(&url)
                .header("anthropic-version", API_VERSION)
                .json(&body);
            match &self.key {
                Some(key) => request.header("x-api-key", key),
                None => request,
            }
        }
    }

    fn body(&self, chat: &Chat, stream: bool) -> Value {
        let system: Vec<&str> = chat
            .messages
            .iter()
            .filter(|m| m.role == Role::System)
            .map(|m| m.content.as_str())
            .collect();
        let messages: Vec<Value> = chat
            .messages
            .iter()
            .filter(|m| m.role != Role::System)
            .map(|m| match m.role {
                Role::Tool => json!({"role": "user", "content": [{
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content,
                }]}),
                Role::Assistant if !m.tool_calls.is_empty() => {
                    let mut content = Vec::new();
                    if !m.content.is_empty() {
                        content.push(json!({"type": "text", "text": m.content}));
                    }
                    content.extend(m.tool_calls.iter().map(|c| {
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
                    }));
                    json!({"role": "assistant", "content": content})
                }
                Role::Assistant => json!({"role": "assistant", "content": m.content}),
                _ => json!({"role": "user", "content": m.content}),
            })
            .collect();
        let mut body = json!({
            "model": chat.model.as_deref().unwrap_or(&self.model),
            "max_tokens": chat.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if let Some(t) = chat.temperature {
            body["temperature"] = json!(t);
        }
        if !chat.tools.is_empty() {
            body["tools"] = chat
                .tools
                .iter()
                .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
                .collect();
        }
        if stream {
            body["stream"] = json!(true);
        }
        body
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: value["input_tokens"].as_u64().unwrap_or(0),
        output_tokens: value["output_tokens"].as_u64().unwrap_or(0),
    }
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        "anthropic"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn native_tools(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let response = self
                .transport
                .send(self.post(self.body(chat, false)))
                .await?;
            let value = self.transport.json(response).await?;
            let blocks = value["content"]
                .as_array()
                .ok_or_else(|| self.transport.protocol("no content in the answer"))?;
            let mut text = String::new();
            let mut tool_calls = Vec::new();
            for block in blocks {
                match block["type"].as_str() {
                    Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                    Some("tool_use") => tool_calls.push(ToolCall {
                        id: block["id"].as_str().unwrap_or_default().to_string(),
                        name: block["name"].as_str().unwrap_or_default().to_string(),
                        arguments: block["input"].clone(),
                    }),
                    _ => {}
                }
            }
            Ok(Reply {
                text,
                tool_calls,
                usage: usage(&value["usage"]),
                provider: "anthropic".into(),
                model: value["model"].as_str().unwrap_or(&self.model).to_string(),
                cost_usd: None,
                stop_reason: value["stop_reason"].as_str().map(str::to_string),
            })
        })
    }

    fn stream<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<ChunkStream, AiError>> {
        Box::pin(async move {
            let response = self
                .transport
                .send(self.post(self.body(chat, true)))
                .await?;
            let events = self.transport.sse(response);
            let model = chat.model.clone().unwrap_or_else(|| self.model.clone());
            Ok(anthropic_chunks(events, model))
        })
    }
}

/// Chunks from the Messages API's SSE: `message_start` (input usage),
/// `content_block_*` (text deltas, tool input as partial JSON),
/// `message_delta` (output usage, stop reason), `message_stop`; `error`
/// events end the stream with an error.
fn anthropic_chunks(
    events: futures_util::stream::BoxStream<'static, Result<(String, String), AiError>>,
    model: String,
) -> ChunkStream {
    struct State {
        events: futures_util::stream::BoxStream<'static, Result<(String, String), AiError>>,
        usage: Usage,
        model: String,
        stop: Option<String>,
        /// The tool block being streamed: id, name, input JSON so far.
        tool: Option<(String, String, String)>,
        finished: bool,
    }
    let state = State {
        events,
        usage: Usage::default(),
        model,
        stop: None,
        tool: None,
        finished: false,
    };
    let error = |message: String| AiError::Unavailable {
        provider: "anthropic".into(),
        message,
    };
    futures_util::stream::unfold(state, move |mut state| async move {
        loop {
            if state.finished {
                return None;
            }
            let (event, data) = match state.events.next().await {
                None => {
                    state.finished = true;
                    return Some((
                        Err(error("the stream ended before message_stop".into())),
                        state,
                    ));
                }
                Some(Err(e)) => {
                    state.finished = true;
                    return Some((Err(e), state));
                }
                Some(Ok(pair)) => pair,
            };
            let value: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
            let kind = if event.is_empty() {
                value["type"].as_str().unwrap_or_default().to_string()
            } else {
                event
            };
            match kind.as_str() {
                "message_start" => {
                    let message = &value["message"];
                    state.usage = usage(&message["usage"]);
                    if let Some(m) = message["model"].as_str() {
                        state.model = m.to_string();
                    }
                }
                "content_block_start" => {
                    let block = &value["content_block"];
                    if block["type"] == "tool_use" {
                        state.tool = Some((
                            block["id"].as_str().unwrap_or_default().to_string(),
                            block["name"].as_str().unwrap_or_default().to_string(),
                            String::new(),
                        ));
                    }
                }
                "content_block_delta" => {
                    let delta = &value["delta"];
                    match delta["type"].as_str() {
                        Some("text_delta") => {
                            let text = delta["text"].as_str().unwrap_or_default();
                            if !text.is_empty() {
                                return Some((Ok(Chunk::Text(text.to_string())), state));
                            }
                        }
                        Some("input_json_delta") => {
                            if let Some(tool) = &mut state.tool {
                                tool.2
                                    .push_str(delta["partial_json"].as_str().unwrap_or_default());
                            }
                        }
                        _ => {}
                    }
                }
                "content_block_stop" => {
                    if let Some((id, name, input)) = state.tool.take() {
                        let arguments = if input.trim().is_empty() {
                            json!({})
                        } else {
                            serde_json::from_str(&input).unwrap_or(Value::String(input))
                        };
                        return Some((
                            Ok(Chunk::ToolCall(ToolCall {
                                id,
                                name,
                                arguments,
                            })),
                            state,
                        ));
                    }
                }
                "message_delta" => {
                    if let Some(out) = value["usage"]["output_tokens"].as_u64() {
                        state.usage.output_tokens = out;
                    }
                    if let Some(input) = value["usage"]["input_tokens"].as_u64() {
                        state.usage.input_tokens = input;
                    }
                    if let Some(reason) = value["delta"]["stop_reason"].as_str() {
                        state.stop = Some(reason.to_string());
                    }
                }
                "message_stop" => {
                    state.finished = true;
                    let done = Chunk::Done {
                        usage: state.usage,
                        model: state.model.clone(),
                        stop_reason: state.stop.take(),
                    };
                    return Some((Ok(done), state));
                }
                "error" => {
                    state.finished = true;
                    let message = value["error"]["message"]
                        .as_str()
                        .unwrap_or("the stream failed")
                        .to_string();
                    let kind = value["error"]["type"].as_str().unwrap_or_default();
                    let err = if kind == "rate_limit_error" {
                        AiError::RateLimited {
                            provider: "anthropic".into(),
                            retry_after: None,
                        }
                    } else {
                        error(message)
                    };
                    return Some((Err(err), state));
                }
                _ => {} // ping and future event types
            }
        }
    })
    .boxed()
}
