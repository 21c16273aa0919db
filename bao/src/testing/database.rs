//! Throwaway databases for tests: a SQLite file in a temporary folder, or a
//! fresh PostgreSQL database on the local server, dropped afterwards.

use crate::db::Dialect;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::path::PathBuf;

/// Where the PostgreSQL test databases are created, unless
/// `BAO_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    dialect: Dialect,
    cleanup: Cleanup,
}

enum Cleanup {
    Folder(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// A new SQLite database file in its own temporary folder.
    ///
    /// # Panics
    /// If the temporary folder cannot be created.
    pub fn sqlite() -> TestDatabase {
        let folder =
            std::env::temp_dir().join(format!("bao-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&folder).expect("create a temporary folder for the test database");
        let url = format!("sqlite://{}", folder.join("test.db").display());
        TestDatabase {
            url,
            dialect: Dialect::Sqlite,
            cleanup: Cleanup::Folder(folder),
        }
    }

    /// A new database on the local PostgreSQL server (`BAO_TEST_POSTGRES_URL`,
    /// default [`DEFAULT_POSTGRES_ADMIN_URL`]).
    ///
    /// When the server cannot be reached this returns `None` after printing a
    /// warning, except under CI (`CI` set), where it panics: a PostgreSQL test
    /// must not pass by skipping there.
    pub fn postgres() -> Option<TestDatabase> {
        let admin_url = without_tls(
            std::env::var("BAO_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| DEFAULT_POSTGRES_ADMIN_URL.to_string()),
        );
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(conn) => conn,
            Err(e) => {
                let message = format!(
                    "PostgreSQL at {} is unreachable ({e}); start it or set BAO_TEST_POSTGRES_URL",
                    crate::support::units::redact_url(&admin_url)
                );
                if std::env::var_os("CI").is_some() {
                    panic!("{message}");
                }
                eprintln!("\n!!! SKIPPING the PostgreSQL half of this test: {message}\n");
                return None;
            }
        };
        let name = format!("bao_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let (base, query) = admin_url
            .split_once('?')
            .map_or((admin_url.as_str(), ""), |(b, q)| (b, q));
        let url = match base.rsplit_once('/') {
            Some((server, _)) if query.is_empty() => format!("{server}/{name}"),
            Some((server, _)) => format!("{server}/{name}?{query}"),
            None => panic!("BAO_TEST_POSTGRES_URL must end with /DATABASE"),
        };
        Some(TestDatabase {
            url,
            dialect: Dialect::Postgres,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// A SQLite database, and a PostgreSQL one when the server is reachable:
    /// run the same test on each.
    pub fn each() -> Vec<TestDatabase> {
        let mut all = vec![TestDatabase::sqlite()];
        all.extend(TestDatabase::postgres());
        all
    }

    /// The URL to put in `BAO_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Folder(folder) => {
                let _ = std::fs::remove_dir_all(folder);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// The test server is local: connect without TLS unless the URL asks for it.
/// (libpq's TLS handshakes in the pool's background threads would otherwise
/// race OpenSSL's clean-up when a test process exits, and crash it.)
fn without_tls(url: String) -> String {
    if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    }
}
