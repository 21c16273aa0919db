//! Ollama's native API: `/api/chat` (NDJSON when streaming) and `/api/embed`.

use crate::ai::http::{HttpSettings, Transport};
use crate::ai::provider::ChunkStream;
use crate::ai::{AiError, Chat, Chunk, Embedded, Provider, Reply, Role, ToolCall, Usage};
use futures_util::future::BoxFuture;
use futures_util::stream::StreamExt;
use serde_json::{json, Value};

/// The default host.
pub const OLLAMA_HOST: &str = "http://127.0.0.1:11434";

/// A local Ollama server. Its models cost nothing.
#[derive(Debug, Clone)]
pub struct Ollama {
    host: String,
    model: String,
    embedding_model: String,
    transport: Transport,
}

impl Default for Ollama {
    fn default() -> Ollama {
        Ollama::new(OLLAMA_HOST)
    }
}

impl Ollama {
    /// At `host` (`http://127.0.0.1:11434`), model `llama3.2`.
    pub fn new(host: &str) -> Ollama {
        let host = if host.contains("://") {
            host.to_string()
        } else {
            format!("http://{host}")
        };
        Ollama {
            host: host.trim_end_matches('/').to_string(),
            model: "llama3.2".into(),
            embedding_model: "nomic-embed-text".into(),
            transport: Transport::new("ollama", HttpSettings::default()),
        }
    }

    /// From `OLLAMA_HOST`, `BAO_AI_MODEL_OLLAMA` and `BAO_AI_EMBEDDING_MODEL_OLLAMA`.
    pub fn from_env() -> Ollama {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut provider = Ollama::new(&var("OLLAMA_HOST").unwrap_or_else(|| OLLAMA_HOST.into()));
        if let Some(model) = var("BAO_AI_MODEL_OLLAMA") {
            provider = provider.model(&model);
        }
        if let Some(model) = var("BAO_AI_EMBEDDING_MODEL_OLLAMA") {
            provider = provider.embedding_model(&model);
        }
        provider
    }

    /// The chat model.
    pub fn model(mut self, model: &str) -> Ollama {
        self.model = model.to_string();
        self
    }

    /// The embedding model.
    pub fn embedding_model(mut self, model: &str) -> Ollama {
        self.embedding_model = model.to_string();
        self
    }

    /// Timeouts and retries.
    pub fn http(mut self, settings: HttpSettings) -> Ollama {
        self.transport = Transport::new("ollama", settings);
        self
    }

    fn post(
        &self,
        path: &str,
        body: Value,
    ) -> impl Fn(&reqwest::Client) -> reqwest::RequestBuilder {
        let url = format!("{}/api/{path}", self.host);
        move |client| client.post(&url).json(&body)
    }

    fn body(&self, chat: &Chat, stream: bool) -> Value {
        let messages: Vec<Value> = chat
            .messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => "tool",
                };
                let mut message = json!({"role": role, "content": m.content});
                if !m.tool_calls.is_empty() {
                    message["tool_calls"] = m
                        .tool_calls
                        .iter()
                        .map(|c| json!({"function": {"name": c.name, "arguments": c.arguments}}))
                        .collect();
                }
                message
            })
            .collect();
        let mut options = serde_json::Map::new();
        if let Some(t) = chat.temperature {
            options.insert("temperature".into(), json!(t));
        }
        if let Some(n) = chat.max_tokens {
            options.insert("num_predict".into(), json!(n));
        }
        let mut body = json!({
            "model": chat.model.as_deref().unwrap_or(&self.model),
            "messages": messages,
            "stream": stream,
        });
        if !options.is_empty() {
            body["options"] = Value::Object(options);
        }
        if !chat.tools.is_empty() {
            body["tools"] = super::function_tools(&chat.tools);
        }
        body
    }
}

fn usage(value: &Value) -> Usage {
    Usage {
        input_tokens: value["prompt_eval_count"].as_u64().unwrap_or(0),
        output_tokens: value["eval_count"].as_u64().unwrap_or(0),
    }
}

