//! The router: providers in fallback order, prices, budgets and metrics
//! around every call.

use super::budget::{self, ScopeHandle};
use super::metrics;
use super::prices::Prices;
use super::provider::ChunkStream;
use super::{
    AiError, Anthropic, Chat, Chunk, Echo, Ollama, OpenAi, Provider, Reply, ToolCall, Usage,
};
use futures_util::stream::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Model providers in fallback order, with a default and a price table.
///
/// ```
/// use bao::ai::{Echo, OpenAi, Router};
/// let router = Router::new()
///     .provider(OpenAi::new("sk-..."))
///     .provider(Echo::new())
///     .default("openai")
///     .price("my-finetune", 3.0, 12.0);
/// assert_eq!(router.provider_names(), ["openai", "echo"]);
/// ```
#[derive(Clone)]
pub struct Router {
    providers: Vec<Arc<dyn Provider>>,
    default: Option<String>,
    prices: Prices,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("providers", &self.provider_names())
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

/// A provider as `bao ai:providers` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderInfo {
    /// Its name.
    pub name: String,
    /// Its chat model.
    pub model: String,
    /// Its embedding model, if it embeds.
    pub embedding_model: Option<String>,
    /// Whether it is the default.
    pub default: bool,
    /// The chat model's price in USD per million tokens (input, output);
    /// None when unknown.
    pub price: Option<(f64, f64)>,
    /// Its circuit breaker: closed, open or half-open.
    pub circuit: String,
}

