//! Fault tolerance: retry policies (`#[bao::retry]`, [`Retry`]), circuit
//! breakers ([`CircuitBreaker`]) and the dead-letter queue
//! ([`dead_letter`], [`dlq`]).

mod circuit;
pub mod metrics;
mod retry;

pub mod dlq;
pub use circuit::{CircuitBreaker, CircuitError, CircuitSnapshot, CircuitState, Permit};
pub use retry::{Fallible, Retry};

#[doc(hidden)]
pub use retry::assert_fallible;

use crate::db::{DbError, DbPool};
use serde::Serialize;

/// Records work that failed for good in the dead-letter queue (`bao
/// dlq:list` shows it): `queue` names where it came from, `payload` is what
/// it was working on. Returns the dead letter's id.
///
/// A dead letter whose queue is a `#[bao::task]` of the app is re-enqueued
/// as that task by `bao dlq:replay`; others are marked replayed and their
/// payload printed.
pub async fn dead_letter<P: Serialize>(
    db: &DbPool,
    queue: &str,
    payload: &P,
    error: &str,
    attempts: u32,
) -> Result<i64, DbError> {
    let payload = serde_json::to_string(payload).map_err(|e| {
        DbError::Invalid(format!("the dead letter's payload cannot be stored: {e}"))
    })?;
    let (queue, error, pool) = (queue.to_string(), error.to_string(), db.clone());
    db.run(move |c| {
        pool.ensure_system_tables(c)?;
        dlq::insert(
            c,
            &queue,
            &payload,
            &error,
            i32::try_from(attempts).unwrap_or(i32::MAX),
            None,
        )
    })
    .await
}

/// Fault tolerance as a subsystem: the breakers', retries' and background
/// work's figures on `/metrics`. Every app has it.
#[derive(Clone, Default)]
pub struct FaultSubsystem;

impl crate::subsystem::Subsystem for FaultSubsystem {
    fn name(&self) -> &'static str {
        "fault"
    }

    fn mount(&self, _core: &crate::subsystem::Core) -> crate::subsystem::Mounted {
        crate::subsystem::Mounted::new().metrics(|| async { metrics::render() })
    }
}
