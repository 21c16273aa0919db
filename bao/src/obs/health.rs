//! `/healthz` (liveness), `/readyz` (readiness) and `/metrics`.

use crate::app::AppRuntime;
use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};
use std::time::Duration;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) fn configure(cfg: &mut web::ServiceConfig, metrics_enabled: bool) {
    use crate::http::get_resource;
    cfg.service(get_resource("/healthz").to(healthz))
        .service(get_resource("/readyz").to(readyz));
    if metrics_enabled {
        cfg.service(get_resource("/metrics").to(metrics));
    }
}

async fn healthz(rt: web::Data<AppRuntime>) -> HttpResponse {
    if rt.is_shutting_down() {
        HttpResponse::ServiceUnavailable().json(json!({"ok": false, "reason": "shutting_down"}))
    } else {
        HttpResponse::Ok().json(json!({"ok": true}))
    }
}

async fn readyz(rt: web::Data<AppRuntime>) -> HttpResponse {
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
    if rt.is_shutting_down() {
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

async fn metrics(rt: web::Data<AppRuntime>) -> HttpResponse {
    // The in-flight gauge is read from the counter the middleware keeps
    // anyway, instead of being updated twice per request.
    let inflight = rt.inflight().load(std::sync::atomic::Ordering::Relaxed);
    rt.metrics
        .inflight
        .set(i64::try_from(inflight).unwrap_or(i64::MAX));
    let mut body = rt.metrics.render();
    if rt.has_workflows {
        if let Some(pool) = rt.db.clone() {
            match pool.run(crate::workflow::store::counts).await {
                Ok(text) => body.push_str(&text),
                Err(error) => tracing::warn!(%error, "workflow metrics unavailable"),
            }
        }
    }
    body.push_str(&crate::fault::metrics::render());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
