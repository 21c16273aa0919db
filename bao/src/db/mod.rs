//! The database: one connection type over SQLite and PostgreSQL, a pool, the
//! `Db` extractor, typed errors and SQL migrations.

mod connection;
mod dialect;
mod error;
pub mod factory;
pub mod lifecycle;
mod listen;
mod migrate;
mod model;
mod pool;
mod query;
mod schema;
mod storable;
pub mod system;

pub use connection::{DatabaseUrl, DbConnection, Dialect};
pub(crate) use dialect::{count_by_status, load_bound, numbered, on_dialect, Bind};
pub use error::DbError;
pub use factory::{Factory, Fake};
pub(crate) use listen::{listen, listen_with};
pub use migrate::{
    new_migration_files, read_snapshot, unmigrated_changes, Migration, MigrationStatus, Migrator,
    SNAPSHOT,
};
pub use model::Tenant;
pub use model::{
    ops, scoped_ops, table_clash_at, BelongsTo, ColumnInfo, ForeignKey, ForeignKeyType, Model,
    ModelInfo, ModelQueries, Rule, TenantScoped, Unscoped,
};
pub use pool::{ConnectionManager, Db, DbPool};
pub use query::QueryExt;
pub(crate) use schema::ident as sql_ident;
pub use schema::{create_table, diff, ColumnSchema, Schema, SchemaChange, Sql, TableSchema};
pub use storable::{now_utc, Storable, TextEnum, Timestamp};
