//! `#[belongs_to]` and `#[has_many]` on SQLite and PostgreSQL: foreign keys in
//! the generated DDL, parent and children getters, eager loading, ON DELETE.

use bao::db::{diff, DbError, DbPool, Schema};
use bao::testing::TestDatabase;
use diesel::connection::SimpleConnection;

#[bao::model(table = "authors")]
#[has_many(Article)]
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    #[key]
    pub id: i64,
    pub name: String,
}

#[bao::model(table = "articles")]
#[has_many(Remark)]
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    #[key]
    pub id: i64,
    #[belongs_to(Author, on_delete = "cascade")]
    pub author_id: i64,
    pub title: String,
}

#[bao::model(table = "remarks")]
#[derive(Debug, Clone, PartialEq)]
pub struct Remark {
    #[key]
    pub id: i64,
    #[belongs_to(Article, on_delete = "set_null")]
    pub article_id: Option<i64>,
    pub body: String,
}

fn setup(db: &TestDatabase) -> (DbPool, String) {
    use bao::db::Model;
    let schema = Schema::from_models(&[Author::info(), Article::info(), Remark::info()]);
    let change = diff(&Schema::default(), &schema);
    let (sql, down) = match db.dialect() {
        bao::db::Dialect::Sqlite => (change.up.sqlite, change.down.sqlite),
        bao::db::Dialect::Postgres => (change.up.postgres, change.down.postgres),
    };
    assert!(
        sql.contains("author_id BIGINT NOT NULL REFERENCES authors(id) ON DELETE CASCADE"),
        "{sql}"
    );
    let pool = DbPool::new(db.url()).unwrap();
    pool.get().unwrap().batch_execute(&sql).unwrap();
    (pool, down)
}

#[bao::test]
async fn parents_children_and_eager_loading() {
    for db in TestDatabase::each() {
        let (pool, down) = setup(&db);
        let ann = Author::create(&pool, NewAuthor { name: "Ann".into() })
            .await
            .unwrap();
        let bob = Author::create(&pool, NewAuthor { name: "Bob".into() })
            .await
            .unwrap();
        let a1 = Article::create(
            &pool,
            NewArticle {
                author_id: ann.id,
                title: "One".into(),
            },
        )
        .await
        .unwrap();
        let a2 = Article::create(
            &pool,
            NewArticle {
                author_id: ann.id,
                title: "Two".into(),
            },
        )
        .await
        .unwrap();
        Remark::create(
            &pool,
            NewRemark {
                article_id: Some(a1.id),
                body: "nice".into(),
            },
        )
        .await
        .unwrap();
        let orphan = Remark::create(
            &pool,
            NewRemark {
                article_id: None,
                body: "loose".into(),
            },
        )
        .await
        .unwrap();

        assert_eq!(a1.author(&pool).await.unwrap(), ann);
        assert_eq!(orphan.article(&pool).await.unwrap(), None);
        assert_eq!(
            ann.articles(&pool).await.unwrap(),
            vec![a1.clone(), a2.clone()]
        );
        assert!(bob.articles(&pool).await.unwrap().is_empty());

        let grouped = Author::with_articles(&pool, Author::all(&pool).await.unwrap())
            .await
            .unwrap();
        assert_eq!(grouped.len(), 2);
        assert_eq!(grouped[0].1.len(), 2, "{:?}", db.dialect());
        assert!(grouped[1].1.is_empty());

        let err = Article::create(
            &pool,
            NewArticle {
                author_id: 999,
                title: "ghost".into(),
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, bao::Error::Database(DbError::Invalid(_))),
            "{:?}: {err:?}",
            db.dialect()
        );

        // ON DELETE CASCADE removes Ann's articles; SET NULL detaches their remarks.
        ann.delete(&pool).await.unwrap();
        assert_eq!(
            Article::count(&pool).await.unwrap(),
            0,
            "{:?}",
            db.dialect()
        );
        let remarks = Remark::all(&pool).await.unwrap();
        assert_eq!(remarks.len(), 2);
        assert!(
            remarks.iter().all(|r| r.article_id.is_none()),
            "{:?}",
            db.dialect()
        );

        // The generated down migration drops children before parents.
        let mut conn = pool.get().unwrap();
        conn.batch_execute(&down)
            .unwrap_or_else(|e| panic!("{:?}: {e}", db.dialect()));
        assert!(conn.batch_execute("SELECT 1 FROM authors").is_err());
    }
}

