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

/// Refusals anyone can cause without an account (CSRF failures, failed or
/// throttled logins and registrations): written at most [`DENIALS_PER_MINUTE`]
/// times per address and action each minute, so that a flood of them cannot
/// fill the audit log. The next entry written says how many were left out.
const DENIALS: &[&str] = &[
    "csrf_denied",
    "login_failed",
    "login_throttled",
    "register_taken",
    "register_throttled",
];
/// See [`DENIALS`].
pub(crate) const DENIALS_PER_MINUTE: u32 = 10;

/// Per address and action: the minute, entries written in it, and entries
/// left out since the last one written.
type DenialCounts = std::collections::HashMap<(String, String), (i64, u32, u64)>;

fn denials() -> &'static std::sync::Mutex<DenialCounts> {
    static COUNTS: std::sync::OnceLock<std::sync::Mutex<DenialCounts>> = std::sync::OnceLock::new();
    COUNTS.get_or_init(Default::default)
}

/// Whether to write `entry` now, and how many like it were left out before.
fn admit(entry: &AuditEntry) -> Option<u64> {
    if !DENIALS.contains(&entry.action.as_str()) {
        return Some(0);
    }
    let minute = crate::support::clock::now_ms() / 60_000;
    let key = (entry.ip.clone().unwrap_or_default(), entry.action.clone());
    let mut counts = denials().lock().unwrap_or_else(|e| e.into_inner());
    if counts.len() > 10_000 {
        counts.retain(|_, (m, _, _)| *m == minute);
    }
    let slot = counts.entry(key).or_insert((minute, 0, 0));
    if slot.0 != minute {
        slot.0 = minute;
        slot.1 = 0;
    }
    if slot.1 >= DENIALS_PER_MINUTE {
        slot.2 += 1;
        return None;
    }
    slot.1 += 1;
    Some(std::mem::take(&mut slot.2))
}

/// Writes an entry now; a failure is logged, never shown to the user.
/// Refusals beyond the per-address rate are counted instead (see
/// [`DENIALS`]).
pub(crate) async fn record(rt: &AuthState, mut entry: AuditEntry) {
    let Some(pool) = rt.db.clone() else { return };
    match admit(&entry) {
        None => return,
        Some(0) => {}
        Some(left_out) => {
            let note = format!("{left_out} more from this address were not written (rate limit)");
            entry.detail = Some(match entry.detail.take() {
                Some(detail) => format!("{detail}; {note}"),
                None => note,
            });
        }
    }
    let action = entry.action.clone();
    if let Err(error) = pool.run(move |c| insert_audit(c, &entry)).await {
        tracing::error!(%error, action, "could not write the audit log");
    }
}