fn tool_calls(message: &Value) -> Vec<ToolCall> {
    message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .enumerate()
                .map(|(i, c)| ToolCall {
                    id: c["id"]
                        .as_str()
                        .map_or_else(|| format!("call_{}", i + 1), str::to_string),
                    name: c["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    arguments: c["function"]["arguments"].clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Provider for Ollama {
    fn name(&self) -> &str {
        "ollama"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn embedding_model(&self) -> Option<&str> {
        Some(&self.embedding_model)
    }

    fn free(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let response = self
                .transport
                .send(self.post("chat", self.body(chat, false)))
                .await?;
            let value = self.transport.json(response).await?;
            let message = &value["message"];
            if message.is_null() {
                return Err(self.transport.protocol("no message in the answer"));
            }
            Ok(Reply {
                text: message["content"].as_str().unwrap_or_default().to_string(),
                tool_calls: tool_calls(message),
                usage: usage(&value),
                provider: "ollama".into(),
                model: value["model"].as_str().unwrap_or(&self.model).to_string(),
                cost_usd: Some(0.0),
                stop_reason: value["done_reason"].as_str().map(str::to_string),
            })
        })
    }

    fn stream<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<ChunkStream, AiError>> {
        Box::pin(async move {
            let response = self
                .transport
                .send(self.post("chat", self.body(chat, true)))
                .await?;
            let lines = self.transport.ndjson(response);
            let model = chat.model.clone().unwrap_or_else(|| self.model.clone());
            // Each line: {"message": {"content": ".."}, "done": false}; the
            // last has "done": true and the counts.
            let chunks = lines
                .flat_map(move |line| {
                    let items: Vec<Result<Chunk, AiError>> = match line {
                        Err(e) => vec![Err(e)],
                        Ok(value) => {
                            if let Some(error) = value["error"].as_str() {
                                vec![Err(AiError::Unavailable {
                                    provider: "ollama".into(),
                                    message: error.to_string(),
                                })]
                            } else {
                                let message = &value["message"];
                                let mut items = Vec::new();
                                if let Some(text) =
                                    message["content"].as_str().filter(|t| !t.is_empty())
                                {
                                    items.push(Ok(Chunk::Text(text.to_string())));
                                }
                                items.extend(
                                    tool_calls(message)
                                        .into_iter()
                                        .map(|c| Ok(Chunk::ToolCall(c))),
                                );
                                if value["done"].as_bool() == Some(true) {
                                    items.push(Ok(Chunk::Done {
                                        usage: usage(&value),
                                        model: value["model"]
                                            .as_str()
                                            .unwrap_or(&model)
                                            .to_string(),
                                        stop_reason: value["done_reason"]
                                            .as_str()
                                            .map(str::to_string),
                                    }));
                                }
                                items
                            }
                        }
                    };
                    futures_util::stream::iter(items)
                })
                .boxed();
            Ok(ensure_done(chunks, "ollama"))
        })
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Embedded, AiError>> {
        Box::pin(async move {
            let body = json!({"model": self.embedding_model, "input": texts});
            let response = self.transport.send(self.post("embed", body)).await?;
            let value = self.transport.json(response).await?;
            let vectors: Vec<Vec<f32>> = value["embeddings"]
                .as_array()
                .ok_or_else(|| self.transport.protocol("no embeddings in the answer"))?
                .iter()
                .map(super::floats)
                .collect();
            if vectors.len() != texts.len() {
                return Err(self.transport.protocol(format!(
                    "{} vectors for {} texts",
                    vectors.len(),
                    texts.len()
                )));
            }
            Ok(Embedded {
                vectors,
                usage: Usage {
                    input_tokens: value["prompt_eval_count"].as_u64().unwrap_or(0),
                    output_tokens: 0,
                },
                model: value["model"]
                    .as_str()
                    .unwrap_or(&self.embedding_model)
                    .to_string(),
            })
        })
    }
}

/// A stream that ends without its `Done` chunk was cut off: it ends with
/// an error instead. Nothing follows an error.
fn ensure_done(chunks: ChunkStream, provider: &'static str) -> ChunkStream {
    futures_util::stream::unfold(
        (chunks, false, false),
        move |(mut inner, done, over)| async move {
            if over {
                return None;
            }
            match inner.next().await {
                Some(Ok(chunk)) => {
                    let done = done || matches!(chunk, Chunk::Done { .. });
                    Some((Ok(chunk), (inner, done, false)))
                }
                Some(Err(error)) => Some((Err(error), (inner, done, true))),
                None if done => None,
                None => Some((
                    Err(AiError::Unavailable {
                        provider: provider.into(),
                        message: "the stream ended before it was complete".into(),
                    }),
                    (inner, done, true),
                )),
            }
        },
    )
    .boxed()
}
