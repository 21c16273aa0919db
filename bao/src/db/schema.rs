//! The schema the models describe, the snapshot recorded with the last
//! generated migration, and the SQL that turns one into the other for each
//! dialect: create or drop a table, add or drop a column, change a column's
//! type or nullability (SQLite rebuilds the table, PostgreSQL alters it).

use super::{Dialect, ModelInfo};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A table as migrations know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// The model's name.
    pub model: String,
    /// Columns in field order.
    pub columns: Vec<ColumnSchema>,
}

/// A column as migrations know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Diesel SQL type (`Text`, `BigInt`, ...).
    pub sql_type: String,
    /// SQLite DDL type.
    pub sqlite: String,
    /// PostgreSQL DDL type.
    pub postgres: String,
    /// Accepts NULL.
    pub nullable: bool,
    /// The primary key.
    pub primary_key: bool,
    /// `(table, column, on_delete)` this column points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<(String, String, String)>,
    /// A unique index covers it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// A plain index covers it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub indexed: bool,
    /// The only values allowed (a CHECK constraint), for text enums.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check: Vec<String>,
    /// The SQL default (`#[default(..)]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Every table, by name: what `migrations/schema.json` records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// Tables by name.
    pub tables: BTreeMap<String, TableSchema>,
}

impl Schema {
    /// The schema the app's models describe.
    pub fn from_models(models: &[ModelInfo]) -> Schema {
        let tables = models
            .iter()
            .map(|m| {
                let columns = m
                    .columns
                    .iter()
                    .map(|c| ColumnSchema {
                        name: c.name.into(),
                        sql_type: c.sql_type.into(),
                        sqlite: c.sqlite.into(),
                        postgres: c.postgres.into(),
                        nullable: c.nullable,
                        primary_key: c.primary_key,
                        references: c
                            .references
                            .map(|r| (r.table.into(), r.column.into(), r.on_delete.into())),
                        unique: c.unique,
                        indexed: c.indexed,
                        check: c.check.iter().map(|v| v.to_string()).collect(),
                        default: c.default.map(str::to_string),
                    })
                    .collect();
                (
                    m.table.to_string(),
                    TableSchema {
                        model: m.name.into(),
                        columns,
                    },
                )
            })
            .collect();
        Schema { tables }
    }
}

/// SQL for one direction, per dialect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sql {
    /// SQLite statements.
    pub sqlite: String,
    /// PostgreSQL statements.
    pub postgres: String,
}

impl Sql {
    fn push(&mut self, dialect: Dialect, statement: &str) {
        let target = match dialect {
            Dialect::Sqlite => &mut self.sqlite,
            Dialect::Postgres => &mut self.postgres,
        };
        target.push_str(statement);
        if !statement.ends_with('\n') {
            target.push('\n');
        }
    }

    /// Whether nothing is to be done.
    pub fn is_empty(&self) -> bool {
        self.sqlite.is_empty() && self.postgres.is_empty()
    }
}

/// A generated migration: `up` goes from the old schema to the new one,
/// `down` back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaChange {
    /// Forward.
    pub up: Sql,
    /// Backward.
    pub down: Sql,
    /// One line per change, for the user.
    pub summary: Vec<String>,
}

const DIALECTS: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

/// Table names with every referenced table before the tables pointing at it
/// (the order to create them in; drop in reverse).
fn dependency_order(schema: &Schema) -> Vec<&String> {
    let mut ordered: Vec<&String> = Vec::new();
    let mut remaining: Vec<&String> = schema.tables.keys().collect();
    while !remaining.is_empty() {
        let before = remaining.len();
        remaining.retain(|name| {
            let ready = schema.tables[*name]
                .columns
                .iter()
                .all(|c| match &c.references {
                    Some((target, _, _)) => {
                        target == *name
                            || !schema.tables.contains_key(target)
                            || ordered.contains(&target)
                    }
                    None => true,
                });
            if ready {
                ordered.push(name);
            }
            !ready
        });
        if remaining.len() == before {
            // A cycle: keep the rest in name order.
            ordered.append(&mut remaining);
        }
    }
    ordered
}

