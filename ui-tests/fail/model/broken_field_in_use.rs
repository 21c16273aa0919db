//! One mistake in a model that the app lists and a handler uses: the
//! mistake is the only error.
use bao::prelude::*;

#[bao::model(table = "events")]
#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub title: String,
    pub tags: Vec<String>,
}

pub struct Events;

#[bao::controller("/events")]
impl Events {
    #[get("/")]
    async fn index(db: Db) -> bao::Result<String> {
        let rows: Vec<Event> = Event::query()
            .filter(event::title.eq("launch"))
            .fetch(&db)
            .await?;
        Ok(rows.len().to_string())
    }

    #[post("/")]
    async fn create(db: Db, form: Form<NewEvent>) -> bao::Result<Redirect> {
        let event = Event::create(&db, form.into_inner()).await?;
        let _ = event
            .update(&db, UpdateEvent { title: Some("renamed".into()), ..Default::default() })
            .await?;
        Ok(Redirect::to("/events"))
    }
}

bao::app! {
    controllers: [Events],
    models: [Event],
}

fn main() {}
