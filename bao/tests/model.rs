//! `#[bao::model]` on SQLite and PostgreSQL: every helper, query building,
//! pagination, constraint errors, atomic updates under concurrency, and use
//! from a handler through HTTP.

use bao::db::{DbError, DbPool, Model};
use bao::prelude::*;
use bao::testing::{TestClient, TestDatabase};
use bao::Config;
use diesel::connection::SimpleConnection;

#[bao::model(table = "posts")]
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    #[key]
    pub id: i64,
    #[unique]
    pub title: String,
    #[text]
    pub body: Option<String>,
    #[index]
    pub published: bool,
    pub views: i32,
    pub score: f64,
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    let ddl = Post::info().create_table_sql(db.dialect());
    pool.get()
        .unwrap()
        .batch_execute(&format!(
            "{ddl}CREATE UNIQUE INDEX posts_title ON posts (title);"
        ))
        .unwrap();
    pool
}

fn new_post(title: &str, published: bool) -> NewPost {
    NewPost {
        title: title.into(),
        published,
        ..Default::default()
    }
}

#[bao::test]
async fn crud_helpers_work_on_every_database() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let hello = Post::create(
            &pool,
            NewPost {
                body: Some("first".into()),
                ..new_post("Hello", true)
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (hello.id, hello.title.as_str(), hello.body.as_deref()),
            (1, "Hello", Some("first"))
        );
        let second = Post::create(&pool, new_post("Second", false))
            .await
            .unwrap();
        assert_eq!(second.id, 2);
        assert_eq!(second.body, None);

        assert_eq!(Post::find(&pool, 1).await.unwrap(), Some(hello.clone()));
        assert_eq!(Post::find(&pool, 99).await.unwrap(), None);
        let missing = Post::find_or_fail(&pool, 99).await.unwrap_err();
        assert!(matches!(missing, bao::Error::Database(DbError::NotFound)));
        assert_eq!(
            actix_web::ResponseError::status_code(&missing).as_u16(),
            404
        );
        assert!(Post::exists(&pool, 2).await.unwrap());
        assert_eq!(Post::count(&pool).await.unwrap(), 2);
        assert_eq!(
            Post::all(&pool).await.unwrap(),
            vec![hello.clone(), second.clone()]
        );

        let edited = hello
            .update(
                &pool,
                UpdatePost {
                    title: Some("Hello again".into()),
                    body: Some(None),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (
                edited.title.as_str(),
                edited.body.as_deref(),
                edited.published
            ),
            ("Hello again", None, true)
        );
        let unchanged = edited.update(&pool, UpdatePost::default()).await.unwrap();
        assert_eq!(unchanged, edited);

        second.delete(&pool).await.unwrap();
        assert!(matches!(
            second.delete(&pool).await,
            Err(bao::Error::Database(DbError::NotFound))
        ));
        assert_eq!(Post::count(&pool).await.unwrap(), 1, "{:?}", db.dialect());
    }
}

#[bao::test]
async fn queries_filter_order_and_paginate() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        for i in 1..=7 {
            Post::create(&pool, new_post(&format!("post {i}"), i % 2 == 1))
                .await
                .unwrap();
        }
        let page: Vec<Post> = Post::query()
            .filter(post::published.eq(true))
            .order_by(post::id.desc())
            .paginate(1, 3)
            .fetch(&pool)
            .await
            .unwrap();
        let ids: Vec<i64> = page.iter().map(|p| p.id).collect();
        assert_eq!(ids, [7, 5, 3], "{:?}", db.dialect());
        let page2: Vec<Post> = Post::query()
            .filter(post::published.eq(true))
            .order_by(post::id.desc())
            .paginate(2, 3)
            .fetch(&pool)
            .await
            .unwrap();
        assert_eq!(page2.iter().map(|p| p.id).collect::<Vec<_>>(), [1]);
        let titles: Vec<String> = Post::query()
            .select(post::title)
            .filter(post::id.le(2))
            .order_by(post::id)
            .fetch(&pool)
            .await
            .unwrap();
        assert_eq!(titles, ["post 1", "post 2"]);
        let first: Post = Post::query()
            .order_by(post::id)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(first.id, 1);
        let none: Option<Post> = Post::query()
            .filter(post::id.eq(100))
            .fetch_optional(&pool)
            .await
            .unwrap();
        assert!(none.is_none());
    }
}

