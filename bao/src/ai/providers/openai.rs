//! OpenAI's Chat Completions and Embeddings APIs, and any server that
//! speaks them (set the base URL).

use crate::ai::http::{HttpSettings, Transport};
use crate::ai::provider::ChunkStream;
use crate::ai::{AiError, Chat, Chunk, Embedded, Provider, Reply, Role, ToolCall, Usage};
use futures_util::future::BoxFuture;
use futures_util::stream::StreamExt;
use serde_json::{json, Value};

/// The default base URL.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com";

/// OpenAI (or a compatible server).
///
/// ```
/// use bao::ai::OpenAi;
/// let local = OpenAi::new("sk-test").base_url("http://127.0.0.1:8080").model("my-model");
/// # let _ = local;
/// ```
#[derive(Debug, Clone)]
pub struct OpenAi {
    name: String,
    key: Option<String>,
    base: String,
    model: String,
    embedding_model: String,
    transport: Transport,
}

impl OpenAi {
    /// With API key `key`, model `gpt-4o-mini`.
    pub fn new(key: impl Into<String>) -> OpenAi {
        let key: String = key.into();
        OpenAi {
            name: "openai".into(),
            key: Some(key).filter(|k| !k.is_empty()),
            base: OPENAI_BASE_URL.into(),
            model: "gpt-4o-mini".into(),
            embedding_model: "text-embedding-3-small".into(),
            transport: Transport::new("openai", HttpSettings::default()),
        }
    }

    /// From `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `BAO_AI_MODEL_OPENAI` and
    /// `BAO_AI_EMBEDDING_MODEL_OPENAI`.
    pub fn from_env() -> OpenAi {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut provider = OpenAi::new(var("OPENAI_API_KEY").unwrap_or_default());
        if let Some(base) = var("OPENAI_BASE_URL") {
            provider = provider.base_url(&base);
        }
        if let Some(model) = var("BAO_AI_MODEL_OPENAI") {
            provider = provider.model(&model);
        }
        if let Some(model) = var("BAO_AI_EMBEDDING_MODEL_OPENAI") {
            provider = provider.embedding_model(&model);
        }
        provider
    }

    /// Another base URL (a compatible server); a trailing `/v1` is optional.
    pub fn base_url(mut self, base: &str) -> OpenAi {
        let base = base.trim_end_matches('/');
        self.base = base.strip_suffix("/v1").unwrap_or(base).to_string();
        self
    }

    /// The chat model.
    pub fn model(mut self, model: &str) -> OpenAi {
        self.model = model.to_string();
        self
    }

    /// The embedding model.
    pub fn embedding_model(mut self, model: &str) -> OpenAi {
        self.embedding_model = model.to_string();
        self
    }

    /// Registers under `name` (for a second compatible server).
    pub fn named(mut self, name: &str) -> OpenAi {
        self.name = name.to_string();
        self.transport = Transport::new(name, self.transport.settings.clone());
        self
    }

    /// Timeouts and retries.
    pub fn http(mut self, settings: HttpSettings) -> OpenAi {
        self.transport = Transport::new(&self.name, settings);
        self
    }

    fn post(
        &self,
        path: &str,
        body: Value,
    ) -> impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + '_ {
        let url = format!("{}/v1/{path}", self.base);
        move |client| {
            let request = client.post(&url).json(&body);
            match &self.key {
                Some(key) => request.bearer_auth(key),
                None => request,
            }
        }
    }

    fn body(&self, chat: &Chat, stream: bool) -> Value {
        let messages: Vec<Value> = chat
            .messages
            .iter()
            .map(|m| match m.role {
                Role::Tool => json!({
                    "role": "tool",
                    "tool_call_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content,
                }),
                Role::Assistant if !m.tool_calls.is_empty() => json!({
                    "role": "assistant",
                    "content": if m.content.is_empty() { Value::Null } else { Value::from(m.content.clone()) },
                    "tool_calls": m.tool_calls.iter().map(|c| json!({
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments.to_string()},
                    })).collect::<Vec<_>>(),
                }),
                role => json!({"role": role_name(role), "content": m.content}),
            })
            .collect();
        let mut body = json!({
            "model": chat.model.as_deref().unwrap_or(&self.model),
            "messages": messages,
        });
        if let Some(t) = chat.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(n) = chat.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if !chat.tools.is_empty() {
            body["tools"] = super::function_tools(&chat.tools);
        }
        if stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        body
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: value["prompt_tokens"].as_u64().unwrap_or(0),
        output_tokens: value["completion_tokens"].as_u64().unwrap_or(0),
    }
}

