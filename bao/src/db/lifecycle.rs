//! Creating and dropping the database a URL names (`bao db:create`,
//! `db:drop`, `db:reset`).
//!
//! PostgreSQL: through the server's `postgres` database, as the URL's user.
//! SQLite: the file (with its folder) and its `-wal`/`-shm` companions.

use super::connection::DatabaseUrl;
use super::error::DbError;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};

/// What [`create`] or [`drop`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It was created or dropped.
    Done,
    /// There was nothing to do: it already existed, or did not exist.
    Already,
}

/// The database's name, and the URL of the same server's `postgres`
/// database.
fn postgres_parts(url: &str) -> Result<(String, String), DbError> {
    let invalid = |why: &str| DbError::Invalid(format!("the PostgreSQL URL {why}"));
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").ok_or_else(|| invalid("has no `://`"))? + 3;
    let slash = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .ok_or_else(|| invalid("names no database: end it with /DBNAME"))?;
    let name = percent_decode(&base[slash + 1..]);
    if name.is_empty() {
        return Err(invalid("names no database: end it with /DBNAME"));
    }
    let mut admin = format!("{}/postgres", &base[..slash]);
    if let Some(q) = query {
        admin.push('?');
        admin.push_str(q);
    }
    Ok((name, admin))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn admin_connection(admin_url: &str) -> Result<PgConnection, DbError> {
    PgConnection::establish(admin_url).map_err(|e| {
        DbError::Unavailable(format!(
            "cannot reach the PostgreSQL server's `postgres` database ({}): is the server running, and may this user connect?",
            e.to_string().trim_end()
        ))
    })
}

#[derive(diesel::QueryableByName)]
struct Found {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    one: i32,
}

fn postgres_exists(admin: &mut PgConnection, name: &str) -> Result<bool, DbError> {
    let rows: Vec<Found> = diesel::sql_query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .load(admin)?;
    Ok(!rows.is_empty())
}

/// Creates the database `url` names, unless it exists.
pub fn create(url: &str) -> Result<Outcome, DbError> {
    match DatabaseUrl::parse(url).map_err(DbError::Invalid)? {
        DatabaseUrl::Postgres(url) => {
            let (name, admin_url) = postgres_parts(&url)?;
            let mut admin = admin_connection(&admin_url)?;
            if postgres_exists(&mut admin, &name)? {
                return Ok(Outcome::Already);
            }
            admin.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))?;
            Ok(Outcome::Done)
        }
        DatabaseUrl::Sqlite(path) => {
            if path == ":memory:" || std::path::Path::new(&path).exists() {
                return Ok(Outcome::Already);
            }
            if let Some(parent) = std::path::Path::new(&path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        DbError::Invalid(format!(
                            "cannot create the folder {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
            }
            super::connection::DbConnection::open(&DatabaseUrl::Sqlite(path))
                .map_err(|e| DbError::Unavailable(e.to_string()))?;
            Ok(Outcome::Done)
        }
    }
}

/// Drops the database `url` names, if it exists. PostgreSQL refuses while
/// other sessions use it, unless `force` ends them.
pub fn drop(url: &str, force: bool) -> Result<Outcome, DbError> {
    match DatabaseUrl::parse(url).map_err(DbError::Invalid)? {
        DatabaseUrl::Postgres(url) => {
            let (name, admin_url) = postgres_parts(&url)?;
            if name == "postgres" {
                return Err(DbError::Invalid(
                    "the URL names the server's `postgres` database: Bao does not drop it".into(),
                ));
            }
            let mut admin = admin_connection(&admin_url)?;
            if !postgres_exists(&mut admin, &name)? {
                return Ok(Outcome::Already);
            }
            let sql = if force {
                format!("DROP DATABASE {} WITH (FORCE)", quote_ident(&name))
            } else {
                format!("DROP DATABASE {}", quote_ident(&name))
            };
            admin.batch_execute(&sql).map_err(|e| {
                let text = e.to_string();
                if text.contains("being accessed by other users") {
                    DbError::Invalid(format!(
                        "{text}: stop the app's servers and workers first, or pass --force to end their sessions"
                    ))
                } else {
                    DbError::from(e)
                }
            })?;
            Ok(Outcome::Done)
        }
        DatabaseUrl::Sqlite(path) => {
            if path == ":memory:" || !std::path::Path::new(&path).exists() {
                return Ok(Outcome::Already);
            }
            for suffix in ["", "-wal", "-shm"] {
                let file = format!("{path}{suffix}");
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(DbError::Invalid(format!("cannot delete {file}: {e}")));
                    }
                }
            }
            Ok(Outcome::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_split_into_name_and_server() {
        assert_eq!(
            postgres_parts("postgres://u:p@h:5433/shop_dev?sslmode=disable").unwrap(),
            (
                "shop_dev".to_string(),
                "postgres://u:p@h:5433/postgres?sslmode=disable".to_string()
            )
        );
        assert_eq!(postgres_parts("postgres://h/my%20db").unwrap().0, "my db");
        assert!(postgres_parts("postgres://h").is_err());
        assert!(postgres_parts("postgres://h/").is_err());
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn sqlite_files_are_created_and_dropped_with_their_companions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/app.db");
        let url = format!("sqlite://{}", path.display());
        assert_eq!(create(&url).unwrap(), Outcome::Done);
        assert!(path.is_file());
        assert_eq!(create(&url).unwrap(), Outcome::Already);
        std::fs::write(format!("{}-wal", path.display()), "").unwrap();
        assert_eq!(drop(&url, false).unwrap(), Outcome::Done);
        assert!(!path.exists());
        assert!(!std::path::Path::new(&format!("{}-wal", path.display())).exists());
        assert_eq!(drop(&url, false).unwrap(), Outcome::Already);
    }
}
