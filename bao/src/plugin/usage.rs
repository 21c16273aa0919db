//! What plugins used and were refused: kept per process, and in
//! `bao_plugin_usage` (the first time each process sees a use) so that
//! `bao plugins:audit` can compare it with what each plugin declared.

use crate::db::{on_dialect, DbConnection, DbError, DbPool};
use crate::support::clock::now_ms;
use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// One plugin's uses in this process.
pub struct Usage {
    plugin: &'static str,
    db: Option<DbPool>,
    seen: Mutex<BTreeSet<(String, String)>>,
}

impl Usage {
    pub(crate) fn new(plugin: &'static str, db: Option<DbPool>) -> Usage {
        Usage {
            plugin,
            db,
            seen: Mutex::default(),
        }
    }

    /// Records a use (`db`, `secret`, `host`) or a refusal
    /// (`secret_refused`, `host_refused`) of `value`.
    pub(crate) fn record(&self, kind: &str, value: &str) {
        if kind.ends_with("_refused") {
            tracing::warn!(
                plugin = self.plugin,
                kind,
                value,
                "a plugin was refused something it did not declare"
            );
        }
        let new = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((kind.to_string(), value.to_string()));
        let Some(pool) = self.db.clone().filter(|_| new) else {
            return;
        };
        let (plugin, kind, value) = (self.plugin, kind.to_string(), value.to_string());
        let write = move || {
            let result = pool.get().and_then(|mut conn| {
                pool.ensure_system_tables(&mut conn)?;
                store(&mut conn, plugin, &kind, &value)
            });
            if let Err(error) = result {
                tracing::debug!(%error, plugin, "a plugin's use was not recorded");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(write);
            }
            Err(_) => write(),
        }
    }

    /// What this process has seen, as (kind, value).
    pub fn seen(&self) -> Vec<(String, String)> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

fn store(conn: &mut DbConnection, plugin: &str, kind: &str, value: &str) -> Result<(), DbError> {
    let now = now_ms();
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "INSERT INTO bao_plugin_usage (plugin, kind, value, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (plugin, kind, value) DO UPDATE SET last_seen = excluded.last_seen"
    ))
    .bind::<Text, _>(plugin)
    .bind::<Text, _>(kind)
    .bind::<Text, _>(value)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now)
    .execute(c)
    })?;
    Ok(())
}

/// One recorded use, for `bao plugins:audit`.
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
pub struct UsageRow {
    /// The plugin.
    #[diesel(sql_type = Text)]
    pub plugin: String,
    /// `db`, `secret`, `host`, `secret_refused`, `host_refused`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// The secret's name or the host (empty for `db`).
    #[diesel(sql_type = Text)]
    pub value: String,
    /// First seen (ms since the epoch).
    #[diesel(sql_type = BigInt)]
    pub first_seen: i64,
    /// Last seen by a process starting to use it (ms since the epoch).
    #[diesel(sql_type = BigInt)]
    pub last_seen: i64,
}

/// Every recorded use, by plugin.
pub fn recorded(conn: &mut DbConnection) -> Result<Vec<UsageRow>, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "SELECT plugin, kind, value, first_seen, last_seen FROM bao_plugin_usage ORDER BY plugin, kind, value"
    ))
    .load(c)
    })?)
}
