//! The providers Bao ships.

pub(crate) mod anthropic;
pub(crate) mod local;
pub(crate) mod ollama;
pub(crate) mod openai;
