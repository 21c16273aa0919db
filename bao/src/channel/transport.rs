//! Carries messages between the processes of one app.
//!
//! PostgreSQL: a publish takes the next id of `bao_channel_messages`' sequence
//! and sends the message with `pg_notify` in one statement (a message over
//! NOTIFY's 8,000-byte limit is stored in the table and only its id is
//! notified). Each process LISTENs on one connection, reconnecting with
//! backoff after a restart; its subscribers stay.
//!
//! SQLite: a publish stores the message in the table; each process reads
//! the rows other processes wrote every [`POLL`]. Rows older than
//! [`KEEP_MS`] are deleted.
//!
//! Either way the publishing process hands the message to its own
//! subscribers at once, and skips it when it comes back.

use super::hub::{Hub, Message};
use crate::db::{on_dialect, DbConnection, DbError, DbPool, Dialect};
use crate::support::clock::now_ms;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The NOTIFY channel.
const CHANNEL: &str = "bao_channels";
/// How often SQLite processes look for other processes' messages.
const POLL: Duration = Duration::from_millis(25);
/// How long stored messages are kept.
const KEEP_MS: i64 = 10 * 60 * 1000;
/// The largest NOTIFY payload PostgreSQL takes is 8,000 bytes; this leaves
/// room for the id.
const NOTIFY_MAX: usize = 7_900;
/// A process stops receiving after this long without subscribers.
const IDLE: Duration = Duration::from_secs(30);

/// This pool's hub in this process.
pub(crate) fn hub(pool: &DbPool) -> Arc<Hub> {
    pool.extension(Hub::new)
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    channel_key: String,
    #[diesel(sql_type = Text)]
    event: String,
    #[diesel(sql_type = Text)]
    data: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl Row {
    fn into_message(self) -> Message {
        Message {
            id: self.id,
            kind: self.kind,
            key: self.channel_key,
            event: self.event,
            data: self.data,
            published_ms: self.created_at,
        }
    }
}

/// Sends a message to every process (blocking: run it on the pool) and
/// returns it for this process's subscribers.
pub(crate) fn send(
    conn: &mut DbConnection,
    origin: &str,
    kind: &str,
    key: &str,
    event: &str,
    data: String,
) -> Result<Message, DbError> {
    let now = now_ms();
    // Stored messages are pruned every so often by whoever publishes, so
    // the table stays small even where nobody subscribes.
    static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if SENT.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
        prune(conn)?;
    }
    let inline = format!("{origin}\t{now}\t{kind}\t{key}\t{event}\t{data}");
    let id = match conn {
        DbConnection::Postgres(c) if inline.len() <= NOTIFY_MAX => {
            let row: Id = diesel::sql_query(
                "SELECT n.id FROM (SELECT nextval('bao_channel_messages_id_seq') AS id) n, \
                 LATERAL pg_notify('bao_channels', 'M' || chr(9) || n.id::text || chr(9) || $1) AS sent",
            )
            .bind::<Text, _>(&inline)
            .get_result(c)?;
            row.id
        }
        _ => {
            let id = store(conn, origin, kind, key, event, &data, now)?;
            if let DbConnection::Postgres(c) = conn {
                diesel::sql_query("SELECT 1 AS id FROM (SELECT pg_notify('bao_channels', $1)) n")
                    .bind::<Text, _>(format!("R\t{id}\t{origin}"))
                    .execute(c)?;
            }
            id
        }
    };
    Ok(Message {
        id,
        kind: kind.to_string(),
        key: key.to_string(),
        event: event.to_string(),
        data,
        published_ms: now,
    })
}

fn store(
    conn: &mut DbConnection,
    origin: &str,
    kind: &str,
    key: &str,
    event: &str,
    data: &str,
    now: i64,
) -> Result<i64, DbError> {
    let row: Id = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "INSERT INTO bao_channel_messages (origin, kind, channel_key, event, data, created_at) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id"
    ))
    .bind::<Text, _>(origin)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(key)
    .bind::<Text, _>(event)
    .bind::<Text, _>(data)
    .bind::<BigInt, _>(now)
    .get_result(c)
    })?;
    Ok(row.id)
}

fn prune(conn: &mut DbConnection) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "DELETE FROM bao_channel_messages WHERE created_at < ?"
    ))
    .bind::<BigInt, _>(now_ms() - KEEP_MS)
    .execute(c))?)
}

/// Starts receiving other processes' messages for `hub` unless it does
/// already. The thread ends after [`IDLE`] without subscribers and starts
/// again with the next one.
pub(crate) fn ensure_receiving(pool: &DbPool, hub: &Arc<Hub>) {
    if hub.receiving.swap(true, Ordering::AcqRel) {
        return;
    }
    let (pool, hub) = (pool.clone(), hub.clone());
    // Messages stored from now on are new to this process's subscribers:
    // now, when the first one subscribes, not when the thread gets to run
    // (under load, a message published right after subscribing would
    // otherwise be older than the receiver).
    let since = now_ms();
    let spawned = std::thread::Builder::new()
        .name("bao-channels".into())
        .spawn(move || receive(pool, hub, since));
    if let Err(error) = spawned {
        tracing::error!(%error, "cannot start the channel receiver: other processes' messages are not delivered here");
    }
}

