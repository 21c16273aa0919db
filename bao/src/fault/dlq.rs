//! The dead-letter queue: work that failed for good (tasks that exhausted
//! their attempts, workflow runs that exhausted their retries) with its
//! payload, error and attempts, until it is replayed or purged.

use crate::db::on_dialect;
use crate::db::{DbConnection, DbError};
use crate::support::clock::now_ms;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// A dead letter.
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// The queue: a task's name, or `workflow:NAME`.
    #[diesel(sql_type = Text)]
    pub queue: String,
    /// The payload (the task's arguments, the run's input), JSON.
    #[diesel(sql_type = Text)]
    pub payload: String,
    /// The last error.
    #[diesel(sql_type = Text)]
    pub error: String,
    /// Attempts made.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// `task:ID` or `workflow:RUN_ID`.
    #[diesel(sql_type = Nullable<Text>)]
    pub source_id: Option<String>,
    /// First failure (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub first_failed_at: i64,
    /// Last failure (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub last_failed_at: i64,
    /// When it was replayed.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub replayed_at: Option<i64>,
    /// What the replay did.
    #[diesel(sql_type = Nullable<Text>)]
    pub replay_outcome: Option<String>,
}

const COLUMNS: &str = "id, queue, payload, error, attempts, source_id, first_failed_at, last_failed_at, replayed_at, replay_outcome";

/// Records a dead letter.
pub fn insert(
    conn: &mut DbConnection,
    queue: &str,
    payload: &str,
    error: &str,
    attempts: i32,
    source_id: Option<&str>,
) -> Result<i64, DbError> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let t = now_ms();
    let rows: Vec<Id> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "INSERT INTO bao_dead_letters (queue, payload, error, attempts, source_id, first_failed_at, last_failed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        ))
        .bind::<Text, _>(queue)
        .bind::<Text, _>(payload)
        .bind::<Text, _>(error)
        .bind::<Integer, _>(attempts)
        .bind::<Nullable<Text>, _>(source_id)
        .bind::<BigInt, _>(t)
        .bind::<BigInt, _>(t)
        .load(c)
    })?;
    crate::channel::operations_changed(conn, "dead_letters")?;
    rows.first()
        .map(|r| r.id)
        .ok_or_else(|| DbError::Invalid("the dead letter was not stored".into()))
}

/// The newest `limit` dead letters, of one queue or all.
pub fn list(
    conn: &mut DbConnection,
    queue: Option<&str>,
    limit: i64,
) -> Result<Vec<DeadLetter>, DbError> {
    let query = format!("SELECT {COLUMNS} FROM bao_dead_letters WHERE (? = '' OR queue = ?) ORDER BY id DESC LIMIT ?");
    let queue = queue.unwrap_or("");
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(queue)
            .bind::<Text, _>(queue)
            .bind::<BigInt, _>(limit)
            .load(c)
    })?)
}

/// A page of letters of `queue` (all when None), newest first, older than
/// letter `before` when given (keyset pagination).
pub fn page(
    conn: &mut DbConnection,
    queue: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<DeadLetter>, DbError> {
    let query = format!(
        "SELECT {COLUMNS} FROM bao_dead_letters WHERE (? = '' OR queue = ?) AND id < ? ORDER BY id DESC LIMIT ?"
    );
    let queue = queue.unwrap_or("");
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(queue)
            .bind::<Text, _>(queue)
            .bind::<BigInt, _>(before.unwrap_or(i64::MAX))
            .bind::<BigInt, _>(limit)
            .load(c)
    })?)
}

/// One dead letter.
pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<DeadLetter>, DbError> {
    let query = format!("SELECT {COLUMNS} FROM bao_dead_letters WHERE id = ?");
    let rows: Vec<DeadLetter> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query)).bind::<BigInt, _>(id).load(c)
    })?;
    Ok(rows.into_iter().next())
}

/// Records what replaying `id` did.
pub fn mark_replayed(conn: &mut DbConnection, id: i64, outcome: &str) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_dead_letters SET replayed_at = ?, replay_outcome = ? WHERE id = ?",
        ))
        .bind::<BigInt, _>(now_ms())
        .bind::<Text, _>(outcome)
        .bind::<BigInt, _>(id)
        .execute(c)
    })?;
    crate::channel::operations_changed(conn, "dead_letters")
}

/// Claims letter `id` for a replay: true for exactly one caller, however
/// many replay it at once (a conditional update). Call it first in the
/// transaction that replays, so a failed replay releases the claim.
pub fn claim_replay(conn: &mut DbConnection, id: i64) -> Result<bool, DbError> {
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_dead_letters SET replayed_at = ?, replay_outcome = 'replaying' \
             WHERE id = ? AND replayed_at IS NULL",
        ))
        .bind::<BigInt, _>(now_ms())
        .bind::<BigInt, _>(id)
        .execute(c)
    })?;
    if n == 1 {
        crate::channel::operations_changed(conn, "dead_letters")?;
    }
    Ok(n == 1)
}

/// Deletes every dead letter of `queue`; how many.
pub fn purge(conn: &mut DbConnection, queue: &str) -> Result<usize, DbError> {
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("DELETE FROM bao_dead_letters WHERE queue = ?"))
            .bind::<Text, _>(queue)
            .execute(c)
    })?;
    if n > 0 {
        crate::channel::operations_changed(conn, "dead_letters")?;
    }
    Ok(n)
}