/// The SQL that turns `old` into `new` (and back). Each change is a step;
/// `down` undoes the steps in reverse order, so tables pointing at others are
/// dropped before them.
pub fn diff(old: &Schema, new: &Schema) -> SchemaChange {
    let mut steps: Vec<SchemaChange> = Vec::new();
    for name in dependency_order(new) {
        let table = &new.tables[name];
        match old.tables.get(name) {
            None => {
                let mut step = SchemaChange::default();
                for d in DIALECTS {
                    step.up.push(d, &create_table(name, &table.columns, d));
                    step.down.push(d, &format!("DROP TABLE {};", ident(name)));
                }
                step.summary
                    .push(format!("create table {name} ({})", table.model));
                steps.push(step);
            }
            Some(before) if before.columns != table.columns => {
                let mut step = SchemaChange::default();
                alter_table(name, before, table, &mut step);
                steps.push(step);
            }
            Some(_) => {}
        }
    }
    let removed: Vec<&String> = dependency_order(old)
        .into_iter()
        .filter(|name| !new.tables.contains_key(*name))
        .collect();
    for name in removed.iter().rev() {
        let mut step = SchemaChange::default();
        for d in DIALECTS {
            step.up.push(d, &format!("DROP TABLE {};", ident(name)));
            step.down
                .push(d, &create_table(name, &old.tables[*name].columns, d));
        }
        step.summary.push(format!("drop table {name}"));
        steps.push(step);
    }
    let mut change = SchemaChange::default();
    for step in &steps {
        change.up.sqlite.push_str(&step.up.sqlite);
        change.up.postgres.push_str(&step.up.postgres);
        change.summary.extend(step.summary.iter().cloned());
    }
    for step in steps.iter().rev() {
        change.down.sqlite.push_str(&step.down.sqlite);
        change.down.postgres.push_str(&step.down.postgres);
    }
    change
}

fn alter_table(name: &str, before: &TableSchema, after: &TableSchema, change: &mut SchemaChange) {
    let find = |cols: &[ColumnSchema], n: &str| cols.iter().position(|c| c.name == n);
    let added: Vec<&ColumnSchema> = after
        .columns
        .iter()
        .filter(|c| find(&before.columns, &c.name).is_none())
        .collect();
    let dropped: Vec<&ColumnSchema> = before
        .columns
        .iter()
        .filter(|c| find(&after.columns, &c.name).is_none())
        .collect();
    let changed: Vec<(&ColumnSchema, &ColumnSchema)> = after
        .columns
        .iter()
        .filter_map(|c| find(&before.columns, &c.name).map(|i| (&before.columns[i], c)))
        .filter(|(b, a)| b != a)
        .collect();
    let before_indexes = indexes(name, &before.columns);
    let after_indexes = indexes(name, &after.columns);
    let gone: Vec<&(String, String)> = before_indexes
        .iter()
        .filter(|i| !after_indexes.contains(i))
        .collect();
    let new: Vec<&(String, String)> = after_indexes
        .iter()
        .filter(|i| !before_indexes.contains(i))
        .collect();

    let table = ident(name);
    // Each step is (dialect, up, down); down runs the steps in reverse.
    let mut steps: Vec<(Dialect, String, String)> = Vec::new();
    // Indexes that go away first (SQLite cannot drop an indexed column).
    for d in DIALECTS {
        for (index, create) in &gone {
            steps.push((d, format!("DROP INDEX {};", ident(index)), create.clone()));
        }
    }
    // Columns added and dropped in place, then the new indexes: all of it
    // for PostgreSQL, and for SQLite unless it has to rebuild the table.
    let add_and_drop = |d: Dialect, steps: &mut Vec<(Dialect, String, String)>| {
        for c in &added {
            steps.push((
                d,
                format!("ALTER TABLE {table} ADD COLUMN {};", column_ddl(c, d, true)),
                format!("ALTER TABLE {table} DROP COLUMN {};", ident(&c.name)),
            ));
        }
        for c in &dropped {
            steps.push((
                d,
                format!("ALTER TABLE {table} DROP COLUMN {};", ident(&c.name)),
                format!("ALTER TABLE {table} ADD COLUMN {};", column_ddl(c, d, true)),
            ));
        }
    };
    let create_new = |d: Dialect, steps: &mut Vec<(Dialect, String, String)>| {
        for (index, create) in &new {
            steps.push((d, create.clone(), format!("DROP INDEX {};", ident(index))));
        }
    };
    // PostgreSQL alters in place.
    let pg = Dialect::Postgres;
    add_and_drop(pg, &mut steps);
    for (b, a) in &changed {
        steps.push((pg, alter_column_pg(name, b, a), alter_column_pg(name, a, b)));
    }
    create_new(pg, &mut steps);
    // SQLite cannot change a column's type or nullability: it rebuilds the
    // table for that.
    let sq = Dialect::Sqlite;
    if changed.is_empty() {
        add_and_drop(sq, &mut steps);
        create_new(sq, &mut steps);
    } else {
        // A rebuild drops the table's indexes with it: create them all again.
        let with_indexes = |mut sql: String, list: Vec<&(String, String)>| {
            for (_, create) in list {
                sql.push('\n');
                sql.push_str(create);
            }
            sql
        };
        let kept_before: Vec<&(String, String)> = before_indexes
            .iter()
            .filter(|i| !gone.contains(i))
            .collect();
        steps.push((
            sq,
            with_indexes(
                rebuild_sqlite(name, &before.columns, &after.columns),
                after_indexes.iter().collect(),
            ),
            with_indexes(
                rebuild_sqlite(name, &after.columns, &before.columns),
                kept_before,
            ),
        ));
    }
    for (dialect, up, _) in &steps {
        change.up.push(*dialect, up);
    }
    for (dialect, _, down) in steps.iter().rev() {
        change.down.push(*dialect, down);
    }
    for c in &added {
        change.summary.push(format!("add column {name}.{}", c.name));
    }
    for c in &dropped {
        change
            .summary
            .push(format!("drop column {name}.{}", c.name));
    }
    for (_, a) in &changed {
        change
            .summary
            .push(format!("change column {name}.{}", a.name));
    }
}

