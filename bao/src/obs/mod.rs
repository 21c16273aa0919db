//! Observability: logs, metrics and the health endpoints.

pub mod health;
pub(crate) mod logging;
pub mod metrics;

pub use logging::init_logging;
pub use health::{MetricsSource, ReadinessCheck};
