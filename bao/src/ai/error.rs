//! What can go wrong when asking a model, typed so that callers can retry,
//! back off or tell the user, and so that HTTP answers say what happened.

use std::time::Duration;

/// An AI call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AiError {
    /// The provider could not be reached, failed (5xx), timed out, or its
    /// circuit breaker is open. HTTP 503.
    #[error("{provider} is unavailable: {message}")]
    Unavailable {
        /// The provider.
        provider: String,
        /// What happened.
        message: String,
    },
    /// The provider refused for now (429). HTTP 429.
    #[error("{provider} is rate limiting requests{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The provider.
        provider: String,
        /// When it said to try again.
        retry_after: Option<Duration>,
    },
    /// The call would not fit in a budget of [`with_budget`](super::with_budget). HTTP 402.
    #[error("AI budget exceeded: {0}")]
    BudgetExceeded(String),
    /// The provider rejected the request (4xx): its message says why. HTTP 400.
    #[error("{provider} rejected the request ({status}): {message}")]
    BadRequest {
        /// The provider.
        provider: String,
        /// The HTTP status it answered.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The provider's key is missing or was refused (401/403). HTTP 503: the
    /// app is misconfigured, not the user's request.
    #[error("{provider} refused its API key: {message}")]
    Unauthorized {
        /// The provider.
        provider: String,
        /// What happened.
        message: String,
    },
    /// The provider answered something that could not be read.
    #[error("{provider} answered something unreadable: {message}")]
    Protocol {
        /// The provider.
        provider: String,
        /// What was wrong.
        message: String,
    },
    /// The provider cannot do this (embeddings from a chat-only provider).
    #[error("{provider} does not support {what}")]
    Unsupported {
        /// The provider.
        provider: String,
        /// What was asked.
        what: &'static str,
    },
    /// The router's configuration is wrong (an unknown provider name, a
    /// missing key).
    #[error("AI configuration: {0}")]
    Config(String),
}

impl AiError {
    /// Whether trying again (or another provider) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AiError::Unavailable { .. } | AiError::RateLimited { .. }
        )
    }

    /// Whether the next provider of the router should be tried.
    pub(crate) fn allows_fallback(&self) -> bool {
        matches!(
            self,
            AiError::Unavailable { .. }
                | AiError::RateLimited { .. }
                | AiError::Unauthorized { .. }
                | AiError::Protocol { .. }
                | AiError::Unsupported { .. }
        )
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            AiError::RateLimited { .. } => 429,
            AiError::BudgetExceeded(_) => 402,
            AiError::BadRequest { .. } => 400,
            _ => 503,
        }
    }

    /// The `Retry-After` to send with the HTTP answer, in seconds.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AiError::RateLimited { retry_after, .. } => {
                Some(retry_after.map_or(5, |d| d.as_secs().max(1)))
            }
            AiError::Unavailable { .. } => Some(5),
            _ => None,
        }
    }
}