#[bao::test]
async fn factories_make_rows_with_their_parents() {
    for db in TestDatabase::each() {
        let (pool, _) = setup(&db);
        // Each article gets a new author of its own...
        let articles = Article::factory().count(5).create(&pool).await.unwrap();
        assert_eq!(articles.len(), 5);
        assert_eq!(Author::count(&pool).await.unwrap(), 5, "{}", db.url());
        assert!(articles.iter().all(|a| !a.title.is_empty()));
        // ...unless it is given one.
        let ann = Author::factory()
            .with(|a, _| a.name = "Ann".into())
            .create_one(&pool)
            .await
            .unwrap();
        assert_eq!(ann.name, "Ann");
        let hers = Article::factory()
            .parent(&ann)
            .count(3)
            .with(|a, i| a.title = format!("Article {i}"))
            .create(&pool)
            .await
            .unwrap();
        assert!(hers.iter().all(|a| a.author_id == ann.id));
        assert_eq!(hers[2].title, "Article 2");
        assert_eq!(ann.articles(&pool).await.unwrap().len(), 3);
        // A nullable reference stays empty unless a parent is given.
        let loose = Remark::factory().create_one(&pool).await.unwrap();
        assert_eq!(loose.article_id, None);
        let pinned = Remark::factory()
            .parent(&hers[0])
            .create_one(&pool)
            .await
            .unwrap();
        assert_eq!(pinned.article_id, Some(hers[0].id));
        // A seed gives the same data.
        let a = Author::factory()
            .seed(42)
            .count(2)
            .create(&pool)
            .await
            .unwrap();
        let b = Author::factory()
            .seed(42)
            .count(2)
            .create(&pool)
            .await
            .unwrap();
        assert_eq!(a[0].name, b[0].name);
        assert_eq!(a[1].name, b[1].name);
        assert_ne!(a[0].id, b[0].id);
    }
}

/// Two keys to one parent: each has its getter.
#[bao::model(table = "pairings")]
#[derive(Debug, Clone, PartialEq)]
pub struct Pairing {
    #[key]
    pub id: i64,
    #[belongs_to(Author)]
    pub lead_id: i64,
    #[belongs_to(Author, on_delete = "set_null")]
    pub second_id: Option<i64>,
}

#[bao::test]
async fn two_keys_to_one_parent_each_have_a_getter() {
    use bao::db::Model;
    for db in TestDatabase::each() {
        let (pool, _) = setup(&db);
        let ddl = Pairing::info().create_table_sql(db.dialect());
        pool.get().unwrap().batch_execute(&ddl).unwrap();
        let ann = Author::factory()
            .with(|a, _| a.name = "Ann".into())
            .create_one(&pool)
            .await
            .unwrap();
        let bob = Author::factory()
            .with(|a, _| a.name = "Bob".into())
            .create_one(&pool)
            .await
            .unwrap();
        let pair = Pairing::create(
            &pool,
            NewPairing {
                lead_id: ann.id,
                second_id: Some(bob.id),
            },
        )
        .await
        .unwrap();
        assert_eq!(pair.lead(&pool).await.unwrap().name, "Ann");
        assert_eq!(pair.second(&pool).await.unwrap().unwrap().name, "Bob");
        // A factory's parent fills both.
        let made = Pairing::factory()
            .parent(&bob)
            .create_one(&pool)
            .await
            .unwrap();
        assert_eq!((made.lead_id, made.second_id), (bob.id, Some(bob.id)));
    }
}
