//! The `bao_session` cookie, CSRF tokens and flash messages.
//!
//! Every browser gets a random 256-bit session value in the `bao_session`
//! cookie (HttpOnly, SameSite=Lax, Secure outside development) the first time
//! a page needs a CSRF token. The CSRF token is an HMAC of that value under
//! `BAO_SECRET_KEY`, so checking it needs no database. A login stores a row in
//! `bao_sessions` keyed by another HMAC of a fresh value; logout deletes it,
//! so a copied cookie is dead afterwards. Login and logout both issue a new
//! value, which rotates the CSRF token too.

use super::AuthState;
use crate::config::Environment;
use crate::support::crypto::{is_hex, random_hex, Signer};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use futures_util::StreamExt;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bao_session";
pub use crate::http::flash::FLASH_COOKIE;
/// The form field holding the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";
/// The header holding the CSRF token (for `fetch` and htmx).
pub const CSRF_HEADER: &str = "x-csrf-token";

pub(crate) fn runtime(req: &HttpRequest) -> Option<&AuthState> {
    req.app_data::<web::Data<AuthState>>().map(|d| d.get_ref())
}

/// The request's session value, if its cookie holds a well-formed one.
pub(crate) fn session_value(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| is_hex(v, 64))
}

/// A fresh value minted while handling this request (no cookie came in).
#[derive(Clone)]
struct MintedSession(String);

/// The CSRF token belonging to a session value.
pub(crate) fn csrf_token_for(signer: &Signer, value: &str) -> String {
    signer.sign("csrf", value)
}

/// The key of a session value in `bao_sessions`.
pub(crate) fn session_key(signer: &Signer, value: &str) -> String {
    signer.sign("session", value)
}

/// A new random session value.
pub(crate) fn new_session_value() -> String {
    random_hex(32)
}

/// The `bao_session` cookie carrying `value`; `max_age` for a login session,
/// none (ends with the browser) for an anonymous one.
pub(crate) fn session_cookie(
    rt: &AuthState,
    value: String,
    max_age: Option<std::time::Duration>,
) -> Cookie<'static> {
    let mut cookie = Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(rt.config.env != Environment::Development)
        .finish();
    if let Some(age) = max_age {
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        ));
    }
    cookie
}

/// The cookie that marks a browser where a user has signed in before: its
/// failed logins for that account are counted apart from everyone else's,
/// so strangers guessing the password cannot lock the owner out.
pub(crate) const DEVICE_COOKIE: &str = "bao_device";
const DEVICE_PURPOSE: &str = "known-device";

/// `bao_device` for `user_id`: the id and its MAC, kept 400 days.
pub(crate) fn device_cookie(rt: &AuthState, user_id: i64) -> Cookie<'static> {
    let id = user_id.to_string();
    let value = format!("{id}.{}", rt.signer.sign(DEVICE_PURPOSE, &id));
    let mut cookie = session_cookie(
        rt,
        value,
        Some(std::time::Duration::from_secs(400 * 86_400)),
    );
    cookie.set_name(DEVICE_COOKIE);
    cookie
}

/// The user this browser has signed in as before, if its `bao_device`
/// cookie is genuine.
pub(crate) fn known_device(rt: &AuthState, req: &HttpRequest) -> Option<i64> {
    let cookie = req.cookie(DEVICE_COOKIE)?;
    let (id, mac) = cookie.value().split_once('.')?;
    rt.signer
        .verify(DEVICE_PURPOSE, id, mac)
        .then(|| id.parse().ok())
        .flatten()
}

/// The CSRF token for this request's page, and the cookie to set when the
/// browser had no session yet (the same one for every page rendered by one
/// request).
pub fn csrf_for_request(req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    let Some(rt) = runtime(req) else {
        return (String::new(), None);
    };
    if let Some(value) = session_value(req) {
        return (csrf_token_for(&rt.signer, &value), None);
    }
    let minted = req.extensions().get::<MintedSession>().cloned();
    let value = match minted {
        Some(MintedSession(v)) => v,
        None => {
            let v = new_session_value();
            req.extensions_mut().insert(MintedSession(v.clone()));
            v
        }
    };
    let token = csrf_token_for(&rt.signer, &value);
    (token, Some(session_cookie(rt, value, None)))
}

