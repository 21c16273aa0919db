//! SQL migrations: `migrations/<version>_<name>/{sqlite,postgres}/{up,down}.sql`,
//! applied in version order, each in its own transaction, recorded in
//! `bao_migrations` with the SHA-256 of the SQL that ran. A changed or missing
//! applied migration stops everything with an error naming the file.

use super::connection::{DbConnection, Dialect};
use super::error::DbError;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One migration folder.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The sortable prefix, e.g. `20261127135900`.
    pub version: String,
    /// The rest of the folder name, e.g. `create_posts`.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
}

impl Migration {
    fn sql_path(&self, dialect: Dialect, file: &str) -> PathBuf {
        self.dir.join(dialect.folder()).join(file)
    }

    fn read(&self, dialect: Dialect, file: &str) -> Result<String, DbError> {
        let path = self.sql_path(dialect, file);
        std::fs::read_to_string(&path).map_err(|e| {
            DbError::Migration(format!(
                "cannot read migration file {}: {e}",
                path.display()
            ))
        })
    }
}

/// A migration's state, as `bao migrate:status` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    /// The version.
    pub version: String,
    /// The name.
    pub name: String,
    /// `applied`, `pending`, `changed` (applied, but the file differs) or
    /// `missing` (applied, but the folder is gone).
    pub state: &'static str,
    /// SHA-256 of the dialect's `up.sql` (of the recorded one when missing).
    pub checksum: String,
    /// When it was applied (RFC 3339), if it was.
    pub applied_at: Option<String>,
}

#[derive(QueryableByName)]
struct AppliedRow {
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    checksum: String,
    #[diesel(sql_type = Text)]
    applied_at: String,
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS bao_migrations (\
    version VARCHAR(64) PRIMARY KEY NOT NULL, \
    name TEXT NOT NULL, \
    checksum VARCHAR(64) NOT NULL, \
    applied_at TEXT NOT NULL)";

/// The migrations of one folder, for one database.
pub struct Migrator {
    dir: PathBuf,
}

impl Migrator {
    /// Migrations under `dir` (usually the app's `migrations/`).
    pub fn new(dir: impl Into<PathBuf>) -> Migrator {
        Migrator { dir: dir.into() }
    }

