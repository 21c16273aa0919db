//! What every HTTP provider shares: one client, timeouts, retries of
//! retryable answers honouring `Retry-After`, a circuit breaker per
//! provider, errors read from the provider's body, and SSE / NDJSON
//! streams. API keys travel only in headers and never appear in errors or
//! logs.

use super::AiError;
use crate::fault::CircuitBreaker;
use futures_util::stream::{BoxStream, StreamExt};
use std::time::Duration;

/// Timeouts and retries of a provider.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The whole call (a stream: until its first byte).
    pub timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx and connection errors.
    pub retries: u32,
    /// The first wait between attempts (doubled each time) when the
    /// provider gives no `Retry-After`.
    pub backoff: Duration,
    /// The longest wait honoured: a longer `Retry-After` fails at once.
    pub max_wait: Duration,
}

impl Default for HttpSettings {
    fn default() -> HttpSettings {
        HttpSettings {
            timeout: Duration::from_secs(60),
            retries: 2,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(20),
        }
    }
}

/// The shared parts of an HTTP provider.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) provider: String,
    pub(crate) client: reqwest::Client,
    pub(crate) settings: HttpSettings,
    pub(crate) breaker: CircuitBreaker,
}

impl Transport {
    pub(crate) fn new(provider: &str, settings: HttpSettings) -> Transport {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Transport {
            provider: provider.to_string(),
            client,
            breaker: CircuitBreaker::named(&format!("ai:{provider}")),
            settings,
        }
    }

    fn unavailable(&self, message: impl Into<String>) -> AiError {
        AiError::Unavailable {
            provider: self.provider.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn protocol(&self, message: impl Into<String>) -> AiError {
        AiError::Protocol {
            provider: self.provider.clone(),
            message: message.into(),
        }
    }

    /// Sends the request `build` makes, retrying retryable failures, and
    /// returns a successful response (its body not read yet).
    pub(crate) async fn send(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AiError> {
        let mut attempt = 0;
        loop {
            let result = self.send_once(&build).await;
            let error = match result {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if !error.is_retryable() || attempt >= self.settings.retries {
                return Err(error);
            }
            let wait = match &error {
                AiError::RateLimited {
                    retry_after: Some(after),
                    ..
                } => *after,
                _ => self.settings.backoff * 2u32.saturating_pow(attempt),
            };
            if wait > self.settings.max_wait {
                return Err(error);
            }
            tracing::warn!(provider = %self.provider, %error, wait_ms = wait.as_millis() as u64, "AI call failed: retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AiError> {
        let permit = self
            .breaker
            .permit()
            .map_err(|_| self.unavailable("its circuit breaker is open after repeated failures"))?;
        let sent = build(&self.client)
            .timeout(self.settings.timeout)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                permit.failure();
                let what = if error.is_timeout() {
                    "timed out"
                } else if error.is_connect() {
                    "cannot connect"
                } else {
                    "request failed"
                };
                return Err(self.unavailable(format!("{what}: {}", without_url(&error))));
            }
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            permit.success();
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let body = response.text().await.unwrap_or_default();
        let message = error_message(&body, status);
        Err(match status {
            429 => {
                permit.success();
                AiError::RateLimited {
                    provider: self.provider.clone(),
                    retry_after,
                }
            }
            401 | 403 => {
                permit.success();
                AiError::Unauthorized {
                    provider: self.provider.clone(),
                    message,
                }
            }
            500..=599 => {
                permit.failure();
                self.unavailable(format!("HTTP {status}: {message}"))
            }
            _ => {
                permit.success();
                AiError::BadRequest {
                    provider: self.provider.clone(),
                    status,
                    message,
                }
            }
        })
    }

    /// The JSON body of a response.
    pub(crate) async fn json(
        &self,
        response: reqwest::Response,
    ) -> Result<serde_json::Value, AiError> {
        let bytes = response.bytes().await.map_err(|e| {
            self.unavailable(format!("the answer was cut off: {}", without_url(&e)))
        })?;
        serde_json::from_slice(&bytes).map_err(|e| self.protocol(format!("not JSON: {e}")))
    }

    /// The server-sent events of a response: (event name, data).
    pub(crate) fn sse(
        &self,
        response: reqwest::Response,
    ) -> BoxStream<'static, Result<(String, String), AiError>> {
        use eventsource_stream::Eventsource;
        let provider = self.provider.clone();
        response
            .bytes_stream()
            .eventsource()
            .map(move |event| match event {
                Ok(event) => Ok((event.event, event.data)),
                Err(error) => Err(AiError::Unavailable {
                    provider: provider.clone(),
                    message: format!("the stream broke: {error}"),
                }),
            })
            .boxed()
    }

    /// The JSON lines of a response (NDJSON).
    pub(crate) fn ndjson(
        &self,
        response: reqwest::Response,
    ) -> BoxStream<'static, Result<serde_json::Value, AiError>> {
        let provider = self.provider.clone();
        let bytes = response.bytes_stream();
        futures_util::stream::unfold(
            (bytes, Vec::<u8>::new(), false),
            move |(mut bytes, mut buffer, done)| {
                let provider = provider.clone();
                async move {
                    if done {
                        return None;
                    }
                    loop {
                        if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                            let line: Vec<u8> = buffer.drain(..=end).collect();
                            let line = String::from_utf8_lossy(&line).trim().to_string();
                            if line.is_empty() {
                                continue;
                            }
                            let item = serde_json::from_str(&line).map_err(|e| AiError::Protocol {
                                provider: provider.clone(),
                                message: format!("a line that is not JSON: {e}"),
                            });
                            return Some((item, (bytes, buffer, false)));
                        }
                        match bytes.next().await {
                            Some(Ok(more)) => buffer.extend_from_slice(&more),
                            Some(Err(error)) => {
                                let item = Err(AiError::Unavailable {
                                    provider: provider.clone(),
                                    message: format!("the stream broke: {}", without_url(&error)),
                                });
                                return Some((item, (bytes, buffer, true)));
                            }
                            None => {
                                let rest = String::from_utf8_lossy(&buffer).trim().to_string();
                                if rest.is_empty() {
                                    return None;
                                }
                                buffer.clear();
                                let item =
                                    serde_json::from_str(&rest).map_err(|e| AiError::Protocol {
                                        provider: provider.clone(),
                                        message: format!("a line that is not JSON: {e}"),
                                    });
                                return Some((item, (bytes, buffer, true)));
                            }
                        }
                    }
                }
            },
        )
        .boxed()
    }
}

/// reqwest's error text without the URL (which may carry a key in a query).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// The provider's own message from an error body: `{"error": {"message":
/// ..}}` (OpenAI, Anthropic), `{"error": ".."}` (Ollama), else the body.
fn error_message(body: &str, status: u16) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        let error = v.get("error")?;
        error
            .get("message")
            .and_then(|m| m.as_str())
            .or_else(|| error.as_str())
            .map(str::to_string)
    });
    match from_json {
        Some(message) => message,
        None if body.trim().is_empty() => format!("HTTP {status}"),
        None => body.chars().take(500).collect(),
    }
}
