//! The time as Bao's durable subsystems see it. Tests move it forward with
//! [`advance`] instead of sleeping until a lease, a backoff or a schedule slot
//! comes due.

use std::sync::atomic::{AtomicI64, Ordering};

/// How far tests moved the clock, in milliseconds.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Milliseconds since the Unix epoch, plus any [`advance`].
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis() + OFFSET_MS.load(Ordering::Relaxed)
}

/// Seconds since the Unix epoch, plus any [`advance`].
pub fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

/// Moves this process's clock forward by `by`: leases expire, backoffs and
/// sleeps come due, schedule slots pass. For tests; the database's own
/// clock is not moved.
pub fn advance(by: std::time::Duration) {
    OFFSET_MS.fetch_add(
        i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
        Ordering::Relaxed,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn advance_moves_now_forward() {
        let before = super::now_ms();
        super::advance(std::time::Duration::from_secs(3600));
        assert!(super::now_ms() - before >= 3_600_000);
    }
}
