//! The console's queries: capped counts (never an unbounded `COUNT(*)`),
//! keyset pages, and the one-time login links.

pub(crate) use crate::db::Bind;
use crate::db::{load_bound as load, on_dialect, DbConnection, DbError};
use crate::support::clock::now_ms;
pub(crate) use crate::support::units::day_range;
pub use crate::workflow::store::RunFilter;
pub(crate) use crate::workflow::store::{runs, RUN_STATUSES};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// Counts stop here; the page shows "10000+".
pub(crate) const CAP: i64 = 10_000;
/// Rows per page.
pub(crate) const PAGE: i64 = 50;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many rows `from_where` (a `FROM .. WHERE ..` with `?` for `binds`)
/// matches, counting no further than [`CAP`] + 1.
pub(crate) fn capped_count(
    conn: &mut DbConnection,
    from_where: &str,
    binds: &[Bind],
) -> Result<i64, DbError> {
    let query = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 AS one {from_where} LIMIT {}) capped",
        CAP + 1
    );
    let rows: Vec<Count> = load(conn, &query, binds)?;
    Ok(rows.first().map_or(0, |r| r.n))
}

/// Runs created since `since` (ms) by status, each count capped.
pub(crate) fn runs_by_status(
    conn: &mut DbConnection,
    since: i64,
) -> Result<Vec<(&'static str, i64)>, DbError> {
    RUN_STATUSES
        .iter()
        .map(|status| {
            capped_count(
                conn,
                "FROM bao_workflow_runs WHERE status = ? AND created_at >= ?",
                &[Bind::Text(status.to_string()), Bind::Int(since)],
            )
            .map(|n| (*status, n))
        })
        .collect()
}

/// One audit entry, with the acting user's email when there is one.
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
pub struct AuditLine {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// When, in seconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub at: i64,
    /// The acting user.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub user_id: Option<i64>,
    /// What was done: `login`, `admin.run.cancel`, ...
    #[diesel(sql_type = Text)]
    pub action: String,
    /// What it touched.
    #[diesel(sql_type = Nullable<Text>)]
    pub subject: Option<String>,
    /// The request that did it.
    #[diesel(sql_type = Nullable<Text>)]
    pub request_id: Option<String>,
    /// The client's address.
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    /// More, as JSON.
    #[diesel(sql_type = Nullable<Text>)]
    pub detail: Option<String>,
}

/// Filters of the audit page.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditFilter {
    /// An action (empty: all).
    #[serde(default)]
    pub action: String,
    /// A user id.
    #[serde(default)]
    pub actor: String,
    /// Entries on or after this day, `YYYY-MM-DD` in UTC (empty: any).
    #[serde(default)]
    pub from: String,
    /// Entries on or before this day, `YYYY-MM-DD` in UTC (empty: any).
    #[serde(default)]
    pub to: String,
    /// Keyset cursor: the id of the last entry of the previous page.
    #[serde(default)]
    pub before: String,
}

/// A page of audit entries, newest first.
pub(crate) fn audit(
    conn: &mut DbConnection,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditLine>, DbError> {
    let mut query = String::from(
        "SELECT id, at, user_id, action, subject, request_id, ip, detail FROM bao_audit_log WHERE 1 = 1",
    );
    let mut binds = Vec::new();
    if !filter.action.is_empty() {
        query.push_str(" AND action = ?");
        binds.push(Bind::Text(filter.action.clone()));
    }
    if let Ok(actor) = filter.actor.parse::<i64>() {
        query.push_str(" AND user_id = ?");
        binds.push(Bind::Int(actor));
    }
    // The audit log keeps seconds.
    let (start, end) = day_range(&filter.from, &filter.to).unwrap_or_default();
    if let Some(start) = start {
        query.push_str(" AND at >= ?");
        binds.push(Bind::Int(start / 1000));
    }
    if let Some(end) = end {
        query.push_str(" AND at < ?");
        binds.push(Bind::Int(end / 1000));
    }
    if let Ok(before) = filter.before.parse::<i64>() {
        query.push_str(" AND id < ?");
        binds.push(Bind::Int(before));
    }
    query.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    load(conn, &query, &binds)
}

/// Tasks by name and status, capped.
#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
pub struct TaskCount {
    /// The task's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// `queued`, `running`, `failed`, ...
    #[diesel(sql_type = Text)]
    pub status: String,
    /// How many (capped).
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

pub(crate) fn task_counts(conn: &mut DbConnection) -> Result<Vec<TaskCount>, DbError> {
    let query = format!(
        "SELECT name, status, COUNT(*) AS n FROM (SELECT name, status FROM bao_tasks \
         WHERE status IN ('queued', 'running') LIMIT {}) recent GROUP BY name, status ORDER BY name, status",
        CAP + 1
    );
    Ok(on_dialect!(conn, |c, sql| diesel::sql_query(sql(&query)).load(c))?)
}

/// Makes the queued tasks of `name` due now (a retry waiting for its
/// backoff runs at once); returns how many.
pub(crate) fn retry_tasks_now(conn: &mut DbConnection, name: &str) -> Result<usize, DbError> {
    let now = now_ms();
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "UPDATE bao_tasks SET run_at = ?, updated_at = ? WHERE name = ? AND status = 'queued' AND run_at > ?"
    ))
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now)
    .bind::<Text, _>(name)
    .bind::<BigInt, _>(now)
    .execute(c)
    })?)
}

/// Stores a one-time login link's token (its SHA-256), valid for `ttl_ms`.
pub fn create_link(conn: &mut DbConnection, token_hash: &str, ttl_ms: i64) -> Result<(), DbError> {
    let now = now_ms();
    on_dialect!(conn, |c, sql| diesel::sql_query(sql(
        "INSERT INTO bao_admin_links (token_hash, created_at, expires_at) VALUES (?, ?, ?)"
    ))
    .bind::<Text, _>(token_hash)
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(now + ttl_ms)
    .execute(c))?;
    Ok(())
}

/// Uses a login link once: true if it existed, had not expired and was not
/// used before.
pub(crate) fn use_link(conn: &mut DbConnection, token_hash: &str) -> Result<bool, DbError> {
    let now = now_ms();
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "UPDATE bao_admin_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?"
    ))
    .bind::<BigInt, _>(now)
    .bind::<Text, _>(token_hash)
    .bind::<BigInt, _>(now)
    .execute(c)
    })?;
    Ok(n == 1)
}
