//! Reads and writes of the auth tables (`bao_sessions`, `bao_api_tokens`,
//! `bao_login_failures`, `bao_audit_log`) and of the app's users table, whose
//! name comes from the model given to `bao::app!(auth: User)`. Plain SQL with
//! bound parameters, run on either dialect.

use crate::db::{DbConnection, DbError};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::{QueryableByName, RunQueryDsl};

/// The users table Bao's auth reads: `id`, `email`, `password_hash`,
/// `role`, and `tenant_id` when the model has one.
#[derive(Debug, Clone, Copy)]
pub struct UsersTable {
    /// The table.
    pub table: &'static str,
    /// Whether it has a `tenant_id` column.
    pub has_tenant: bool,
    /// Whether it has `created_at` (set when `Auth::register` inserts).
    pub has_created_at: bool,
    /// Whether it has `updated_at` (set on insert and password changes).
    pub has_updated_at: bool,
}

impl UsersTable {
    fn tenant_column(&self) -> &'static str {
        if self.has_tenant {
            "u.tenant_id"
        } else {
            "CAST(NULL AS BIGINT)"
        }
    }
}

pub(crate) use crate::db::on_dialect;

pub(crate) use crate::support::clock::now_secs as now;

/// Who a session or token belongs to.
#[derive(QueryableByName, Debug, Clone)]
pub(crate) struct IdentityRow {
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub tenant_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    #[diesel(sql_type = BigInt)]
    pub last_seen_at: i64,
    #[diesel(sql_type = BigInt)]
    pub expires_at: i64,
}

pub(crate) fn insert_session(
    conn: &mut DbConnection,
    key: &str,
    user_id: i64,
    lifetime_secs: i64,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Result<(), DbError> {
    let now = now();
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "INSERT INTO bao_sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(user_id)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(now.saturating_add(lifetime_secs))
        .bind::<Nullable<Text>, _>(ip)
        .bind::<Nullable<Text>, _>(user_agent.map(|ua| ua.chars().take(256).collect::<String>()))
        .execute(c)
    })?;
    Ok(())
}

pub(crate) fn find_session(
    conn: &mut DbConnection,
    users: UsersTable,
    key: &str,
) -> Result<Option<IdentityRow>, DbError> {
    let query = format!(
        "SELECT s.user_id AS user_id, u.email AS email, u.role AS role, {tenant} AS tenant_id, \
         s.created_at AS created_at, s.last_seen_at AS last_seen_at, s.expires_at AS expires_at \
         FROM bao_sessions s JOIN {table} u ON u.id = s.user_id WHERE s.id_hash = ?",
        tenant = users.tenant_column(),
        table = crate::db::sql_ident(users.table),
    );
    let rows: Vec<IdentityRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query)).bind::<Text, _>(key).load(c)
    })?;
    Ok(rows.into_iter().next())
}

pub(crate) fn touch_session(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "UPDATE bao_sessions SET last_seen_at = ? WHERE id_hash = ?",
        ))
        .bind::<BigInt, _>(now())
        .bind::<Text, _>(key)
        .execute(c)
    })?;
    Ok(())
}

pub(crate) fn delete_session(conn: &mut DbConnection, key: &str) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("DELETE FROM bao_sessions WHERE id_hash = ?"))
            .bind::<Text, _>(key)
            .execute(c)
    })?)
}

pub(crate) fn delete_user_sessions(
    conn: &mut DbConnection,
    user_id: i64,
) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("DELETE FROM bao_sessions WHERE user_id = ?"))
            .bind::<BigInt, _>(user_id)
            .execute(c)
    })?)
}

/// Deletes sessions past their absolute expiry; the number deleted.
pub(crate) fn delete_expired_sessions(conn: &mut DbConnection) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("DELETE FROM bao_sessions WHERE expires_at <= ?"))
            .bind::<BigInt, _>(now())
            .execute(c)
    })?)
}

/// A user row as login needs it.
#[derive(QueryableByName, Debug, Clone)]
pub(crate) struct Credentials {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub password_hash: String,
}

