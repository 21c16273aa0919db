//! Prometheus metrics of one running app, in their own registry so that two
//! apps in one process (tests) never share counters.

use actix_web::http::Method;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use prometheus::{Histogram, IntCounter};
use std::collections::HashMap;
use std::time::Duration;

/// One app's Prometheus registry, with the HTTP metrics Bao keeps for
/// every request; subsystems register their own collectors in it.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pub(crate) inflight: IntGauge,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "bao_http_requests_total",
                "HTTP requests served, by method, route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "bao_http_request_duration_seconds",
                "HTTP request latency in seconds, by method and route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric definition");
        let inflight = IntGauge::new("bao_http_requests_in_flight", "HTTP requests being served")
            .expect("valid metric definition");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(inflight.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Metrics {
            registry,
            requests,
            latency,
            inflight,
        }
    }

    fn handles(&self, method: &'static str, route: &str, status: u16) -> (IntCounter, Histogram) {
        let buf = itoa_status(status);
        let status = std::str::from_utf8(&buf).unwrap_or("000");
        (
            self.requests.with_label_values(&[method, route, status]),
            self.latency.with_label_values(&[method, route]),
        )
    }

    /// The registry, for subsystems' own collectors.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// A gauge of rows by status in one of Bao's tables (workflow runs and
/// steps, tasks), registered in the app's registry and counted in the
/// database before each scrape.
#[derive(Clone)]
pub(crate) struct StatusGauge {
    table: &'static str,
    gauge: prometheus::IntGaugeVec,
}

impl StatusGauge {
    /// Registers `name` (labelled by `status`) for `table`.
    pub(crate) fn register(
        metrics: &Metrics,
        table: &'static str,
        name: &str,
        help: &str,
    ) -> Option<StatusGauge> {
        let gauge = prometheus::IntGaugeVec::new(Opts::new(name, help), &["status"]).ok()?;
        metrics.registry.register(Box::new(gauge.clone())).ok()?;
        Some(StatusGauge { table, gauge })
    }

    /// Counts the table's rows by status into the gauge; on a database
    /// error the gauge keeps its last values.
    pub(crate) async fn refresh(&self, pool: &crate::db::DbPool) {
        let table = self.table;
        match pool
            .run(move |c| crate::db::count_by_status(c, table))
            .await
        {
            Ok(rows) => {
                self.gauge.reset();
                for (status, n) in rows {
                    self.gauge.with_label_values(&[status.as_str()]).set(n);
                }
            }
            Err(error) => tracing::warn!(%error, table, "metrics unavailable"),
        }
    }
}

/// One worker's cache of metric handles by route, method and status, so a
/// request costs one map lookup instead of two label hashes under a lock.
#[derive(Default)]
pub(crate) struct WorkerMetrics {
    by_route: HashMap<String, Vec<(&'static str, u16, IntCounter, Histogram)>>,
}

impl WorkerMetrics {
    pub(crate) fn observe(
        &mut self,
        metrics: &Metrics,
        method: &Method,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let seconds = elapsed.as_secs_f64();
        // Invented methods share one label: a client cannot grow the
        // registry (or this cache) by sending new ones.
        let method = method_label(method);
        if let Some(entries) = self.by_route.get_mut(route) {
            if let Some((_, _, count, latency)) = entries
                .iter()
                .find(|(m, s, _, _)| *s == status && *m == method)
            {
                count.inc();
                latency.observe(seconds);
                return;
            }
            let (count, latency) = metrics.handles(method, route, status);
            count.inc();
            latency.observe(seconds);
            entries.push((method, status, count, latency));
            return;
        }
        let (count, latency) = metrics.handles(method, route, status);
        count.inc();
        latency.observe(seconds);
        self.by_route
            .insert(route.to_string(), vec![(method, status, count, latency)]);
    }
}

/// The label of `method`: its name when it is one of HTTP's, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A status code as three ASCII digits, without allocating.
fn itoa_status(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [
        b'0' + (s / 100) as u8,
        b'0' + (s / 10 % 10) as u8,
        b'0' + (s % 10) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_route_and_status() {
        let m = Metrics::new();
        let mut worker = WorkerMetrics::default();
        worker.observe(
            &m,
            &Method::GET,
            "/posts/{id}",
            200,
            Duration::from_millis(3),
        );
        worker.observe(
            &m,
            &Method::GET,
            "/posts/{id}",
            404,
            Duration::from_millis(1),
        );
        let text = m.render();
        assert!(
            text.contains(
                r#"bao_http_requests_total{method="GET",route="/posts/{id}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"status="404"} 1"#), "{text}");
        assert!(
            text.contains("bao_http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
