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

/// A breaker as a running server reports it on `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveBreaker {
    /// Its name.
    pub name: String,
    /// `closed`, `open` or `half-open`.
    pub state: String,
    /// Times it opened.
    pub opened_total: u64,
    /// Calls it refused.
    pub rejected_total: u64,
}

/// Reads the circuit breakers of the server at `addr` (`host:port`) from
/// its `/metrics` (what `bao describe` shows when the app is running).
pub fn live_breakers(addr: &str) -> std::io::Result<Vec<LiveBreaker>> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    use std::time::Duration;
    let target = addr.to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no address for {addr}"),
        )
    })?;
    let mut stream = std::net::TcpStream::connect_timeout(&target, Duration::from_millis(300))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!(
            "{addr}/metrics answered {}",
            head.lines().next().unwrap_or("nothing")
        )));
    }
    Ok(parse_breakers(body))
}

/// The breakers in a `/metrics` text.
fn parse_breakers(text: &str) -> Vec<LiveBreaker> {
    let mut found: BTreeMap<String, LiveBreaker> = BTreeMap::new();
    for line in text.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some((metric, labels)) = series.split_once("{name=\"") else {
            continue;
        };
        let Some(name) = labels.strip_suffix("\"}") else {
            continue;
        };
        let name = name.replace("\\\"", "\"").replace("\\\\", "\\");
        let value: u64 = value.trim().parse().unwrap_or(0);
        let entry = found.entry(name.clone()).or_insert_with(|| LiveBreaker {
            name,
            state: "closed".into(),
            opened_total: 0,
            rejected_total: 0,
        });
        match metric {
            "bao_circuit_state" => {
                entry.state = match value {
                    1 => "open",
                    2 => "half-open",
                    _ => "closed",
                }
                .into()
            }
            "bao_circuit_opened_total" => entry.opened_total = value,
            "bao_circuit_rejected_total" => entry.rejected_total = value,
            _ => {}
        }
    }
    found.into_values().collect()
}
