//! SQL of the workflow tables (`bao_workflow_runs`, `bao_workflow_steps`,
//! `bao_workflow_signals`), on either dialect. Every write of a run in
//! progress is fenced by its lease token: a worker that lost its lease
//! changes nothing.

use crate::db::on_dialect;
use crate::db::{DbConnection, DbError, Dialect};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

/// A run as stored.
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct RunRow {
    /// Its id (the idempotency key when started with one).
    #[diesel(sql_type = Text)]
    pub id: String,
    /// The workflow's name.
    #[diesel(sql_type = Text)]
    pub workflow: String,
    /// The workflow's version when the run started.
    #[diesel(sql_type = Integer)]
    pub version: i32,
    /// `pending`, `running`, `sleeping`, `waiting`, `completed`, `failed`, `cancelled`.
    #[diesel(sql_type = Text)]
    pub status: String,
    /// The input, JSON.
    #[diesel(sql_type = Text)]
    pub input: String,
    /// The output, JSON, once completed.
    #[diesel(sql_type = Nullable<Text>)]
    pub output: Option<String>,
    /// The last error.
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    /// How many times the workflow function has been started for this run.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// The current lease's token (fencing).
    #[diesel(sql_type = BigInt)]
    pub lease_token: i64,
    /// When the run may continue (a sleep, a wait's timeout, a retry).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub wake_at: Option<i64>,
    /// Created (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    /// Last changed (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub updated_at: i64,
}

/// A step as stored.
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct StepRow {
    /// Its position in the run, from 0.
    #[diesel(sql_type = Integer)]
    pub seq: i32,
    /// Its name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// `completed` or `failed`.
    #[diesel(sql_type = Text)]
    pub status: String,
    /// The result, JSON.
    #[diesel(sql_type = Nullable<Text>)]
    pub result: Option<String>,
    /// The last error.
    #[diesel(sql_type = Nullable<Text>)]
    pub error: Option<String>,
    /// Attempts made.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    /// When it finished (Unix milliseconds).
    #[diesel(sql_type = BigInt)]
    pub finished_at: i64,
}

pub(crate) use crate::support::clock::now_ms;

pub(crate) const RUN_COLUMNS: &str = "id, workflow, version, status, input, output, error, attempts, lease_token, wake_at, created_at, updated_at";

/// Inserts a run unless one with this id exists; the run either way, and
/// whether it was created.
pub(crate) fn insert_run(
    conn: &mut DbConnection,
    id: &str,
    workflow: &str,
    version: i32,
    input: &str,
) -> Result<(RunRow, bool), DbError> {
    let t = now_ms();
    let inserted = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "INSERT INTO bao_workflow_runs (id, workflow, version, status, input, attempts, lease_token, created_at, updated_at) \
             VALUES (?, ?, ?, 'pending', ?, 0, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
        ))
        .bind::<Text, _>(id)
        .bind::<Text, _>(workflow)
        .bind::<Integer, _>(version)
        .bind::<Text, _>(input)
        .bind::<BigInt, _>(t)
        .bind::<BigInt, _>(t)
        .execute(c)
    })?;
    if inserted == 1 {
        notify(conn)?;
        changed(conn, id, "pending", None)?;
    }
    let run = find_run(conn, id)?.ok_or(DbError::NotFound)?;
    Ok((run, inserted == 1))
}

/// The run with this id.
pub fn find_run(conn: &mut DbConnection, id: &str) -> Result<Option<RunRow>, DbError> {
    let query = format!("SELECT {RUN_COLUMNS} FROM bao_workflow_runs WHERE id = ?");
    let rows: Vec<RunRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query)).bind::<Text, _>(id).load(c)
    })?;
    Ok(rows.into_iter().next())
}

/// The channel on which PostgreSQL tells idle workers there is work.
pub(crate) const CHANNEL: &str = "bao_workflows";

