//! `/healthz` (liveness), `/readyz` (readiness) and `/metrics`.

use crate::obs::metrics::Metrics;
use actix_web::{web, HttpResponse};
use futures_util::future::BoxFuture;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A readiness check: `Ok(())` when the dependency it probes can serve.
pub type ReadinessCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Run before each scrape of `/metrics`: it refreshes the gauges its
/// subsystem registered (counts kept in the database) and returns any text
/// to append in Prometheus' format (empty when everything is in the
/// registry).
pub type MetricsSource = Arc<dyn Fn() -> BoxFuture<'static, String> + Send + Sync>;

/// Whether the server is shutting down, and how many requests are in flight.
pub(crate) struct Lifecycle {
    shutting_down: AtomicBool,
    inflight: AtomicUsize,
    /// Turns true when shutdown begins: long-lived streams end on it.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            shutting_down: AtomicBool::new(false),
            inflight: AtomicUsize::new(0),
            closing: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Lifecycle {
    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.closing.send_replace(true);
    }

    /// Resolves once shutdown has begun (at once if it has).
    pub(crate) fn closing(&self) -> impl std::future::Future<Output = ()> + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    pub(crate) fn inflight(&self) -> &AtomicUsize {
        &self.inflight
    }

    /// Waits until no request is in flight or `timeout` passed; true if drained.
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.inflight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// What the health endpoints read: the lifecycle, every subsystem's
/// readiness checks and metrics.
pub(crate) struct Health {
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) readiness: Vec<(String, ReadinessCheck)>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sources: Vec<MetricsSource>,
    /// Who may scrape `/metrics`.
    pub(crate) scrape: MetricsAccess,
}

/// Who may scrape `/metrics`: with `BAO_METRICS_TOKEN`, the bearer of that
/// token; without it, anyone in development and test, and only local
/// addresses in production.
#[derive(Debug, Clone)]
pub(crate) enum MetricsAccess {
    Token(String),
    Anyone,
    LocalOnly,
}

impl MetricsAccess {
    pub(crate) fn from_config(config: &crate::config::Config) -> MetricsAccess {
        match &config.metrics_token {
            Some(token) => MetricsAccess::Token(token.clone()),
            None if config.env == crate::config::Environment::Production => {
                MetricsAccess::LocalOnly
            }
            None => MetricsAccess::Anyone,
        }
    }

    /// The refusal for `req`, if it may not scrape.
    fn refuse(&self, req: &actix_web::HttpRequest) -> Option<HttpResponse> {
        match self {
            MetricsAccess::Anyone => None,
            MetricsAccess::Token(token) => {
                let sent = req
                    .headers()
                    .get(actix_web::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                if crate::support::crypto::constant_time_eq(sent.as_bytes(), token.as_bytes()) {
                    None
                } else {
                    Some(
                        HttpResponse::Unauthorized()
                            .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
                            .content_type("text/plain; charset=utf-8")
                            .body("send BAO_METRICS_TOKEN as `Authorization: Bearer <token>`"),
                    )
                }
            }
            MetricsAccess::LocalOnly => {
                let local = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
                (!local).then(|| {
                    HttpResponse::Forbidden()
                        .content_type("text/plain; charset=utf-8")
                        .body("in production /metrics answers local addresses only: set BAO_METRICS_TOKEN to scrape it from elsewhere")
                })
            }
        }
    }
}

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one metrics source may take during a scrape.
const SOURCE_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) fn configure(cfg: &mut web::ServiceConfig, metrics_enabled: bool) {
    use crate::http::get_resource;
    cfg.service(get_resource("/healthz").to(healthz))
        .service(get_resource("/readyz").to(readyz));
    if metrics_enabled {
        cfg.service(get_resource("/metrics").to(metrics));
    }
}

async fn healthz(rt: web::Data<Health>) -> HttpResponse {
    if rt.lifecycle.is_shutting_down() {
        HttpResponse::ServiceUnavailable().json(json!({"ok": false, "reason": "shutting_down"}))
    } else {
        HttpResponse::Ok().json(json!({"ok": true}))
    }
}

async fn readyz(rt: web::Data<Health>) -> HttpResponse {
    let runs = rt.readiness.iter().map(|(name, check)| {
        let check = check.clone();
        async move {
            let result = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(format!("timed out after {}s", CHECK_TIMEOUT.as_secs())),
            };
            (name.clone(), result)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let mut checks = Map::new();
    let mut ok = true;
    for (name, result) in results {
        let value = match result {
            Ok(()) => Value::from("ok"),
            Err(e) => {
                ok = false;
                tracing::warn!(check = %name, error = %e, "readiness check failed");
                Value::from(format!("error: {e}"))
            }
        };
        checks.insert(name, value);
    }
    let mut body = json!({"ok": ok, "checks": checks});
    if rt.lifecycle.is_shutting_down() {
        body["ok"] = Value::from(false);
        body["reason"] = Value::from("shutting_down");
        ok = false;
    }
    if ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn metrics(req: actix_web::HttpRequest, rt: web::Data<Health>) -> HttpResponse {
    if let Some(refused) = rt.scrape.refuse(&req) {
        return refused;
    }
    // The in-flight gauge is read from the counter the middleware keeps
    // anyway, instead of being updated twice per request.
    let inflight = rt
        .lifecycle
        .inflight()
        .load(std::sync::atomic::Ordering::Relaxed);
    rt.metrics
        .inflight
        .set(i64::try_from(inflight).unwrap_or(i64::MAX));
    // Sources refresh their gauges in the registry first, then it renders.
    // Each within a bound: with the database down, a scrape answers at once
    // and the database-backed gauges keep their last values.
    let extra = futures_util::future::join_all(rt.sources.iter().map(|source| async move {
        tokio::time::timeout(SOURCE_TIMEOUT, source())
            .await
            .unwrap_or_default()
    }))
    .await;
    let mut body = rt.metrics.render();
    for text in extra {
        body.push_str(&text);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
