//! `GET /_bao/ws/{kind}/{id}`: a channel as a WebSocket (each message a
//! JSON text frame `{"id", "event", "data"}`), or a two-way
//! `#[bao::ws]` handler.
//!
//! Bao answers pings, pings an idle client every [`PING_EVERY`] and closes
//! one silent for [`TIMEOUT`]; messages over [`super::MAX_MESSAGE`] close
//! the socket with 1009 (too big); a subscriber dropped for falling behind
//! is closed with 1013 (try again later).

use super::{Access, ChannelState};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use std::time::{Duration, Instant};

/// How often Bao pings a quiet client.
pub(crate) const PING_EVERY: Duration = Duration::from_secs(15);
/// How long a client may stay silent (no pong, no message).
pub(crate) const TIMEOUT: Duration = Duration::from_secs(45);

pub(super) async fn socket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<ChannelState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (kind, key) = path.into_inner();
    let def = match state.authorize(&req, &kind, &key).await {
        Ok(def) => def,
        Err(response) => return response,
    };
    // A handler extracts what it needs before the upgrade, so a missing
    // sign-in is a plain 401.
    let run = match &def.access {
        Access::Socket(handler) => match handler(req.clone(), key.clone()).await {
            Ok(run) => Some(run),
            Err(error) => return error.error_response(),
        },
        _ => None,
    };
    let pool = match (&run, state.db.clone()) {
        (None, None) => {
            return HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "2"))
                .finish()
        }
        (_, pool) => pool,
    };
    let (response, session, stream) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(error) => return error.error_response(),
    };
    let stream = stream
        .max_frame_size(super::MAX_MESSAGE)
        .aggregate_continuations()
        .max_continuation_size(super::MAX_MESSAGE);
    let socket = Socket {
        session,
        stream,
        last_heard: Instant::now(),
        closed: false,
        closing: crate::http::closing(&req),
    };
    match (run, pool) {
        (Some(run), _) => {
            actix_web::rt::spawn(async move {
                if let Err(error) = run(socket).await {
                    tracing::warn!(%error, kind, "a WebSocket handler failed");
                }
            });
        }
        (None, Some(pool)) => {
            let subscription = super::subscribe(&pool, &kind, &key, None);
            actix_web::rt::spawn(forward(socket, subscription));
        }
        (None, None) => unreachable!("answered 503 above"),
    }
    response
}

/// Sends a subscription's messages until either side ends.
async fn forward(mut socket: Socket, mut subscription: super::Subscription) {
    loop {
        tokio::select! {
            message = subscription.rx.recv() => match message {
                Some(message) => {
                    let text = serde_json::json!({
                        "id": message.id, "event": message.event, "data": message.data,
                    })
                    .to_string();
                    if socket.session.text(text).await.is_err() {
                        return;
                    }
                }
                None => {
                    socket.close(CloseCode::Again, "fell behind: reconnect").await;
                    return;
                }
            },
            received = socket.recv() => {
                // A subscription socket only listens; what the client sends
                // is ignored, and None means it is gone.
                if received.is_none() {
                    return;
                }
            }
        }
    }
}

/// A WebSocket, as a `#[bao::ws]` handler gets it: text in, text out; Bao
/// answers pings and closes idle or oversized sockets.
///
/// ```ignore
/// #[bao::ws("echo")]
/// async fn echo(mut socket: bao::channels::Socket, id: String) -> bao::Result<()> {
///     while let Some(text) = socket.recv().await {
///         socket.send(format!("{id}: {text}")).await?;
///     }
///     Ok(())
/// }
/// ```
pub struct Socket {
    session: Session,
    stream: AggregatedMessageStream,
    last_heard: Instant,
    closed: bool,
    /// Resolves when the server begins to shut down.
    closing: futures_util::future::BoxFuture<'static, ()>,
}

impl Socket {
    /// The next text message (binary ones as lossy text); `None` once the
    /// client closed the socket, went silent or broke the protocol.
    pub async fn recv(&mut self) -> Option<String> {
        if self.closed {
            return None;
        }
        loop {
            let idle = tokio::time::sleep(PING_EVERY);
            tokio::select! {
                _ = &mut self.closing => {
                    self.close(CloseCode::Restart, "the server is restarting").await;
                    return None;
                }
                item = self.stream.recv() => {
                    self.last_heard = Instant::now();
                    match item {
                        Some(Ok(AggregatedMessage::Text(text))) => return Some(text.to_string()),
                        Some(Ok(AggregatedMessage::Binary(bytes))) => {
                            return Some(String::from_utf8_lossy(&bytes).into_owned())
                        }
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            if self.session.pong(&bytes).await.is_err() {
                                self.closed = true;
                                return None;
                            }
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => {}
                        Some(Ok(AggregatedMessage::Close(_))) | None => {
                            self.close(CloseCode::Normal, "").await;
                            return None;
                        }
                        Some(Err(error)) => {
                            let (code, why) = match error {
                                actix_ws::ProtocolError::Overflow => {
                                    (CloseCode::Size, "message too big")
                                }
                                _ => (CloseCode::Protocol, "protocol error"),
                            };
                            tracing::debug!(%error, "closing a WebSocket");
                            self.close(code, why).await;
                            return None;
                        }
                    }
                }
                _ = idle => {
                    if self.last_heard.elapsed() >= TIMEOUT {
                        self.close(CloseCode::Away, "idle").await;
                        return None;
                    }
                    if self.session.ping(b"bao").await.is_err() {
                        self.closed = true;
                        return None;
                    }
                }
            }
        }
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: impl Into<String>) -> crate::Result<()> {
        let text: String = text.into();
        if text.len() > super::MAX_MESSAGE {
            return Err(crate::Error::BadRequest(format!(
                "a WebSocket message is at most {} bytes",
                super::MAX_MESSAGE
            )));
        }
        self.session
            .text(text)
            .await
            .map_err(|_| crate::Error::Internal("the WebSocket is closed".into()))
    }

    /// Sends `value` as a JSON text message.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> crate::Result<()> {
        let text = serde_json::to_string(value)
            .map_err(|e| crate::Error::Internal(format!("not JSON: {e}")))?;
        self.send(text).await
    }

    /// Closes the socket with `code` and a short reason.
    pub async fn close(&mut self, code: CloseCode, reason: &str) {
        if self.closed {
            return;
        }
        self.closed = true;
        let reason = CloseReason {
            code,
            description: (!reason.is_empty()).then(|| reason.to_string()),
        };
        let _ = self.session.clone().close(Some(reason)).await;
    }
}
