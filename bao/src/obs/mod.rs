//! Observability: logs, metrics and the health endpoints.

pub(crate) mod health;
pub(crate) mod logging;
pub(crate) mod metrics;

pub use logging::init_logging;