/// Wakes idle workers on PostgreSQL (delivered when the transaction
/// commits); workers on SQLite poll.
fn notify(conn: &mut DbConnection) -> Result<(), DbError> {
    if let DbConnection::Postgres(c) = conn {
        diesel::connection::SimpleConnection::batch_execute(c, &format!("NOTIFY {CHANNEL}"))?;
    }
    Ok(())
}

/// Tells the run's `workflow` channel (the run page) that it changed; sent
/// with the change's transaction.
fn changed(
    conn: &mut DbConnection,
    run_id: &str,
    status: &str,
    step: Option<(i32, &str)>,
) -> Result<(), DbError> {
    let mut event = serde_json::json!({"run": run_id, "status": status});
    if let Some((seq, name)) = step {
        event["step"] = serde_json::json!({"seq": seq, "name": name});
    }
    crate::channel::publish_in(conn, crate::channel::WORKFLOW, run_id, &event)?;
    if step.is_none() {
        crate::channel::operations_changed(conn, "runs")?;
    }
    Ok(())
}

/// Runs, newest first, optionally of one status.
pub fn list_runs(
    conn: &mut DbConnection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<RunRow>, DbError> {
    let query = format!(
        "SELECT {RUN_COLUMNS} FROM bao_workflow_runs WHERE (? = '' OR status = ?) ORDER BY created_at DESC, id LIMIT ?"
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

/// A run's recorded steps, in order.
pub fn steps(conn: &mut DbConnection, run_id: &str) -> Result<Vec<StepRow>, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "SELECT seq, name, status, result, error, attempts, finished_at FROM bao_workflow_steps \
             WHERE run_id = ? ORDER BY seq",
        ))
        .bind::<Text, _>(run_id)
        .load(c)
    })?)
}

/// Claims one runnable run of `workflows` for `owner` until `lease_ms` from
/// now: pending, or parked and due, or running with an expired lease (its
/// worker died). On PostgreSQL concurrent claimers skip each other's rows.
pub(crate) fn claim(
    conn: &mut DbConnection,
    workflows: &[&str],
    owner: &str,
    lease_ms: i64,
    only: Option<&str>,
) -> Result<Option<RunRow>, DbError> {
    if workflows.is_empty() {
        return Ok(None);
    }
    let t = now_ms();
    let names = workflows
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let only_run = match only {
        Some(id) => format!(" AND id = '{}'", id.replace('\'', "''")),
        None => String::new(),
    };
    let query = format!(
        "UPDATE bao_workflow_runs SET status = 'running', lease_owner = ?, lease_token = lease_token + 1, \
         lease_expires_at = ?, wake_at = NULL, updated_at = ? \
         WHERE id = (SELECT id FROM bao_workflow_runs WHERE workflow IN ({names}){only_run} AND ( \
            (status = 'pending') \
            OR (status IN ('sleeping', 'waiting') AND wake_at IS NOT NULL AND wake_at <= ?) \
            OR (status = 'running' AND lease_expires_at < ?)) \
          ORDER BY created_at LIMIT 1{lock}) \
         RETURNING {RUN_COLUMNS}"
    );
    let rows: Vec<RunRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(owner)
            .bind::<BigInt, _>(t + lease_ms)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(t)
            .bind::<BigInt, _>(t)
            .load(c)
    })?;
    Ok(rows.into_iter().next())
}

/// Checks the lease is still ours (inside a transaction: the row stays
/// locked until commit on PostgreSQL).
fn fence(conn: &mut DbConnection, run_id: &str, token: i64) -> Result<(), DbError> {
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_workflow_runs SET updated_at = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
        ))
        .bind::<BigInt, _>(now_ms())
        .bind::<Text, _>(run_id)
        .bind::<BigInt, _>(token)
        .execute(c)
    })?;
    if n == 1 {
        Ok(())
    } else {
        Err(DbError::Conflict("the run's lease was lost".into()))
    }
}

