//! Authentication and authorization: login sessions, CSRF, argon2id
//! passwords, API tokens, login throttling, roles, tenants and the audit log.
//!
//! The app names its user model in `bao::app!(auth: User)`; that model's
//! table needs `id`, `email`, `password_hash` and `role` columns (and
//! `tenant_id` for tenant-scoped apps), which `bao make:auth` generates.
//! Handlers then take [`CurrentUser`], [`OptionalUser`] or [`Tenant`], and
//! controllers declare `requires_login` or `requires_role("admin")`.

pub(crate) mod audit;

pub mod password;
pub mod session;
pub mod store;
pub mod tokens;

pub use password::{hash_password, verify_password, Verified};
pub use session::{
    csrf_for_request, is_local_path, safe_next, CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE,
};
pub use store::{AuditEntry, AuditRow, TokenInfo, UsersTable};

use crate::db::DbError;
use actix_web::cookie::Cookie;
use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;

/// The signed-in user of this request, from the session cookie or an
/// `Authorization: Bearer` API token. As a handler argument it makes the
/// handler require login: an anonymous HTML request is redirected to
/// `/login?next=..`, a JSON or API request gets `401`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CurrentUser {
    /// The user's id.
    pub id: i64,
    /// The user's email.
    pub email: String,
    /// The user's role (`user`, `admin`, ...).
    pub role: String,
    /// The user's tenant, in a multi-tenant app.
    pub tenant_id: Option<i64>,
    /// Whether the request authenticated with an API token (else a session).
    pub via_token: bool,
}

impl CurrentUser {
    /// Whether the user has `role` (`admin` has every role).
    pub fn has_role(&self, role: &str) -> bool {
        self.role == role || self.role == "admin"
    }

    /// The user's tenant, for tenant-scoped queries; `403` when the user
    /// belongs to none.
    pub fn tenant(&self) -> crate::Result<Tenant> {
        self.tenant_id.map(Tenant).ok_or(crate::Error::Forbidden)
    }
}

/// The signed-in user, if any: for pages that anonymous visitors see too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalUser(pub Option<CurrentUser>);

pub use crate::db::Tenant;
pub use crate::http::FlashMessage;

/// What resolving the request's user found, kept for the request's other
/// extractors.
#[derive(Clone)]
struct Resolved(Option<CurrentUser>);

/// What auth keeps for one running app, shared with handlers as
/// `web::Data<AuthState>`.
pub(crate) struct AuthState {
    pub(crate) config: Arc<crate::config::Config>,
    pub(crate) db: Option<crate::db::DbPool>,
    /// The user model's table, for sessions, tokens and `CurrentUser`.
    pub(crate) users: Option<UsersTable>,
    /// Signs session keys, CSRF tokens and flash cookies.
    pub(crate) signer: crate::support::crypto::Signer,
}

/// Auth as a subsystem: sessions, CSRF and the user model named in
/// `bao::app! { auth: User }`. Every app has it.
#[derive(Clone, Default)]
pub struct AuthSubsystem {
    pub(crate) users: Option<UsersTable>,
}

