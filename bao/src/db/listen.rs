//! LISTEN/NOTIFY on PostgreSQL: idle workers wake when work arrives instead
//! of waiting for their next poll.

use super::{DbConnection, DbPool, Dialect};
use diesel::connection::SimpleConnection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the thread looks for notifications.
const POLL: Duration = Duration::from_millis(5);
/// How often an otherwise quiet connection is checked with `SELECT 1`, so a
/// connection the network dropped silently is noticed.
const PING_EVERY: Duration = Duration::from_secs(5);
/// The first and the longest wait between attempts to reconnect.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A thread of its own LISTENs on `channel` over a dedicated connection and
/// wakes `wake`'s waiters when a notification arrives (NOTIFY is delivered
/// at commit), until `stop`. Nothing here runs on the async executor.
///
/// When the connection fails (PostgreSQL restarted, the network dropped it,
/// an administrator terminated it) the thread reconnects with exponential
/// backoff and wakes the waiters once it is back, since work may have
/// arrived meanwhile; workers poll in the meantime. On SQLite this does
/// nothing: workers poll.
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

/// What a LISTEN thread calls: with each notification's payload, and with
/// `None` each time the connection is (re)established, since notifications
/// sent meanwhile were missed.
pub(crate) type OnNotification = Arc<dyn Fn(Option<String>) + Send + Sync>;

/// Like [`listen`], handing each notification's payload to `on`.
pub(crate) fn listen_with(
    pool: &DbPool,
    channel: &'static str,
    wake: OnNotification,
    stop: Arc<AtomicBool>,
) {
    if pool.dialect() != Dialect::Postgres {
        return;
    }
    let pool = pool.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("bao-listen-{channel}"))
        .spawn(move || {
            let mut backoff = BACKOFF_MIN;
            let mut failed_before = false;
            while !stop.load(Ordering::SeqCst) {
                match connect(&pool, channel) {
                    Ok(mut conn) => {
                        if failed_before {
                            tracing::info!(channel, "LISTEN connection restored");
                        }
                        backoff = BACKOFF_MIN;
                        // Work may have been queued while nobody listened.
                        wake(None);
                        let error = relay(&mut conn, &wake, &stop);
                        match error {
                            None => return,
                            Some(error) => {
                                tracing::warn!(%error, channel,
                                    "the LISTEN connection failed: workers poll until it is back");
                                failed_before = true;
                            }
                        }
                    }
                    Err(error) => {
                        if !failed_before {
                            tracing::warn!(%error, channel,
                                "no LISTEN connection: workers poll until it is back");
                        }
                        failed_before = true;
                        sleep_unless_stopped(backoff, &stop);
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, channel, "cannot start the LISTEN thread: workers poll");
    }
}

fn connect(pool: &DbPool, channel: &str) -> Result<diesel::PgConnection, String> {
    match pool.open_dedicated() {
        Ok(DbConnection::Postgres(mut conn)) => {
            conn.batch_execute(&format!("LISTEN {channel}"))
                .map_err(|e| e.to_string())?;
            Ok(conn)
        }
        Ok(DbConnection::Sqlite(_)) => Err("LISTEN needs PostgreSQL".into()),
        Err(error) => Err(error.to_string()),
    }
}

/// Relays notifications until `stop` (None) or the connection fails (the
/// error).
fn relay(
    conn: &mut diesel::PgConnection,
    wake: &OnNotification,
    stop: &AtomicBool,
) -> Option<String> {
    let mut last_ping = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        for notification in conn.notifications_iter() {
            match notification {
                Ok(n) => wake(Some(n.payload)),
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
    None
}

fn sleep_unless_stopped(wait: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + wait;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(POLL.max(Duration::from_millis(20)));
    }
}