/// Extends the lease; false when it is no longer ours.
pub(crate) fn heartbeat(
    conn: &mut DbConnection,
    run_id: &str,
    token: i64,
    lease_ms: i64,
) -> Result<bool, DbError> {
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_workflow_runs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND status = 'running'",
        ))
        .bind::<BigInt, _>(now_ms() + lease_ms)
        .bind::<Text, _>(run_id)
        .bind::<BigInt, _>(token)
        .execute(c)
    })?;
    Ok(n == 1)
}

/// Releases the runs still held by owners whose names start with
/// `owner_prefix` (this process's workers at the drain timeout): back to
/// `pending`, due now, their lease token bumped so a step still finishing
/// here cannot record itself. How many.
pub(crate) fn release_owned(conn: &mut DbConnection, owner_prefix: &str) -> Result<usize, DbError> {
    let now = now_ms();
    let pattern = format!("{}%", owner_prefix.replace('%', "\\%").replace('_', "\\_"));
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_workflow_runs SET status = 'pending', wake_at = ?, \
             lease_token = lease_token + 1, lease_owner = NULL, lease_expires_at = NULL, \
             updated_at = ? WHERE status = 'running' AND lease_owner LIKE ? ESCAPE '\\'",
        ))
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(&pattern)
        .execute(c)
    })?)
}

/// Records step `seq` as completed with `result`, fenced by the lease, after
/// running `effect` in the same transaction (its writes commit with the step
/// or not at all).
pub(crate) fn complete_step<T: serde::Serialize>(
    conn: &mut DbConnection,
    run_id: &str,
    token: i64,
    seq: i32,
    name: &str,
    attempts: i32,
    effect: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    conn.write_transaction::<T, DbError, _>(|conn| {
        fence(conn, run_id, token)?;
        let value = effect(conn)?;
        let result =
            serde_json::to_string(&value).map_err(|e| DbError::Query(format!("cannot store the step's result: {e}")))?;
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "INSERT INTO bao_workflow_steps (run_id, seq, name, status, result, attempts, finished_at) \
                 VALUES (?, ?, ?, 'completed', ?, ?, ?) \
                 ON CONFLICT (run_id, seq) DO UPDATE SET name = excluded.name, status = 'completed', \
                 result = excluded.result, error = NULL, attempts = excluded.attempts, finished_at = excluded.finished_at",
            ))
            .bind::<Text, _>(run_id)
            .bind::<Integer, _>(seq)
            .bind::<Text, _>(name)
            .bind::<Text, _>(&result)
            .bind::<Integer, _>(attempts)
            .bind::<BigInt, _>(now_ms())
            .execute(c)
        })?;
        changed(conn, run_id, "running", Some((seq, name)))?;
        Ok(value)
    })
}

/// Records a failed attempt of step `seq` (fenced).
pub(crate) fn fail_step(
    conn: &mut DbConnection,
    run_id: &str,
    token: i64,
    seq: i32,
    name: &str,
    attempts: i32,
    error: &str,
) -> Result<(), DbError> {
    conn.write_transaction::<(), DbError, _>(|conn| {
        fence(conn, run_id, token)?;
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "INSERT INTO bao_workflow_steps (run_id, seq, name, status, error, attempts, finished_at) \
                 VALUES (?, ?, ?, 'failed', ?, ?, ?) \
                 ON CONFLICT (run_id, seq) DO UPDATE SET status = 'failed', error = excluded.error, \
                 attempts = excluded.attempts, finished_at = excluded.finished_at",
            ))
            .bind::<Text, _>(run_id)
            .bind::<Integer, _>(seq)
            .bind::<Text, _>(name)
            .bind::<Text, _>(error)
            .bind::<Integer, _>(attempts)
            .bind::<BigInt, _>(now_ms())
            .execute(c)
        })?;
        changed(conn, run_id, "running", Some((seq, name)))?;
        Ok(())
    })
}

/// Ends our lease with a new status (fenced): `completed` with `output`,
/// `failed` with `error`, or parked (`sleeping`/`waiting`/`pending`) until
/// `wake_at`.
/// Where a run goes when its worker lets it go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Release<'a> {
    pub(crate) status: &'a str,
    pub(crate) output: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    pub(crate) wake_at: Option<i64>,
    /// The signal a `waiting` run waits for.
    pub(crate) waiting_for: Option<&'a str>,
}