impl crate::subsystem::Subsystem for AuthSubsystem {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn mount(&self, core: &crate::subsystem::Core) -> crate::subsystem::Mounted {
        let state = Arc::new(AuthState {
            config: core.config.clone(),
            db: core.db.clone(),
            users: self.users,
            signer: crate::support::crypto::Signer::new(&core.config.secret_key),
        });
        let mut mounted = crate::subsystem::Mounted::new()
            .data(state)
            .framework_routes(configure);
        // Old audit entries go, once an hour, in `bao serve` and `bao worker`.
        if let (Some(pool), Some(retention)) = (core.db.clone(), core.config.audit_retention) {
            let max_age = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
            mounted = mounted.worker(crate::subsystem::Worker::new(
                "audit-retention",
                move |stop| async move {
                    let mut next = std::time::Instant::now();
                    while !stop.load(std::sync::atomic::Ordering::Acquire) {
                        if std::time::Instant::now() >= next {
                            next = std::time::Instant::now() + std::time::Duration::from_secs(3600);
                            match pool.run(move |c| store::prune_audit(c, max_age)).await {
                                Ok(0) => {}
                                Ok(n) => tracing::info!(deleted = n, "old audit entries deleted"),
                                Err(error) => tracing::warn!(%error, "audit entries not pruned"),
                            }
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                },
            ));
        }
        mounted
    }
}

/// Whether the app names a user model (`bao::app! { auth: User }`).
pub(crate) fn has_users(req: &HttpRequest) -> bool {
    req.app_data::<web::Data<AuthState>>()
        .is_some_and(|state| state.users.is_some())
}

fn rt_of(req: &HttpRequest) -> Option<Arc<AuthState>> {
    req.app_data::<web::Data<AuthState>>()
        .map(|d| d.clone().into_inner())
}

/// The signed-in user of `req`, looked up once per request.
pub async fn current_user(req: &HttpRequest) -> Result<Option<CurrentUser>, crate::Error> {
    if let Some(Resolved(user)) = req.extensions().get::<Resolved>().cloned() {
        return Ok(user);
    }
    let Some(rt) = rt_of(req) else {
        return Ok(None);
    };
    let user = resolve(&rt, req).await?;
    req.extensions_mut().insert(Resolved(user.clone()));
    Ok(user)
}

/// Looks up the signed-in user of a page request before its handler runs,
/// so that every page's layout can show who is signed in
/// (`{{ current_user }}`). Only browser sessions on GET and HEAD are looked
/// up (an API token or an anonymous request costs nothing); a failed lookup
/// is left for the handler's own extractors to report.
pub(crate) async fn preload_for_page(req: &HttpRequest) {
    let method = req.method();
    if (method != actix_web::http::Method::GET && method != actix_web::http::Method::HEAD)
        || !has_users(req)
        || session::bearer_token(req).is_some()
        || session::session_value(req).is_none()
    {
        return;
    }
    if let Err(error) = current_user(req).await {
        tracing::debug!(%error, "the signed-in user was not looked up for the page");
    }
}

/// The signed-in user, when this request has looked it up already.
pub(crate) fn resolved_user(req: &HttpRequest) -> Option<CurrentUser> {
    req.extensions()
        .get::<Resolved>()
        .and_then(|Resolved(user)| user.clone())
}

async fn resolve(rt: &AuthState, req: &HttpRequest) -> Result<Option<CurrentUser>, crate::Error> {
    let users = match rt.users {
        Some(users) => users,
        None => {
            if session::bearer_token(req).is_none() && session::session_value(req).is_none() {
                return Ok(None);
            }
            return Err(AuthError::NotConfigured.into());
        }
    };
    let Some(pool) = rt.db.clone() else {
        return Ok(None);
    };
    if let Some(token) = session::bearer_token(req) {
        let hash = crate::support::crypto::sha256_hex(token);
        let row = pool.run(move |c| store::use_token(c, users, &hash)).await?;
        return Ok(row.map(|r| identity(r, true)));
    }
    let Some(value) = session::session_value(req) else {
        return Ok(None);
    };
    let key = session::session_key(&rt.signer, &value);
    let idle = i64::try_from(rt.config.session_idle_timeout.as_secs()).unwrap_or(i64::MAX);
    let row = pool
        .run(move |c| {
            let Some(row) = store::find_session(c, users, &key)? else {
                return Ok(None);
            };
            let now = store::now();
            if now >= row.expires_at || now.saturating_sub(row.last_seen_at) > idle {
                store::delete_session(c, &key)?;
                return Ok(None);
            }
            // One write a minute at most per session.
            if now - row.last_seen_at >= 60 {
                store::touch_session(c, &key)?;
            }
            Ok(Some(row))
        })
        .await?;
    Ok(row.map(|r| identity(r, false)))
}

fn identity(row: store::IdentityRow, via_token: bool) -> CurrentUser {
    CurrentUser {
        id: row.user_id,
        email: row.email,
        role: row.role,
        tenant_id: row.tenant_id,
        via_token,
    }
}

/// The answer to a request that needs a login and has none: a redirect to
/// the login page for a browser, `401` for JSON and API clients.
pub(crate) fn unauthenticated(req: &HttpRequest) -> HttpResponse {
    let api_client = crate::http::wants_json(req) || session::bearer_token(req).is_some();
    if api_client {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "about:blank",
                "title": "Unauthorized",
                "status": 401,
                "detail": "sign in, or send a valid API token as `Authorization: Bearer <token>`",
            }));
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let next: String = url_encode(&target);
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/login?next={next}")))
        .finish()
}

