//! Migrations and the database layer on SQLite and PostgreSQL: apply, status,
//! rollback, checksums, all-or-nothing failures, constraint errors and the
//! `Db` extractor through HTTP.

use bao::db::{DbError, DbPool, Migrator};
use bao::testing::{TestClient, TestDatabase};
use bao::{Config, Db};
use diesel::connection::SimpleConnection;
use std::path::Path;

fn write(dir: &Path, migration: &str, dialect: &str, up: &str, down: &str) {
    let folder = dir.join(migration).join(dialect);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("up.sql"), up).unwrap();
    std::fs::write(folder.join("down.sql"), down).unwrap();
}

/// Two migrations, the same SQL for both dialects except the key column.
fn posts_and_comments(dir: &Path) {
    for (dialect, key) in [
        ("sqlite", "INTEGER PRIMARY KEY AUTOINCREMENT"),
        ("postgres", "BIGSERIAL PRIMARY KEY"),
    ] {
        write(
            dir,
            "20260101000000_create_posts",
            dialect,
            &format!("CREATE TABLE posts (id {key}, title TEXT NOT NULL UNIQUE);"),
            "DROP TABLE posts;",
        );
        write(
            dir,
            "20260102000000_create_comments",
            dialect,
            &format!(
                "CREATE TABLE comments (id {key}, post_id BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE, body TEXT NOT NULL);\n\
                 CREATE INDEX comments_post_id ON comments (post_id);"
            ),
            "DROP TABLE comments;",
        );
    }
}

fn table_exists(pool: &DbPool, table: &str) -> bool {
    let mut conn = pool.get().unwrap();
    conn.batch_execute(&format!("SELECT 1 FROM {table} WHERE 1 = 0"))
        .is_ok()
}

#[test]
fn migrations_apply_report_and_roll_back_on_every_database() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        posts_and_comments(dir.path());
        // A placeholder of comments only (what `make:migration` writes when
        // nothing changed) applies on both databases.
        for dialect in ["sqlite", "postgres"] {
            write(
                dir.path(),
                "20260103000000_placeholder",
                dialect,
                "-- to be written\n",
                "-- nothing\n",
            );
        }
        let pool = DbPool::new(db.url()).unwrap();
        let migrator = Migrator::new(dir.path());
        let mut conn = pool.get().unwrap();

        let status = migrator.status(&mut conn).unwrap();
        assert!(
            status.iter().all(|s| s.state == "pending"),
            "{:?}: {status:?}",
            db.dialect()
        );

        let applied = migrator.migrate(&mut conn).unwrap();
        assert_eq!(
            applied,
            [
                "bao:0001_auth",
                "bao:0002_workflows",
                "bao:0003_tasks",
                "bao:0004_schedules",
                "bao:0005_agents",
                "bao:0006_memory",
                "bao:0007_channels",
                "bao:0008_plugins",
                "bao:0009_admin",
                "bao:0010_approval_edits",
                "bao:0011_memory_tenants",
                "bao:0012_memory_search",
                "20260101000000_create_posts",
                "20260102000000_create_comments",
                "20260103000000_placeholder"
            ]
        );
        assert!(
            migrator.migrate(&mut conn).unwrap().is_empty(),
            "nothing left to apply"
        );
        let status = migrator.status(&mut conn).unwrap();
        assert!(status
            .iter()
            .all(|s| s.state == "applied" && s.applied_at.is_some()));
        assert_eq!(status[0].checksum.len(), 64);
        drop(conn);
        assert!(table_exists(&pool, "comments"));

        let mut conn = pool.get().unwrap();
        let rolled = migrator.rollback(&mut conn, 2).unwrap();
        assert_eq!(
            rolled,
            [
                "20260103000000_placeholder",
                "20260102000000_create_comments"
            ]
        );
        drop(conn);
        assert!(!table_exists(&pool, "comments"));
        assert!(table_exists(&pool, "posts"));

        let mut conn = pool.get().unwrap();
        migrator.migrate(&mut conn).unwrap();
        let rolled = migrator.rollback(&mut conn, 5).unwrap();
        assert_eq!(
            rolled.len(),
            3,
            "--steps beyond what is applied rolls back all"
        );
        drop(conn);
        assert!(!table_exists(&pool, "posts"));
    }
}

#[test]
fn editing_an_applied_migration_is_an_error_naming_the_file() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        posts_and_comments(dir.path());
        let pool = DbPool::new(db.url()).unwrap();
        let migrator = Migrator::new(dir.path());
        let mut conn = pool.get().unwrap();
        migrator.migrate(&mut conn).unwrap();

        let folder = db.dialect().folder();
        let file = dir
            .path()
            .join("20260101000000_create_posts")
            .join(folder)
            .join("up.sql");
        let original = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{original}\n-- edited")).unwrap();
        write(
            dir.path(),
            "20260103000000_more",
            folder,
            "CREATE TABLE more_things (id INTEGER);",
            "DROP TABLE more_things;",
        );

        let err = migrator.migrate(&mut conn).unwrap_err().to_string();
        assert!(
            err.contains(&file.display().to_string())
                && err.contains("edited after it was applied"),
            "{err}"
        );
        let status = migrator.status(&mut conn).unwrap();
        assert_eq!(status[0].state, "changed");
        drop(conn);
        assert!(
            !table_exists(&pool, "more_things"),
            "nothing ran after the error"
        );

        std::fs::write(&file, original).unwrap();
        std::fs::remove_dir_all(dir.path().join("20260102000000_create_comments")).unwrap();
        let mut conn = pool.get().unwrap();
        let err = migrator.migrate(&mut conn).unwrap_err().to_string();
        assert!(
            err.contains("20260102000000_create_comments") && err.contains("missing"),
            "{err}"
        );
    }
}