pub(crate) fn find_credentials(
    conn: &mut DbConnection,
    users: UsersTable,
    email: &str,
) -> Result<Option<Credentials>, DbError> {
    let query = format!(
        "SELECT id, password_hash FROM {} WHERE LOWER(email) = LOWER(?)",
        crate::db::sql_ident(users.table)
    );
    let rows: Vec<Credentials> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(email)
            .load(c)
    })?;
    Ok(rows.into_iter().next())
}

pub(crate) fn find_credentials_by_id(
    conn: &mut DbConnection,
    users: UsersTable,
    id: i64,
) -> Result<Option<Credentials>, DbError> {
    let query = format!(
        "SELECT id, password_hash FROM {} WHERE id = ?",
        crate::db::sql_ident(users.table)
    );
    let rows: Vec<Credentials> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query)).bind::<BigInt, _>(id).load(c)
    })?;
    Ok(rows.into_iter().next())
}

pub(crate) fn set_password_hash(
    conn: &mut DbConnection,
    users: UsersTable,
    id: i64,
    hash: &str,
) -> Result<(), DbError> {
    let query = format!(
        "UPDATE {} SET password_hash = ? WHERE id = ?",
        crate::db::sql_ident(users.table)
    );
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(hash)
            .bind::<BigInt, _>(id)
            .execute(c)
    })?;
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

pub(crate) fn user_exists(
    conn: &mut DbConnection,
    users: UsersTable,
    id: i64,
) -> Result<bool, DbError> {
    let query = format!(
        "SELECT COUNT(*) AS n FROM {} WHERE id = ?",
        crate::db::sql_ident(users.table)
    );
    let rows: Vec<Count> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query)).bind::<BigInt, _>(id).load(c)
    })?;
    Ok(rows.first().is_some_and(|r| r.n > 0))
}

pub(crate) fn insert_user(
    conn: &mut DbConnection,
    users: UsersTable,
    email: &str,
    password_hash: &str,
) -> Result<i64, DbError> {
    let now = chrono::Utc::now().naive_utc();
    let mut columns = String::from("email, password_hash, role");
    let mut values = String::from("?, ?, 'user'");
    for (present, column) in [
        (users.has_created_at, "created_at"),
        (users.has_updated_at, "updated_at"),
    ] {
        if present {
            columns.push_str(", ");
            columns.push_str(column);
            values.push_str(", ?");
        }
    }
    let query = format!(
        "INSERT INTO {} ({columns}) VALUES ({values}) RETURNING id",
        crate::db::sql_ident(users.table)
    );
    let stamps = usize::from(users.has_created_at) + usize::from(users.has_updated_at);
    let rows: Vec<Id> = on_dialect!(conn, |c, sql| {
        let q = diesel::sql_query(sql(&query))
            .bind::<Text, _>(email)
            .bind::<Text, _>(password_hash);
        match stamps {
            0 => q.load(c),
            1 => q.bind::<Timestamp, _>(now).load(c),
            _ => q
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(now)
                .load(c),
        }
    })?;
    rows.first().map(|r| r.id).ok_or(DbError::NotFound)
}

/// Failed logins for `key` since `since`, and the oldest of them.
pub(crate) fn recent_failures(
    conn: &mut DbConnection,
    key: &str,
    since: i64,
) -> Result<(i64, Option<i64>), DbError> {
    #[derive(QueryableByName)]
    struct Window {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = Nullable<BigInt>)]
        oldest: Option<i64>,
    }
    let rows: Vec<Window> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "SELECT COUNT(*) AS n, MIN(failed_at) AS oldest FROM bao_login_failures \
             WHERE throttle_key = ? AND failed_at > ?",
        ))
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(since)
        .load(c)
    })?;
    Ok(rows.first().map_or((0, None), |w| (w.n, w.oldest)))
}

/// Records a failed login for `key`, forgetting its failures older than
/// `window_secs` (they no longer count).
pub(crate) fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    window_secs: i64,
) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "DELETE FROM bao_login_failures WHERE throttle_key = ? AND failed_at <= ?",
        ))
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(now().saturating_sub(window_secs))
        .execute(c)
    })?;
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "INSERT INTO bao_login_failures (throttle_key, failed_at) VALUES (?, ?)",
        ))
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(now())
        .execute(c)
    })?;
    Ok(())
}

