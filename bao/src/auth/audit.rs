//! The audit log: logins, logouts, token changes and refusals, with who,
//! when, the request id and the client's address.

use super::store::{insert_audit, AuditEntry};
use super::AuthState;
use crate::http::middleware::REQUEST_ID;
use actix_web::HttpRequest;

/// The client's address as the server saw it (not a forwarded header, which
/// the client controls).
pub(crate) fn client_ip(req: &HttpRequest) -> Option<String> {
    req.peer_addr().map(|a| a.ip().to_string())
}

pub(crate) fn entry(
    req: &HttpRequest,
    user_id: Option<i64>,
    action: &str,
    subject: Option<String>,
    detail: Option<String>,
) -> AuditEntry {
    AuditEntry {
        user_id,
        action: action.to_string(),
        subject,
        request_id: req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ip: client_ip(req),
        detail,
    }
}

/// Writes an entry now; a failure is logged, never shown to the user.
pub(crate) async fn record(rt: &AuthState, entry: AuditEntry) {
    let Some(pool) = rt.db.clone() else { return };
    let action = entry.action.clone();
    if let Err(error) = pool.run(move |c| insert_audit(c, &entry)).await {
        tracing::error!(%error, action, "could not write the audit log");
    }
}
