//! LISTEN/NOTIFY on PostgreSQL: idle workers wake when work arrives instead
//! of waiting for their next poll.

use super::{DbConnection, DbPool};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A thread LISTENs on `channel` over a connection of its own and wakes
/// `wake`'s waiters when a notification arrives (NOTIFY is delivered at
/// commit), until `stop`. Without PostgreSQL, or when the connection fails,
/// nothing wakes them and workers poll.
pub(crate) fn listen(
    pool: &DbPool,
    channel: &'static str,
    wake: Arc<tokio::sync::Notify>,
    stop: Arc<AtomicBool>,
) {
    let mut conn = match pool.open_dedicated() {
        Ok(DbConnection::Postgres(c)) => c,
        Ok(_) => return,
        Err(error) => {
            tracing::warn!(%error, channel, "no LISTEN connection: workers poll");
            return;
        }
    };
    if let Err(error) =
        diesel::connection::SimpleConnection::batch_execute(&mut conn, &format!("LISTEN {channel}"))
    {
        tracing::warn!(%error, channel, "LISTEN failed: workers poll");
        return;
    }
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let mut woke = false;
            for notification in conn.notifications_iter() {
                match notification {
                    Ok(_) => woke = true,
                    Err(error) => {
                        tracing::warn!(%error, channel, "the LISTEN connection failed: workers poll");
                        return;
                    }
                }
            }
            if woke {
                wake.notify_waiters();
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
}