    /// The folder this migrator reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every migration folder, in version order. A missing folder has none.
    pub fn discover(&self) -> Result<Vec<Migration>, DbError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(DbError::Migration(format!(
                    "cannot read {}: {e}",
                    self.dir.display()
                )))
            }
        };
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            let folder = entry.file_name().to_string_lossy().into_owned();
            let Some((version, name)) = folder.split_once('_') else {
                return Err(DbError::Migration(format!(
                    "migration folder {} is not named VERSION_NAME (e.g. 20261127120000_create_posts)",
                    path.display()
                )));
            };
            if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DbError::Migration(format!(
                    "migration folder {} does not start with a numeric version (e.g. 20261127120000_create_posts)",
                    path.display()
                )));
            }
            found.push(Migration {
                version: version.into(),
                name: name.into(),
                dir: path,
            });
        }
        found.sort_by(|a, b| a.version.cmp(&b.version));
        for pair in found.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(DbError::Migration(format!(
                    "two migrations share version {}: {} and {}",
                    pair[0].version,
                    pair[0].dir.display(),
                    pair[1].dir.display()
                )));
            }
        }
        Ok(found)
    }

    /// The state of every migration, applied or not.
    pub fn status(&self, conn: &mut DbConnection) -> Result<Vec<MigrationStatus>, DbError> {
        let dialect = conn.dialect();
        let migrations = self.discover()?;
        let applied = applied(conn)?;
        let mut out = Vec::new();
        for m in &migrations {
            let checksum = checksum(&m.read(dialect, "up.sql")?);
            let row = applied.iter().find(|r| r.version == m.version);
            let state = match row {
                Some(r) if r.checksum == checksum => "applied",
                Some(_) => "changed",
                None => "pending",
            };
            out.push(MigrationStatus {
                version: m.version.clone(),
                name: m.name.clone(),
                state,
                checksum,
                applied_at: row.map(|r| r.applied_at.clone()),
            });
        }
        for r in applied
            .iter()
            .filter(|r| !migrations.iter().any(|m| m.version == r.version))
        {
            out.push(MigrationStatus {
                version: r.version.clone(),
                name: r.name.clone(),
                state: "missing",
                checksum: r.checksum.clone(),
                applied_at: Some(r.applied_at.clone()),
            });
        }
        out.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(out)
    }

    /// Applies every pending migration in order; returns the versions applied.
    /// Stops before running anything if an applied migration changed or
    /// vanished; a failing migration is rolled back completely and stops the run.
    pub fn migrate(&self, conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
        let dialect = conn.dialect();
        let status = self.verified_status(conn)?;
        let migrations = self.discover()?;
        let mut done = super::system::migrate(conn)?;
        for m in migrations {
            if !status
                .iter()
                .any(|s| s.version == m.version && s.state == "pending")
            {
                continue;
            }
            let up = m.read(dialect, "up.sql")?;
            m.read(dialect, "down.sql")?;
            let sum = checksum(&up);
            let path = m.sql_path(dialect, "up.sql");
            run_sql(conn, &up, &path, |conn| record(conn, &m, &sum))?;
            tracing::info!(version = %m.version, name = %m.name, "migration applied");
            done.push(format!("{}_{}", m.version, m.name));
        }
        Ok(done)
    }

    /// Rolls back the last `steps` applied migrations with their `down.sql`,
    /// newest first; returns the versions rolled back.
    pub fn rollback(&self, conn: &mut DbConnection, steps: usize) -> Result<Vec<String>, DbError> {
        let dialect = conn.dialect();
        self.verified_status(conn)?;
        let migrations = self.discover()?;
        let mut applied = applied(conn)?;
        applied.sort_by(|a, b| b.version.cmp(&a.version));
        let mut done = Vec::new();
        for row in applied.into_iter().take(steps) {
            let Some(m) = migrations.iter().find(|m| m.version == row.version) else {
                return Err(DbError::Migration(format!(
                    "cannot roll back {}_{}: its folder is missing from {}",
                    row.version,
                    row.name,
                    self.dir.display()
                )));
            };
            let down = m.read(dialect, "down.sql")?;
            let path = m.sql_path(dialect, "down.sql");
            run_sql(conn, &down, &path, |conn| {
                let delete = format!(
                    "DELETE FROM bao_migrations WHERE version = {}",
                    quote(&m.version)
                );
                conn.batch_execute(&delete).map_err(DbError::from)
            })?;
            tracing::info!(version = %m.version, name = %m.name, "migration rolled back");
            done.push(format!("{}_{}", m.version, m.name));
        }
        Ok(done)
    }

    /// Every migration's state; fails if an applied migration's file changed
    /// or its folder is gone.
    fn verified_status(&self, conn: &mut DbConnection) -> Result<Vec<MigrationStatus>, DbError> {
        let dialect = conn.dialect();
        let status = self.status(conn)?;
        for s in &status {
            match s.state {
                "changed" => {
                    let path = self
                        .dir
                        .join(format!("{}_{}", s.version, s.name))
                        .join(dialect.folder())
                        .join("up.sql");
                    return Err(DbError::Migration(format!(
                        "{} was edited after it was applied (its checksum differs from the one recorded): \
                         restore it and put the change in a new migration (`bao make:migration`)",
                        path.display()
                    )));
                }
                "missing" => {
                    return Err(DbError::Migration(format!(
                        "migration {}_{} was applied but its folder is missing from {}: restore it",
                        s.version,
                        s.name,
                        self.dir.display()
                    )))
                }
                _ => {}
            }
        }
        Ok(status)
    }
}

/// Runs one migration file and its bookkeeping in one transaction (holding
/// the migration lock): all of it is applied, or none.
fn run_sql(
    conn: &mut DbConnection,
    sql: &str,
    path: &Path,
    bookkeeping: impl FnOnce(&mut DbConnection) -> Result<(), DbError>,
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(|conn| {
        lock(conn)?;
        // PostgreSQL rejects a batch with no statement; a migration of
        // comments only (a placeholder) is recorded without running anything.
        if !has_statements(sql) {
            return bookkeeping(conn);
        }
        conn.batch_execute(sql).map_err(|e| {
            DbError::Migration(format!(
                "{} failed, nothing of it was applied: {e}",
                path.display()
            ))
        })?;
        bookkeeping(conn)
    })
}