pub(crate) fn release(
    conn: &mut DbConnection,
    run_id: &str,
    token: i64,
    to: Release<'_>,
) -> Result<bool, DbError> {
    let Release {
        status,
        output,
        error,
        wake_at,
        waiting_for,
    } = to;
    let now = now_ms();
    let n = match waiting_for {
        // Parking to wait for signal `name`: if it arrived after the run
        // looked (sent while the run was still `running`, so nothing woke
        // it), the run is due at once instead of at its deadline. Checked
        // in the statement that parks the run, so no signal falls between.
        Some(name) => on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "UPDATE bao_workflow_runs SET status = ?, output = COALESCE(?, output), error = ?, \
                 wake_at = CASE WHEN EXISTS (SELECT 1 FROM bao_workflow_signals s \
                    WHERE s.run_id = ? AND s.name = ? AND s.consumed_at IS NULL) THEN ? ELSE ? END, \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = ? \
                 WHERE id = ? AND lease_token = ? AND status = 'running'",
            ))
            .bind::<Text, _>(status)
            .bind::<Nullable<Text>, _>(output)
            .bind::<Nullable<Text>, _>(error)
            .bind::<Text, _>(run_id)
            .bind::<Text, _>(name)
            .bind::<BigInt, _>(now)
            .bind::<Nullable<BigInt>, _>(wake_at)
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(run_id)
            .bind::<BigInt, _>(token)
            .execute(c)
        })?,
        None => on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "UPDATE bao_workflow_runs SET status = ?, output = COALESCE(?, output), error = ?, wake_at = ?, \
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = ? \
                 WHERE id = ? AND lease_token = ? AND status = 'running'",
            ))
            .bind::<Text, _>(status)
            .bind::<Nullable<Text>, _>(output)
            .bind::<Nullable<Text>, _>(error)
            .bind::<Nullable<BigInt>, _>(wake_at)
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(run_id)
            .bind::<BigInt, _>(token)
            .execute(c)
        })?,
    };
    if n == 1 {
        changed(conn, run_id, status, None)?;
    }
    Ok(n == 1)
}

pub(crate) fn bump_attempts(
    conn: &mut DbConnection,
    run_id: &str,
    token: i64,
) -> Result<i32, DbError> {
    #[derive(QueryableByName)]
    struct Attempts {
        #[diesel(sql_type = Integer)]
        attempts: i32,
    }
    let rows: Vec<Attempts> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_workflow_runs SET attempts = attempts + 1 WHERE id = ? AND lease_token = ? RETURNING attempts",
        ))
        .bind::<Text, _>(run_id)
        .bind::<BigInt, _>(token)
        .load(c)
    })?;
    rows.first()
        .map(|r| r.attempts)
        .ok_or_else(|| DbError::Conflict("the run's lease was lost".into()))
}

/// Records the version a run continues on (a replay on new code).
pub(crate) fn set_version(
    conn: &mut DbConnection,
    run_id: &str,
    version: i32,
) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("UPDATE bao_workflow_runs SET version = ? WHERE id = ?"))
            .bind::<Integer, _>(version)
            .bind::<Text, _>(run_id)
            .execute(c)
    })?;
    Ok(())
}

/// Sends signal `name` to a run; it waits in the table until consumed.
pub(crate) fn send_signal(
    conn: &mut DbConnection,
    run_id: &str,
    name: &str,
    payload: &str,
) -> Result<(), DbError> {
    conn.write_transaction::<(), DbError, _>(|conn| {
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "INSERT INTO bao_workflow_signals (run_id, name, payload, created_at) VALUES (?, ?, ?, ?)",
            ))
            .bind::<Text, _>(run_id)
            .bind::<Text, _>(name)
            .bind::<Text, _>(payload)
            .bind::<BigInt, _>(now_ms())
            .execute(c)
        })?;
        // A run waiting for signals wakes now.
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "UPDATE bao_workflow_runs SET wake_at = ? WHERE id = ? AND status = 'waiting'",
            ))
            .bind::<BigInt, _>(now_ms())
            .bind::<Text, _>(run_id)
            .execute(c)
        })?;
        notify(conn)
    })
}