fn url_encode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

pub(crate) fn forbidden(req: &HttpRequest, detail: &str) -> HttpResponse {
    if crate::http::wants_json(req) {
        return HttpResponse::Forbidden()
            .content_type("application/problem+json")
            .json(serde_json::json!({
                "type": "about:blank", "title": "Forbidden", "status": 403, "detail": detail,
            }));
    }
    HttpResponse::Forbidden()
        .content_type("text/html; charset=utf-8")
        .body(crate::http::page::error_page(403, "Forbidden", detail))
}

/// What `requires_login` and `requires_role(..)` run before a handler.
// The error is the response itself, built only on the failure path.
#[allow(clippy::result_large_err)]
pub async fn require(req: &HttpRequest, role: Option<&str>) -> Result<CurrentUser, HttpResponse> {
    let user = match current_user(req).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(unauthenticated(req)),
        Err(error) => return Err(error.error_response()),
    };
    if let Some(role) = role {
        if !user.has_role(role) {
            audit_denial(req, &user, role).await;
            return Err(forbidden(
                req,
                &format!("This page needs the `{role}` role."),
            ));
        }
    }
    Ok(user)
}

/// Bao's operator pages and channels (a workflow run, an agent's events):
/// admins of an app with users; anyone outside production in an app
/// without users; nobody (404) otherwise.
#[allow(clippy::result_large_err)]
pub(crate) async fn operator(
    req: &HttpRequest,
    env: crate::config::Environment,
) -> Result<(), HttpResponse> {
    if has_users(req) {
        require(req, Some("admin")).await.map(|_| ())
    } else if env == crate::config::Environment::Production {
        Err(crate::http::not_found_response(req))
    } else {
        Ok(())
    }
}

/// Records that `user` was refused something needing `role`.
pub(crate) async fn audit_denial(req: &HttpRequest, user: &CurrentUser, role: &str) {
    if let Some(rt) = rt_of(req) {
        let entry = audit::entry(
            req,
            Some(user.id),
            "permission_denied",
            Some(req.path().to_string()),
            Some(format!("needs role `{role}`, has `{}`", user.role)),
        );
        audit::record(&rt, entry).await;
    }
}

/// An extractor whose work is the async block `$body`, given the request.
macro_rules! async_extractor {
    ($ty:ty, |$req:ident| $body:expr) => {
        impl FromRequest for $ty {
            type Error = actix_web::Error;
            type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let $req = req.clone();
                Box::pin(async move { $body })
            }
        }
    };
}

fn login_required(response: HttpResponse) -> actix_web::Error {
    InternalError::from_response("login required", response).into()
}

async_extractor!(CurrentUser, |req| require(&req, None)
    .await
    .map_err(login_required));

// A bad token is an error the client must see, not anonymity.
async_extractor!(OptionalUser, |req| Ok(OptionalUser(
    current_user(&req).await?
)));

async_extractor!(Tenant, |req| {
    let user = require(&req, None).await.map_err(login_required)?;
    user.tenant_id.map(Tenant).ok_or_else(|| {
        InternalError::from_response(
            "no tenant",
            forbidden(&req, "Your account does not belong to a tenant."),
        )
        .into()
    })
});