/// A tool call's arguments: a JSON object encoded as a string.
fn arguments(text: &str) -> Value {
    if text.trim().is_empty() {
        return json!({});
    }
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

impl Provider for OpenAi {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn embedding_model(&self) -> Option<&str> {
        Some(&self.embedding_model)
    }

    fn native_tools(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let response = self
                .transport
                .send(self.post("chat/completions", self.body(chat, false)))
                .await?;
            let value = self.transport.json(response).await?;
            let choice = &value["choices"][0];
            if choice.is_null() {
                return Err(self.transport.protocol("no choices in the answer"));
            }
            let message = &choice["message"];
            let tool_calls = message["tool_calls"]
                .as_array()
                .map(|calls| {
                    calls
                        .iter()
                        .map(|c| ToolCall {
                            id: c["id"].as_str().unwrap_or_default().to_string(),
                            name: c["function"]["name"]
                                .as_str()
                                .unwrap_or_default()
                                .to_string(),
                            arguments: arguments(c["function"]["arguments"].as_str().unwrap_or("")),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok(Reply {
                text: message["content"].as_str().unwrap_or_default().to_string(),
                tool_calls,
                usage: usage(&value["usage"]),
                provider: self.name.clone(),
                model: value["model"].as_str().map_or_else(
                    || chat.model.clone().unwrap_or_else(|| self.model.clone()),
                    str::to_string,
                ),
                cost_usd: None,
                stop_reason: choice["finish_reason"].as_str().map(str::to_string),
            })
        })
    }

    fn stream<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<ChunkStream, AiError>> {
        Box::pin(async move {
            let response = self
                .transport
                .send(self.post("chat/completions", self.body(chat, true)))
                .await?;
            let events = self.transport.sse(response);
            let provider = self.name.clone();
            let model = chat.model.clone().unwrap_or_else(|| self.model.clone());
            Ok(openai_chunks(events, provider, model))
        })
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Embedded, AiError>> {
        Box::pin(async move {
            let body = json!({"model": self.embedding_model, "input": texts});
            let response = self.transport.send(self.post("embeddings", body)).await?;
            let value = self.transport.json(response).await?;
            let mut rows: Vec<(u64, Vec<f32>)> = value["data"]
                .as_array()
                .ok_or_else(|| self.transport.protocol("no data in the answer"))?
                .iter()
                .map(|row| {
                    (
                        row["index"].as_u64().unwrap_or(0),
                        super::floats(&row["embedding"]),
                    )
                })
                .collect();
            rows.sort_by_key(|(index, _)| *index);
            if rows.len() != texts.len() {
                return Err(self.transport.protocol(format!(
                    "{} vectors for {} texts",
                    rows.len(),
                    texts.len()
                )));
            }
            Ok(Embedded {
                vectors: rows.into_iter().map(|(_, v)| v).collect(),
                usage: usage(&value["usage"]),
                model: value["model"]
                    .as_str()
                    .unwrap_or(&self.embedding_model)
                    .to_string(),
            })
        })
    }
}

/// Tool calls arrive in pieces keyed by index: (id, name, arguments text).
type PendingCalls = Vec<(String, String, String)>;

/// Chunks from Chat Completions' SSE: `data: {choices:[{delta}]}` lines,
/// a last one with `usage` (asked for with `include_usage`), then `[DONE]`.
fn openai_chunks(
    events: futures_util::stream::BoxStream<'static, Result<(String, String), AiError>>,
    provider: String,
    model: String,
) -> ChunkStream {
    struct State {
        events: futures_util::stream::BoxStream<'static, Result<(String, String), AiError>>,
        calls: PendingCalls,
        usage: Usage,
        model: String,
        stop: Option<String>,
        queue: std::collections::VecDeque<Result<Chunk, AiError>>,
        finished: bool,
    }
    let state = State {
        events,
        calls: Vec::new(),
        usage: Usage::default(),
        model,
        stop: None,
        queue: Default::default(),
        finished: false,
    };
    futures_util::stream::unfold(state, move |mut state| {
        let provider = provider.clone();
        async move {
            loop {
                if let Some(item) = state.queue.pop_front() {
                    return Some((item, state));
                }
                if state.finished {
                    return None;
                }
                let done = |state: &mut State| {
                    for (id, name, args) in state.calls.drain(..) {
                        state.queue.push_back(Ok(Chunk::ToolCall(ToolCall {
                            id,
                            name,
                            arguments: arguments(&args),
                        })));
                    }
                    state.queue.push_back(Ok(Chunk::Done {
                        usage: state.usage,
                        model: state.model.clone(),
                        stop_reason: state.stop.take(),
                    }));
                    state.finished = true;
                };
                match state.events.next().await {
                    None => {
                        // A stream that ends without [DONE] was cut off.
                        state.queue.push_back(Err(AiError::Unavailable {
                            provider: provider.clone(),
                            message: "the stream ended before it was complete".into(),
                        }));
                        state.finished = true;
                    }
                    Some(Err(error)) => {
                        state.queue.push_back(Err(error));
                        state.finished = true;
                    }
                    Some(Ok((_, data))) if data.trim() == "[DONE]" => done(&mut state),
                    Some(Ok((_, data))) => {
                        let value: Value = match serde_json::from_str(&data) {
                            Ok(value) => value,
                            Err(e) => {
                                state.queue.push_back(Err(AiError::Protocol {
                                    provider: provider.clone(),
                                    message: format!("an event that is not JSON: {e}"),
                                }));
                                state.finished = true;
                                continue;
                            }
                        };
                        if let Some(message) = value["error"]["message"].as_str() {
                            state.queue.push_back(Err(AiError::Unavailable {
                                provider: provider.clone(),
                                message: message.to_string(),
                            }));
                            state.finished = true;
                            continue;
                        }
                        if let Some(m) = value["model"].as_str() {
                            state.model = m.to_string();
                        }
                        if value["usage"].is_object() {
                            state.usage = usage(&value["usage"]);
                        }
                        let choice = &value["choices"][0];
                        if let Some(reason) = choice["finish_reason"].as_str() {
                            state.stop = Some(reason.to_string());
                        }
                        let delta = &choice["delta"];
                        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                            state.queue.push_back(Ok(Chunk::Text(text.to_string())));
                        }
                        for call in delta["tool_calls"].as_array().into_iter().flatten() {
                            let index = call["index"].as_u64().unwrap_or(0) as usize;
                            while state.calls.len() <= index {
                                state.calls.push(Default::default());
                            }
                            let slot = &mut state.calls[index];
                            if let Some(id) = call["id"].as_str() {
                                slot.0 = id.to_string();
                            }
                            if let Some(name) = call["function"]["name"].as_str() {
                                slot.1.push_str(name);
                            }
                            if let Some(args) = call["function"]["arguments"].as_str() {
                                slot.2.push_str(args);
                            }
                        }
                    }
                }
            }
        }
    })
    .boxed()
}
