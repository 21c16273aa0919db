//! Approval requests of `requires_approval` tools (`bao_agent_approvals`):
//! recorded once per tool call with the exact arguments and their hash;
//! decided once, under a named operator, in the same transaction as the
//! signal that wakes the run and the audit entry.

use crate::db::{on_dialect, DbConnection, DbError};
use crate::support::clock::now_ms;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::{Deserialize, Serialize};

/// An approval request, as `bao agents:pending` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, QueryableByName)]
pub struct Approval {
    /// Its id (what `agents:approve ID` takes).
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// The agent run (a workflow run id).
    #[diesel(sql_type = Text)]
    pub run_id: String,
    /// The agent's name.
    #[diesel(sql_type = Text)]
    pub agent: String,
    /// The model's id of the tool call.
    #[diesel(sql_type = Text)]
    pub call_id: String,
    /// The tool.
    #[diesel(sql_type = Text)]
    pub tool: String,
    /// The exact arguments, as JSON.
    #[diesel(sql_type = Text)]
    pub arguments: String,
    /// SHA-256 of the arguments: a decision is bound to them.
    #[diesel(sql_type = Text)]
    pub arguments_hash: String,
    /// pending, approved, denied or expired.
    #[diesel(sql_type = Text)]
    pub status: String,
    /// Who asked (the message's sender, when known).
    #[diesel(sql_type = Nullable<Text>)]
    pub requested_by: Option<String>,
    /// When it was asked (ms since the epoch).
    #[diesel(sql_type = BigInt)]
    pub requested_at: i64,
    /// When it expires (ms since the epoch).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub expires_at: Option<i64>,
    /// Who decided.
    #[diesel(sql_type = Nullable<Text>)]
    pub decided_by: Option<String>,
    /// When.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub decided_at: Option<i64>,
    /// The reason given with a denial.
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
    /// The arguments the operator approved instead of the model's (JSON),
    /// when they edited them.
    #[diesel(sql_type = Nullable<Text>)]
    pub approved_arguments: Option<String>,
}

const COLUMNS: &str = "id, run_id, agent, call_id, tool, arguments, arguments_hash, status, \
    requested_by, requested_at, expires_at, decided_by, decided_at, reason, approved_arguments";

/// What the run receives when a request is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Approved (else denied).
    pub approved: bool,
    /// The hash of the arguments that were approved.
    pub arguments_hash: String,
    /// The operator.
    pub by: String,
    /// The reason of a denial.
    pub reason: Option<String>,
    /// The arguments to run the tool with instead of the model's, when the
    /// operator edited them before approving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<serde_json::Value>,
}

/// The hash a decision is bound to.
pub fn arguments_hash(arguments: &serde_json::Value) -> String {
    crate::support::crypto::sha256_hex(&arguments.to_string())
}

/// The signal a run waits on for the decision about `call_id`.
pub(crate) fn signal_name(call_id: &str) -> String {
    format!("approval:{call_id}")
}

/// Records a request (once per run and call: asking again returns the
/// first one's id).
pub(crate) fn insert(
    conn: &mut DbConnection,
    run_id: &str,
    agent: &str,
    call: &crate::ai::ToolCall,
    expires_at: Option<i64>,
) -> Result<i64, DbError> {
    if let Some(existing) = find_by_call(conn, run_id, &call.id)? {
        return Ok(existing.id);
    }
    let arguments = call.arguments.to_string();
    let hash = arguments_hash(&call.arguments);
    let now = now_ms();
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let query = "INSERT INTO bao_agent_approvals (run_id, agent, call_id, tool, arguments, arguments_hash, \
         status, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id";
    let row: Id = on_dialect!(conn, |c, sql| diesel::sql_query(sql(query))
        .bind::<Text, _>(run_id)
        .bind::<Text, _>(agent)
        .bind::<Text, _>(&call.id)
        .bind::<Text, _>(&call.name)
        .bind::<Text, _>(&arguments)
        .bind::<Text, _>(&hash)
        .bind::<BigInt, _>(now)
        .bind::<Nullable<BigInt>, _>(expires_at)
        .get_result(c))?;
    crate::channel::operations_changed(conn, "approvals")?;
    Ok(row.id)
}

fn find_by_call(
    conn: &mut DbConnection,
    run_id: &str,
    call_id: &str,
) -> Result<Option<Approval>, DbError> {
    let query =
        format!("SELECT {COLUMNS} FROM bao_agent_approvals WHERE run_id = ? AND call_id = ?");
    let rows: Vec<Approval> = on_dialect!(conn, |c, sql| diesel::sql_query(sql(&query))
        .bind::<Text, _>(run_id)
        .bind::<Text, _>(call_id)
        .load(c))?;
    Ok(rows.into_iter().next())
}

/// One request.
pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<Approval>, DbError> {
    let query = format!("SELECT {COLUMNS} FROM bao_agent_approvals WHERE id = ?");
    let rows: Vec<Approval> = on_dialect!(conn, |c, sql| diesel::sql_query(sql(&query))
        .bind::<BigInt, _>(id)
        .load(c))?;
    Ok(rows.into_iter().next())
}

