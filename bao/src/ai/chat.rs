//! What a model is asked and what it answers, independent of any provider's
//! wire format.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The user's words.
    User,
    /// The model's earlier answers (and the tool calls it asked for).
    Assistant,
    /// The result of a tool call, answering the assistant's request.
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text (a tool's result for [`Role::Tool`]).
    pub content: String,
    /// Tools the assistant asked to call (assistant messages only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers ([`Role::Tool`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool the model may call: its name, what it does, and a JSON schema of
/// its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The name the model calls it by.
    pub name: String,
    /// What it does (the model reads this to decide when to call it).
    pub description: String,
    /// A JSON schema of its arguments object.
    pub parameters: Value,
}

/// A tool call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call; a tool result answers it.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Its arguments, as the model wrote them.
    pub arguments: Value,
}

/// A conversation to complete: messages, tools and sampling settings.
///
/// ```
/// use bao::ai::Chat;
/// let chat = Chat::new()
///     .system("You answer in one sentence.")
///     .user("What is backpressure?")
///     .temperature(0.2)
///     .max_tokens(200);
/// assert_eq!(chat.messages.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Sampling temperature (the provider's default when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The longest answer, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// A model instead of the provider's configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Ask this provider only (no fallback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

impl Chat {
    /// An empty conversation.
    pub fn new() -> Chat {
        Chat::default()
    }

    /// Adds a system message.
    pub fn system(mut self, text: impl Into<String>) -> Chat {
        self.messages.push(Message::new(Role::System, text));
        self
    }

    /// Adds a user message.
    pub fn user(mut self, text: impl Into<String>) -> Chat {
        self.messages.push(Message::new(Role::User, text));
        self
    }

    /// Adds an earlier answer of the model.
    pub fn assistant(mut self, text: impl Into<String>) -> Chat {
        self.messages.push(Message::new(Role::Assistant, text));
        self
    }

    /// Adds the model's answer that asked for `calls`.
    pub fn assistant_calls(mut self, text: impl Into<String>, calls: Vec<ToolCall>) -> Chat {
        let mut message = Message::new(Role::Assistant, text);
        message.tool_calls = calls;
        self.messages.push(message);
        self
    }

    /// Adds the result of tool call `call_id`.
    pub fn tool_result(mut self, call_id: impl Into<String>, content: impl Into<String>) -> Chat {
        let mut message = Message::new(Role::Tool, content);
        message.tool_call_id = Some(call_id.into());
        self.messages.push(message);
        self
    }

    /// Offers a tool to the model.
    pub fn tool(mut self, tool: ToolSpec) -> Chat {
        self.tools.push(tool);
        self
    }

    /// Sets the sampling temperature.
    pub fn temperature(mut self, temperature: f32) -> Chat {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the longest answer, in tokens.
    pub fn max_tokens(mut self, max_tokens: u32) -> Chat {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Uses `model` instead of the provider's configured one.
    pub fn model(mut self, model: impl Into<String>) -> Chat {
        self.model = Some(model.into());
        self
    }

    /// Asks only the provider named `name` (no fallback).
    pub fn provider(mut self, name: impl Into<String>) -> Chat {
        self.provider = Some(name.into());
        self
    }

    /// The last user message's text (what `Echo` answers).
    pub fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map_or("", |m| m.content.as_str())
    }

    /// A rough count of the tokens the messages take (four characters per
    /// token), for budget checks before a call.
    pub fn estimated_input_tokens(&self) -> u64 {
        let chars: usize = self
            .messages
            .iter()
            .map(|m| m.content.chars().count() + 4)
            .sum::<usize>()
            + self
                .tools
                .iter()
                .map(|t| t.description.len() + t.parameters.to_string().len())
                .sum::<usize>();
        estimate_tokens(chars)
    }
}

impl From<&str> for Chat {
    fn from(prompt: &str) -> Chat {
        Chat::new().user(prompt)
    }
}

impl From<String> for Chat {
    fn from(prompt: String) -> Chat {
        Chat::new().user(prompt)
    }
}

/// Tokens from characters, at four characters per token, rounded up.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// Tokens a call used, as its provider reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens read (the prompt).
    pub input_tokens: u64,
    /// Tokens written (the answer).
    pub output_tokens: u64,
}

impl Usage {
    /// Both directions.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Its text (may be empty when it only calls tools).
    pub text: String,
    /// Tools it asked to call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Tokens used, as reported by the provider.
    pub usage: Usage,
    /// The provider that answered.
    pub provider: String,
    /// The model that answered.
    pub model: String,
    /// What it cost, when the model's price is known (`None`: unknown, not 0).
    pub cost_usd: Option<f64>,
    /// Why it stopped (`end_turn`, `stop`, `tool_use`, `max_tokens`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

/// One piece of a streamed answer, as a provider yields it.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// More text.
    Text(String),
    /// A complete tool call.
    ToolCall(ToolCall),
    /// The end, with the usage the provider reported.
    Done {
        /// Tokens used.
        usage: Usage,
        /// The model that answered.
        model: String,
        /// Why it stopped.
        stop_reason: Option<String>,
    },
}

/// Vectors for texts, from an embedding model.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One vector per text, in order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens used.
    pub usage: Usage,
    /// The model that embedded them.
    pub model: String,
}
