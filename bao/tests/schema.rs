//! Migrations generated from models, applied and rolled back on SQLite and
//! PostgreSQL: create a table, add a column, relax a column, drop a table.

use bao::db::{diff, new_migration_files, ColumnSchema, DbPool, Migrator, Model, Schema};
use bao::testing::TestDatabase;
use diesel::connection::SimpleConnection;
use std::path::Path;

#[bao::model(table = "books")]
#[derive(Debug, Clone, PartialEq)]
pub struct Book {
    #[key]
    pub id: i64,
    pub title: String,
    pub pages: i32,
}

fn write(dir: &Path, version: &str, slug: &str, old: &Schema, new: &Schema) {
    let change = diff(old, new);
    assert!(!change.up.is_empty(), "{slug}: something to do");
    for (path, contents) in new_migration_files(version, slug, Some(&change)) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

#[bao::test]
async fn generated_migrations_apply_and_roll_back_on_every_database() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        let stage = tempfile::tempdir().unwrap();
        let v1 = Schema::from_models(&[Book::info()]);
        write(
            dir.path(),
            "20260101000000",
            "create_books",
            &Schema::default(),
            &v1,
        );

        // v2: a new NOT NULL column, and `title` becomes nullable.
        let mut v2 = v1.clone();
        let books = v2.tables.get_mut("books").unwrap();
        books.columns.push(ColumnSchema {
            name: "isbn".into(),
            sql_type: "Text".into(),
            sqlite: "TEXT".into(),
            postgres: "TEXT".into(),
            nullable: false,
            primary_key: false,
            references: None,
            unique: true,
            indexed: false,
            check: Vec::new(),
            default: None,
        });
        books.columns[1].nullable = true;
        write(stage.path(), "20260102000000", "books_isbn", &v1, &v2);
        // v3: the table is gone.
        write(
            stage.path(),
            "20260103000000",
            "drop_books",
            &v2,
            &Schema::default(),
        );
        let bring =
            |name: &str| std::fs::rename(stage.path().join(name), dir.path().join(name)).unwrap();

        let pool = DbPool::new(db.url()).unwrap();
        let migrator = Migrator::new(dir.path());
        let mut conn = pool.get().unwrap();
        // Apply v1 only, then use the model.
        migrator.migrate(&mut conn).unwrap();
        drop(conn);
        let book = Book::create(
            &pool,
            NewBook {
                title: "Dune".into(),
                pages: 412,
            },
        )
        .await
        .unwrap();
        assert_eq!(book.id, 1);

        // v2 keeps the row; the new column takes its default.
        bring("20260102000000_books_isbn");
        let mut conn = pool.get().unwrap();
        migrator.migrate(&mut conn).unwrap();
        conn.batch_execute("INSERT INTO books (title, pages, isbn) VALUES (NULL, 10, 'x')")
            .unwrap_or_else(|e| panic!("{:?}: title is nullable now: {e}", db.dialect()));
        drop(conn);
        assert_eq!(
            Book::count(&pool).await.unwrap(),
            2,
            "{:?}: rows kept",
            db.dialect()
        );

        // v3 drops the table; rolling everything back recreates and removes it.
        bring("20260103000000_drop_books");
        let mut conn = pool.get().unwrap();
        migrator.migrate(&mut conn).unwrap();
        assert!(conn.batch_execute("SELECT 1 FROM books").is_err());
        let rolled = migrator.rollback(&mut conn, 3).unwrap();
        assert_eq!(rolled.len(), 3, "{:?}", db.dialect());
        assert!(conn.batch_execute("SELECT 1 FROM books").is_err());
        assert!(migrator
            .status(&mut conn)
            .unwrap()
            .iter()
            .all(|s| s.state == "pending"));
    }
}

/// Names SQL keeps for itself: a table called `order`, columns `type`
/// (`r#type` in Rust), `user`, `group` (indexed) and `check` (unique).
#[bao::model(table = "order")]
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    #[key]
    pub id: i64,
    pub r#type: String,
    pub user: String,
    #[index]
    pub group: i32,
    #[unique]
    pub check: Option<String>,
}

#[bao::test]
async fn reserved_words_as_names_are_quoted_in_migrations() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = Schema::from_models(&[Order::info()]);
        let columns: Vec<&str> = v1.tables["order"]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["id", "type", "user", "group", "check"]);
        write(
            dir.path(),
            "20260101000000",
            "create_order",
            &Schema::default(),
            &v1,
        );
        // Then a column is added, and one changes type (SQLite rebuilds).
        let mut v2 = v1.clone();
        let table = v2.tables.get_mut("order").unwrap();
        let mut select = table.columns[2].clone();
        select.name = "select".into();
        select.nullable = true;
        table.columns.push(select);
        table.columns[3].nullable = true;
        let stage = tempfile::tempdir().unwrap();
        write(stage.path(), "20260102000000", "order_select", &v1, &v2);
        let migration = std::fs::read_to_string(
            stage
                .path()
                .join("20260102000000_order_select/postgres/up.sql"),
        )
        .unwrap();
        assert!(
            migration.contains("ALTER TABLE \"order\" ADD COLUMN \"select\" TEXT"),
            "{migration}"
        );

        let pool = DbPool::new(db.url()).unwrap();
        let migrator = Migrator::new(dir.path());
        let mut conn = pool.get().unwrap();
        migrator
            .migrate(&mut conn)
            .unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect()));
        drop(conn);
        let order = Order::create(
            &pool,
            NewOrder {
                r#type: "gift".into(),
                user: "ada".into(),
                group: 3,
                check: Some("c-1".into()),
            },
        )
        .await
        .unwrap();
        assert_eq!(Order::find(&pool, order.id).await.unwrap(), Some(order));
        std::fs::rename(
            stage.path().join("20260102000000_order_select"),
            dir.path().join("20260102000000_order_select"),
        )
        .unwrap();
        let mut conn = pool.get().unwrap();
        migrator
            .migrate(&mut conn)
            .unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect()));
        conn.batch_execute(
            "INSERT INTO \"order\" (\"type\", \"user\", \"group\", \"select\") VALUES ('t', 'u', NULL, 's')",
        )
        .unwrap_or_else(|e| panic!("{:?}: group is nullable now: {e}", db.dialect()));
        // Rolling back makes `group` required again: the row without one goes first.
        conn.batch_execute("DELETE FROM \"order\" WHERE \"group\" IS NULL")
            .unwrap();
        assert_eq!(migrator.rollback(&mut conn, 2).unwrap().len(), 2);
    }
}