/// The oldest unconsumed signal `name` of a run, consumed and recorded as
/// step `seq` in one fenced transaction.
pub(crate) fn take_signal(
    conn: &mut DbConnection,
    run_id: &str,
    token: i64,
    seq: i32,
    step_name: &str,
    name: &str,
) -> Result<Option<String>, DbError> {
    #[derive(QueryableByName)]
    struct Signal {
        #[diesel(sql_type = BigInt)]
        id: i64,
        #[diesel(sql_type = Text)]
        payload: String,
    }
    conn.write_transaction::<Option<String>, DbError, _>(|conn| {
        fence(conn, run_id, token)?;
        let found: Vec<Signal> = on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "SELECT id, payload FROM bao_workflow_signals WHERE run_id = ? AND name = ? AND consumed_at IS NULL ORDER BY id LIMIT 1",
            ))
            .bind::<Text, _>(run_id)
            .bind::<Text, _>(name)
            .load(c)
        })?;
        let Some(signal) = found.into_iter().next() else {
            return Ok(None);
        };
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql("UPDATE bao_workflow_signals SET consumed_at = ? WHERE id = ?"))
                .bind::<BigInt, _>(now_ms())
                .bind::<BigInt, _>(signal.id)
                .execute(c)
        })?;
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "INSERT INTO bao_workflow_steps (run_id, seq, name, status, result, attempts, finished_at) \
                 VALUES (?, ?, ?, 'completed', ?, 1, ?)",
            ))
            .bind::<Text, _>(run_id)
            .bind::<Integer, _>(seq)
            .bind::<Text, _>(step_name)
            .bind::<Text, _>(&signal.payload)
            .bind::<BigInt, _>(now_ms())
            .execute(c)
        })?;
        Ok(Some(signal.payload))
    })
}

/// Sets a run's status from outside (cancel, resume); false when the run is
/// not in one of `from`.
pub(crate) fn set_status(
    conn: &mut DbConnection,
    run_id: &str,
    from: &[&str],
    to: &str,
) -> Result<bool, DbError> {
    let allowed = from
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let query = format!(
        "UPDATE bao_workflow_runs SET status = ?, lease_token = lease_token + 1, lease_owner = NULL, \
         lease_expires_at = NULL, wake_at = NULL, updated_at = ? WHERE id = ? AND status IN ({allowed})"
    );
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(to)
            .bind::<BigInt, _>(now_ms())
            .bind::<Text, _>(run_id)
            .execute(c)
    })?;
    if n == 1 {
        changed(conn, run_id, to, None)?;
    }
    Ok(n == 1)
}

/// Forgets a run's failed steps (before a replay re-runs them).
pub(crate) fn drop_failed_steps(conn: &mut DbConnection, run_id: &str) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "DELETE FROM bao_workflow_steps WHERE run_id = ? AND status = 'failed'",
        ))
        .bind::<Text, _>(run_id)
        .execute(c)
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_sent_while_the_run_parks_makes_it_due_at_once() {
        let mut conn =
            DbConnection::open(&crate::db::DatabaseUrl::parse("sqlite::memory:").unwrap()).unwrap();
        crate::db::system::migrate(&mut conn).unwrap();
        insert_run(&mut conn, "r1", "flow", 1, "null").unwrap();
        let run = claim(&mut conn, &["flow"], "me", 60_000, None)
            .unwrap()
            .unwrap();
        // The run looked for signal `go`, found none, and is about to park;
        // the signal arrives now (the run is still `running`: no wake-up).
        assert_eq!(
            take_signal(&mut conn, "r1", run.lease_token, 0, "signal:go", "go").unwrap(),
            None
        );
        send_signal(&mut conn, "r1", "go", "1").unwrap();
        let deadline = now_ms() + 86_400_000;
        let parking = Release {
            status: "waiting",
            output: None,
            error: None,
            wake_at: Some(deadline),
            waiting_for: Some("go"),
        };
        assert!(release(&mut conn, "r1", run.lease_token, parking).unwrap());
        let parked = find_run(&mut conn, "r1").unwrap().unwrap();
        assert_eq!(parked.status, "waiting");
        assert!(
            parked.wake_at.unwrap() <= now_ms(),
            "due at once, not at the deadline a day later"
        );
        // Another signal name does not wake it early.
        insert_run(&mut conn, "r2", "flow", 1, "null").unwrap();
        let run = claim(&mut conn, &["flow"], "me", 60_000, Some("r2"))
            .unwrap()
            .unwrap();
        send_signal(&mut conn, "r2", "other", "1").unwrap();
        release(&mut conn, "r2", run.lease_token, parking).unwrap();
        assert_eq!(
            find_run(&mut conn, "r2").unwrap().unwrap().wake_at,
            Some(deadline)
        );
    }
}