/// Why an auth operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong email or password (the same answer for both, on purpose).
    #[error("the email or password is wrong")]
    InvalidCredentials,
    /// Too many failed logins for this account or address.
    #[error("too many failed logins: try again in {retry_after} seconds")]
    Throttled {
        /// Seconds until a new attempt is allowed.
        retry_after: u64,
    },
    /// Registration with an email that already has an account, when
    /// `BAO_REGISTRATION_REVEALS=true`.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Registration with an email that cannot be used, said without telling
    /// whether it has an account (the default: `BAO_REGISTRATION_REVEALS`).
    #[error("this email cannot be used to register: if it is yours and you have an account, sign in instead")]
    EmailUnavailable,
    /// Not an email address.
    #[error("enter a valid email address")]
    InvalidEmail,
    /// The password breaks the policy.
    #[error("password too weak: {0}")]
    WeakPassword(String),
    /// Every password-hashing slot stayed busy: the server is saturated.
    #[error("the server is busy checking passwords: try again in a few seconds")]
    Busy,
    /// The app has no user model.
    #[error("this app has no user model: add `auth: User` to bao::app! (run `bao make:auth` to generate one)")]
    NotConfigured,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            AuthError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AuthError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::EmailTaken => StatusCode::CONFLICT,
            AuthError::InvalidEmail | AuthError::WeakPassword(_) | AuthError::EmailUnavailable => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AuthError::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            AuthError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Database(e) => crate::Error::Database(e.clone()).status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AuthError::Database(e) = self {
            return crate::Error::Database(e.clone()).error_response();
        }
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "auth is not usable");
        }
        let detail = if status.is_server_error() && !matches!(self, AuthError::Busy) {
            "The error was logged.".to_string()
        } else {
            let mut d = self.to_string();
            if let Some(first) = d.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            d + "."
        };
        let mut response = HttpResponse::build(status);
        if let AuthError::Throttled { retry_after } = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let AuthError::Busy = self {
            response.insert_header((header::RETRY_AFTER, "2"));
        }
        response
            .content_type("text/html; charset=utf-8")
            .body(crate::http::page::error_page(
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error"),
                &detail,
            ))
    }
}

/// Registration, login, logout and password changes, as a handler argument.
pub struct Auth {
    req: HttpRequest,
    rt: Arc<AuthState>,
}

impl FromRequest for Auth {
    type Error = crate::Error;
    type Future = futures_util::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        futures_util::future::ready(match rt_of(req) {
            Some(rt) => Ok(Auth {
                req: req.clone(),
                rt,
            }),
            None => Err(crate::Error::Internal("the app runtime is missing".into())),
        })
    }
}

/// A new login session: set its cookie on the response with
/// [`SessionChange::redirect`] or [`SessionChange::apply`].
#[must_use = "the session cookie must be sent: return `change.redirect(..)`"]
pub struct SessionChange {
    cookie: Cookie<'static>,
    /// At sign-in: the cookie that marks this browser as one the user has
    /// signed in from (see `Auth::attempt`).
    device: Option<Cookie<'static>>,
}

impl SessionChange {
    /// A `303` redirect to `location` carrying the new cookies.
    pub fn redirect(self, location: &str) -> crate::Redirect {
        let redirect = crate::Redirect::to(location).cookie(self.cookie);
        match self.device {
            Some(device) => redirect.cookie(device),
            None => redirect,
        }
    }

    /// Sets the new cookies on `response`.
    pub fn apply(self, mut response: HttpResponse) -> HttpResponse {
        let _ = response.add_cookie(&self.cookie);
        if let Some(device) = &self.device {
            let _ = response.add_cookie(device);
        }
        response
    }
}

impl Auth {
    fn users(&self) -> Result<UsersTable, AuthError> {
        self.rt.users.ok_or(AuthError::NotConfigured)
    }

