//! LISTEN/NOTIFY on PostgreSQL: idle workers wake when work arrives instead
//! of waiting for their next poll, and live channels hear other processes.
//!
//! A process has one LISTEN connection per database, whatever listens
//! (workflow workers, task workers, channels): a thread of its own holds it,
//! LISTENs on every channel asked for, and hands each notification to the
//! handlers of its channel. Nothing here runs on the async executor.

use super::{DbConnection, DbPool, Dialect};
use diesel::connection::SimpleConnection;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the thread looks for notifications.
const POLL: Duration = Duration::from_millis(5);
/// How often an otherwise quiet connection is checked with `SELECT 1`, so a
/// connection the network dropped silently is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);
/// The first and the longest wait between attempts to reconnect.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What a LISTEN handler is called with: each notification's payload, and
/// `None` each time the connection is (re)established, since notifications
/// sent meanwhile were missed.
pub(crate) type OnNotification = Arc<dyn Fn(Option<String>) + Send + Sync>;

struct Handler {
    channel: &'static str,
    on: OnNotification,
    stop: Arc<AtomicBool>,
}

/// The LISTEN state of one database in this process.
#[derive(Default)]
struct Listener {
    handlers: Mutex<Vec<Handler>>,
    /// The thread runs.
    running: AtomicBool,
}

impl Listener {
    fn handlers(&self) -> std::sync::MutexGuard<'_, Vec<Handler>> {
        self.handlers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The channels of live handlers (dropping the stopped ones).
    fn channels(&self) -> BTreeSet<&'static str> {
        let mut handlers = self.handlers();
        handlers.retain(|h| !h.stop.load(Ordering::SeqCst));
        handlers.iter().map(|h| h.channel).collect()
    }

    fn call(&self, channel: Option<&str>, payload: Option<String>) {
        let targets: Vec<OnNotification> = self
            .handlers()
            .iter()
            .filter(|h| !h.stop.load(Ordering::SeqCst))
            .filter(|h| channel.is_none_or(|c| c == h.channel))
            .map(|h| h.on.clone())
            .collect();
        for on in targets {
            on(payload.clone());
        }
    }
}

/// Wakes `wake`'s waiters when a notification arrives on `channel` (NOTIFY
/// is delivered at commit) and each time the connection is back, until
/// `stop`. On SQLite this does nothing: workers poll.
pub(crate) fn listen(
    pool: &DbPool,
    channel: &'static str,
    wake: Arc<tokio::sync::Notify>,
    stop: Arc<AtomicBool>,
) {
    listen_with(
        pool,
        channel,
        Arc::new(move |_: Option<String>| wake.notify_waiters()),
        stop,
    );
}

/// Like [`listen`], handing each notification's payload to `on`.
///
/// When the connection fails (PostgreSQL restarted, the network dropped it,
/// an administrator terminated it) the thread reconnects with exponential
/// backoff and calls every handler with `None` once it is back.
pub(crate) fn listen_with(
    pool: &DbPool,
    channel: &'static str,
    on: OnNotification,
    stop: Arc<AtomicBool>,
) {
    if pool.dialect() != Dialect::Postgres {
        return;
    }
    let listener = pool.extension(Listener::default);
    listener.handlers().push(Handler { channel, on, stop });
    if listener.running.swap(true, Ordering::AcqRel) {
        return;
    }
    let pool = pool.clone();
    let thread_listener = listener.clone();
    let spawned = std::thread::Builder::new()
        .name("bao-listen".into())
        .spawn(move || run(&pool, &thread_listener));
    if let Err(error) = spawned {
        listener.running.store(false, Ordering::Release);
        tracing::warn!(%error, "cannot start the LISTEN thread: workers poll");
    }
}

/// The thread: connect, relay, reconnect, until no handler is left.
fn run(pool: &DbPool, listener: &Listener) {
    let mut backoff = BACKOFF_MIN;
    let mut failed_before = false;
    loop {
        if listener.channels().is_empty() {
            listener.running.store(false, Ordering::Release);
            // A handler may have arrived since the look.
            if listener.channels().is_empty() || listener.running.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        match open(pool) {
            Ok(mut conn) => {
                if failed_before {
                    tracing::info!("LISTEN connection restored");
                }
                backoff = BACKOFF_MIN;
                match relay(&mut conn, listener) {
                    None => {}
                    Some(error) => {
                        tracing::warn!(%error, "the LISTEN connection failed: workers poll until it is back");
                        failed_before = true;
                    }
                }
            }
            Err(error) => {
                if !failed_before {
                    tracing::warn!(%error, "no LISTEN connection: workers poll until it is back");
                }
                failed_before = true;
                sleep_while_listened(backoff, listener);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

fn open(pool: &DbPool) -> Result<diesel::PgConnection, String> {
    match pool.open_dedicated() {
        Ok(DbConnection::Postgres(conn)) => Ok(conn),
        Ok(DbConnection::Sqlite(_)) => Err("LISTEN needs PostgreSQL".into()),
        Err(error) => Err(error.to_string()),
    }
}

/// LISTENs on every wanted channel and relays notifications until no
/// handler is left (None) or the connection fails (the error).
fn relay(conn: &mut diesel::PgConnection, listener: &Listener) -> Option<String> {
    let mut listening: BTreeSet<&'static str> = BTreeSet::new();
    let mut last_ping = Instant::now();
    let mut first = true;
    loop {
        let wanted = listener.channels();
        if wanted.is_empty() {
            return None;
        }
        for channel in wanted.difference(&listening).copied().collect::<Vec<_>>() {
            if let Err(error) = conn.batch_execute(&format!("LISTEN {channel}")) {
                return Some(error.to_string());
            }
            listening.insert(channel);
        }
        if first {
            // Work may have been queued, and messages sent, while nobody
            // listened.
            listener.call(None, None);
            first = false;
        }
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) => listener.call(Some(&n.channel), Some(n.payload)),
                Err(error) => return Some(error.to_string()),
            }
        }
        if last_ping.elapsed() >= PING_EVERY {
            if let Err(error) = conn.batch_execute("SELECT 1") {
                return Some(error.to_string());
            }
            last_ping = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}

fn sleep_while_listened(wait: Duration, listener: &Listener) {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline && !listener.channels().is_empty() {
        std::thread::sleep(Duration::from_millis(20));
    }
}
