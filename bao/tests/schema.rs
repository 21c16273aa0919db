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
