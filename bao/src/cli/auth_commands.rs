//! `tokens:issue`, `tokens:list`, `tokens:revoke` and `audit`: run by the app
//! binary, which knows its user model.

use super::{AuditArgs, TokensIssueArgs, TokensListArgs, TokensRevokeArgs};
use crate::auth::tokens::{self, TokenError};
use crate::db::{DbConnection, DbError};
use crate::App;

fn db_error(e: TokenError) -> DbError {
    match e {
        TokenError::Database(e) => e,
        other => DbError::Config(other.to_string()),
    }
}

fn when(at: Option<i64>) -> String {
    at.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string(),
        )
}

pub(super) fn issue(
    app: &App,
    conn: &mut DbConnection,
    args: &TokensIssueArgs,
) -> Result<(), DbError> {
    let users = app.users_table().ok_or_else(|| {
        DbError::Config(
            "this app has no user model: add `auth: User` to bao::app! (run `bao make:auth`)"
                .into(),
        )
    })?;
    crate::db::system::migrate(conn)?;
    let issued =
        tokens::issue(conn, users, args.user_id, &args.name, args.expires).map_err(db_error)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&issued).unwrap_or_default()
        );
    } else {
        println!("{}", issued.token);
        eprintln!(
            "token {} for user {} (\"{}\"), expires: {}. It is shown only now: store it safely; send it as `Authorization: Bearer <token>`.",
            issued.id,
            args.user_id,
            args.name,
            when(issued.expires_at)
        );
    }
    Ok(())
}

pub(super) fn list(conn: &mut DbConnection, args: &TokensListArgs) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let found = tokens::list(conn, args.user_id).map_err(db_error)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        );
        return Ok(());
    }
    if found.is_empty() {
        println!("user {} has no API tokens", args.user_id);
        return Ok(());
    }
    println!(
        "{:<6} {:<16} {:<14} {:<21} {:<21} {:<21} STATUS",
        "ID", "NAME", "PREFIX", "CREATED", "LAST USED", "EXPIRES"
    );
    let now = chrono::Utc::now().timestamp();
    for t in found {
        let status = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        println!(
            "{:<6} {:<16} {:<14} {:<21} {:<21} {:<21} {status}",
            t.id,
            t.name,
            format!("{}…", t.prefix),
            when(Some(t.created_at)),
            when(t.last_used_at),
            when(t.expires_at),
        );
    }
    Ok(())
}

pub(super) fn revoke(conn: &mut DbConnection, args: &TokensRevokeArgs) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let revoked = tokens::revoke(conn, &args.token).map_err(db_error)?;
    for id in revoked {
        println!("revoked token {id}");
    }
    Ok(())
}

pub(super) fn audit(conn: &mut DbConnection, args: &AuditArgs) -> Result<(), DbError> {
    crate::db::system::migrate(conn)?;
    let rows = crate::auth::store::recent_audit(conn, i64::from(args.tail))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<21} {:<22} {:<8} {:<16} {:<32} DETAIL",
        "WHEN", "ACTION", "USER", "IP", "SUBJECT"
    );
    for r in rows {
        println!(
            "{:<21} {:<22} {:<8} {:<16} {:<32} {}",
            when(Some(r.at)),
            r.action,
            r.user_id.map_or_else(|| "-".into(), |u| u.to_string()),
            r.ip.unwrap_or_else(|| "-".into()),
            r.subject.unwrap_or_else(|| "-".into()),
            r.detail.unwrap_or_default(),
        );
    }
    Ok(())
}
