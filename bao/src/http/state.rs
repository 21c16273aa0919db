//! What Bao's middleware and fallback handler read on every request.

use crate::config::Config;
use crate::http::health::Lifecycle;
use crate::obs::metrics::Metrics;
use actix_web::dev::ResourceDef;
use actix_web::http::header::HeaderValue;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// The server's own state, shared by every worker.
pub(crate) struct ServerState {
    pub(crate) config: Arc<Config>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) lifecycle: Arc<Lifecycle>,
    pub(crate) csp: HeaderValue,
    /// Every route's pattern and method, to answer 405 with `Allow` when a
    /// path exists under other methods.
    pub(crate) route_patterns: Vec<(ResourceDef, &'static str)>,
}

impl ServerState {
    pub(crate) fn new(
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        lifecycle: Arc<Lifecycle>,
        routes: &[super::RouteInfo],
    ) -> Self {
        let csp = HeaderValue::from_str(&config.csp)
            .unwrap_or_else(|_| HeaderValue::from_static(crate::config::DEFAULT_CSP));
        ServerState {
            route_patterns: routes
                .iter()
                .map(|r| (ResourceDef::new(r.path), r.method))
                .collect(),
            config,
            metrics,
            lifecycle,
            csp,
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.lifecycle.is_shutting_down()
    }

    pub(crate) fn inflight(&self) -> &AtomicUsize {
        self.lifecycle.inflight()
    }
}
