//! The fault-tolerance figures of this process, in Prometheus' text format:
//! breaker states, retries and fire-and-forget work.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

static RETRIES: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// `bao::background()` outcomes: accepted, dropped (over the bound), failed
/// (returned an error or panicked).
pub(crate) static BACKGROUND_ACCEPTED: AtomicU64 = AtomicU64::new(0);
pub(crate) static BACKGROUND_DROPPED: AtomicU64 = AtomicU64::new(0);
pub(crate) static BACKGROUND_FAILED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count_retry(name: &'static str) {
    *RETRIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name)
        .or_insert(0) += 1;
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text `/metrics` appends.
pub fn render() -> String {
    let mut out = String::new();
    let breakers = super::CircuitBreaker::all();
    if !breakers.is_empty() {
        out.push_str("# HELP bao_circuit_state Circuit breaker state: 0 closed, 1 open, 2 half-open\n# TYPE bao_circuit_state gauge\n");
        for b in &breakers {
            let _ = writeln!(
                out,
                "bao_circuit_state{{name=\"{}\"}} {}",
                escape(&b.name),
                b.state.gauge()
            );
        }
        out.push_str("# HELP bao_circuit_opened_total Times a circuit breaker opened\n# TYPE bao_circuit_opened_total counter\n");
        for b in &breakers {
            let _ = writeln!(
                out,
                "bao_circuit_opened_total{{name=\"{}\"}} {}",
                escape(&b.name),
                b.opened_total
            );
        }
        out.push_str("# HELP bao_circuit_rejected_total Calls refused by an open circuit breaker\n# TYPE bao_circuit_rejected_total counter\n");
        for b in &breakers {
            let _ = writeln!(
                out,
                "bao_circuit_rejected_total{{name=\"{}\"}} {}",
                escape(&b.name),
                b.rejected_total
            );
        }
    }
    let retries = RETRIES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !retries.is_empty() {
        out.push_str("# HELP bao_retries_total Calls retried after a failure\n# TYPE bao_retries_total counter\n");
        for (name, n) in retries {
            let _ = writeln!(out, "bao_retries_total{{call=\"{}\"}} {n}", escape(name));
        }
    }
    out.push_str("# HELP bao_background_total Fire-and-forget work by outcome\n# TYPE bao_background_total counter\n");
    for (outcome, counter) in [
        ("accepted", &BACKGROUND_ACCEPTED),
        ("dropped", &BACKGROUND_DROPPED),
        ("failed", &BACKGROUND_FAILED),
    ] {
        let _ = writeln!(
            out,
            "bao_background_total{{outcome=\"{outcome}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    out
}