fn receive(pool: DbPool, hub: Arc<Hub>, since: i64) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut cursor = Cursor::Since(since);
    if pool.dialect() == Dialect::Postgres {
        let (pool2, hub2) = (pool.clone(), hub.clone());
        crate::db::listen_with(
            &pool,
            CHANNEL,
            Arc::new(move |payload: Option<String>| match payload {
                Some(payload) => on_notification(&pool2, &hub2, &payload),
                None => tracing::debug!("channel LISTEN connection ready"),
            }),
            stop.clone(),
        );
    }
    let mut idle_since: Option<Instant> = None;
    let mut last_prune = Instant::now() - Duration::from_secs(3600);
    let mut last_sweep = Instant::now();
    loop {
        std::thread::sleep(POLL);
        if last_sweep.elapsed() >= Duration::from_secs(1) {
            hub.sweep();
            last_sweep = Instant::now();
        }
        if hub.subscriber_count() > 0 || hub.pinned.load(Ordering::Acquire) {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= IDLE {
            hub.receiving.store(false, Ordering::Release);
            // A subscriber may have arrived since the count was read.
            if hub.subscriber_count() == 0 || hub.receiving.swap(true, Ordering::AcqRel) {
                stop.store(true, Ordering::Release);
                return;
            }
            idle_since = None;
        }
        if last_prune.elapsed() >= Duration::from_secs(60) {
            last_prune = Instant::now();
            if let Err(error) = pool.get().and_then(|mut c| {
                pool.ensure_system_tables(&mut c)?;
                prune(&mut c)
            }) {
                tracing::debug!(%error, "channel messages not pruned this time");
            }
        }
        if pool.dialect() == Dialect::Sqlite {
            if let Err(error) = poll(&pool, &hub, &mut cursor) {
                tracing::debug!(%error, "channel poll failed; trying again");
            }
        }
    }
}

/// Where a SQLite process is in the stored messages.
#[derive(Clone, Copy)]
enum Cursor {
    /// Until the first message: those stored from this time (ms) on.
    Since(i64),
    /// Messages after this id.
    After(i64),
}

const COLUMNS: &str =
    "SELECT id, origin, kind, channel_key, event, data, created_at FROM bao_channel_messages";

/// Delivers the rows other processes stored since `cursor`.
fn poll(pool: &DbPool, hub: &Hub, cursor: &mut Cursor) -> Result<(), DbError> {
    let mut conn = pool.get()?;
    pool.ensure_system_tables(&mut conn)?;
    let rows: Vec<Row> = match *cursor {
        // Writers take turns on SQLite, so ids grow with time: what came
        // after the last message older than `ms` is new.
        Cursor::Since(ms) => on_dialect!(&mut *conn, |c, sql| diesel::sql_query(sql(&format!(
            "{COLUMNS} WHERE id > (SELECT COALESCE(MAX(id), 0) FROM bao_channel_messages \
             WHERE created_at < ?) ORDER BY id LIMIT 1000"
        )))
        .bind::<BigInt, _>(ms)
        .load(c))?,
        Cursor::After(id) => on_dialect!(&mut *conn, |c, sql| diesel::sql_query(sql(&format!(
            "{COLUMNS} WHERE id > ? ORDER BY id LIMIT 1000"
        )))
        .bind::<BigInt, _>(id)
        .load(c))?,
    };
    drop(conn);
    for row in rows {
        *cursor = Cursor::After(row.id);
        if row.origin != hub.origin {
            hub.deliver(row.into_message());
        }
    }
    Ok(())
}

/// Handles one NOTIFY payload: `M\tid\torigin\tms\tkind\tkey\tevent\tdata`
/// or `R\tid\torigin` (the message is in the table).
fn on_notification(pool: &DbPool, hub: &Hub, payload: &str) {
    let mut parts = payload.splitn(3, '\t');
    let (Some(tag), Some(id), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        tracing::warn!("a malformed channel notification was ignored");
        return;
    };
    let Ok(id) = id.parse::<i64>() else {
        tracing::warn!("a channel notification without an id was ignored");
        return;
    };
    match tag {
        "M" => {
            let fields: Vec<&str> = rest.splitn(6, '\t').collect();
            let [origin, ms, kind, key, event, data] = fields[..] else {
                tracing::warn!("a malformed channel notification was ignored");
                return;
            };
            if origin == hub.origin {
                return;
            }
            hub.deliver(Message {
                id,
                kind: kind.to_string(),
                key: key.to_string(),
                event: event.to_string(),
                data: data.to_string(),
                published_ms: ms.parse().unwrap_or_else(|_| now_ms()),
            });
        }
        "R" => {
            if rest == hub.origin {
                return;
            }
            let row: Result<Option<Row>, DbError> = pool.get().and_then(|mut conn| {
                let rows: Vec<Row> = on_dialect!(&mut *conn, |c, sql| diesel::sql_query(sql(
                    "SELECT id, origin, kind, channel_key, event, data, created_at \
                     FROM bao_channel_messages WHERE id = ?"
                ))
                .bind::<BigInt, _>(id)
                .load(c))?;
                Ok(rows.into_iter().next())
            });
            match row {
                Ok(Some(row)) => hub.deliver(row.into_message()),
                Ok(None) => tracing::warn!(id, "a stored channel message was already pruned"),
                Err(error) => {
                    tracing::warn!(%error, id, "a stored channel message could not be read")
                }
            }
        }
        _ => tracing::warn!("a channel notification of an unknown form was ignored"),
    }
}
