//! `make:migration`, `migrate`, `migrate:rollback`, `migrate:status`.

use super::{fail, MakeMigrationArgs};
use crate::db::{
    diff, new_migration_files, read_snapshot, DbConnection, DbError, DbPool, Migrator, ModelInfo,
    Schema, SchemaChange, SNAPSHOT,
};
use crate::Config;
use heck::ToSnakeCase;
use std::path::Path;
use std::process::ExitCode;

/// Writes a migration for both dialects under `dir`: generated from the
/// difference between `models` and the last snapshot when the models are
/// known, empty otherwise.
pub(super) fn make(dir: &Path, args: &MakeMigrationArgs, models: Option<&[ModelInfo]>) -> ExitCode {
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
    let generated = match models.map(|m| plan(dir, m)).transpose() {
        Ok(g) => g,
        Err(e) => return fail(e),
    };
    let change = generated
        .as_ref()
        .map(|(change, _)| change)
        .filter(|c| !c.up.is_empty());
    let mut files = new_migration_files(&version, &slug, change);
    if let (Some(_), Some((_, schema))) = (change, &generated) {
        let snapshot = serde_json::to_string_pretty(schema).unwrap_or_default() + "\n";
        files.push((SNAPSHOT.into(), snapshot));
    }
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
    }
    match (change, models) {
        (Some(change), _) => {
            for line in &change.summary {
                println!("  - {line}");
            }
            println!("Generated from the models; review the SQL, then run `bao migrate`.");
        }
        (None, Some(_)) => println!("The models match the last snapshot: write the SQL for each dialect, then run `bao migrate`."),
        (None, None) => println!("Write the SQL for each dialect, then run `bao migrate`."),
    }
    ExitCode::SUCCESS
}

/// The change from the last snapshot to the models, and the models' schema.
fn plan(dir: &Path, models: &[ModelInfo]) -> Result<(SchemaChange, Schema), DbError> {
    let old = read_snapshot(dir)?;
    let new = Schema::from_models(models);
    Ok((diff(&old, &new), new))
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
