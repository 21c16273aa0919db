//! Logging: to stderr (JSON in production, compact text otherwise) and,
//! with `BAO_LOG_FILE`, also as JSON lines to a file rotated by size, which
//! `bao logs` reads.

use crate::config::{Config, LogFormat};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// A log file grows to this size, then becomes `NAME.1` (and `.1` becomes
/// `.2`, ...).
pub const ROTATE_BYTES: u64 = 10 * 1024 * 1024;
/// How many rotated files are kept besides the current one.
pub const KEEP: usize = 4;

/// Installs the process's logger (once; later calls do nothing).
pub fn init_logging(config: &Config) {
    let filter =
        || EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let stderr = match config.log_format {
        LogFormat::Json => stderr
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .with_filter(filter())
            .boxed(),
        LogFormat::Pretty => stderr.compact().with_filter(filter()).boxed(),
    };
    let file = config.log_file.as_ref().and_then(|path| {
        match RotatingFile::open(path, ROTATE_BYTES, KEEP) {
            Ok(file) => Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(file)
                    .with_target(false)
                    .with_ansi(false)
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .flatten_event(true)
                    .with_filter(filter())
                    .boxed(),
            ),
            Err(error) => {
                eprintln!("BAO_LOG_FILE: cannot write {}: {error}", path.display());
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

/// A file that rotates itself by size. Cheap to clone.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Rotating>>,
}

struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max: u64,
    keep: usize,
}

impl RotatingFile {
    /// Opens `path` for appending (making its folder), rotating at `max`
    /// bytes and keeping `keep` older files.
    pub fn open(path: &Path, max: u64, keep: usize) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            inner: Arc::new(Mutex::new(Rotating {
                path: path.to_path_buf(),
                file,
                size,
                max,
                keep,
            })),
        })
    }
}

/// `NAME.n`.
pub fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl Rotating {
    fn rotate(&mut self) -> std::io::Result<()> {
        for n in (1..self.keep).rev() {
            let from = rotated(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.path, n + 1))?;
            }
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        self.file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// One write of one log line.
pub struct LineWriter {
    inner: Arc<Mutex<Rotating>>,
}

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut file = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if file.size > 0 && file.size + buf.len() as u64 > file.max {
            // A failed rotation keeps writing to the current file.
            let _ = file.rotate();
        }
        file.file.write_all(buf)?;
        file.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .file
            .flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            inner: self.inner.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_by_size_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log/app.log");
        let file = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            let mut w = file.make_writer();
            w.write_all(format!("line {i:02} {}\n", "x".repeat(30)).as_bytes())
                .unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.contains("line 09"), "{current}");
        assert!(current.len() <= 100);
        assert!(rotated(&path, 1).exists() && rotated(&path, 2).exists());
        assert!(!rotated(&path, 3).exists(), "only 2 old files are kept");
        let oldest = std::fs::read_to_string(rotated(&path, 2)).unwrap();
        assert!(!oldest.contains("line 00"), "the oldest lines are gone");
    }
}

/// Which lines of the log file to keep when reading it back (`bao logs`,
/// the admin console, the MCP server).
#[derive(Debug, Clone, Default)]
pub struct LineFilter {
    /// Only lines at this level or above: error, warn, info, debug, trace.
    pub level: Option<String>,
    /// Only lines of this request (its `X-Request-Id`).
    pub request_id: Option<String>,
}

/// The levels a [`LineFilter`] accepts.
pub const LEVELS: &[&str] = &["error", "warn", "warning", "info", "debug", "trace"];

fn rank(level: &str) -> u8 {
    match level.to_ascii_lowercase().as_str() {
        "error" => 5,
        "warn" | "warning" => 4,
        "info" => 3,
        "debug" => 2,
        _ => 1,
    }
}

impl LineFilter {
    /// Whether a JSON log line passes.
    pub fn keep(&self, line: &serde_json::Value) -> bool {
        if let Some(level) = &self.level {
            if rank(line["level"].as_str().unwrap_or("trace")) < rank(level) {
                return false;
            }
        }
        if let Some(id) = &self.request_id {
            let found = line["request_id"].as_str() == Some(id.as_str())
                || line["span"]["request_id"].as_str() == Some(id.as_str());
            if !found {
                return false;
            }
        }
        true
    }
}

/// The lines of the log file at `path` and its rotated files that pass
/// `filter`, oldest first.
pub fn read_lines(path: &Path, filter: &LineFilter) -> Vec<String> {
    let mut matching = Vec::new();
    for n in (0..=KEEP).rev() {
        let file = if n == 0 {
            path.to_path_buf()
        } else {
            rotated(path, n)
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for raw in text.lines() {
            if serde_json::from_str::<serde_json::Value>(raw).is_ok_and(|l| filter.keep(&l)) {
                matching.push(raw.to_string());
            }
        }
    }
    matching
}

/// A line as people read it: time, level, message, the other fields.
pub fn human(line: &serde_json::Value) -> String {
    let mut out = format!(
        "{} {:>5} {}",
        line["timestamp"].as_str().unwrap_or_default(),
        line["level"].as_str().unwrap_or_default(),
        line["message"].as_str().unwrap_or_default()
    );
    if let Some(fields) = line.as_object() {
        for (key, value) in fields {
            if matches!(key.as_str(), "timestamp" | "level" | "message" | "span") {
                continue;
            }
            let value = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            out.push_str(&format!(" {key}={value}"));
        }
    }
    out
}
