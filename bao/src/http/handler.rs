//! The glue `#[bao::controller]` generates calls to: typed path parameters,
//! extractors and responses, each behind a trait whose error names the Bao
//! concept instead of actix-web internals.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder};
use std::str::FromStr;

/// A type a `{param}` of a route path can be parsed into.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be parsed from a route path parameter",
    label = "this path parameter's type",
    note = "path parameters are parsed with `FromStr`: use an integer, `String`, `Uuid` or a type implementing `FromStr`"
)]
pub trait PathParam: Sized {
    /// Parses one path segment.
    fn parse_param(raw: &str) -> Option<Self>;
}

impl<T: FromStr> PathParam for T {
    fn parse_param(raw: &str) -> Option<Self> {
        T::from_str(raw).ok()
    }
}

/// A handler argument taken from the request.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be taken from a request",
    label = "not an extractor",
    note = "a handler argument is either named after a `{{param}}` of the route path, or an extractor: `Form<T>`, `Json<T>`, `Query<T>`, `HttpRequest`, `RequestId`, or any type implementing actix-web's `FromRequest`"
)]
pub trait Extract: FromRequest {}

impl<T: FromRequest> Extract for T {}

/// What a handler can return.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a response a Bao handler can return",
    label = "this return type is not a response",
    note = "return `View<T>`, `HttpResponse`, `Json<T>`, `Redirect`, `String`, or `bao::Result<T>` of one of these (any type implementing actix-web's `Responder`)"
)]
pub trait IntoResponse {
    /// Turns the handler's value into the HTTP response.
    fn into_response(self, req: &HttpRequest) -> HttpResponse;
}

impl<T: Responder> IntoResponse for T {
    fn into_response(self, req: &HttpRequest) -> HttpResponse {
        self.respond_to(req).map_into_boxed_body()
    }
}

/// Parses the path parameter `name`; 404 when it does not parse (like a path
/// that does not exist).
// The error is the response itself, built only on the failure path.
#[allow(clippy::result_large_err)]
pub fn path_param<T: PathParam>(req: &HttpRequest, name: &str) -> Result<T, HttpResponse> {
    req.match_info()
        .get(name)
        .and_then(T::parse_param)
        .ok_or_else(|| super::not_found_response(req))
}

/// Runs an extractor; its error becomes the response.
pub async fn extract<T: Extract>(
    req: &HttpRequest,
    payload: &mut Payload,
) -> Result<T, HttpResponse> {
    T::from_request(req, payload).await.map_err(|e| {
        let error: actix_web::Error = e.into();
        error.as_response_error().error_response()
    })
}

/// Turns a handler's return value into its response.
pub fn respond<T: IntoResponse>(req: &HttpRequest, value: T) -> HttpResponse {
    value.into_response(req)
}

/// Registers a generated handler for `method` and `pattern` (GET also answers
/// HEAD). The resource is named after its pattern so the middleware reads the
/// route label for metrics without allocating.
pub fn route<F, Fut>(
    cfg: &mut actix_web::web::ServiceConfig,
    method: actix_web::http::Method,
    pattern: &'static str,
    handler: F,
) where
    F: Fn(HttpRequest, actix_web::web::Payload) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = HttpResponse> + 'static,
{
    let resource = if method == actix_web::http::Method::GET {
        super::get_resource(pattern)
    } else {
        actix_web::web::resource(pattern)
            .name(pattern)
            .guard(actix_web::guard::Method(method))
    };
    cfg.service(resource.route(actix_web::web::route().to(handler)));
}
