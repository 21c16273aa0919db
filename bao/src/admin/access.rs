//! Who may use the console: admins, the `BAO_ADMIN_TOKEN` bearer, a
//! browser signed in by a one-time link; and the audit entries of actions.

use super::{store, AdminState};
use crate::auth::CurrentUser;
use crate::db::DbPool;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// The cookie a one-time link sets.
pub(super) const LINK_COOKIE: &str = "bao_admin";
/// How long a link's session lasts.
pub(super) const LINK_SESSION_MS: i64 = 12 * 3600 * 1000;

/// Who is acting.
#[derive(Debug, Clone)]
pub(crate) enum Operator {
    /// A signed-in admin.
    User(CurrentUser),
    /// A request bearing `BAO_ADMIN_TOKEN`.
    Token,
    /// A browser that opened a one-time link.
    Link,
}

impl Operator {
    pub(super) fn name(&self) -> String {
        match self {
            Operator::User(u) => u.email.clone(),
            Operator::Token => "admin-token".into(),
            Operator::Link => "admin-link".into(),
        }
    }

    fn user_id(&self) -> Option<i64> {
        match self {
            Operator::User(u) => Some(u.id),
            _ => None,
        }
    }
}

pub(super) fn signer(req: &HttpRequest) -> Option<web::Data<crate::support::crypto::Signer>> {
    req.app_data::<web::Data<crate::support::crypto::Signer>>()
        .cloned()
}

/// The operator of `req`, or the answer refusing it.
#[allow(clippy::result_large_err)]
pub(super) async fn operator(req: &HttpRequest, st: &AdminState) -> Result<Operator, HttpResponse> {
    if !st.config.admin_enabled {
        return Err(crate::http::not_found_response(req));
    }
    if let Some(token) = st.config.admin_token.as_deref() {
        if let Some(sent) = crate::auth::session::bearer_token(req) {
            if crate::support::crypto::constant_time_eq(sent.as_bytes(), token.as_bytes()) {
                return Ok(Operator::Token);
            }
        }
        if let (Some(cookie), Some(signer)) = (req.cookie(LINK_COOKIE), signer(req)) {
            if let Some((until, mac)) = cookie.value().split_once('.') {
                let fresh = until
                    .parse::<i64>()
                    .is_ok_and(|t| t > crate::support::clock::now_ms());
                if fresh && signer.verify("admin-link", until, mac) {
                    return Ok(Operator::Link);
                }
            }
        }
    }
    if crate::auth::has_users(req) {
        return crate::auth::require(req, Some("admin"))
            .await
            .map(Operator::User);
    }
    if st.config.admin_token.is_some() {
        return Err(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("text/html; charset=utf-8")
            .body(crate::http::page::error_page(
                401,
                "Sign in to the admin console",
                "Run `bao admin:link` for a one-time link, or send BAO_ADMIN_TOKEN as `Authorization: Bearer <token>`.",
            )));
    }
    // No users and no token: the console is off.
    Err(crate::http::not_found_response(req))
}

/// The operator and the database, or the answer refusing the request.
#[allow(clippy::result_large_err)]
pub(super) async fn guard(
    req: &HttpRequest,
    st: &AdminState,
) -> Result<(Operator, DbPool), HttpResponse> {
    let who = operator(req, st).await?;
    let pool = st.db.clone().ok_or_else(|| {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "2"))
            .finish()
    })?;
    Ok((who, pool))
}

pub(super) fn db_error(error: crate::db::DbError) -> HttpResponse {
    actix_web::ResponseError::error_response(&crate::Error::from(error))
}

/// `GET /_bao/admin/login?token=..`: uses a one-time link and starts a
/// console session in this browser.
pub(super) async fn login(
    req: HttpRequest,
    st: web::Data<AdminState>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    if !st.config.admin_enabled || st.config.admin_token.is_none() {
        return crate::http::not_found_response(&req);
    }
    let (Some(token), Some(pool), Some(signer)) =
        (query.get("token").cloned(), st.db.clone(), signer(&req))
    else {
        return crate::http::not_found_response(&req);
    };
    let hash = crate::support::crypto::sha256_hex(&token);
    let used = pool
        .run(move |c| {
            pool_ready(c)?;
            store::use_link(c, &hash)
        })
        .await;
    match used {
        Ok(true) => {
            let until = (crate::support::clock::now_ms() + LINK_SESSION_MS).to_string();
            let mac = signer.sign("admin-link", &until);
            let cookie = Cookie::build(LINK_COOKIE, format!("{until}.{mac}"))
                .path("/_bao/admin")
                .http_only(true)
                .secure(st.config.env == crate::config::Environment::Production)
                .same_site(SameSite::Strict)
                .finish();
            record(&req, &st, &Operator::Link, "admin.login", None, None).await;
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/_bao/admin"))
                .cookie(cookie)
                .finish()
        }
        Ok(false) => HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body(crate::http::page::error_page(
                403,
                "This link cannot be used",
                "It was used already or has expired: run `bao admin:link` for a new one.",
            )),
        Err(error) => actix_web::ResponseError::error_response(&crate::Error::from(error)),
    }
}

pub(super) fn pool_ready(c: &mut crate::db::DbConnection) -> Result<(), crate::db::DbError> {
    crate::db::system::migrate(c).map(|_| ())
}

/// Writes an audit entry for an action.
pub(super) async fn record(
    req: &HttpRequest,
    st: &AdminState,
    who: &Operator,
    action: &str,
    subject: Option<String>,
    detail: Option<serde_json::Value>,
) {
    let Some(pool) = st.db.clone() else { return };
    let mut detail = detail.unwrap_or_else(|| serde_json::json!({}));
    detail["operator"] = serde_json::Value::String(who.name());
    let entry = crate::auth::audit::entry(
        req,
        who.user_id(),
        action,
        subject,
        Some(detail.to_string()),
    );
    if let Err(error) = pool
        .run(move |c| crate::auth::store::insert_audit(c, &entry))
        .await
    {
        tracing::error!(%error, "could not write the audit log");
    }
}