impl Router {
    /// No providers yet (an empty router answers with `Echo`).
    // No `Default`: `Router::default` would clash with the builder method
    // `default(name)` that picks the provider tried first.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Router {
        Router {
            providers: Vec::new(),
            default: None,
            prices: Prices::default(),
        }
    }

    /// Adds a provider; providers are tried in the order added, the default
    /// first.
    pub fn provider(mut self, provider: impl Provider) -> Router {
        self.providers.push(Arc::new(provider));
        self
    }

    /// Tries the provider named `name` first.
    pub fn default(mut self, name: &str) -> Router {
        self.default = Some(name.to_string());
        self
    }

    /// Sets `model`'s price in USD per million input and output tokens.
    pub fn price(mut self, model: &str, input: f64, output: f64) -> Router {
        self.prices.set(model, input, output);
        self
    }

    /// From the environment:
    ///
    /// - `BAO_AI_PROVIDERS`: provider names in fallback order
    ///   (`anthropic,openai,ollama,echo`); unset, only `echo`;
    /// - `BAO_AI_DEFAULT`: the provider tried first;
    /// - each provider's own variables (`ANTHROPIC_API_KEY`,
    ///   `ANTHROPIC_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
    ///   `OLLAMA_HOST`) and model (`BAO_AI_MODEL_ANTHROPIC`, ...).
    pub fn from_env() -> Result<Router, AiError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Router::from_names(
            var("BAO_AI_PROVIDERS").as_deref(),
            var("BAO_AI_DEFAULT").as_deref(),
        )
    }

    /// A router of the named providers, each configured from its variables.
    pub fn from_names(providers: Option<&str>, default: Option<&str>) -> Result<Router, AiError> {
        let mut router = Router::new();
        for name in providers
            .unwrap_or("echo")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            router = match name.to_ascii_lowercase().as_str() {
                "anthropic" => {
                    require_key("anthropic", "ANTHROPIC_API_KEY")?;
                    router.provider(Anthropic::from_env())
                }
                "openai" => {
                    require_key("openai", "OPENAI_API_KEY")?;
                    router.provider(OpenAi::from_env())
                }
                "ollama" => router.provider(Ollama::from_env()),
                "echo" => router.provider(Echo::new()),
                other => {
                    return Err(AiError::Config(format!(
                        "BAO_AI_PROVIDERS names `{other}`: the providers are anthropic, openai, ollama and echo"
                    )))
                }
            };
        }
        if let Some(default) = default {
            if !router.provider_names().iter().any(|n| n == default) {
                return Err(AiError::Config(format!(
                    "BAO_AI_DEFAULT is `{default}`, which is not in BAO_AI_PROVIDERS ({})",
                    router.provider_names().join(", ")
                )));
            }
            router = router.default(default);
        }
        Ok(router)
    }

    /// The providers' names, in the order they are tried.
    pub fn provider_names(&self) -> Vec<String> {
        self.order(None).map_or_else(
            |_| Vec::new(),
            |ps| ps.iter().map(|p| p.name().to_string()).collect(),
        )
    }

    /// Whether the provider that would answer `chat` first takes tools
    /// natively.
    pub fn native_tools(&self, chat: &Chat) -> bool {
        self.order(chat.provider.as_deref())
            .ok()
            .and_then(|providers| providers.first().map(|p| p.native_tools()))
            .unwrap_or(false)
    }

    /// The providers as `bao ai:providers` lists them.
    pub fn providers(&self) -> Vec<ProviderInfo> {
        let circuits = crate::fault::CircuitBreaker::all();
        self.order(None)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, p)| ProviderInfo {
                name: p.name().to_string(),
                model: p.model().to_string(),
                embedding_model: p.embedding_model().map(str::to_string),
                default: i == 0,
                price: self
                    .price_of(p.as_ref(), p.model())
                    .map(|pr| (pr.input, pr.output)),
                circuit: circuits
                    .iter()
                    .find(|c| c.name == format!("ai:{}", p.name()))
                    .map_or_else(|| "closed".to_string(), |c| c.state.to_string()),
            })
            .collect()
    }

    fn price_of(&self, provider: &dyn Provider, model: &str) -> Option<super::prices::Price> {
        if provider.free() {
            return Some(super::prices::Price {
                input: 0.0,
                output: 0.0,
            });
        }
        self.prices.get(model)
    }

    fn cost(&self, provider: &dyn Provider, model: &str, usage: Usage) -> Option<f64> {
        self.price_of(provider, model)
            .map(|p| p.cost(usage.input_tokens, usage.output_tokens))
    }

    /// The providers to try for `only` (a chat's provider), in order.
    fn order(&self, only: Option<&str>) -> Result<Vec<Arc<dyn Provider>>, AiError> {
        if self.providers.is_empty() {
            let echo: Arc<dyn Provider> = Arc::new(Echo::new());
            return match only {
                None | Some("echo") => Ok(vec![echo]),
                Some(other) => Err(unknown(other, &["echo".into()])),
            };
        }
        if let Some(name) = only {
            return self
                .providers
                .iter()
                .find(|p| p.name() == name)
                .map(|p| vec![p.clone()])
                .ok_or_else(|| {
                    unknown(
                        name,
                        &self
                            .providers
                            .iter()
                            .map(|p| p.name().to_string())
                            .collect::<Vec<_>>(),
                    )
                });
        }
        let mut ordered = self.providers.clone();
        if let Some(default) = &self.default {
            if let Some(i) = ordered.iter().position(|p| p.name() == default) {
                let first = ordered.remove(i);
                ordered.insert(0, first);
            }
        }
        Ok(ordered)
    }

    /// The expected tokens and cost of `chat` on `provider`, for budget
    /// checks: its input, plus its `max_tokens` of output when set.
    fn estimate(&self, provider: &dyn Provider, chat: &Chat) -> (u64, Option<f64>, String) {
        let model = chat
            .model
            .clone()
            .unwrap_or_else(|| provider.model().to_string());
        let input = chat.estimated_input_tokens();
        let output = u64::from(chat.max_tokens.unwrap_or(0));
        let cost = self.cost(
            provider,
            &model,
            Usage {
                input_tokens: input,
                output_tokens: output,
            },
        );
        (input + output, cost, model)
    }

    /// Answers `chat`: the default provider first, the next only when one
    /// failed with a retryable or configuration error.
    pub async fn complete(&self, chat: &Chat) -> Result<Reply, AiError> {
        let scopes = budget::current();
        let mut last = None;
        for provider in self.order(chat.provider.as_deref())? {
            let (tokens, cost, model) = self.estimate(provider.as_ref(), chat);
            budget::check(&scopes, tokens, cost, &model)?;
            let started = Instant::now();
            match provider.complete(chat).await {
                Ok(mut reply) => {
                    reply.cost_usd = self.cost(provider.as_ref(), &reply.model, reply.usage);
                    budget::charge(&scopes, reply.usage.total(), reply.cost_usd);
                    metrics::record(
                        provider.name(),
                        &reply.model,
                        "ok",
                        reply.usage,
                        reply.cost_usd,
                        started.elapsed(),
                        None,
                    );
                    tracing::info!(
                        provider = provider.name(),
                        model = %reply.model,
                        input_tokens = reply.usage.input_tokens,
                        output_tokens = reply.usage.output_tokens,
                        cost_usd = reply.cost_usd,
                        ms = started.elapsed().as_millis() as u64,
                        "AI completion"
                    );
                    return Ok(reply);
                }
                Err(error) => {
                    last = Some(failed(
                        provider.as_ref(),
                        &model,
                        error,
                        started,
                        "completion",
                    )?);
                }
            }
        }
        Err(last.unwrap_or_else(|| AiError::Config("no provider is configured".into())))
    }

    /// Streams the answer to `chat`. A provider that fails before its first
    /// piece is skipped for the next; once text was yielded, an error ends
    /// the stream (never a second, different answer).
    pub async fn stream(&self, chat: &Chat) -> Result<TextStream, AiError> {
        let scopes = budget::current();
        let mut last = None;
        for provider in self.order(chat.provider.as_deref())? {
            let (tokens, cost, model) = self.estimate(provider.as_ref(), chat);
            budget::check(&scopes, tokens, cost, &model)?;
            let started = Instant::now();
            let opened = match provider.stream(chat).await {
                Ok(mut chunks) => match chunks.next().await {
                    Some(Ok(first)) => Ok((first, chunks)),
                    Some(Err(error)) => Err(error),
                    None => Err(AiError::Protocol {
                        provider: provider.name().to_string(),
                        message: "an empty stream".into(),
                    }),
                },
                Err(error) => Err(error),
            };
            match opened {
                Ok((first, rest)) => {
                    return Ok(TextStream {
                        first: Some(first),
                        rest,
                        router: self.clone(),
                        provider: provider.clone(),
                        model,
                        scopes,
                        input_estimate: chat.estimated_input_tokens(),
                        started,
                        first_token: None,
                        text_chars: 0,
                        tool_calls: Vec::new(),
                        outcome: None,
                    });
                }
                Err(error) => {
                    last = Some(failed(provider.as_ref(), &model, error, started, "stream")?);
                }
            }
        }
        Err(last.unwrap_or_else(|| AiError::Config("no provider is configured".into())))
    }

    /// Vectors for `texts`, from the first provider that embeds.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, AiError> {
        let scopes = budget::current();
        let mut last = None;
        for provider in self.order(None)? {
            let Some(model) = provider.embedding_model().map(str::to_string) else {
                continue;
            };
            let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
            let tokens = super::chat::estimate_tokens(chars);
            let cost = self.cost(
                provider.as_ref(),
                &model,
                Usage {
                    input_tokens: tokens,
                    output_tokens: 0,
                },
            );
            budget::check(&scopes, tokens, cost, &model)?;
            let started = Instant::now();
            match provider.embed(texts).await {
                Ok(embedded) => {
                    let cost = self.cost(provider.as_ref(), &embedded.model, embedded.usage);
                    budget::charge(&scopes, embedded.usage.total(), cost);
                    metrics::record(
                        provider.name(),
                        &embedded.model,
                        "ok",
                        embedded.usage,
                        cost,
                        started.elapsed(),
                        None,
                    );
                    return Ok(embedded.vectors);
                }
                Err(error) => {
                    last = Some(failed(
                        provider.as_ref(),
                        &model,
                        error,
                        started,
                        "embedding",
                    )?);
                }
            }
        }
        Err(last
            .unwrap_or_else(|| AiError::Config("no configured provider makes embeddings".into())))
    }
}

