//! `bao logs`: the app's recent log lines from `BAO_LOG_FILE` (and its
//! rotated files), filtered by level and request id, optionally followed.

use super::fail;
use crate::obs::logging::{human, read_lines, LineFilter, LEVELS};
use crate::App;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// `bao logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// How many of the latest matching lines to print
    #[arg(long, short = 'n', default_value_t = 100)]
    pub lines: usize,
    /// Keep printing lines as the app writes them (Ctrl-C stops)
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Only lines at this level or above: error, warn, info, debug, trace
    #[arg(long)]
    pub level: Option<String>,
    /// Only lines of this request (the X-Request-Id header of its response)
    #[arg(long)]
    pub request_id: Option<String>,
    /// Print the JSON lines as written
    #[arg(long)]
    pub json: bool,
}

impl LogsArgs {
    fn filter(&self) -> LineFilter {
        LineFilter {
            level: self.level.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

fn print(raw: &str, args: &LogsArgs) -> bool {
    let Ok(line) = serde_json::from_str::<serde_json::Value>(raw) else {
        return false;
    };
    if !args.filter().keep(&line) {
        return false;
    }
    if args.json {
        println!("{raw}");
    } else {
        println!("{}", human(&line));
    }
    true
}

pub(super) fn logs(app: &App, args: &LogsArgs) -> ExitCode {
    let config = match super::app_commands::load_config(app) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let Some(path) = config.log_file.clone() else {
        return fail(
            "the app keeps no log file: set BAO_LOG_FILE (e.g. log/bao.log) for `bao serve` and `bao worker`, \
             then `bao logs` reads it",
        );
    };
    if args
        .level
        .as_deref()
        .is_some_and(|l| !LEVELS.contains(&l.to_ascii_lowercase().as_str()))
    {
        return fail("--level is one of error, warn, info, debug, trace");
    }
    let matching = read_lines(&path, &args.filter());
    if matching.is_empty() && !path.exists() && !args.follow {
        return fail(format!(
            "{} does not exist yet: the app writes it once it runs with BAO_LOG_FILE set",
            path.display()
        ));
    }
    let start = matching.len().saturating_sub(args.lines);
    for raw in &matching[start..] {
        print(raw, args);
    }
    if args.follow {
        follow(&path, args);
    }
    ExitCode::SUCCESS
}

/// Prints what is appended to `path`, reopening it when it is rotated.
fn follow(path: &Path, args: &LogsArgs) {
    let mut offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut pending = String::new();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let Ok(mut file) = std::fs::File::open(path) else {
            continue;
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < offset {
            // Rotated: the new file starts from the beginning.
            offset = 0;
        }
        if len == offset || file.seek(SeekFrom::Start(offset)).is_err() {
            continue;
        }
        let mut chunk = String::new();
        if file.read_to_string(&mut chunk).is_err() {
            continue;
        }
        offset += chunk.len() as u64;
        pending.push_str(&chunk);
        while let Some(end) = pending.find('\n') {
            let raw: String = pending.drain(..=end).collect();
            print(raw.trim_end(), args);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(level: Option<&str>, request_id: Option<&str>) -> LogsArgs {
        LogsArgs {
            lines: 10,
            follow: false,
            level: level.map(String::from),
            request_id: request_id.map(String::from),
            json: false,
        }
    }

    #[test]
    fn lines_are_filtered_by_level_and_request() {
        let warn: serde_json::Value =
            serde_json::json!({"level": "WARN", "message": "slow", "request_id": "r1"});
        let info: serde_json::Value =
            serde_json::json!({"level": "INFO", "message": "ok", "span": {"request_id": "r2"}});
        assert!(args(Some("warn"), None).filter().keep(&warn));
        assert!(!args(Some("warn"), None).filter().keep(&info));
        assert!(args(None, Some("r2")).filter().keep(&info));
        assert!(!args(None, Some("r2")).filter().keep(&warn));
        assert!(
            human(&warn).contains("slow request_id=r1"),
            "{}",
            human(&warn)
        );
    }
}
