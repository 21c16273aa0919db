//! SQL of `bao_tasks`, on either dialect, fenced by lease tokens like the
//! workflow tables.

use crate::db::on_dialect;
use crate::db::{DbConnection, DbError, Dialect};
use crate::support::clock::now_ms;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// A task as stored.
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct TaskRow {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// The task's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Its arguments, JSON.
    #[diesel(sql_type = Text)]
    pub args: String,
    /// `queued`, `running`, `done` or `dead`.
    #[diesel(sql_type = Text)]
    pub status: String,
    /// Higher runs first.
    #[diesel(sql_type = Integer)]
    pub priority: i32,
    /// Attempts started.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// Attempts allowed.
    #[diesel(sql_type = Integer)]
    pub max_attempts: i32,
    /// When it may run (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub run_at: i64,
    /// The lease's token.
    #[diesel(sql_type = BigInt)]
    pub lease_token: i64,
    /// The last error.
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    /// Created (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, args, status, priority, attempts, max_attempts, run_at, lease_token, error, created_at";

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Inserts a task, unless `bound` tasks are queued or running already
/// (`None`: the queue is full; the check and the insert are one statement);
/// with a dedup key already waiting, the existing task.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert(
    conn: &mut DbConnection,
    name: &str,
    args: &str,
    priority: i32,
    max_attempts: i32,
    delay_ms: i64,
    dedup_key: Option<&str>,
    bound: i64,
) -> Result<Option<(i64, bool)>, DbError> {
    let t = now_ms();
    if let Some(key) = dedup_key {
        let existing: Vec<Id> = on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "SELECT id FROM bao_tasks WHERE name = ? AND dedup_key = ? AND status IN ('queued', 'running')",
            ))
            .bind::<Text, _>(name)
            .bind::<Text, _>(key)
            .load(c)
        })?;
        if let Some(found) = existing.first() {
            return Ok(Some((found.id, false)));
        }
    }
    // On PostgreSQL a task due now also wakes idle workers (NOTIFY at
    // commit), in the same statement, when no other due task is waiting:
    // then workers are busy and claim it next anyway, and the NOTIFY (which
    // serializes commits) is saved.
    let returning = match (conn.dialect(), delay_ms) {
        (Dialect::Postgres, 0) => format!(
            " RETURNING id, (CASE WHEN EXISTS (SELECT 1 FROM bao_tasks WHERE status = 'queued' AND run_at <= {t}) \
             THEN NULL ELSE pg_notify('{CHANNEL}', '') END) IS NULL AS quiet"
        ),
        _ => " RETURNING id".to_string(),
    };
    let query = format!(
        "INSERT INTO bao_tasks (name, args, status, priority, attempts, max_attempts, run_at, dedup_key, lease_token, created_at, updated_at) \
         SELECT ?, ?, 'queued', ?, 0, ?, ?, ?, 0, ?, ? \
         WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM bao_tasks WHERE status IN ('queued', 'running') LIMIT ?) AS inflight) < ?{returning}"
    );
    let rows: Result<Vec<Id>, diesel::result::Error> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(name)
            .bind::<Text, _>(args)
            .bind::<Integer, _>(priority)
            .bind::<Integer, _>(max_attempts)
            .bind::<BigInt, _>(t + delay_ms)
            .bind::<Nullable<Text>, _>(dedup_key)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(bound)
            .bind::<BigInt, _>(bound)
            .load(c)
    });
    match rows {
        Ok(rows) => Ok(rows.first().map(|r| (r.id, true))),
        // A concurrent enqueue with the same key won the unique index.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) if dedup_key.is_some() => insert(
            conn,
            name,
            args,
            priority,
            max_attempts,
            delay_ms,
            dedup_key,
            bound,
        ),
        Err(e) => Err(e.into()),
    }
}

/// The channel on which PostgreSQL tells idle task workers there is work.
pub(crate) const CHANNEL: &str = "bao_tasks";

/// Claims up to `limit` due tasks of `names`, highest priority first,
/// including those whose worker's lease expired.
pub(crate) fn claim(
    conn: &mut DbConnection,
    names: &[&str],
    owner: &str,
    lease_ms: i64,
    limit: usize,
) -> Result<Vec<TaskRow>, DbError> {
    let t = now_ms();
    let list = names
        .iter()
        .map(|n| format!("'{}'", n.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let query = format!(
        "UPDATE bao_tasks SET status = 'running', attempts = attempts + 1, lease_owner = ?, \
         lease_token = lease_token + 1, lease_expires_at = ?, updated_at = ? \
         WHERE id IN (SELECT id FROM bao_tasks WHERE name IN ({list}) AND ( \
            (status = 'queued' AND run_at <= ?) OR (status = 'running' AND lease_expires_at < ?)) \
          ORDER BY priority DESC, run_at, id LIMIT {limit}{lock}) \
         RETURNING {COLUMNS}"
    );
    let mut rows: Vec<TaskRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(owner)
            .bind::<BigInt, _>(t + lease_ms)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(t)
            .load(c)
    })?;
    rows.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.id.cmp(&b.id)));
    Ok(rows)
}