/// Words SQLite or PostgreSQL will not take as a bare table or column name
/// (sorted, for the binary search).
const RESERVED: &[&str] = &[
    "abort",
    "action",
    "add",
    "all",
    "alter",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "attach",
    "authorization",
    "autoincrement",
    "before",
    "begin",
    "between",
    "binary",
    "both",
    "by",
    "cascade",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "commit",
    "concurrently",
    "conflict",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "database",
    "default",
    "deferrable",
    "deferred",
    "delete",
    "desc",
    "detach",
    "distinct",
    "do",
    "drop",
    "each",
    "else",
    "end",
    "escape",
    "except",
    "exclusive",
    "exists",
    "explain",
    "fail",
    "false",
    "fetch",
    "filter",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "glob",
    "grant",
    "group",
    "having",
    "if",
    "ignore",
    "ilike",
    "immediate",
    "in",
    "index",
    "indexed",
    "initially",
    "inner",
    "insert",
    "instead",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "key",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "match",
    "natural",
    "no",
    "not",
    "nothing",
    "notnull",
    "null",
    "of",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "over",
    "overlaps",
    "placing",
    "plan",
    "pragma",
    "primary",
    "query",
    "raise",
    "recursive",
    "references",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "returning",
    "right",
    "rollback",
    "row",
    "savepoint",
    "select",
    "session_user",
    "set",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "temp",
    "temporary",
    "then",
    "to",
    "trailing",
    "transaction",
    "trigger",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "vacuum",
    "values",
    "variadic",
    "verbose",
    "view",
    "virtual",
    "when",
    "where",
    "window",
    "with",
    "without",
];

/// `name` as it goes into SQL: in double quotes (which both databases read
/// the same way) when it is a reserved word or not a plain lower-case
/// identifier, bare otherwise so migrations read naturally.
pub(crate) fn ident(name: &str) -> Cow<'_, str> {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && RESERVED.binary_search(&name).is_err() {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("\"{}\"", name.replace('"', "\"\"")))
    }
}

/// `CREATE TABLE` in `dialect`.
pub fn create_table(name: &str, columns: &[ColumnSchema], dialect: Dialect) -> String {
    let defs: Vec<String> = columns
        .iter()
        .map(|c| column_ddl(c, dialect, false))
        .collect();
    let mut sql = format!(
        "CREATE TABLE {} (\n    {}\n);",
        ident(name),
        defs.join(",\n    ")
    );
    for (_, create) in indexes(name, columns) {
        sql.push('\n');
        sql.push_str(&create);
    }
    sql
}

/// `(index name, CREATE INDEX statement)` for each indexed column.
fn indexes(table: &str, columns: &[ColumnSchema]) -> Vec<(String, String)> {
    columns
        .iter()
        .filter(|c| !c.primary_key)
        .filter_map(|c| {
            if c.unique {
                let index = format!("{table}_{}_key", c.name);
                let sql = format!(
                    "CREATE UNIQUE INDEX {} ON {} ({});",
                    ident(&index),
                    ident(table),
                    ident(&c.name)
                );
                Some((index, sql))
            } else if c.indexed {
                let index = format!("{table}_{}_idx", c.name);
                let sql = format!(
                    "CREATE INDEX {} ON {} ({});",
                    ident(&index),
                    ident(table),
                    ident(&c.name)
                );
                Some((index, sql))
            } else {
                None
            }
        })
        .collect()
}

