//! `bao::ai`: ask, complete, stream and embed through one router over model
//! providers (Anthropic, OpenAI and compatible servers, Ollama), with
//! fallback, budgets in tokens and dollars, cost accounting and metrics.
//!
//! ```
//! # bao::testing::block_on(async {
//! use bao::ai::{self, Budget, Chat};
//! // With nothing configured the router is `Echo`: deterministic, offline.
//! assert_eq!(ai::ask("hello").await?, "olleh");
//! let reply = ai::complete(Chat::new().system("Be brief.").user("abc").max_tokens(50)).await?;
//! assert_eq!((reply.text.as_str(), reply.provider.as_str()), ("cba", "echo"));
//! let vectors = ai::embed(&["alpha", "beta"]).await?;
//! assert_eq!(vectors.len(), 2);
//! let capped = ai::with_budget(Budget::tokens(1), async { ai::ask("far too long a prompt").await }).await;
//! assert!(matches!(capped, Err(ai::AiError::BudgetExceeded(_))));
//! # Ok::<(), ai::AiError>(()) }).unwrap();
//! ```
//!
//! Configure it in `setup` with [`App::ai`](crate::App::ai), or with
//! `BAO_AI_PROVIDERS` and the providers' usual variables (see
//! [`Router::from_env`]).

mod budget;
mod chat;
mod error;
mod http;
mod metrics;
mod prices;
mod provider;
mod providers;
mod router;

pub use budget::{spent, with_budget, Budget, Spent};
pub use chat::{Chat, Chunk, Embedded, Message, Reply, Role, ToolCall, ToolSpec, Usage};
pub use error::AiError;
pub use http::HttpSettings;
pub use metrics::render as render_metrics;
pub use prices::{Price, Prices};
pub use provider::{ChunkStream, Provider};
pub use providers::anthropic::Anthropic;
pub use providers::local::{Echo, MockNative, ScriptStep, Scripted};
pub use providers::ollama::Ollama;
pub use providers::openai::OpenAi;
pub use router::{ProviderInfo, Router, TextStream};

use std::sync::{Arc, RwLock};

/// The router `ask` and friends use: the one the app installed, else one
/// built from the environment on first use.
static ROUTER: RwLock<Option<Arc<Router>>> = RwLock::new(None);

/// Makes `router` the one [`ask`], [`complete`], [`stream`] and [`embed`]
/// use. The app does this when it starts with the router of
/// [`App::ai`](crate::App::ai); tests may call it directly.
pub fn install(router: Router) {
    *ROUTER.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(router));
}

/// The router in use.
///
/// Without an installed one, it is built from `BAO_AI_*`; a configuration
/// error there is logged and the router falls back to `Echo` (so that an
/// app starts; `bao ai:providers` shows the error).
pub fn router() -> Arc<Router> {
    if let Some(router) = ROUTER.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return router.clone();
    }
    let mut slot = ROUTER.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| {
        Arc::new(Router::from_env().unwrap_or_else(|error| {
            tracing::error!(%error, "AI router: answering with Echo");
            Router::new()
        }))
    })
    .clone()
}

/// The answer to one prompt, as text.
pub async fn ask(prompt: &str) -> Result<String, AiError> {
    Ok(router().complete(&Chat::from(prompt)).await?.text)
}

/// The answer to a conversation: text, tool calls, usage, cost.
pub async fn complete(chat: Chat) -> Result<Reply, AiError> {
    router().complete(&chat).await
}

/// The answer to a prompt or conversation, piece by piece.
pub async fn stream(chat: impl Into<Chat>) -> Result<TextStream, AiError> {
    router().stream(&chat.into()).await
}

/// One vector per text.
pub async fn embed<S: AsRef<str>>(texts: &[S]) -> Result<Vec<Vec<f32>>, AiError> {
    let texts: Vec<String> = texts.iter().map(|t| t.as_ref().to_string()).collect();
    router().embed(&texts).await
}

static POOL: RwLock<Option<crate::db::DbPool>> = RwLock::new(None);

/// Answers `question` from the `k` chunks of the app's ingested documents
/// that best match it (see [`crate::rag`]), with the sources used. Uses the
/// app's database (set when the app starts).
pub async fn ask_with_context(question: &str, k: usize) -> crate::Result<crate::rag::Answer> {
    let pool = POOL
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| {
            crate::Error::Internal(
                "ask_with_context needs the app's database: call it in a running app, or use bao::rag::ask(&db, ..)".into(),
            )
        })?;
    crate::rag::ask(&pool, question, k).await
}

/// The AI subsystem: installs the app's router when the app starts and adds
/// the AI metrics to `/metrics`.
#[derive(Clone, Default)]
pub struct AiSubsystem {
    router: Option<Router>,
}

impl AiSubsystem {
    /// With `router` (else the environment's).
    pub fn new(router: Router) -> AiSubsystem {
        AiSubsystem {
            router: Some(router),
        }
    }

    /// The router the app configured, if any.
    pub fn configured(&self) -> Option<&Router> {
        self.router.as_ref()
    }
}

impl crate::subsystem::Subsystem for AiSubsystem {
    fn name(&self) -> &'static str {
        "ai"
    }

    fn mount(&self, core: &crate::subsystem::Core) -> crate::subsystem::Mounted {
        if let Some(db) = &core.db {
            *POOL.write().unwrap_or_else(|e| e.into_inner()) = Some(db.clone());
        }
        let router = match &self.router {
            Some(router) => router.clone(),
            None => {
                let providers = core.config.ai_providers.join(",");
                Router::from_names(Some(&providers), core.config.ai_default.as_deref())
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "AI router: answering with Echo until this is fixed");
                        Router::new()
                    })
            }
        };
        install(router);
        crate::subsystem::Mounted::new().metrics(|| async { metrics::render() })
    }
}
