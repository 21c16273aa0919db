//! API tokens: `bao_` followed by 256 random bits in hex, shown once when
//! issued and stored only as a SHA-256 hash, with a name, an optional expiry,
//! `last_used_at`, and revocation by id or by the token itself.

use super::store::{self, AuditEntry, TokenInfo, UsersTable};
use crate::db::{DbConnection, DbError};
use crate::support::crypto::{random_hex, sha256_hex};
use std::time::Duration;

/// Every token starts with this, so secret scanners and people recognise it.
pub const TOKEN_PREFIX: &str = "bao_";

/// A token just issued: the only time its plaintext exists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedToken {
    /// Its id (for `tokens:revoke`).
    pub id: i64,
    /// The token to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it expires (Unix seconds), if it does.
    pub expires_at: Option<i64>,
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No user has this id.
    #[error("no user with id {0}")]
    NoSuchUser(i64),
    /// No live token matches.
    #[error("no active token matches `{0}`")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

/// Issues a token for `user_id`.
pub fn issue(
    conn: &mut DbConnection,
    users: UsersTable,
    user_id: i64,
    name: &str,
    ttl: Option<Duration>,
) -> Result<IssuedToken, TokenError> {
    if !store::user_exists(conn, users, user_id)? {
        return Err(TokenError::NoSuchUser(user_id));
    }
    let token = format!("{TOKEN_PREFIX}{}", random_hex(32));
    let prefix: String = token.chars().take(12).collect();
    let expires_at =
        ttl.map(|d| store::now().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    let id = store::insert_token(
        conn,
        user_id,
        name,
        &sha256_hex(&token),
        &prefix,
        expires_at,
    )?;
    store::insert_audit(
        conn,
        &AuditEntry {
            user_id: Some(user_id),
            action: "token_issued".into(),
            subject: Some(format!("token {id} ({name})")),
            ..AuditEntry::default()
        },
    )?;
    Ok(IssuedToken {
        id,
        token,
        expires_at,
    })
}

/// The tokens of `user_id`, revoked ones included.
pub fn list(conn: &mut DbConnection, user_id: i64) -> Result<Vec<TokenInfo>, TokenError> {
    Ok(store::list_tokens(conn, user_id)?)
}

/// Revokes a token given its id or its plaintext; the ids revoked.
pub fn revoke(conn: &mut DbConnection, id_or_token: &str) -> Result<Vec<i64>, TokenError> {
    let text = id_or_token.trim();
    let (id, hash) = match text.parse::<i64>() {
        Ok(id) => (Some(id), None),
        Err(_) => (None, Some(sha256_hex(text))),
    };
    let revoked = store::revoke_token(conn, id, hash.as_deref())?;
    if revoked.is_empty() {
        let shown = if id.is_some() {
            text.to_string()
        } else {
            format!("{}…", text.chars().take(12).collect::<String>())
        };
        return Err(TokenError::NotFound(shown));
    }
    for rid in &revoked {
        store::insert_audit(
            conn,
            &AuditEntry {
                action: "token_revoked".into(),
                subject: Some(format!("token {rid}")),
                ..AuditEntry::default()
            },
        )?;
    }
    Ok(revoked)
}
