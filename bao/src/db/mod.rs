//! The database: one connection type over SQLite and PostgreSQL, a pool, the
//! `Db` extractor, typed errors and SQL migrations.

mod connection;
mod error;
mod migrate;
mod pool;

pub use connection::{DatabaseUrl, DbConnection, Dialect};
pub use error::DbError;
pub use migrate::{new_migration_files, Migration, MigrationStatus, Migrator};
pub use pool::{ConnectionManager, Db, DbPool};