/// Whether `sql` holds anything besides whitespace and `--` comments.
fn has_statements(sql: &str) -> bool {
    sql.lines()
        .map(|line| line.split("--").next().unwrap_or_default().trim())
        .any(|code| !code.is_empty() && code != ";")
}

fn applied(conn: &mut DbConnection) -> Result<Vec<AppliedRow>, DbError> {
    conn.batch_execute(CREATE_TABLE)?;
    let query = "SELECT version, name, checksum, applied_at FROM bao_migrations ORDER BY version";
    let rows = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(query).load::<AppliedRow>(c),
        DbConnection::Postgres(c) => diesel::sql_query(query).load::<AppliedRow>(c),
    };
    Ok(rows?)
}

fn record(conn: &mut DbConnection, m: &Migration, checksum: &str) -> Result<(), DbError> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sql = format!(
        "INSERT INTO bao_migrations (version, name, checksum, applied_at) VALUES ({}, {}, {}, {})",
        quote(&m.version),
        quote(&m.name),
        quote(checksum),
        quote(&now)
    );
    conn.batch_execute(&sql)?;
    Ok(())
}

/// On PostgreSQL, one migrator at a time (other processes wait).
fn lock(conn: &mut DbConnection) -> Result<(), DbError> {
    if conn.dialect() == Dialect::Postgres {
        conn.batch_execute("SELECT pg_advisory_xact_lock(7283917)")?;
    }
    Ok(())
}

/// A SQL string literal. Only for values Bao controls (versions, folder names,
/// checksums, timestamps); quotes are doubled all the same.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The files of a new migration, `(relative path, contents)`: the SQL of
/// `change` (generated from the models) or, without one, empty files to fill.
pub fn new_migration_files(
    version: &str,
    slug: &str,
    change: Option<&super::SchemaChange>,
) -> Vec<(PathBuf, String)> {
    let folder = PathBuf::from(format!("{version}_{slug}"));
    let mut files = Vec::new();
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let d = dialect.folder();
        let (up, down) = match (change, dialect) {
            (Some(c), Dialect::Sqlite) => (c.up.sqlite.as_str(), c.down.sqlite.as_str()),
            (Some(c), Dialect::Postgres) => (c.up.postgres.as_str(), c.down.postgres.as_str()),
            (None, _) => ("", ""),
        };
        files.push((
            folder.join(d).join("up.sql"),
            format!("-- {slug}: {d} (applied by `bao migrate`)\n{up}"),
        ));
        files.push((
            folder.join(d).join("down.sql"),
            format!("-- undo {slug}: {d} (applied by `bao migrate:rollback`)\n{down}"),
        ));
    }
    files
}

/// The schema recorded with the last generated migration
/// (`migrations/schema.json`); empty when there is none.
pub fn read_snapshot(dir: &Path) -> Result<super::Schema, DbError> {
    let path = dir.join(SNAPSHOT);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            DbError::Migration(format!(
                "{} is not a Bao schema snapshot: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(super::Schema::default()),
        Err(e) => Err(DbError::Migration(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// What the models change against the schema recorded with the last
/// generated migration (`migrations/schema.json`), one line per change
/// ("add column posts.notes"): changes no migration makes yet. Empty when
/// they match, or when the folder has no snapshot (migrations written by
/// hand are not compared).
pub fn unmigrated_changes(models: &[super::ModelInfo], dir: &Path) -> Result<Vec<String>, DbError> {
    if !dir.join(SNAPSHOT).is_file() {
        return Ok(Vec::new());
    }
    let recorded = read_snapshot(dir)?;
    Ok(super::diff(&recorded, &super::Schema::from_models(models)).summary)
}

/// The snapshot file name, inside the migrations folder.
pub const SNAPSHOT: &str = "schema.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_only_sql_has_no_statements() {
        assert!(!has_statements(
            "-- create posts: postgres\n\n  -- nothing yet\n"
        ));
        assert!(has_statements("-- x\nCREATE TABLE t (id INTEGER);"));
        assert!(has_statements("SELECT 1; -- trailing"));
    }
}