fn require_key(provider: &str, var: &str) -> Result<(), AiError> {
    if std::env::var(var).is_ok_and(|v| !v.trim().is_empty()) {
        Ok(())
    } else {
        Err(AiError::Config(format!(
            "BAO_AI_PROVIDERS lists {provider} but {var} is not set"
        )))
    }
}

fn unknown(name: &str, known: &[String]) -> AiError {
    AiError::Config(format!(
        "no provider named `{name}` (configured: {})",
        known.join(", ")
    ))
}

/// Records a provider's failure (metrics and a warning). The error comes
/// back as `Ok` when the next provider may be tried, as `Err` when it must
/// be returned to the caller.
fn failed(
    provider: &dyn Provider,
    model: &str,
    error: AiError,
    started: Instant,
    call: &'static str,
) -> Result<AiError, AiError> {
    metrics::record(
        provider.name(),
        model,
        outcome(&error),
        Usage::default(),
        None,
        started.elapsed(),
        None,
    );
    tracing::warn!(provider = provider.name(), call, %error, "AI call failed before any output");
    if error.allows_fallback() {
        Ok(error)
    } else {
        Err(error)
    }
}

fn outcome(error: &AiError) -> &'static str {
    match error {
        AiError::RateLimited { .. } => "rate_limited",
        AiError::BudgetExceeded(_) => "budget_exceeded",
        AiError::BadRequest { .. } => "bad_request",
        AiError::Unauthorized { .. } => "unauthorized",
        _ => "error",
    }
}