/// Filters of a list of runs (the admin console, `/_bao/workflows`, MCP).
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct RunFilter {
    /// A workflow name (empty: all).
    #[serde(default)]
    pub workflow: String,
    /// A run status (empty: all).
    #[serde(default)]
    pub status: String,
    /// Runs created on or after this day, `YYYY-MM-DD` in UTC (empty: any).
    #[serde(default)]
    pub from: String,
    /// Runs created on or before this day, `YYYY-MM-DD` in UTC (empty: any).
    #[serde(default)]
    pub to: String,
    /// Keyset cursor: `created_at:id` of the last row of the previous page.
    #[serde(default)]
    pub before: String,
}

impl RunFilter {
    /// Whether the dates are usable, or what is wrong with them.
    pub(crate) fn check(&self) -> Result<(), String> {
        crate::support::units::day_range(&self.from, &self.to).map(|_| ())
    }

    /// `FROM .. WHERE ..` with its binds (unusable dates are left out:
    /// [`RunFilter::check`] first).
    pub(crate) fn clause(&self) -> (String, Vec<crate::db::Bind>) {
        let mut sql = String::from("FROM bao_workflow_runs WHERE 1 = 1");
        let mut binds = Vec::new();
        let (start, end) =
            crate::support::units::day_range(&self.from, &self.to).unwrap_or_default();
        if let Some(start) = start {
            sql.push_str(" AND created_at >= ?");
            binds.push(crate::db::Bind::Int(start));
        }
        if let Some(end) = end {
            sql.push_str(" AND created_at < ?");
            binds.push(crate::db::Bind::Int(end));
        }
        if !self.workflow.is_empty() {
            sql.push_str(" AND workflow = ?");
            binds.push(crate::db::Bind::Text(self.workflow.clone()));
        }
        if !self.status.is_empty() {
            sql.push_str(" AND status = ?");
            binds.push(crate::db::Bind::Text(self.status.clone()));
        }
        if let Some((at, id)) = self
            .before
            .split_once(':')
            .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
        {
            // A row value, so the (created_at, id) indexes serve it.
            sql.push_str(" AND (created_at, id) < (?, ?)");
            binds.extend([crate::db::Bind::Int(at), crate::db::Bind::Text(id)]);
        }
        (sql, binds)
    }
}

/// A page of runs, newest first.
pub(crate) fn runs(
    conn: &mut DbConnection,
    filter: &RunFilter,
    limit: i64,
) -> Result<Vec<RunRow>, DbError> {
    let (clause, binds) = filter.clause();
    let query = format!(
        "SELECT {} {clause} ORDER BY created_at DESC, id DESC LIMIT {limit}",
        RUN_COLUMNS
    );
    crate::db::load_bound(conn, &query, &binds)
}

/// Statuses a run can have.
pub(crate) const RUN_STATUSES: &[&str] = &[
    "pending",
    "running",
    "sleeping",
    "waiting",
    "completed",
    "failed",
    "cancelled",
];
