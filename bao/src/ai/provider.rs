//! The trait every model provider implements.

use super::{AiError, Chat, Chunk, Embedded, Reply};
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt};

/// A stream of answer pieces from one provider.
pub type ChunkStream = BoxStream<'static, Result<Chunk, AiError>>;

/// A model provider: a service (Anthropic, OpenAI, Ollama) or a local
/// stand-in (Echo, Scripted). The router adds fallback, budgets, cost and
/// metrics around it; a provider only speaks its wire format.
pub trait Provider: Send + Sync + 'static {
    /// Its name in the router (`anthropic`, `openai`, `ollama`, `echo`).
    fn name(&self) -> &str;

    /// The chat model it uses unless a [`Chat`] names another.
    fn model(&self) -> &str;

    /// The embedding model, when it embeds.
    fn embedding_model(&self) -> Option<&str> {
        None
    }

    /// Whether it takes tools and answers with tool calls natively (else an
    /// agent speaks a text protocol with it).
    fn native_tools(&self) -> bool {
        false
    }

    /// Whether its calls cost nothing (local models, test providers).
    fn free(&self) -> bool {
        false
    }

    /// Answers `chat` in one piece.
    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>>;

    /// Answers `chat` piece by piece. The stream ends with
    /// [`Chunk::Done`] carrying the usage. By default, the whole answer as
    /// one piece.
    fn stream<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<ChunkStream, AiError>> {
        Box::pin(async move {
            let reply = self.complete(chat).await?;
            let mut chunks = vec![Ok(Chunk::Text(reply.text))];
            chunks.extend(reply.tool_calls.into_iter().map(|c| Ok(Chunk::ToolCall(c))));
            chunks.push(Ok(Chunk::Done {
                usage: reply.usage,
                model: reply.model,
                stop_reason: reply.stop_reason,
            }));
            Ok(futures_util::stream::iter(chunks).boxed())
        })
    }

    /// Vectors for `texts`.
    fn embed<'a>(&'a self, texts: &'a [String]) -> BoxFuture<'a, Result<Embedded, AiError>> {
        let _ = texts;
        Box::pin(async move {
            Err(AiError::Unsupported {
                provider: self.name().to_string(),
                what: "embeddings",
            })
        })
    }
}
