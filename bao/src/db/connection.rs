//! One connection type over SQLite and PostgreSQL, chosen by the URL.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

/// A database connection: SQLite or PostgreSQL behind one type, so queries
/// written once run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL.
    Postgres(PgConnection),
    /// SQLite (bundled).
    Sqlite(SqliteConnection),
}

/// The SQL dialect of a database URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// The folder name of this dialect's SQL in a migration.
    pub fn folder(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// A database URL understood by Bao.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (or `:memory:`).
    Sqlite(String),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH`, `sqlite:PATH`, `postgres://...` or `postgresql://...`.
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                format!(
                    "unsupported database URL `{}`: use sqlite://PATH or postgres://USER@HOST/DB",
                    crate::support::units::redact_url(url)
                )
            })?;
        if path.is_empty() {
            return Err("the SQLite URL has no path: use sqlite://app.db".into());
        }
        if url.starts_with("sqlite:/") && !url.starts_with("sqlite://") {
            return Err(format!(
                "`{url}` has one slash after `sqlite:`: write sqlite://{0} for `{0}` beside the app, or sqlite://{1} for the absolute path `{1}`",
                path.trim_start_matches('/'),
                path
            ));
        }
        Ok(DatabaseUrl::Sqlite(path.to_string()))
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            DatabaseUrl::Sqlite(_) => Dialect::Sqlite,
            DatabaseUrl::Postgres(_) => Dialect::Postgres,
        }
    }
}

/// Makes sqlite-vec's SQL functions (`vec_distance_cosine`, ...) part of
/// every SQLite connection this process opens from now on.
fn load_sqlite_vec() {
    static LOADED: std::sync::Once = std::sync::Once::new();
    LOADED.call_once(|| {
        // SAFETY: `sqlite3_vec_init` is sqlite-vec's extension entry point,
        // compiled with SQLITE_CORE against the SQLite linked here; SQLite
        // calls it with the (db, error, api) arguments of an entry point
        // for each new connection, which is the signature transmuted to.
        let code = unsafe {
            libsqlite3_sys::sqlite3_auto_extension(Some(std::mem::transmute::<
                *const (),
                unsafe extern "C" fn(
                    *mut libsqlite3_sys::sqlite3,
                    *mut *mut std::ffi::c_char,
                    *const libsqlite3_sys::sqlite3_api_routines,
                ) -> std::ffi::c_int,
            >(
                sqlite_vec::sqlite3_vec_init as *const (),
            )))
        };
        if code != libsqlite3_sys::SQLITE_OK {
            tracing::warn!(code, "sqlite-vec could not be registered with SQLite");
        }
    });
}

impl DbConnection {
    /// Opens a connection. SQLite connections get foreign keys on, a 5 s busy
    /// timeout and the WAL journal.
    pub fn open(url: &DatabaseUrl) -> diesel::ConnectionResult<DbConnection> {
        match url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(|e| match e {
                    diesel::ConnectionError::BadConnection(m)
                        if m.contains("database") && m.contains("does not exist") =>
                    {
                        diesel::ConnectionError::BadConnection(format!(
                            "{}: create it with `bao db:create`",
                            m.trim_end()
                        ))
                    }
                    other => other,
                }),
            DatabaseUrl::Sqlite(path) => {
                load_sqlite_vec();
                let mut conn = SqliteConnection::establish(path).map_err(|e| match e {
                    diesel::ConnectionError::BadConnection(m) => {
                        diesel::ConnectionError::BadConnection(format!(
                            "cannot open the SQLite database `{path}` ({}): does its folder exist, and may this user write there?",
                            m.trim_end()
                        ))
                    }
                    other => other,
                })?;
                let journal = if path == ":memory:" { "MEMORY" } else { "WAL" };
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = {journal}; PRAGMA synchronous = NORMAL;"
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// The dialect of this connection.
    pub fn dialect(&self) -> Dialect {
        match self {
            DbConnection::Sqlite(_) => Dialect::Sqlite,
            DbConnection::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` in a transaction that will write. On SQLite it begins
    /// `IMMEDIATE`, taking the write lock first (waiting up to the busy
    /// timeout), so a transaction that reads before it writes cannot fail
    /// with "database is locked" when another connection wrote in between;
    /// on PostgreSQL, and when already inside a transaction, it is
    /// [`Connection::transaction`].
    pub fn write_transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        let DbConnection::Sqlite(inner) = self else {
            return self.transaction(f);
        };
        let depth =
            AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth()?;
        if depth.is_some() {
            return self.transaction(f);
        }
        AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
        type Manager = <DbConnection as Connection>::TransactionManager;
        match f(self) {
            Ok(value) => match Manager::commit_transaction(self) {
                Ok(()) => Ok(value),
                Err(error) => {
                    let _ = Manager::rollback_transaction(self);
                    Err(error.into())
                }
            },
            Err(error) => {
                let _ = Manager::rollback_transaction(self);
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://bao.db"),
            Ok(DatabaseUrl::Sqlite("bao.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:data.db"),
            Ok(DatabaseUrl::Sqlite("data.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().dialect(),
            Dialect::Postgres
        );
        let one_slash = DatabaseUrl::parse("sqlite:/bao.db").unwrap_err();
        assert!(
            one_slash.contains("sqlite://bao.db") && one_slash.contains("sqlite:///bao.db"),
            "{one_slash}"
        );
        let err = DatabaseUrl::parse("mysql://u:secret@h/db").unwrap_err();
        assert!(
            err.contains("unsupported") && !err.contains("secret"),
            "{err}"
        );
    }
}
