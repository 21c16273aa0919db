//! The database: one connection type over SQLite and PostgreSQL, a pool, the
//! `Db` extractor, typed errors and SQL migrations.

mod connection;
mod error;
mod migrate;
mod model;
mod pool;
mod query;

pub use connection::{DatabaseUrl, DbConnection, Dialect};
pub use error::DbError;
pub use migrate::{new_migration_files, Migration, MigrationStatus, Migrator};
pub use model::{check_table_clashes, ops, ColumnInfo, Model, ModelInfo, ModelQueries};
pub use pool::{ConnectionManager, Db, DbPool};
pub use query::QueryExt;