#[bao::test]
async fn constraint_violations_become_typed_errors_and_write_nothing() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        Post::create(&pool, new_post("Same", true)).await.unwrap();
        let err = Post::create(&pool, new_post("Same", false))
            .await
            .unwrap_err();
        assert!(
            matches!(err, bao::Error::Database(DbError::Conflict(_))),
            "{:?}: {err:?}",
            db.dialect()
        );
        assert_eq!(actix_web::ResponseError::status_code(&err).as_u16(), 409);
        assert_eq!(Post::count(&pool).await.unwrap(), 1);
    }
}

#[bao::test]
async fn atomic_updates_lose_nothing_under_concurrency() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let post = Post::create(&pool, new_post("Counter", true))
            .await
            .unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let pool = pool.clone();
                actix_web::rt::spawn(async move {
                    Post::atomic_update(&pool, post.id, |p| p.views += 1).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let post = Post::find_or_fail(&pool, post.id).await.unwrap();
        assert_eq!(post.views, 16, "{:?}", db.dialect());
        let missing = Post::atomic_update(&pool, 999, |p| p.views += 1).await;
        assert!(matches!(
            missing,
            Err(bao::Error::Database(DbError::NotFound))
        ));
    }
}

pub struct Posts;

#[bao::controller("/posts")]
impl Posts {
    #[get("/")]
    async fn index(db: Db) -> bao::Result<String> {
        let posts: Vec<Post> = Post::query().order_by(post::id).fetch(&db).await?;
        Ok(posts
            .into_iter()
            .map(|p| p.title)
            .collect::<Vec<_>>()
            .join(","))
    }

    #[get("/{id}")]
    async fn show(id: i64, db: Db) -> bao::Result<String> {
        Ok(Post::find_or_fail(&db, id).await?.title)
    }

    #[post("/")]
    async fn create(db: Db, form: Form<NewPost>) -> bao::Result<Redirect> {
        let post = Post::create(&db, form.into_inner()).await?;
        Ok(Redirect::to(format!("/posts/{}", post.id)))
    }
}

bao::app! { controllers: [Posts] }

#[bao::test]
async fn models_work_from_handlers() {
    for db in TestDatabase::each() {
        setup(&db);
        let config =
            Config::from_vars(&[("BAO_DATABASE_URL", db.url()), ("BAO_LOG_LEVEL", "warn")])
                .unwrap();
        let client = TestClient::with_config(app(), config).await;
        client
            .post("/posts")
            .csrf()
            .form(&[
                ("title", "From a form"),
                ("published", "true"),
                ("views", "0"),
                ("score", "1.5"),
            ])
            .await
            .assert_redirect("/posts/1");
        client
            .get("/posts/1")
            .await
            .assert_ok()
            .assert_see("From a form");
        client.get("/posts/2").await.assert_status(404);
        client
            .post("/posts")
            .csrf()
            .form(&[
                ("title", "From a form"),
                ("published", "false"),
                ("views", "0"),
                ("score", "0"),
            ])
            .await
            .assert_status(409);
        client.get("/posts").await.assert_ok();
        assert_eq!(client.get("/posts").await.text(), "From a form");
    }
}

#[test]
fn model_metadata_describes_the_table() {
    let info = Post::info();
    assert_eq!((info.name, info.table), ("Post", "posts"));
    let body = info.columns.iter().find(|c| c.name == "body").unwrap();
    assert!(body.nullable && !body.primary_key && body.long_text);
    assert_eq!(body.sql_type, "Text");
    let ddl = info.create_table_sql(bao::db::Dialect::Postgres);
    assert!(
        ddl.contains("id BIGSERIAL PRIMARY KEY")
            && ddl.contains("title TEXT NOT NULL")
            && ddl.contains("body TEXT,"),
        "{ddl}"
    );
}

#[bao::model(table = "events")]
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    #[key]
    pub id: i64,
    pub title: String,
    pub day: bao::chrono::NaiveDate,
    pub at: bao::chrono::NaiveTime,
    pub starts: bao::chrono::DateTime<bao::chrono::Utc>,
    pub ends: Option<bao::chrono::NaiveDateTime>,
    pub created_at: bao::chrono::DateTime<bao::chrono::Utc>,
    pub updated_at: bao::chrono::DateTime<bao::chrono::Utc>,
}

