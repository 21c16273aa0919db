//! HTTP plumbing: the middleware, the handler glue used by generated code,
//! vendored static files and common responses.

pub(crate) mod app_assets;
pub(crate) mod flash;

/// How often a server-sent event stream sends a comment, so proxies do not
/// close it while it is idle.
pub(crate) const SSE_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(15);
pub mod form;
pub(crate) mod handler;
pub mod health;
pub(crate) mod middleware;
pub(crate) mod page;
mod routes;
pub(crate) mod state;
pub(crate) mod static_files;

pub use flash::FlashMessage;
pub use middleware::RequestId;
pub use routes::{auth_model_problem, login_without_auth_at, route_clash_at, RouteInfo};
pub(crate) use routes::{
    clash, generality, same_shape, ADMIN_ROUTES, CHANNEL_ROUTES, DOCS_ROUTES, FRAMEWORK_ROUTES,
    MCP_ROUTES, WORKFLOW_ROUTES,
};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder};

/// Whether the client prefers JSON to HTML (an API client or `fetch`).
pub(crate) fn wants_json(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (accept.contains("application/json") && !accept.contains("text/html"))
        || content_type.starts_with("application/json")
}

pub(crate) fn not_found_response(req: &HttpRequest) -> HttpResponse {
    if wants_json(req) {
        HttpResponse::NotFound()
            .content_type("application/problem+json")
            .body(r#"{"type":"about:blank","title":"Not Found","status":404}"#)
    } else {
        page::html_error(
            HttpResponse::NotFound(),
            404,
            "Not found",
            "There is nothing at this address.",
        )
    }
}

/// A resource for GET that also answers HEAD (the server sends headers only).
/// The guard sits on the resource, so other methods fall through to the
/// next resource with this path, and finally to the 405/404 answer.
pub(crate) fn get_resource(path: &'static str) -> actix_web::Resource {
    use actix_web::guard;
    actix_web::web::resource(path)
        .name(path)
        .guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// The prefix of Bao's own pages and assets: one scope, so other requests
/// skip all of them with one prefix check.
pub(crate) const FRAMEWORK_SCOPE: &str = "/_bao";

/// A resource inside the [`FRAMEWORK_SCOPE`] scope: `path` is the full path
/// (its name, as metrics and `bao routes` show it).
pub(crate) fn framework_resource(path: &'static str) -> actix_web::Resource {
    let relative = path
        .strip_prefix(FRAMEWORK_SCOPE)
        .expect("framework resources live under /_bao");
    actix_web::web::resource(relative).name(path)
}

/// Like [`framework_resource`], answering GET and HEAD.
pub(crate) fn framework_get(path: &'static str) -> actix_web::Resource {
    use actix_web::guard;
    framework_resource(path).guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Resolves when the server serving `req` begins to shut down (never for a
/// request outside a server): long-lived streams end on it, so the drain
/// does not wait for them.
pub(crate) fn closing(req: &HttpRequest) -> futures_util::future::BoxFuture<'static, ()> {
    match req.app_data::<actix_web::web::Data<state::ServerState>>() {
        Some(rt) => Box::pin(rt.lifecycle.closing()),
        None => Box::pin(std::future::pending()),
    }
}

/// No route matched: 405 with `Allow` when the path exists under other
/// methods, 404 otherwise.
pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    let routes = req.app_data::<actix_web::web::Data<state::ServerState>>();
    // `/posts/` answers as `/posts` does: a permanent redirect (308 keeps
    // the method and body) when a route matches without the slash.
    if let Some(target) = routes.and_then(|rt| without_trailing_slash(&rt.route_patterns, &req)) {
        return HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, target))
            .finish();
    }
    let allowed = routes
        .map(|rt| allowed_methods(&rt.route_patterns, req.path()))
        .unwrap_or_default();
    if allowed.is_empty() || allowed.contains(&req.method().as_str()) {
        return not_found_response(&req);
    }
    let allow = allowed.join(", ");
    let mut response = if wants_json(&req) {
        HttpResponse::MethodNotAllowed()
            .content_type("application/problem+json")
            .body(format!(
                r#"{{"type":"about:blank","title":"Method Not Allowed","status":405,"detail":"allowed: {allow}"}}"#
            ))
    } else {
        page::html_error(
            HttpResponse::MethodNotAllowed(),
            405,
            "Method not allowed",
            &format!("This address answers {allow}."),
        )
    };
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Where a request for a path with a trailing slash belongs: the same path
/// without it (and with the query), when a route of the request's method
/// matches that. Never a path starting `//`, which a browser would read as
/// another host.
fn without_trailing_slash(
    routes: &[(actix_web::dev::ResourceDef, &'static str)],
    req: &HttpRequest,
) -> Option<String> {
    let path = req.path();
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() == path.len() || trimmed.is_empty() || trimmed.starts_with("//") {
        return None;
    }
    let method = req.method().as_str();
    if !allowed_methods(routes, trimmed).contains(&method) {
        return None;
    }
    Some(match req.query_string() {
        "" => trimmed.to_string(),
        query => format!("{trimmed}?{query}"),
    })
}

/// The methods whose routes match `path`, GET bringing HEAD, sorted.
fn allowed_methods(
    routes: &[(actix_web::dev::ResourceDef, &'static str)],
    path: &str,
) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = Vec::new();
    for (pattern, method) in routes {
        if pattern.is_match(path) {
            methods.push(method);
            if *method == "GET" {
                methods.push("HEAD");
            }
        }
    }
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// A redirect to another page: `303 See Other` by default, the right answer to
/// a form post.
///
/// ```
/// use bao::Redirect;
/// let to_list = Redirect::to("/posts");
/// let moved = Redirect::permanent("/new-home");
/// # let _ = (to_list, moved);
/// ```
#[derive(Debug, Clone)]
pub struct Redirect {
    location: String,
    status: actix_web::http::StatusCode,
    flash: Vec<FlashMessage>,
    cookies: Vec<actix_web::cookie::Cookie<'static>>,
}

impl Redirect {
    /// `303 See Other` to `location`.
    pub fn to(location: impl Into<String>) -> Self {
        Redirect {
            location: location.into(),
            status: actix_web::http::StatusCode::SEE_OTHER,
            flash: Vec::new(),
            cookies: Vec::new(),
        }
    }

    /// `308 Permanent Redirect` to `location`.
    pub fn permanent(location: impl Into<String>) -> Self {
        Redirect {
            location: location.into(),
            status: actix_web::http::StatusCode::PERMANENT_REDIRECT,
            flash: Vec::new(),
            cookies: Vec::new(),
        }
    }

    /// `307 Temporary Redirect` to `location` (keeps the method and body).
    pub fn temporary(location: impl Into<String>) -> Self {
        Redirect {
            location: location.into(),
            status: actix_web::http::StatusCode::TEMPORARY_REDIRECT,
            flash: Vec::new(),
            cookies: Vec::new(),
        }
    }
}

impl Redirect {
    /// Shows `message` once on the next page rendered (`level` is how the
    /// page styles it: `notice`, `alert`, `error`, ...).
    pub fn flash(mut self, level: &str, message: impl Into<String>) -> Self {
        self.flash.push(FlashMessage {
            level: level.to_string(),
            message: message.into(),
        });
        self
    }

    /// Sets `cookie` on the response.
    pub fn cookie(mut self, cookie: actix_web::cookie::Cookie<'static>) -> Self {
        self.cookies.push(cookie);
        self
    }
}

impl Responder for Redirect {
    type Body = actix_web::body::BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::LOCATION, self.location));
        for cookie in self.cookies {
            response.cookie(cookie);
        }
        if !self.flash.is_empty() {
            if let Some(cookie) = flash::flash_cookie(req, &self.flash) {
                response.cookie(cookie);
            }
        }
        response.finish()
    }
}