/// Whether a method changes state and so needs a CSRF token.
pub(crate) fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request authenticates with `Authorization: Bearer`.
pub(crate) fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The CSRF check every generated handler of an unsafe method runs first.
///
/// Exempt: requests carrying a bearer token and no session cookie (no
/// ambient credential a third-party site could borrow). Everything else needs
/// the token in the `X-CSRF-Token` header or, for a urlencoded form, in the
/// `_csrf` field, whatever the content type; the form body is read here and
/// handed on unchanged.
// The error is the response itself, built only on the failure path.
#[allow(clippy::result_large_err)]
pub async fn csrf_guard(req: &HttpRequest, payload: &mut Payload) -> Result<(), HttpResponse> {
    if !is_unsafe(req.method()) {
        return Ok(());
    }
    let has_cookie = req.cookie(SESSION_COOKIE).is_some();
    if !has_cookie && bearer_token(req).is_some() {
        return Ok(());
    }
    let Some(rt) = runtime(req) else {
        return Ok(());
    };
    let Some(value) = session_value(req) else {
        return Err(csrf_failure(
            req,
            rt,
            "this form was sent without the session cookie it was issued with",
        )
        .await);
    };
    let from_header = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let sent = match from_header {
        Some(token) => Some(token),
        None if is_urlencoded(req) => {
            let body = read_body(payload, rt.config.max_body_size)
                .await
                .map_err(|status| {
                    HttpResponse::build(status)
                        .content_type("text/html; charset=utf-8")
                        .body(crate::http::page::error_page(
                            status.as_u16(),
                            "Payload too large",
                            "The request body is larger than this server accepts.",
                        ))
                })?;
            let token = form_field(&body, CSRF_FIELD);
            *payload = Payload::from(body);
            token
        }
        None => None,
    };
    match sent {
        Some(token) if rt.signer.verify("csrf", &value, &token) => Ok(()),
        Some(_) => Err(csrf_failure(
            req,
            rt,
            "the CSRF token does not match this session (the page may be from before a login or logout)",
        )
        .await),
        None => Err(csrf_failure(
            req,
            rt,
            "the CSRF token is missing: send it in the `_csrf` form field or the `X-CSRF-Token` header",
        )
        .await),
    }
}

/// The CSRF check of `#[bao::api]` routes: like [`csrf_guard`], but a
/// request without a session cookie carries no ambient credential a
/// third-party site could borrow, so it needs no token (API clients
/// authenticate with bearer tokens or not at all).
#[allow(clippy::result_large_err)]
pub async fn csrf_guard_api(req: &HttpRequest, payload: &mut Payload) -> Result<(), HttpResponse> {
    if req.cookie(SESSION_COOKIE).is_none() {
        return Ok(());
    }
    csrf_guard(req, payload).await
}

fn is_urlencoded(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub(crate) async fn read_body(
    payload: &mut Payload,
    limit: usize,
) -> Result<web::Bytes, StatusCode> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| StatusCode::BAD_REQUEST)?;
        if body.len() + chunk.len() > limit {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn csrf_failure(req: &HttpRequest, rt: &AuthState, reason: &str) -> HttpResponse {
    tracing::warn!(reason, path = %req.path(), "CSRF check failed");
    let entry = super::audit::entry(
        req,
        None,
        "csrf_denied",
        Some(req.path().to_string()),
        Some(reason.to_string()),
    );
    super::audit::record(rt, entry).await;
    if crate::http::wants_json(req) {
        return HttpResponse::Forbidden()
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "about:blank",
                "title": "CSRF check failed",
                "status": 403,
                "detail": reason,
            }));
    }
    crate::http::page::html_error(
        HttpResponse::Forbidden(),
        403,
        "Forbidden",
        &format!("CSRF check failed: {reason}. Reload the page and try again."),
    )
}

/// Whether `next` is a path on this site (`/notes?page=2`), not an absolute
/// or protocol-relative URL that would send the user elsewhere after login.
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n', '\t'])
        && !next.chars().any(char::is_control)
}

/// `next` if it is a local path, else `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_string(),
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_stay_on_this_site() {
        assert!(is_local_path("/notes?page=2"));
        assert!(!is_local_path("https://evil.example"));
        assert!(!is_local_path("//evil.example"));
        assert!(!is_local_path("/\\evil.example"));
        assert!(!is_local_path("javascript:alert(1)"));
        assert_eq!(safe_next(Some("https://evil.example/x")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
