//! Observability: logs and the metrics registry (the health endpoints are in `http::health`).

pub mod logging;
pub mod metrics;

pub use logging::init_logging;