/// Counts a login attempt before its password is checked: when any of
/// `keys` already has `max` failures within `window_secs`, the seconds to
/// wait (nothing is recorded); otherwise each key gets a failure row now
/// (whose ids come back, to forget them if the password is right). Checks
/// and records run under one lock per key set (SQLite: `BEGIN IMMEDIATE`;
/// PostgreSQL: transaction advisory locks), so of many simultaneous
/// attempts at most `max` are ever checked.
pub(crate) fn claim_attempt(
    conn: &mut DbConnection,
    keys: &[String],
    window_secs: i64,
    max: i64,
) -> Result<Result<Vec<i64>, i64>, DbError> {
    let claim = |c: &mut DbConnection| -> Result<Result<Vec<i64>, i64>, DbError> {
        let now = now();
        let mut wait: Option<i64> = None;
        for key in keys {
            let (n, oldest) = recent_failures(c, key, now - window_secs)?;
            if n >= max {
                let w = oldest.map_or(window_secs, |o| o + window_secs - now).max(1);
                wait = Some(wait.map_or(w, |x| x.max(w)));
            }
        }
        if let Some(w) = wait {
            return Ok(Err(w));
        }
        let mut ids = Vec::new();
        for key in keys {
            record_failure(c, key, window_secs)?;
            #[derive(QueryableByName)]
            struct Last {
                #[diesel(sql_type = BigInt)]
                id: i64,
            }
            let last: Vec<Last> = on_dialect!(c, |c, sql| {
                diesel::sql_query(sql(
                    "SELECT MAX(id) AS id FROM bao_login_failures WHERE throttle_key = ?",
                ))
                .bind::<Text, _>(key)
                .load(c)
            })?;
            ids.extend(last.first().map(|l| l.id));
        }
        Ok(Ok(ids))
    };
    conn.write_transaction(|c| {
        if let DbConnection::Postgres(pg) = &mut *c {
            let mut sorted: Vec<&String> = keys.iter().collect();
            sorted.sort();
            for key in sorted {
                diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))::text AS locked")
                    .bind::<Text, _>(key)
                    .execute(pg)?;
            }
        }
        claim(c)
    })
}

/// Forgets the failure rows of an attempt whose password was right.
pub(crate) fn forget_attempt(conn: &mut DbConnection, ids: &[i64]) -> Result<(), DbError> {
    for id in ids {
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql("DELETE FROM bao_login_failures WHERE id = ?"))
                .bind::<BigInt, _>(*id)
                .execute(c)
        })?;
    }
    Ok(())
}

pub(crate) fn clear_failures(conn: &mut DbConnection, key: &str) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("DELETE FROM bao_login_failures WHERE throttle_key = ?"))
            .bind::<Text, _>(key)
            .execute(c)
    })?;
    Ok(())
}

/// Deletes audit entries older than `max_age_secs`; returns how many.
pub fn prune_audit(conn: &mut DbConnection, max_age_secs: i64) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("DELETE FROM bao_audit_log WHERE at < ?"))
            .bind::<BigInt, _>(now().saturating_sub(max_age_secs))
            .execute(c)
    })?)
}

/// One audit entry.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// The user acting, when known.
    pub user_id: Option<i64>,
    /// What happened: `login`, `login_failed`, `logout`, `token_issued`, ...
    pub action: String,
    /// What it happened to (an email, a token id, a path).
    pub subject: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// More detail.
    pub detail: Option<String>,
}

pub(crate) fn insert_audit(conn: &mut DbConnection, entry: &AuditEntry) -> Result<(), DbError> {
    on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "INSERT INTO bao_audit_log (at, user_id, action, subject, request_id, ip, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind::<BigInt, _>(now())
        .bind::<Nullable<BigInt>, _>(entry.user_id)
        .bind::<Text, _>(&entry.action)
        .bind::<Nullable<Text>, _>(entry.subject.as_deref())
        .bind::<Nullable<Text>, _>(entry.request_id.as_deref())
        .bind::<Nullable<Text>, _>(entry.ip.as_deref())
        .bind::<Nullable<Text>, _>(entry.detail.as_deref())
        .execute(c)
    })?;
    Ok(())
}

