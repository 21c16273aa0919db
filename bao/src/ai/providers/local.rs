//! Providers that need no network: `Echo`, the default, deterministic so
//! that every app and test runs offline, and `Scripted`, which answers from
//! a list (for tests and demos).

use crate::ai::chat::estimate_tokens;
use crate::ai::provider::ChunkStream;
use crate::ai::{AiError, Chat, Chunk, Embedded, Provider, Reply, ToolCall, Usage};
use futures_util::future::BoxFuture;
use futures_util::stream::StreamExt;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Answers with the last user message reversed; streams it one character
/// per chunk; embeds by hashing (the same text always gives the same unit
/// vector, different texts nearly orthogonal ones).
#[derive(Debug, Clone)]
pub struct Echo {
    dimensions: usize,
}

impl Default for Echo {
    fn default() -> Echo {
        Echo { dimensions: 384 }
    }
}

impl Echo {
    /// Echo with 384-dimension embeddings.
    pub fn new() -> Echo {
        Echo::default()
    }

    /// Embeddings of `dimensions` numbers.
    pub fn dimensions(mut self, dimensions: usize) -> Echo {
        self.dimensions = dimensions.max(1);
        self
    }

    fn answer(chat: &Chat) -> (String, Usage) {
        let text: String = chat.last_user_text().chars().rev().collect();
        let usage = Usage {
            input_tokens: chat.estimated_input_tokens(),
            output_tokens: estimate_tokens(text.chars().count()),
        };
        (text, usage)
    }
}

/// A deterministic unit vector for `text`: words hashed into buckets with
/// signs (so texts sharing words are close), normalised.
pub(crate) fn hashed_embedding(text: &str, dimensions: usize) -> Vec<f32> {
    let mut vector = vec![0f32; dimensions];
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let features: Vec<String> = if words.is_empty() {
        vec![lower.clone()]
    } else {
        words.iter().map(|w| (*w).to_string()).collect()
    };
    for feature in &features {
        let digest = Sha256::digest(feature.as_bytes());
        let bucket =
            u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) as usize % dimensions;
        let sign = if digest[8] & 1 == 0 { 1.0 } else { -1.0 };
        vector[bucket] += sign;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

impl Provider for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn model(&self) -> &str {
        "echo"
    }

    fn embedding_model(&self) -> Option<&str> {
        Some("echo")
    }

    fn free(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let (text, usage) = Echo::answer(chat);
            Ok(Reply {
                text,
                tool_calls: Vec::new(),
                usage,
                provider: "echo".into(),
                model: "echo".into(),
                cost_usd: Some(0.0),
                stop_reason: Some("end_turn".into()),
            })
        })
    }

    fn stream<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<ChunkStream, AiError>> {
        Box::pin(async move {
            let (text, usage) = Echo::answer(chat);
            let mut chunks: Vec<Result<Chunk, AiError>> = text
                .chars()
                .map(|c| Ok(Chunk::Text(c.to_string())))
                .collect();
            chunks.push(Ok(Chunk::Done {
                usage,
                model: "echo".into(),
                stop_reason: Some("end_turn".into()),
            }));
            Ok(futures_util::stream::iter(chunks).boxed())
        })
    }

    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Embedded, AiError>> {
        Box::pin(async move {
            let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
            Ok(Embedded {
                vectors: texts
                    .iter()
                    .map(|t| hashed_embedding(t, self.dimensions))
                    .collect(),
                usage: Usage {
                    input_tokens: estimate_tokens(chars),
                    output_tokens: 0,
                },
                model: "echo".into(),
            })
        })
    }
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptStep {
    /// Text.
    Text(String),
    /// A tool call.
    Tool(ToolCall),
}

/// Answers from a list, in order: text replies and tool calls. Errors
/// once the list is used up, so a test notices an unexpected extra call.
///
/// ```
/// # bao::testing::block_on(async {
/// use bao::ai::{Chat, Provider, Scripted};
/// let script = Scripted::new(["first", "second"]);
/// assert_eq!(script.complete(&Chat::from("hi")).await.unwrap().text, "first");
/// assert_eq!(script.complete(&Chat::from("hi")).await.unwrap().text, "second");
/// assert!(script.complete(&Chat::from("hi")).await.is_err());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Scripted {
    name: String,
    replies: Mutex<VecDeque<ScriptStep>>,
}