/// Requests with `status` (all when None), newest first; of one run when
/// `run_id` is given.
pub fn list(
    conn: &mut DbConnection,
    status: Option<&str>,
    run_id: Option<&str>,
    limit: i64,
) -> Result<Vec<Approval>, DbError> {
    let mut query = format!("SELECT {COLUMNS} FROM bao_agent_approvals WHERE 1 = 1");
    if status.is_some() {
        query.push_str(" AND status = ?");
    }
    if run_id.is_some() {
        query.push_str(" AND run_id = ?");
    }
    query.push_str(" ORDER BY id DESC LIMIT ?");
    let rows: Vec<Approval> = on_dialect!(conn, |c, sql| {
        let q = diesel::sql_query(sql(&query)).into_boxed();
        let q = match status {
            Some(s) => q.bind::<Text, _>(s.to_string()),
            None => q,
        };
        let q = match run_id {
            Some(r) => q.bind::<Text, _>(r.to_string()),
            None => q,
        };
        q.bind::<BigInt, _>(limit).load(c)
    })?;
    Ok(rows)
}

/// Why a decision was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecideError {
    /// No request has this id.
    #[error("no approval request {0}")]
    NotFound(i64),
    /// It was decided already, or expired: a request is decided once.
    #[error("approval request {id} is {status} already: a request is decided once")]
    Decided {
        /// The request.
        id: i64,
        /// Its status.
        status: String,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<diesel::result::Error> for DecideError {
    fn from(error: diesel::result::Error) -> Self {
        DecideError::Database(error.into())
    }
}

/// Approves or denies request `id` under operator `by`: the request is
/// claimed with a conditional update, the run is signalled and the audit
/// log written, all in one transaction, so a request is decided once.
pub fn decide(
    conn: &mut DbConnection,
    id: i64,
    approved: bool,
    by: &str,
    reason: Option<&str>,
) -> Result<Approval, DecideError> {
    settle(conn, id, approved, by, reason, None)
}

/// Approves request `id` with `arguments` in place of the model's (an
/// operator corrected them): the tool runs with these once they pass its
/// schema, and the audit entry records both hashes.
pub fn approve_edited(
    conn: &mut DbConnection,
    id: i64,
    by: &str,
    arguments: &serde_json::Value,
    reason: Option<&str>,
) -> Result<Approval, DecideError> {
    settle(conn, id, true, by, reason, Some(arguments))
}

fn settle(
    conn: &mut DbConnection,
    id: i64,
    approved: bool,
    by: &str,
    reason: Option<&str>,
    edited: Option<&serde_json::Value>,
) -> Result<Approval, DecideError> {
    conn.write_transaction(|c| {
        let Some(request) = find(c, id)? else {
            return Err(DecideError::NotFound(id));
        };
        let now = now_ms();
        let status = if approved { "approved" } else { "denied" };
        let claimed = on_dialect!(c, |c, sql| {
            diesel::sql_query(sql(
            "UPDATE bao_agent_approvals SET status = ?, decided_by = ?, decided_at = ?, reason = ?, \
             approved_arguments = ? \
             WHERE id = ? AND status = 'pending' AND (expires_at IS NULL OR expires_at > ?)"
        ))
        .bind::<Text, _>(status)
        .bind::<Text, _>(by)
        .bind::<BigInt, _>(now)
        .bind::<Nullable<Text>, _>(reason)
        .bind::<Nullable<Text>, _>(edited.map(|a| a.to_string()))
        .bind::<BigInt, _>(id)
        .bind::<BigInt, _>(now)
        .execute(c)
        })
        .map_err(DbError::from)?;
        if claimed == 0 {
            let status = if request.status == "pending" {
                "expired".to_string()
            } else {
                request.status
            };
            return Err(DecideError::Decided { id, status });
        }
        let decision = Decision {
            approved,
            arguments_hash: request.arguments_hash.clone(),
            by: by.to_string(),
            reason: reason.map(str::to_string),
            edited: edited.cloned(),
        };
        let payload = serde_json::to_string(&decision).unwrap_or_default();
        crate::workflow::store::send_signal(
            c,
            &request.run_id,
            &signal_name(&request.call_id),
            &payload,
        )?;
        let detail = serde_json::json!({
            "approval": id, "run": request.run_id, "tool": request.tool,
            "arguments_hash": request.arguments_hash, "by": by, "reason": reason,
            "edited_arguments_hash": edited.map(arguments_hash),
        })
        .to_string();
        let action = if approved {
            "agent.approve"
        } else {
            "agent.deny"
        };
        on_dialect!(c, |c, sql| diesel::sql_query(sql(
            "INSERT INTO bao_audit_log (at, user_id, action, subject, request_id, ip, detail) \
             VALUES (?, NULL, ?, ?, NULL, NULL, ?)"
        ))
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(action)
        .bind::<Text, _>(format!("{}:{}", request.agent, request.tool))
        .bind::<Text, _>(&detail)
        .execute(c))
        .map_err(DbError::from)?;
        crate::channel::operations_changed(c, "approvals")?;
        find(c, id)?.ok_or(DecideError::NotFound(id))
    })
}

/// Marks request `call_id` of `run_id` expired (its wait timed out).
pub(crate) fn expire(conn: &mut DbConnection, run_id: &str, call_id: &str) -> Result<(), DbError> {
    let n = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
        "UPDATE bao_agent_approvals SET status = 'expired' WHERE run_id = ? AND call_id = ? AND status = 'pending'"
    ))
    .bind::<Text, _>(run_id)
    .bind::<Text, _>(call_id)
    .execute(c)
    })?;
    if n > 0 {
        crate::channel::operations_changed(conn, "approvals")?;
    }
    Ok(())
}