/// Claims task `id` if it is queued (whether due or not).
pub(crate) fn claim_id(
    conn: &mut DbConnection,
    id: i64,
    owner: &str,
    lease_ms: i64,
) -> Result<Option<TaskRow>, DbError> {
    let t = now_ms();
    let query = format!(
        "UPDATE bao_tasks SET status = 'running', attempts = attempts + 1, lease_owner = ?, \
         lease_token = lease_token + 1, lease_expires_at = ?, updated_at = ? \
         WHERE id = ? AND status = 'queued' RETURNING {COLUMNS}"
    );
    let rows: Vec<TaskRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(owner)
            .bind::<BigInt, _>(t + lease_ms)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(id)
            .load(c)
    })?;
    Ok(rows.into_iter().next())
}

/// `(id = 1 AND lease_token = 2) OR ..`: the leases a statement is fenced by
/// (integers only, so they are written into the SQL).
fn fenced(leases: &[(i64, i64)]) -> String {
    leases
        .iter()
        .map(|(id, token)| format!("(id = {id} AND lease_token = {token})"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Extends the leases still held; the number extended.
pub(crate) fn heartbeat(
    conn: &mut DbConnection,
    leases: &[(i64, i64)],
    lease_ms: i64,
) -> Result<usize, DbError> {
    if leases.is_empty() {
        return Ok(0);
    }
    let query = format!(
        "UPDATE bao_tasks SET lease_expires_at = ? WHERE status = 'running' AND ({})",
        fenced(leases)
    );
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<BigInt, _>(now_ms() + lease_ms)
            .execute(c)
    })?)
}

/// Marks the tasks of these leases done, in one statement.
pub(crate) fn finish(conn: &mut DbConnection, leases: &[(i64, i64)]) -> Result<(), DbError> {
    if leases.is_empty() {
        return Ok(());
    }
    let query = format!(
        "UPDATE bao_tasks SET status = 'done', error = NULL, lease_owner = NULL, lease_expires_at = NULL, \
         updated_at = ? WHERE status = 'running' AND ({})",
        fenced(leases)
    );
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<BigInt, _>(now_ms())
            .execute(c)
    })?;
    Ok(())
}

fn settle(
    conn: &mut DbConnection,
    id: i64,
    token: i64,
    status: &str,
    error: Option<&str>,
    run_at: Option<i64>,
) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_tasks SET status = ?, error = ?, run_at = COALESCE(?, run_at), lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
        ))
        .bind::<Text, _>(status)
        .bind::<Nullable<Text>, _>(error)
        .bind::<Nullable<BigInt>, _>(run_at)
        .bind::<BigInt, _>(now_ms())
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(token)
        .execute(c)
    })?;
    Ok(())
}

pub(crate) fn retry(
    conn: &mut DbConnection,
    id: i64,
    token: i64,
    error: &str,
    wait_ms: i64,
) -> Result<(), DbError> {
    settle(
        conn,
        id,
        token,
        "queued",
        Some(error),
        Some(now_ms() + wait_ms),
    )
}

pub(crate) fn bury(
    conn: &mut DbConnection,
    id: i64,
    token: i64,
    error: &str,
) -> Result<(), DbError> {
    settle(conn, id, token, "dead", Some(error), None)
}

/// Tasks, newest first, optionally of one status.
pub fn list(
    conn: &mut DbConnection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<TaskRow>, DbError> {
    let query = format!(
        "SELECT {COLUMNS} FROM bao_tasks WHERE (? = '' OR status = ?) ORDER BY id DESC LIMIT ?"
    );
    let status = status.unwrap_or("");
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(status)
            .bind::<Text, _>(status)
            .bind::<BigInt, _>(limit)
            .load(c)
    })?)
}

/// Puts back the running tasks whose lease owner starts with `prefix`: queued,
/// due now, the attempt not counted, the lease token moved on (so a late
/// finish of the old holder changes nothing).
pub(crate) fn release_owned(conn: &mut DbConnection, prefix: &str) -> Result<usize, DbError> {
    let pattern = format!("{}%", prefix.replace('%', "").replace('_', "\\_"));
    let t = now_ms();
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_tasks SET status = 'queued', attempts = attempts - 1, lease_owner = NULL, \
             lease_expires_at = NULL, lease_token = lease_token + 1, run_at = ?, updated_at = ? \
             WHERE status = 'running' AND lease_owner LIKE ? ESCAPE '\\'",
        ))
        .bind::<BigInt, _>(t)
        .bind::<BigInt, _>(t)
        .bind::<Text, _>(&pattern)
        .execute(c)
    })?)
}

/// Deletes `done` and `dead` tasks last changed before `before` (Unix ms).
pub(crate) fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "DELETE FROM bao_tasks WHERE status IN ('done', 'dead') AND updated_at < ?",
        ))
        .bind::<BigInt, _>(before)
        .execute(c)
    })?)
}

/// How many tasks have this status.
pub fn count(conn: &mut DbConnection, status: &str) -> Result<i64, DbError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Count> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("SELECT COUNT(*) AS n FROM bao_tasks WHERE status = ?"))
            .bind::<Text, _>(status)
            .load(c)
    })?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// The task with this id.
pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<TaskRow>, DbError> {
    let query = format!("SELECT {COLUMNS} FROM bao_tasks WHERE id = ?");
    let rows: Vec<TaskRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query)).bind::<BigInt, _>(id).load(c)
    })?;
    Ok(rows.into_iter().next())
}