/// One column's definition. Added to a table that may have rows, a NOT NULL
/// column gets a default of its type's zero value.
fn column_ddl(c: &ColumnSchema, dialect: Dialect, adding: bool) -> String {
    let ty = match dialect {
        Dialect::Sqlite => &c.sqlite,
        Dialect::Postgres => &c.postgres,
    };
    let check = check_clause(c);
    let declared = c
        .default
        .as_ref()
        .map(|d| format!(" DEFAULT {d}"))
        .unwrap_or_default();
    let reference = match &c.references {
        Some((table, column, on_delete)) => {
            format!(
                " REFERENCES {}({}) ON DELETE {on_delete}",
                ident(table),
                ident(column)
            )
        }
        None => String::new(),
    };
    let name = ident(&c.name);
    match (c.primary_key, dialect) {
        (true, Dialect::Sqlite) => format!("{name} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"),
        (true, Dialect::Postgres) if c.sql_type == "Integer" => {
            format!("{name} SERIAL PRIMARY KEY")
        }
        (true, Dialect::Postgres) => format!("{name} BIGSERIAL PRIMARY KEY"),
        (false, _) if c.nullable => format!("{name} {ty}{declared}{reference}{check}"),
        (false, _) if !declared.is_empty() => {
            format!("{name} {ty} NOT NULL{declared}{reference}{check}")
        }
        // A foreign key cannot default to 0 (no row has that key): adding one
        // to a table with rows needs a nullable field or a hand-written step.
        (false, _) if adding && c.references.is_none() => {
            format!("{name} {ty} NOT NULL DEFAULT {}", zero_value(c, dialect))
        }
        (false, _) => format!("{name} {ty} NOT NULL{reference}{check}"),
    }
}

/// ` CHECK (col IN ('a', 'b'))` for a text enum, else nothing.
fn check_clause(c: &ColumnSchema) -> String {
    if c.check.is_empty() {
        return String::new();
    }
    let values: Vec<String> = c
        .check
        .iter()
        .map(|v| format!("'{}'", v.replace('\'', "''")))
        .collect();
    format!(" CHECK ({} IN ({}))", ident(&c.name), values.join(", "))
}

fn zero_value(c: &ColumnSchema, dialect: Dialect) -> String {
    if let Some(first) = c.check.first() {
        return format!("'{}'", first.replace('\'', "''"));
    }
    let zero = match (c.sql_type.as_str(), dialect) {
        ("Text", _) => "''",
        ("Bool", Dialect::Postgres) => "FALSE",
        ("Timestamp", _) => "'1970-01-01 00:00:00'",
        ("Date", _) => "'1970-01-01'",
        ("Time", _) => "'00:00:00'",
        _ => "0",
    };
    zero.to_string()
}

fn alter_column_pg(name: &str, from: &ColumnSchema, to: &ColumnSchema) -> String {
    let table = ident(name);
    let column = ident(&to.name);
    let mut out = String::new();
    if from.postgres != to.postgres {
        out.push_str(&format!(
            "ALTER TABLE {table} ALTER COLUMN {column} TYPE {} USING {column}::{};\n",
            to.postgres, to.postgres
        ));
    }
    if from.nullable != to.nullable {
        let action = if to.nullable {
            "DROP NOT NULL"
        } else {
            "SET NOT NULL"
        };
        out.push_str(&format!(
            "ALTER TABLE {table} ALTER COLUMN {column} {action};\n"
        ));
    }
    if from.check != to.check {
        // PostgreSQL names a column's CHECK constraint `<table>_<column>_check`.
        if !from.check.is_empty() {
            out.push_str(&format!(
                "ALTER TABLE {table} DROP CONSTRAINT {};\n",
                ident(&format!("{name}_{}_check", to.name))
            ));
        }
        if !to.check.is_empty() {
            out.push_str(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {}{};\n",
                ident(&format!("{name}_{}_check", to.name)),
                check_clause(to)
            ));
        }
    }
    out
}

