use bao::prelude::*;

#[bao::model(table = "articles")]
#[derive(Debug, Clone)]
pub struct Article {
    #[key]
    pub id: i64,
    pub title: String,
    pub subtitle: Option<String>,
    pub published: bool,
    pub rating: f64,
    pub votes: i32,
}

/// Default table name: `comments`.
#[bao::model]
pub struct Comment {
    pub id: i32,
    pub body: String,
}

pub struct Articles;

#[bao::controller("/articles")]
impl Articles {
    #[get("/")]
    async fn index(db: Db) -> bao::Result<String> {
        let rows: Vec<Article> = Article::query()
            .filter(article::published.eq(true).and(article::votes.gt(3)))
            .order_by(article::id.desc())
            .paginate(1, 20)
            .fetch(&db)
            .await?;
        Ok(rows.len().to_string())
    }

    #[post("/")]
    async fn create(db: Db, form: Form<NewArticle>) -> bao::Result<Redirect> {
        let article = Article::create(&db, form.into_inner()).await?;
        let _ = article
            .update(&db, UpdateArticle { votes: Some(1), ..Default::default() })
            .await?;
        Ok(Redirect::to("/articles"))
    }
}

bao::app! {
    controllers: [Articles],
    models: [Article, Comment],
}

fn main() {
    assert_eq!(MODELS.len(), 2);
    assert_eq!(MODELS[1].table, "comments");
    assert_eq!(app().model_infos()[0].name, "Article");
}
