//! The providers Bao ships.

pub(crate) mod anthropic;
pub(crate) mod local;
pub(crate) mod ollama;
pub(crate) mod openai;

use crate::ai::ToolSpec;
use serde_json::{json, Value};

/// Tools in the form OpenAI and Ollama share:
/// `{"type": "function", "function": {name, description, parameters}}`.
pub(crate) fn function_tools(tools: &[ToolSpec]) -> Value {
    tools
        .iter()
        .map(|t| {
            json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters,
            }})
        })
        .collect()
}

/// A JSON array of numbers as `f32`s (anything else: empty).
pub(crate) fn floats(value: &Value) -> Vec<f32> {
    value.as_array().map_or_else(Vec::new, |xs| {
        xs.iter()
            .filter_map(Value::as_f64)
            .map(|x| x as f32)
            .collect()
    })
}