impl Scripted {
    /// Text replies, in order.
    pub fn new<I, S>(replies: I) -> Scripted
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Scripted {
            name: "scripted".into(),
            replies: Mutex::new(
                replies
                    .into_iter()
                    .map(|r| ScriptStep::Text(r.into()))
                    .collect(),
            ),
        }
    }

    /// Registers under `name` instead of `scripted`.
    pub fn named(mut self, name: &str) -> Scripted {
        self.name = name.to_string();
        self
    }

    /// Then a reply that calls `tool` with `arguments`.
    pub fn then_tool(self, tool: &str, arguments: serde_json::Value) -> Scripted {
        {
            let mut replies = self.replies.lock().expect("script");
            let id = format!("call_{}", replies.len() + 1);
            replies.push_back(ScriptStep::Tool(ToolCall {
                id,
                name: tool.to_string(),
                arguments,
            }));
        }
        self
    }

    /// Then a text reply.
    pub fn then(self, text: &str) -> Scripted {
        self.replies
            .lock()
            .expect("script")
            .push_back(ScriptStep::Text(text.to_string()));
        self
    }

    /// Replies not given yet.
    pub fn remaining(&self) -> usize {
        self.replies.lock().expect("script").len()
    }
}

impl Provider for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn model(&self) -> &str {
        "scripted"
    }

    fn free(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let next = self.replies.lock().expect("script").pop_front();
            let (text, tool_calls) = match next {
                Some(ScriptStep::Text(text)) => (text, Vec::new()),
                Some(ScriptStep::Tool(call)) => (String::new(), vec![call]),
                None => {
                    return Err(AiError::BadRequest {
                        provider: self.name.clone(),
                        status: 400,
                        message: "the script has no more replies".into(),
                    })
                }
            };
            Ok(local_reply(
                chat, &self.name, "scripted", text, tool_calls, 0,
            ))
        })
    }
}

/// The reply of a local provider: usage estimated from the text (and
/// `tokens_per_call` per tool call), free, stopped by its tool calls or at
/// the end of its turn.
fn local_reply(
    chat: &Chat,
    provider: &str,
    model: &str,
    text: String,
    tool_calls: Vec<ToolCall>,
    tokens_per_call: u64,
) -> Reply {
    let stop = if tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    Reply {
        usage: Usage {
            input_tokens: chat.estimated_input_tokens(),
            output_tokens: estimate_tokens(text.chars().count())
                + tool_calls.len() as u64 * tokens_per_call,
        },
        text,
        tool_calls,
        provider: provider.to_string(),
        model: model.to_string(),
        cost_usd: Some(0.0),
        stop_reason: Some(stop.into()),
    }
}

/// A test provider that speaks native tool calls, deterministically: offered
/// tools and no tool result yet, it calls the tool whose name the last user
/// message mentions (else the first), filling each required string argument
/// with that message; once a tool result is in the conversation, it answers
/// `done: RESULT`. Without tools it answers like [`Echo`].
#[derive(Debug, Clone, Default)]
pub struct MockNative;

impl MockNative {
    /// The mock.
    pub fn new() -> MockNative {
        MockNative
    }

    fn arguments(tool: &crate::ai::ToolSpec, text: &str) -> serde_json::Value {
        let mut arguments = serde_json::Map::new();
        let required = tool.parameters["required"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for name in required.iter().filter_map(|n| n.as_str()) {
            let kind = tool.parameters["properties"][name]["type"]
                .as_str()
                .unwrap_or("string");
            let value = match kind {
                "integer" | "number" => serde_json::json!(1),
                "boolean" => serde_json::json!(true),
                _ => serde_json::json!(text),
            };
            arguments.insert(name.to_string(), value);
        }
        serde_json::Value::Object(arguments)
    }
}

impl Provider for MockNative {
    fn name(&self) -> &str {
        "mock"
    }

    fn model(&self) -> &str {
        "mock-native"
    }

    fn native_tools(&self) -> bool {
        true
    }

    fn free(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let last_result = chat
                .messages
                .iter()
                .rev()
                .take_while(|m| m.role != crate::ai::Role::User)
                .find(|m| m.role == crate::ai::Role::Tool)
                .map(|m| m.content.clone());
            let user = chat.last_user_text();
            let (text, tool_calls) = match (last_result, chat.tools.is_empty()) {
                (Some(result), _) => (format!("done: {result}"), Vec::new()),
                (None, true) => (user.chars().rev().collect(), Vec::new()),
                (None, false) => {
                    let tool = chat
                        .tools
                        .iter()
                        .find(|t| user.contains(&t.name))
                        .unwrap_or(&chat.tools[0]);
                    let call = ToolCall {
                        id: format!("mock_{}", chat.messages.len()),
                        name: tool.name.clone(),
                        arguments: MockNative::arguments(tool, user),
                    };
                    (String::new(), vec![call])
                }
            };
            Ok(local_reply(
                chat,
                "mock",
                "mock-native",
                text,
                tool_calls,
                8,
            ))
        })
    }
}