#[bao::test]
async fn dates_times_and_maintained_timestamps() {
    use bao::chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
    for db in TestDatabase::each() {
        let pool = DbPool::new(db.url()).unwrap();
        pool.get()
            .unwrap()
            .batch_execute(&Event::info().create_table_sql(db.dialect()))
            .unwrap();
        let starts = Utc.with_ymd_and_hms(2026, 11, 27, 18, 30, 0).unwrap();
        let before = Utc::now() - bao::chrono::Duration::seconds(1);
        let event = Event::create(
            &pool,
            NewEvent {
                title: "Launch".into(),
                day: NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
                at: NaiveTime::from_hms_opt(18, 30, 0).unwrap(),
                starts,
                ends: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(event.starts, starts, "{:?}", db.dialect());
        assert_eq!(event.day, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        assert!(
            event.created_at >= before && event.created_at == event.updated_at,
            "{event:?}"
        );
        let found = Event::find_or_fail(&pool, event.id).await.unwrap();
        assert_eq!(found, event, "{:?}: values round-trip", db.dialect());

        std::thread::sleep(std::time::Duration::from_millis(5));
        let ends = starts.naive_utc() + bao::chrono::Duration::hours(2);
        let moved = event
            .update(
                &pool,
                UpdateEvent {
                    ends: Some(Some(ends)),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(moved.ends, Some(ends));
        assert_eq!(moved.created_at, event.created_at);
        assert!(
            moved.updated_at > event.updated_at,
            "{:?}: updated_at moves",
            db.dialect()
        );
    }
}

#[bao::test]
async fn first_or_create_finds_or_inserts_once() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let (first, created) = Post::first_or_create(
            &pool,
            Post::query().filter(post::title.eq("Unique")),
            new_post("Unique", true),
        )
        .await
        .unwrap();
        assert!(created);
        let (again, created) = Post::first_or_create(
            &pool,
            Post::query().filter(post::title.eq("Unique")),
            new_post("Unique", false),
        )
        .await
        .unwrap();
        assert!(!created, "{:?}", db.dialect());
        assert_eq!(again, first);
        assert_eq!(Post::count(&pool).await.unwrap(), 1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, bao::TextEnum)]
pub enum Status {
    Open,
    InProgress,
    Closed,
}

#[bao::model(table = "tickets")]
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    #[key]
    pub id: i64,
    #[text_enum]
    pub status: Status,
    #[text_enum]
    pub previous: Option<Status>,
    pub details: serde_json::Value,
}

#[bao::test]
async fn text_enums_and_json_columns() {
    for db in TestDatabase::each() {
        let pool = DbPool::new(db.url()).unwrap();
        let ddl = Ticket::info().create_table_sql(db.dialect());
        assert!(
            ddl.contains(
                "status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'closed'))"
            ),
            "{ddl}"
        );
        pool.get().unwrap().batch_execute(&ddl).unwrap();
        let details = bao::json!({"tags": ["a", "b"], "priority": 2});
        let ticket = Ticket::create(
            &pool,
            NewTicket {
                status: Status::InProgress,
                previous: Some(Status::Open),
                details: details.clone(),
            },
        )
        .await
        .unwrap();
        let found = Ticket::find_or_fail(&pool, ticket.id).await.unwrap();
        assert_eq!(found.status, Status::InProgress, "{:?}", db.dialect());
        assert_eq!(found.previous, Some(Status::Open));
        assert_eq!(found.details, details);
        let closed: Vec<Ticket> = Ticket::query()
            .filter(ticket::status.eq("in_progress"))
            .fetch(&pool)
            .await
            .unwrap();
        assert_eq!(closed.len(), 1);

        // The database refuses a value the enum does not have.
        let mut conn = pool.get().unwrap();
        let refused = conn
            .batch_execute("INSERT INTO tickets (status, details) VALUES ('archived', '{}')")
            .map_err(DbError::from)
            .unwrap_err();
        assert!(
            matches!(refused, DbError::Invalid(_)),
            "{:?}: {refused:?}",
            db.dialect()
        );
    }
    assert_eq!("closed".parse::<Status>(), Ok(Status::Closed));
    assert_eq!(Status::InProgress.to_string(), "in_progress");
    assert!(serde_json::from_str::<Status>("\"nope\"")
        .unwrap_err()
        .to_string()
        .contains("not one of open, in_progress, closed"));
}

#[bao::model(table = "prices")]
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    #[key]
    pub id: i64,
    pub amount: bao::bigdecimal::BigDecimal,
    pub discount: Option<bao::bigdecimal::BigDecimal>,
}

#[bao::test]
async fn decimals_are_exact_on_every_database() {
    for db in TestDatabase::each() {
        let pool = DbPool::new(db.url()).unwrap();
        pool.get()
            .unwrap()
            .batch_execute(&Price::info().create_table_sql(db.dialect()))
            .unwrap();
        let amount: bao::bigdecimal::BigDecimal = "12345678901234567890.123456789".parse().unwrap();
        let price = Price::create(
            &pool,
            NewPrice {
                amount: amount.clone(),
                discount: Some("0.10".parse().unwrap()),
            },
        )
        .await
        .unwrap();
        let found = Price::find_or_fail(&pool, price.id).await.unwrap();
        assert_eq!(found.amount, amount, "{:?}: no rounding", db.dialect());
        assert_eq!(found.discount, Some("0.1".parse().unwrap()));
    }
}

#[bao::model(table = "drafts")]
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    #[key]
    pub id: i64,
    #[default("Untitled")]
    pub title: String,
    #[default(3)]
    pub revision: i32,
    #[default(true)]
    pub private: bool,
    #[text_enum]
    #[default("in_progress")]
    pub status: Status,
    #[default(0.5)]
    pub weight: Option<f64>,
}

#[bao::test]
async fn defaults_agree_in_rust_and_sql() {
    let new = NewDraft::default();
    assert_eq!(
        (
            new.title.as_str(),
            new.revision,
            new.private,
            new.status,
            new.weight
        ),
        ("Untitled", 3, true, Status::InProgress, Some(0.5))
    );
    for db in TestDatabase::each() {
        let pool = DbPool::new(db.url()).unwrap();
        let ddl = Draft::info().create_table_sql(db.dialect());
        assert!(
            ddl.contains("title TEXT NOT NULL DEFAULT 'Untitled'"),
            "{ddl}"
        );
        assert!(
            ddl.contains("private BOOLEAN NOT NULL DEFAULT TRUE"),
            "{ddl}"
        );
        let mut conn = pool.get().unwrap();
        conn.batch_execute(&ddl).unwrap();
        // A row written without those columns takes the same defaults.
        conn.batch_execute("INSERT INTO drafts (id) VALUES (7)")
            .unwrap();
        drop(conn);
        let raw = Draft::find_or_fail(&pool, 7).await.unwrap();
        let made = Draft::create(&pool, NewDraft::default()).await.unwrap();
        assert_eq!(
            (raw.title, raw.revision, raw.private, raw.status, raw.weight),
            (
                made.title,
                made.revision,
                made.private,
                made.status,
                made.weight
            ),
            "{:?}",
            db.dialect()
        );
    }
}

#[bao::test]
async fn factories_respect_types_and_write_all_rows_or_none() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let posts = Post::factory().count(50).create(&pool).await.unwrap();
        assert_eq!(Post::count(&pool).await.unwrap(), 50, "{}", db.url());
        assert!(posts.iter().all(|p| !p.title.is_empty()));
        assert!(posts
            .iter()
            .all(|p| p.body.as_deref().is_some_and(|b| b.len() > 20)));
        // A failure part-way (a duplicate unique title) writes nothing.
        let failed = Post::factory()
            .count(3)
            .with(|p, i| {
                p.title = if i == 2 {
                    "same".into()
                } else {
                    format!("t{i}")
                }
            })
            .with(|p, i| {
                if i == 1 {
                    p.title = "same".into();
                }
            })
            .create(&pool)
            .await;
        assert!(failed.is_err(), "{}", db.url());
        assert_eq!(Post::count(&pool).await.unwrap(), 50, "nothing was written");
    }
}
