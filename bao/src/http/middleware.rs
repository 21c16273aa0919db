//! Bao's one middleware, on by default: request id, shedding during shutdown,
//! the request's tracing span and access log, metrics and security headers.
//! One layer instead of five keeps the per-request cost to a few hundred
//! nanoseconds.

use super::state::ServerState;
use crate::obs::metrics::WorkerMetrics;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::HttpResponse;
use futures_util::future::{ready, LocalBoxFuture, Ready};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The request id header, read from the client when valid and always returned.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, from `X-Request-Id` or generated.
///
/// Take it as a handler argument to log it or pass it on to other services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl actix_web::FromRequest for RequestId {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    /// The middleware has put a valid id in the request's headers.
    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .map_or_else(
                || new_request_id().to_str().unwrap_or_default().to_string(),
                str::to_string,
            );
        ready(Ok(RequestId(id)))
    }
}

pub(crate) struct BaoMiddleware {
    rt: Arc<ServerState>,
}

impl BaoMiddleware {
    pub(crate) fn new(rt: Arc<ServerState>) -> Self {
        BaoMiddleware { rt }
    }
}

impl<S, B> Transform<S, ServiceRequest> for BaoMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = BaoService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BaoService {
            service: Rc::new(service),
            rt: self.rt.clone(),
            metrics: Rc::new(RefCell::new(WorkerMetrics::default())),
        }))
    }
}

pub(crate) struct BaoService<S> {
    service: Rc<S>,
    rt: Arc<ServerState>,
    metrics: Rc<RefCell<WorkerMetrics>>,
}

/// Decrements the in-flight count however the request ends.
struct InflightGuard(Arc<ServerState>);

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.0.inflight().fetch_sub(1, Ordering::SeqCst);
    }
}

impl<S, B> Service<ServiceRequest> for BaoService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let rt = self.rt.clone();
        // The id lives in the request's headers (no extension allocation); a
        // missing or invalid one from the client is replaced.
        let request_id = match req.headers().get(REQUEST_ID) {
            Some(v) if v.to_str().is_ok_and(is_valid_request_id) => v.clone(),
            _ => {
                let id = new_request_id();
                req.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let path = req.path();
        let is_probe = path == "/healthz" || path == "/readyz";
        if rt.is_shutting_down() && !is_probe {
            let body = r#"{"ok":false,"reason":"shutting_down"}"#;
            let response = HttpResponse::ServiceUnavailable()
                .content_type("application/json")
                .insert_header((header::CONNECTION, "close"))
                .insert_header((header::RETRY_AFTER, "5"))
                .body(body);
            let mut res = req.into_response(response).map_into_right_body();
            record(
                &rt,
                &self.metrics,
                res.request().method(),
                "<shed>",
                res.status(),
                started,
            );
            set_headers(&rt, &mut res, &request_id);
            return Box::pin(async move { Ok(res) });
        }
        rt.inflight().fetch_add(1, Ordering::SeqCst);
        let guard = InflightGuard(rt.clone());
        let span = tracing::info_span!(
            "request",
            request_id = request_id.to_str().unwrap_or_default(),
            method = %req.method(),
            path = %req.path(),
        );
        // The request must not be cloned before routing: actix-web writes the
        // matched path into it through a uniquely owned `Rc`.
        let method = req.method().clone();
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        let handled = async move {
            let _guard = guard;
            // Handlers' errors are already responses here; an `Err` can only
            // come from actix-web itself and is answered by it.
            let mut res = match service.call(req).await {
                Ok(res) => res.map_into_left_body(),
                Err(err) => {
                    let status = err.as_response_error().status_code().as_u16();
                    metrics.borrow_mut().observe(
                        &rt.metrics,
                        &method,
                        "<error>",
                        status,
                        started.elapsed(),
                    );
                    tracing::warn!(status, error = %err, "request failed before reaching a handler");
                    return Err(err);
                }
            };
            {
                // Bao names each resource after its pattern: no allocation.
                let req = res.request();
                let pattern;
                let route = match req.match_name() {
                    Some(name) => name,
                    None => {
                        pattern = req.match_pattern();
                        pattern.as_deref().unwrap_or("<unmatched>")
                    }
                };
                record(&rt, &metrics, req.method(), route, res.status(), started);
            }
            set_headers(&rt, &mut res, &request_id);
            Ok(res)
        };
        // A disabled span (log level above info) costs nothing to skip.
        if span.is_disabled() {
            Box::pin(handled)
        } else {
            Box::pin(handled.instrument(span))
        }
    }
}

/// Records the request's metrics and its access log line.
fn record(
    rt: &ServerState,
    metrics: &RefCell<WorkerMetrics>,
    method: &actix_web::http::Method,
    route: &str,
    status: actix_web::http::StatusCode,
    started: Instant,
) {
    let elapsed = started.elapsed();
    metrics
        .borrow_mut()
        .observe(&rt.metrics, method, route, status.as_u16(), elapsed);
    tracing::info!(
        status = status.as_u16(),
        route,
        latency_ms = (elapsed.as_secs_f64() * 1000.0),
        "completed"
    );
}

/// Sets the request id and the security headers (a CSP set by the handler wins).
fn set_headers<B>(rt: &ServerState, res: &mut ServiceResponse<B>, request_id: &HeaderValue) {
    let headers = res.headers_mut();
    headers.insert(REQUEST_ID, request_id.clone());
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, rt.csp.clone());
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if rt.config.env == crate::config::Environment::Production {
        // Production is served over TLS (Secure cookies need it): browsers
        // should never try plain HTTP again.
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
}

fn is_valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A random 128-bit id as 32 lowercase hex digits.
fn new_request_id() -> HeaderValue {
    let mut buf = [0u8; 32];
    let text = uuid::Uuid::new_v4().simple().encode_lower(&mut buf);
    HeaderValue::from_str(text).expect("hex digits are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_clients_are_bounded() {
        assert!(is_valid_request_id("abc-123_x.y:z"));
        assert!(!is_valid_request_id(""));
        assert!(!is_valid_request_id("has space"));
        assert!(!is_valid_request_id("new\nline"));
        assert!(!is_valid_request_id(&"a".repeat(129)));
    }
}