fn rebuild_sqlite(name: &str, from: &[ColumnSchema], to: &[ColumnSchema]) -> String {
    let kept: Vec<&str> = to
        .iter()
        .filter(|c| from.iter().any(|f| f.name == c.name))
        .map(|c| c.name.as_str())
        .collect();
    let temp = ident(&format!("__bao_new_{name}")).into_owned();
    let quoted: Vec<Cow<'_, str>> = kept.iter().map(|c| ident(c)).collect();
    let name = ident(name);
    // Columns the old table lacks are filled with their defaults.
    let columns: Vec<String> = to
        .iter()
        .map(|c| column_ddl(c, Dialect::Sqlite, !kept.contains(&c.name.as_str())))
        .collect();
    format!(
        "CREATE TABLE {temp} (\n    {}\n);\nINSERT INTO {temp} ({cols}) SELECT {cols} FROM {name};\nDROP TABLE {name};\nALTER TABLE {temp} RENAME TO {name};",
        columns.join(",\n    "),
        cols = quoted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str, nullable: bool) -> ColumnSchema {
        let (sqlite, postgres) = match ty {
            "Text" => ("TEXT", "TEXT"),
            "Bool" => ("BOOLEAN", "BOOLEAN"),
            "Integer" => ("INTEGER", "INTEGER"),
            _ => ("BIGINT", "BIGINT"),
        };
        ColumnSchema {
            name: name.into(),
            sql_type: ty.into(),
            sqlite: sqlite.into(),
            postgres: postgres.into(),
            nullable,
            primary_key: name == "id",
            references: None,
            unique: false,
            indexed: false,
            check: Vec::new(),
            default: None,
        }
    }

    fn schema(tables: &[(&str, Vec<ColumnSchema>)]) -> Schema {
        Schema {
            tables: tables
                .iter()
                .map(|(n, c)| {
                    (
                        n.to_string(),
                        TableSchema {
                            model: "M".into(),
                            columns: c.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn new_tables_are_created_and_dropped_on_the_way_down() {
        let new = schema(&[(
            "posts",
            vec![col("id", "BigInt", false), col("title", "Text", false)],
        )]);
        let change = diff(&Schema::default(), &new);
        assert!(change
            .up
            .sqlite
            .contains("id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"));
        assert!(change.up.postgres.contains("id BIGSERIAL PRIMARY KEY"));
        assert!(change.up.postgres.contains("title TEXT NOT NULL"));
        assert_eq!(change.down.sqlite, "DROP TABLE posts;\n");
        assert_eq!(change.summary, ["create table posts (M)"]);
        assert!(diff(&new, &new).up.is_empty());
    }

    #[test]
    fn added_columns_get_defaults_and_changed_ones_rebuild_sqlite() {
        let old = schema(&[(
            "posts",
            vec![col("id", "BigInt", false), col("title", "Text", false)],
        )]);
        let added = schema(&[(
            "posts",
            vec![
                col("id", "BigInt", false),
                col("title", "Text", false),
                col("draft", "Bool", false),
            ],
        )]);
        let change = diff(&old, &added);
        assert!(
            change
                .up
                .postgres
                .contains("ADD COLUMN draft BOOLEAN NOT NULL DEFAULT FALSE"),
            "{}",
            change.up.postgres
        );
        assert!(change
            .up
            .sqlite
            .contains("ADD COLUMN draft BOOLEAN NOT NULL DEFAULT 0"));
        assert!(change.down.sqlite.contains("DROP COLUMN draft"));

        let nullable = schema(&[(
            "posts",
            vec![col("id", "BigInt", false), col("title", "Text", true)],
        )]);
        let change = diff(&old, &nullable);
        assert!(change
            .up
            .postgres
            .contains("ALTER COLUMN title DROP NOT NULL"));
        assert!(change
            .down
            .postgres
            .contains("ALTER COLUMN title SET NOT NULL"));
        assert!(change.up.sqlite.contains("CREATE TABLE __bao_new_posts"));
        assert!(change
            .up
            .sqlite
            .contains("ALTER TABLE __bao_new_posts RENAME TO posts"));
        assert_eq!(change.summary, ["change column posts.title"]);
    }

    #[test]
    fn indexes_follow_their_columns() {
        let mut title = col("title", "Text", false);
        title.unique = true;
        let old = schema(&[("posts", vec![col("id", "BigInt", false), title.clone()])]);
        let created = diff(&Schema::default(), &old);
        assert!(created
            .up
            .postgres
            .contains("CREATE UNIQUE INDEX posts_title_key ON posts (title);"));
        let mut plain = title.clone();
        plain.unique = false;
        let new = schema(&[("posts", vec![col("id", "BigInt", false), plain])]);
        let change = diff(&old, &new);
        assert!(
            change.up.sqlite.starts_with("DROP INDEX posts_title_key;"),
            "{}",
            change.up.sqlite
        );
        assert!(change
            .down
            .postgres
            .contains("CREATE UNIQUE INDEX posts_title_key"));
    }

    #[test]
    fn removed_tables_are_dropped_and_recreated_on_the_way_down() {
        let old = schema(&[(
            "tags",
            vec![col("id", "Integer", false), col("name", "Text", false)],
        )]);
        let change = diff(&old, &Schema::default());
        assert_eq!(change.up.postgres, "DROP TABLE tags;\n");
        assert!(change.down.postgres.contains("id SERIAL PRIMARY KEY"));
    }
}