/// A streamed answer: a [`Stream`] of text pieces. When it ends (or is
/// dropped) the call is charged to the budgets in force where it was
/// opened, from the usage the provider reported at the end (or, if it was
/// dropped early, from the text received).
///
/// ```
/// # bao::testing::block_on(async {
/// use futures_util::StreamExt;
/// let mut stream = bao::ai::stream("abc").await.unwrap();
/// let mut text = String::new();
/// while let Some(piece) = stream.next().await {
///     text.push_str(&piece.unwrap());
/// }
/// assert_eq!(text, "cba");
/// # });
/// ```
pub struct TextStream {
    first: Option<Chunk>,
    rest: ChunkStream,
    router: Router,
    provider: Arc<dyn Provider>,
    model: String,
    scopes: Vec<Arc<ScopeHandle>>,
    input_estimate: u64,
    started: Instant,
    first_token: Option<std::time::Duration>,
    text_chars: usize,
    tool_calls: Vec<ToolCall>,
    /// Set once charged: the usage and cost.
    outcome: Option<(Usage, Option<f64>)>,
}

impl std::fmt::Debug for TextStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextStream")
            .field("provider", &self.provider.name())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl TextStream {
    /// The provider answering.
    pub fn provider(&self) -> &str {
        self.provider.name()
    }

    /// The model answering.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The usage and cost, once the stream has ended.
    pub fn usage(&self) -> Option<(Usage, Option<f64>)> {
        self.outcome
    }

    /// Tool calls the model asked for (complete once the stream ended).
    pub fn tool_calls(&self) -> &[ToolCall] {
        &self.tool_calls
    }

    /// Reads the rest of the stream into one string.
    pub async fn text(mut self) -> Result<String, AiError> {
        let mut text = String::new();
        while let Some(piece) = self.next().await {
            text.push_str(&piece?);
        }
        Ok(text)
    }

    fn finish(&mut self, usage: Usage, result: &'static str) {
        if self.outcome.is_some() {
            return;
        }
        let cost = self.router.cost(self.provider.as_ref(), &self.model, usage);
        budget::charge(&self.scopes, usage.total(), cost);
        metrics::record(
            self.provider.name(),
            &self.model,
            result,
            usage,
            cost,
            self.started.elapsed(),
            self.first_token,
        );
        tracing::info!(
            provider = self.provider.name(),
            model = %self.model,
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            cost_usd = cost,
            outcome = result,
            ms = self.started.elapsed().as_millis() as u64,
            "AI stream"
        );
        self.outcome = Some((usage, cost));
    }

    fn estimated_usage(&self) -> Usage {
        Usage {
            input_tokens: self.input_estimate,
            output_tokens: super::chat::estimate_tokens(self.text_chars),
        }
    }
}

impl Stream for TextStream {
    type Item = Result<String, AiError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.outcome.is_some() && this.first.is_none() {
                return Poll::Ready(None);
            }
            let next = match this.first.take() {
                Some(chunk) => Some(Ok(chunk)),
                None => match this.rest.poll_next_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(item) => item,
                },
            };
            match next {
                Some(Ok(Chunk::Text(text))) => {
                    if this.first_token.is_none() {
                        this.first_token = Some(this.started.elapsed());
                    }
                    this.text_chars += text.chars().count();
                    return Poll::Ready(Some(Ok(text)));
                }
                Some(Ok(Chunk::ToolCall(call))) => this.tool_calls.push(call),
                Some(Ok(Chunk::Done { usage, model, .. })) => {
                    this.model = model;
                    this.finish(usage, "ok");
                    return Poll::Ready(None);
                }
                Some(Err(error)) => {
                    let usage = this.estimated_usage();
                    this.finish(usage, "error");
                    return Poll::Ready(Some(Err(error)));
                }
                None => {
                    let usage = this.estimated_usage();
                    this.finish(usage, "error");
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl Drop for TextStream {
    fn drop(&mut self) {
        // Dropped before the end: charge what was received.
        if self.outcome.is_none() {
            let usage = self.estimated_usage();
            self.finish(usage, "cancelled");
        }
    }
}