    fn pool(&self) -> Result<crate::db::DbPool, AuthError> {
        self.rt.db.clone().ok_or_else(|| {
            AuthError::Database(DbError::Config(
                "the database is not configured: set BAO_DATABASE_URL".into(),
            ))
        })
    }

    async fn audit(&self, user_id: Option<i64>, action: &str, subject: Option<String>) {
        audit::record(
            &self.rt,
            audit::entry(&self.req, user_id, action, subject, None),
        )
        .await;
    }

    /// Creates an account; its id. The email is checked and must be new, the
    /// password must meet the policy (`BAO_PASSWORD_MIN_LENGTH`).
    pub async fn register(&self, email: &str, password: &str) -> Result<i64, AuthError> {
        let users = self.users()?;
        let email = normalize_email(email)?;
        if let Some(problem) =
            password::password_problem(password, self.rt.config.password_min_length)
        {
            return Err(AuthError::WeakPassword(problem));
        }
        let pool = self.pool()?;
        // Registrations count per address like login attempts, so that
        // nobody makes accounts (or argon2 work) in bulk from one place.
        if let Some(ip) = audit::client_ip(&self.req) {
            let key = vec![format!("register:{ip}")];
            let window = i64::try_from(self.rt.config.login_window.as_secs()).unwrap_or(i64::MAX);
            let max = i64::from(self.rt.config.login_max_failures) * 4;
            let claimed = pool
                .run(move |c| store::claim_attempt(c, &key, window, max))
                .await?;
            if let Err(wait) = claimed {
                self.audit(None, "register_throttled", Some(email)).await;
                return Err(AuthError::Throttled {
                    retry_after: u64::try_from(wait).unwrap_or(1),
                });
            }
        }
        let hash = password::try_hash_password(password)
            .await
            .ok_or(AuthError::Busy)?;
        let mail = email.clone();
        match pool
            .run(move |c| store::insert_user(c, users, &mail, &hash))
            .await
        {
            Ok(id) => {
                self.audit(Some(id), "register", Some(email)).await;
                Ok(id)
            }
            Err(DbError::Conflict(_)) => {
                self.audit(None, "register_taken", Some(email)).await;
                Err(if self.rt.config.registration_reveals {
                    AuthError::EmailTaken
                } else {
                    AuthError::EmailUnavailable
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an email and password; the user's id when they match. Unknown
    /// accounts and wrong passwords get the same error after the same work.
    /// After `BAO_LOGIN_MAX_FAILURES` failures within `BAO_LOGIN_WINDOW` for
    /// the account or the client's address, answers `Throttled`.
    pub async fn attempt(&self, email: &str, password: &str) -> Result<i64, AuthError> {
        let users = self.users()?;
        let pool = self.pool()?;
        let email = email.trim().to_lowercase();
        if email.chars().any(char::is_control) {
            // No account has such an email (registration refuses it), and
            // PostgreSQL cannot even compare a NUL.
            return Err(AuthError::InvalidEmail);
        }
        let ip = audit::client_ip(&self.req);
        let device = session::known_device(&self.rt, &self.req);
        let window = i64::try_from(self.rt.config.login_window.as_secs()).unwrap_or(i64::MAX);
        let max = i64::from(self.rt.config.login_max_failures);
        let lookup_email = email.clone();
        // The attempt counts before the password is checked, atomically,
        // so simultaneous guesses cannot all slip under the limit. A browser
        // the account has signed in from before counts in a bucket of its
        // own, so strangers' guesses do not lock the owner out.
        let (claimed, credentials, keys) = pool
            .run(move |c| {
                let credentials = store::find_credentials(c, users, &lookup_email)?;
                let known = device.is_some() && credentials.as_ref().map(|c| c.id) == device;
                let keys = throttle_keys(&lookup_email, ip.as_deref(), known);
                let claimed = store::claim_attempt(c, &keys, window, max)?;
                let credentials = if claimed.is_ok() { credentials } else { None };
                Ok((claimed, credentials, keys))
            })
            .await?;
        let attempt = match claimed {
            Err(wait) => {
                self.audit(None, "login_throttled", Some(email)).await;
                return Err(AuthError::Throttled {
                    retry_after: u64::try_from(wait).unwrap_or(1),
                });
            }
            Ok(ids) => ids,
        };
        let (user_id, hash) = match &credentials {
            Some(c) => (Some(c.id), c.password_hash.clone()),
            None => (None, password::dummy_hash().to_string()),
        };
        let verified = password::try_verify_password(password, &hash)
            .await
            .ok_or(AuthError::Busy)?;
        let rehash = match &verified {
            Verified::Rehash(new) => Some(new.clone()),
            _ => None,
        };
        match (user_id, verified) {
            (Some(id), Verified::Yes | Verified::Rehash(_)) => {
                let account_key = keys[0].clone();
                pool.run(move |c| {
                    store::forget_attempt(c, &attempt)?;
                    store::clear_failures(c, &account_key)?;
                    if let Some(new) = rehash {
                        store::set_password_hash(c, users, id, &new)?;
                    }
                    Ok(())
                })
                .await?;
                Ok(id)
            }
            _ => {
                // Counted already, when the attempt was claimed.
                self.audit(user_id, "login_failed", Some(email)).await;
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Signs `user_id` in: a new session (the old one, if any, ends), a new
    /// cookie and so a new CSRF token.
    pub async fn login(&self, user_id: i64) -> Result<SessionChange, AuthError> {
        let pool = self.pool()?;
        let signer = &self.rt.signer;
        let value = session::new_session_value();
        let key = session::session_key(signer, &value);
        let old = session::session_value(&self.req).map(|v| session::session_key(signer, &v));
        let lifetime = self.rt.config.session_lifetime;
        let lifetime_secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        let ip = audit::client_ip(&self.req);
        let agent = self
            .req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        pool.run(move |c| {
            if let Some(old) = old {
                store::delete_session(c, &old)?;
            }
            // Logins sweep what has expired, so the table stays small.
            store::delete_expired_sessions(c)?;
            store::insert_session(
                c,
                &key,
                user_id,
                lifetime_secs,
                ip.as_deref(),
                agent.as_deref(),
            )
        })
        .await?;
        self.req.extensions_mut().remove::<Resolved>();
        self.audit(Some(user_id), "login", None).await;
        Ok(SessionChange {
            cookie: session::session_cookie(&self.rt, value, Some(lifetime)),
            device: Some(session::device_cookie(&self.rt, user_id)),
        })
    }

    /// Signs the current session out: its row is deleted (a copy of the
    /// cookie is dead too) and the browser gets a fresh anonymous value.
    pub async fn logout(&self) -> Result<SessionChange, AuthError> {
        let user = current_user(&self.req).await.ok().flatten();
        if let Some(value) = session::session_value(&self.req) {
            let key = session::session_key(&self.rt.signer, &value);
            self.pool()?
                .run(move |c| store::delete_session(c, &key))
                .await?;
        }
        self.audit(user.map(|u| u.id), "logout", None).await;
        Ok(SessionChange {
            cookie: session::session_cookie(&self.rt, session::new_session_value(), None),
            device: None,
        })
    }

    /// Ends every session of `user_id`, on every device; the number ended.
    pub async fn logout_everywhere(&self, user_id: i64) -> Result<usize, AuthError> {
        let n = self
            .pool()?
            .run(move |c| store::delete_user_sessions(c, user_id))
            .await?;
        self.audit(
            Some(user_id),
            "logout_everywhere",
            Some(format!("{n} sessions")),
        )
        .await;
        Ok(n)
    }

    /// Changes a password after checking the current one; every session of
    /// the user ends and this browser gets a new one.
    pub async fn change_password(
        &self,
        user_id: i64,
        current: &str,
        new: &str,
    ) -> Result<SessionChange, AuthError> {
        let users = self.users()?;
        let pool = self.pool()?;
        let found = pool
            .run(move |c| store::find_credentials_by_id(c, users, user_id))
            .await?
            .ok_or(AuthError::InvalidCredentials)?;
        if verify_password(current, &found.password_hash).await == Verified::No {
            self.audit(Some(user_id), "password_change_failed", None)
                .await;
            return Err(AuthError::InvalidCredentials);
        }
        if let Some(problem) = password::password_problem(new, self.rt.config.password_min_length) {
            return Err(AuthError::WeakPassword(problem));
        }
        let hash = hash_password(new).await;
        pool.run(move |c| {
            store::set_password_hash(c, users, user_id, &hash)?;
            store::delete_user_sessions(c, user_id)
        })
        .await?;
        self.audit(Some(user_id), "password_changed", None).await;
        self.login(user_id).await
    }
}

fn throttle_keys(email: &str, ip: Option<&str>, known_device: bool) -> Vec<String> {
    let mut keys = vec![if known_device {
        format!("account-known:{email}")
    } else {
        format!("account:{email}")
    }];
    if let Some(ip) = ip {
        keys.push(format!("ip:{ip}"));
    }
    keys
}

fn normalize_email(email: &str) -> Result<String, AuthError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(AuthError::InvalidEmail)
    }
}

/// Deletes login sessions past their absolute lifetime; the number deleted.
/// Expired sessions never authenticate anyway; this keeps the table small.
pub async fn purge_expired_sessions(pool: &crate::db::DbPool) -> Result<usize, DbError> {
    pool.run(store::delete_expired_sessions).await
}

/// Bao's own auth route: `GET /_bao/csrf` answers `{"csrf_token": ".."}` and
/// sets the session cookie when the browser has none, for single-page apps
/// and API clients that post with the session.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::http::framework_get("/_bao/csrf").to(csrf_endpoint));
}

async fn csrf_endpoint(req: HttpRequest) -> HttpResponse {
    let (token, cookie) = csrf_for_request(&req);
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = cookie {
        response.cookie(cookie);
    }
    response.json(serde_json::json!({ "csrf_token": token }))
}

const fn column(
    name: &'static str,
    rust_type: &'static str,
    sql_type: &'static str,
    ddl: &'static str,
) -> crate::db::ColumnInfo {
    crate::db::ColumnInfo {
        name,
        rust_type,
        sql_type,
        sqlite: ddl,
        postgres: ddl,
        nullable: false,
        primary_key: false,
        references: None,
        unique: false,
        indexed: false,
        check: &[],
        default: None,
        long_text: false,
        rules: &[],
    }
}

/// The `User` model `bao make:auth` writes (`src/models/user.rs`), as its
/// metadata: the generator plans the `users` migration from it before the
/// app is rebuilt. A test checks it against the compiled template.
pub const USER_MODEL: crate::db::ModelInfo = crate::db::ModelInfo {
    name: "User",
    table: "users",
    columns: &[
        crate::db::ColumnInfo {
            primary_key: true,
            ..column("id", "i64", "BigInt", "BIGINT")
        },
        crate::db::ColumnInfo {
            unique: true,
            ..column("email", "String", "Text", "TEXT")
        },
        column("password_hash", "String", "Text", "TEXT"),
        crate::db::ColumnInfo {
            default: Some("'user'"),
            ..column("role", "String", "Text", "TEXT")
        },
        crate::db::ColumnInfo {
            nullable: true,
            ..column("tenant_id", "Option<i64>", "BigInt", "BIGINT")
        },
        column("created_at", "NaiveDateTime", "Timestamp", "TIMESTAMP"),
        column("updated_at", "NaiveDateTime", "Timestamp", "TIMESTAMP"),
    ],
    has_many: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
