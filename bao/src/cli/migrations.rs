//! `make:migration`, `migrate`, `migrate:rollback`, `migrate:status`.

use super::{fail, MakeMigrationArgs};
use crate::db::{new_migration_files, DbConnection, DbError, DbPool, Migrator};
use crate::Config;
use heck::ToSnakeCase;
use std::path::Path;
use std::process::ExitCode;

/// Writes an empty migration for both dialects under `dir`.
pub(super) fn make(dir: &Path, args: &MakeMigrationArgs) -> ExitCode {
    let slug = args.name.to_snake_case();
    if slug.is_empty() || !slug.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return fail(format!(
            "`{}` cannot name a migration: use letters, digits and spaces, like \"create posts\"",
            args.name
        ));
    }
    let mut now = chrono::Utc::now();
    // Versions must be unique: two migrations made in one second get the next one.
    let version = loop {
        let version = now.format("%Y%m%d%H%M%S").to_string();
        let taken = std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{version}_"))
            })
        });
        if !taken {
            break version;
        }
        now += chrono::Duration::seconds(1);
    };
    let files = new_migration_files(&version, &slug);
    for (path, contents) in &files {
        let path = dir.join(path);
        if args.dry_run {
            println!("--- {}\n{contents}", path.display());
            continue;
        }
        if let Some(parent) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return fail(format!("cannot create {}: {e}", parent.display()));
            }
        }
        if let Err(e) = std::fs::write(&path, contents) {
            return fail(format!("cannot write {}: {e}", path.display()));
        }
    }
    if !args.dry_run {
        println!("Created {}/{version}_{slug}/", dir.display());
        for (path, _) in &files {
            println!("  {}", dir.join(path).display());
        }
        println!("Write the SQL for each dialect, then run `bao migrate`.");
    }
    ExitCode::SUCCESS
}

pub(super) fn migrate(config: &Config, conn: &mut DbConnection) -> Result<(), DbError> {
    let applied = Migrator::new(&config.migrations_dir).migrate(conn)?;
    if applied.is_empty() {
        println!("Nothing to migrate: the database is up to date.");
    }
    for name in applied {
        println!("Applied {name}");
    }
    Ok(())
}

pub(super) fn rollback(
    config: &Config,
    conn: &mut DbConnection,
    steps: usize,
) -> Result<(), DbError> {
    let done = Migrator::new(&config.migrations_dir).rollback(conn, steps)?;
    if done.is_empty() {
        println!("Nothing to roll back: no migration is applied.");
    }
    for name in done {
        println!("Rolled back {name}");
    }
    Ok(())
}

pub(super) fn status(config: &Config, conn: &mut DbConnection, json: bool) -> Result<(), DbError> {
    let rows = Migrator::new(&config.migrations_dir).status(conn)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("No migrations in {}.", config.migrations_dir.display());
    }
    for row in rows {
        println!(
            "{:<8} {}_{}  sha256:{}  {}",
            row.state,
            row.version,
            row.name,
            &row.checksum[..12.min(row.checksum.len())],
            row.applied_at.unwrap_or_default()
        );
    }
    Ok(())
}

/// `serve` in development: apply what is pending before listening.
pub(super) fn auto_migrate(config: &Config) -> Result<(), DbError> {
    let migrator = Migrator::new(&config.migrations_dir);
    if migrator.discover()?.is_empty() {
        return Ok(());
    }
    let pool = DbPool::new(&config.database_url)?;
    let mut conn = pool.get()?;
    for name in migrator.migrate(&mut conn)? {
        tracing::info!(migration = %name, "applied at start-up (BAO_AUTO_MIGRATE)");
    }
    Ok(())
}