/// An audit row as `bao audit` and tests read it.
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct AuditRow {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// When (Unix seconds).
    #[diesel(sql_type = BigInt)]
    pub at: i64,
    /// Who.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub user_id: Option<i64>,
    /// What.
    #[diesel(sql_type = Text)]
    pub action: String,
    /// To what.
    #[diesel(sql_type = Nullable<Text>)]
    pub subject: Option<String>,
    /// Which request.
    #[diesel(sql_type = Nullable<Text>)]
    pub request_id: Option<String>,
    /// From where.
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    /// More detail.
    #[diesel(sql_type = Nullable<Text>)]
    pub detail: Option<String>,
}

/// The newest `limit` audit entries, newest first.
pub fn recent_audit(conn: &mut DbConnection, limit: i64) -> Result<Vec<AuditRow>, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "SELECT id, at, user_id, action, subject, request_id, ip, detail FROM bao_audit_log \
             ORDER BY id DESC LIMIT ?",
        ))
        .bind::<BigInt, _>(limit)
        .load(c)
    })?)
}

/// An API token as `bao tokens:list` shows it (never the token itself).
#[derive(QueryableByName, Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Whose.
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    /// Its name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// Its first characters, to recognise it.
    #[diesel(sql_type = Text)]
    pub prefix: String,
    /// When it was issued (Unix seconds).
    #[diesel(sql_type = BigInt)]
    pub created_at: i64,
    /// When it stops working.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub expires_at: Option<i64>,
    /// When it was last used.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub revoked_at: Option<i64>,
}

pub(crate) fn insert_token(
    conn: &mut DbConnection,
    user_id: i64,
    name: &str,
    hash: &str,
    prefix: &str,
    expires_at: Option<i64>,
) -> Result<i64, DbError> {
    let rows: Vec<Id> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "INSERT INTO bao_api_tokens (user_id, name, token_hash, prefix, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        ))
        .bind::<BigInt, _>(user_id)
        .bind::<Text, _>(name)
        .bind::<Text, _>(hash)
        .bind::<Text, _>(prefix)
        .bind::<BigInt, _>(now())
        .bind::<Nullable<BigInt>, _>(expires_at)
        .load(c)
    })?;
    rows.first().map(|r| r.id).ok_or(DbError::NotFound)
}

pub(crate) fn list_tokens(
    conn: &mut DbConnection,
    user_id: i64,
) -> Result<Vec<TokenInfo>, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "SELECT id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at \
             FROM bao_api_tokens WHERE user_id = ? ORDER BY id",
        ))
        .bind::<BigInt, _>(user_id)
        .load(c)
    })?)
}

/// Revokes the token with this id or this hash; the ids revoked.
pub(crate) fn revoke_token(
    conn: &mut DbConnection,
    id: Option<i64>,
    hash: Option<&str>,
) -> Result<Vec<i64>, DbError> {
    let rows: Vec<Id> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql("UPDATE bao_api_tokens SET revoked_at = ? \
             WHERE revoked_at IS NULL AND (id = ? OR token_hash = ?) RETURNING id"))
        .bind::<BigInt, _>(now())
        .bind::<BigInt, _>(id.unwrap_or(-1))
        .bind::<Text, _>(hash.unwrap_or(""))
        .load(c)
    })?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// The identity behind a live token (not revoked, not expired); marks it used.
pub(crate) fn use_token(
    conn: &mut DbConnection,
    users: UsersTable,
    hash: &str,
) -> Result<Option<IdentityRow>, DbError> {
    let now = now();
    let query = format!(
        "SELECT t.user_id AS user_id, u.email AS email, u.role AS role, {tenant} AS tenant_id, \
         t.created_at AS created_at, COALESCE(t.last_used_at, t.created_at) AS last_seen_at, \
         COALESCE(t.expires_at, 0) AS expires_at \
         FROM bao_api_tokens t JOIN {table} u ON u.id = t.user_id \
         WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)",
        tenant = users.tenant_column(),
        table = crate::db::sql_ident(users.table),
    );
    let rows: Vec<IdentityRow> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(&query))
            .bind::<Text, _>(hash)
            .bind::<BigInt, _>(now)
            .load(c)
    })?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    // Written at most once a minute per token.
    if now - row.last_seen_at >= 60 || row.last_seen_at == row.created_at {
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "UPDATE bao_api_tokens SET last_used_at = ? WHERE token_hash = ?",
            ))
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(hash)
            .execute(c)
        })?;
    }
    Ok(Some(row))
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(crate::db::numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }
}