#[test]
fn a_failing_migration_leaves_nothing_behind() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        posts_and_comments(dir.path());
        let folder = db.dialect().folder();
        write(
            dir.path(),
            "20260103000000_broken",
            folder,
            "CREATE TABLE half_done (id INTEGER);\nCREATE TABLE oops (id NOT_A_TYPE BROKEN SYNTAX(;",
            "DROP TABLE half_done;",
        );
        let pool = DbPool::new(db.url()).unwrap();
        let migrator = Migrator::new(dir.path());
        let mut conn = pool.get().unwrap();
        let err = migrator.migrate(&mut conn).unwrap_err().to_string();
        assert!(
            err.contains("20260103000000_broken") && err.contains("nothing of it was applied"),
            "{err}"
        );
        let status = migrator.status(&mut conn).unwrap();
        let states: Vec<_> = status.iter().map(|s| s.state).collect();
        assert_eq!(
            states,
            ["applied", "applied", "pending"],
            "{:?}",
            db.dialect()
        );
        drop(conn);
        assert!(
            !table_exists(&pool, "half_done"),
            "{:?}: the first statement was rolled back",
            db.dialect()
        );
    }
}

#[test]
fn constraint_violations_are_typed_errors() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        posts_and_comments(dir.path());
        let pool = DbPool::new(db.url()).unwrap();
        Migrator::new(dir.path())
            .migrate(&mut pool.get().unwrap())
            .unwrap();
        let mut conn = pool.get().unwrap();
        conn.batch_execute("INSERT INTO posts (title) VALUES ('first')")
            .unwrap();
        let unique = conn
            .batch_execute("INSERT INTO posts (title) VALUES ('first')")
            .map_err(DbError::from)
            .unwrap_err();
        assert!(
            matches!(unique, DbError::Conflict(_)),
            "{:?}: {unique:?}",
            db.dialect()
        );
        let foreign = conn
            .batch_execute("INSERT INTO comments (post_id, body) VALUES (999, 'orphan')")
            .map_err(DbError::from)
            .unwrap_err();
        assert!(
            matches!(foreign, DbError::Invalid(_)),
            "{:?}: {foreign:?}",
            db.dialect()
        );
        let not_null = conn
            .batch_execute("INSERT INTO posts (title) VALUES (NULL)")
            .map_err(DbError::from)
            .unwrap_err();
        assert!(
            matches!(not_null, DbError::Invalid(_)),
            "{:?}: {not_null:?}",
            db.dialect()
        );
    }
}

pub struct Counter;

#[bao::controller("/")]
impl Counter {
    #[post("/posts/{title}")]
    async fn add(title: String, db: Db) -> bao::Result<&'static str> {
        db.run(move |conn| {
            let sql = format!(
                "INSERT INTO posts (title) VALUES ('{}')",
                title.replace('\'', "''")
            );
            conn.batch_execute(&sql).map_err(Into::into)
        })
        .await?;
        Ok("added")
    }
}

bao::app! { controllers: [Counter] }

#[bao::test]
async fn the_db_extractor_maps_errors_to_statuses_and_readyz_checks_it() {
    for db in TestDatabase::each() {
        let dir = tempfile::tempdir().unwrap();
        posts_and_comments(dir.path());
        let migrations = dir.path().display().to_string();
        let config = Config::from_vars(&[
            ("BAO_DATABASE_URL", db.url()),
            ("BAO_MIGRATIONS_DIR", &migrations),
            ("BAO_LOG_LEVEL", "warn"),
        ])
        .unwrap();
        let pool = DbPool::new(db.url()).unwrap();
        Migrator::new(dir.path())
            .migrate(&mut pool.get().unwrap())
            .unwrap();

        let client = TestClient::with_config(app(), config).await;
        client
            .post("/posts/hello")
            .csrf()
            .await
            .assert_ok()
            .assert_see("added");
        client
            .post("/posts/hello")
            .csrf()
            .await
            .assert_status(409)
            .assert_dont_see("UNIQUE");
        client
            .get("/readyz")
            .await
            .assert_ok()
            .assert_json(bao::json!({"checks": {"database": "ok"}}));
    }
}

#[bao::test]
async fn an_unreachable_database_fails_readiness_and_requests_with_503() {
    let dir = tempfile::tempdir().unwrap();
    posts_and_comments(dir.path());
    let migrations = dir.path().display().to_string();
    let config = Config::from_vars(&[
        ("BAO_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
        ("BAO_AUTO_MIGRATE", "false"),
        ("BAO_MIGRATIONS_DIR", &migrations),
        ("BAO_LOG_LEVEL", "off"),
    ])
    .unwrap();
    let client = TestClient::with_config(app(), config).await;
    let ready = client.get("/readyz").await;
    ready.assert_status(503);
    assert!(ready.json::<serde_json::Value>()["checks"]["database"]
        .as_str()
        .unwrap()
        .starts_with("error:"));
    client.post("/posts/x").csrf().await.assert_status(503);
}
