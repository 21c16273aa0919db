//! Units in configuration and on the command line: durations, sizes, and
//! connection URLs shown without their password.

use std::time::Duration;

/// `30`, `30s`, `500ms`, `2m`, `1h` (a bare number is seconds).
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" => n,
        "ms" => n / 1000.0,
        "m" | "min" | "mins" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// `1048576`, `512KiB`, `512KB`, `2MiB`, `2MB`, `1GiB`.
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A duration as one would write it: `90d`, `24h`, `15m`, `30s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    for (unit, n) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if s.is_multiple_of(n) {
            return format!("{}{unit}", s / n);
        }
    }
    format!("{s}s")
}

/// A size as one would write it: `2MiB`, `512KiB`, `1000`.
pub fn format_size(n: usize) -> String {
    for (unit, m) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= m && n.is_multiple_of(m) {
            return format!("{}{unit}", n / m);
        }
    }
    n.to_string()
}

/// Hides the password of a connection URL.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:****@{host}"),
        None => url.to_string(),
    }
}

/// The milliseconds from the start of day `from` to the end of day `to`
/// (UTC; either may be empty), or what is wrong with them.
pub(crate) fn day_range(from: &str, to: &str) -> Result<(Option<i64>, Option<i64>), String> {
    let day = |text: &str, name: &str| -> Result<Option<i64>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| {
                Some(
                    d.and_time(chrono::NaiveTime::MIN)
                        .and_utc()
                        .timestamp_millis(),
                )
            })
            .map_err(|_| {
                format!("`{name}` is a day written YYYY-MM-DD, like 2026-12-01; got `{text}`")
            })
    };
    let start = day(from, "from")?;
    let end = day(to, "to")?.map(|t| t + 24 * 3600 * 1000);
    if let (Some(s), Some(e)) = (start, end) {
        if s >= e {
            return Err("`from` is after `to`: swap them".into());
        }
    }
    Ok((start, end))
}

/// Milliseconds since the epoch as `2026-12-01 09:30:00` (UTC).
pub(crate) fn format_ms_utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_units_parse_back() {
        for (d, text) in [
            (Duration::from_secs(7_776_000), "90d"),
            (Duration::from_secs(86_400), "1d"),
            (Duration::from_secs(3_600 * 5), "5h"),
            (Duration::from_secs(900), "15m"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Some(d), "{text}");
        }
        for (n, text) in [(2 << 20, "2MiB"), (512 << 10, "512KiB"), (1000, "1000")] {
            assert_eq!(format_size(n), text);
            assert_eq!(parse_size(text), Some(n), "{text}");
        }
    }
}
