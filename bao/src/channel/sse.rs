//! `GET /_bao/channels/{kind}/{id}`: a channel as server-sent events.
//!
//! Each message is an event with its id, so a browser's `EventSource`
//! reconnects with `Last-Event-ID` and gets what it missed from the replay
//! buffer. A comment every [`HEARTBEAT`] keeps proxies from closing an idle
//! stream and lets the server notice a client that went away.

use super::hub::Message;
use super::{Access, ChannelState};
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use std::time::Duration;

/// How often an idle stream gets a comment.
pub(crate) const HEARTBEAT: Duration = crate::http::SSE_HEARTBEAT;

pub(super) async fn events(
    req: HttpRequest,
    state: web::Data<ChannelState>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (kind, key) = path.into_inner();
    let def = match state.authorize(&req, &kind, &key).await {
        Ok(def) => def,
        Err(response) => return response,
    };
    if matches!(def.access, Access::Socket(_)) {
        return HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "`{kind}` is a two-way socket: connect to /_bao/ws/{kind}/{{id}} with a WebSocket"
            ));
    }
    let Some(pool) = state.db.clone() else {
        return HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "2"))
            .finish();
    };
    stream(&req, &pool, &kind, &key)
}

/// Channel `key` of `kind` as an SSE response, from the message after the
/// request's `Last-Event-ID` (the caller has checked who may listen).
pub(crate) fn stream(
    req: &HttpRequest,
    pool: &crate::db::DbPool,
    kind: &str,
    key: &str,
) -> HttpResponse {
    let last_id = last_event_id(req);
    let subscription = super::subscribe(pool, kind, key, last_id);
    let mut first = String::from("retry: 2000\n: connected\n\n");
    for message in &subscription.replay {
        first.push_str(&frame(message));
    }
    let head =
        futures_util::stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(first)) });
    let closing = crate::http::closing(req);
    let live = futures_util::stream::unfold(
        (subscription, closing),
        |(mut sub, mut closing)| async move {
            tokio::select! {
                // The server is shutting down: end the stream (the browser
                // reconnects to another process with Last-Event-ID).
                _ = &mut closing => None,
                message = sub.rx.recv() => {
                    let message = message?;
                    let mut text = frame(&message);
                    // Send what else is already waiting in the same write.
                    while let Ok(more) = sub.rx.try_recv() {
                        text.push_str(&frame(&more));
                        if text.len() > 64 * 1024 {
                            break;
                        }
                    }
                    Some((Ok(Bytes::from(text)), (sub, closing)))
                }
                _ = tokio::time::sleep(HEARTBEAT) => Some((Ok(Bytes::from_static(b": ping\n\n")), (sub, closing))),
            }
        },
    );
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies that buffer responses (nginx) pass this one through.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::StreamExt::chain(head, live))
}

/// The id after which to resume: the `Last-Event-ID` header a reconnecting
/// `EventSource` sends, or `?last_event_id=` for a first connection.
fn last_event_id(req: &HttpRequest) -> Option<i64> {
    req.headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| {
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("last_event_id").and_then(|v| v.parse().ok()))
        })
}

/// One message as an SSE event (`event:` only when it is not the default).
pub(crate) fn frame(message: &Message) -> String {
    let mut out = format!("id: {}\n", message.id);
    if message.event != "message" {
        out.push_str("event: ");
        out.push_str(&message.event);
        out.push('\n');
    }
    for line in message.data.split('\n') {
        out.push_str("data: ");
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_id_the_event_and_every_line() {
        let message = Message {
            id: 7,
            kind: "orders".into(),
            key: "1".into(),
            event: "status".into(),
            data: "<p>\r\nshipped</p>".into(),
            published_ms: 0,
        };
        assert_eq!(
            frame(&message),
            "id: 7\nevent: status\ndata: <p>\ndata: shipped</p>\n\n"
        );
    }
}
