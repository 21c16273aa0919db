#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    pub title: String,
}

pub struct NotesApi;

#[bao::api("/api/notes", model = Note, only(index, show, create))]
impl NotesApi {
    async fn show() -> &'static str {
        "no id argument"
    }

    fn create() -> &'static str {
        "not async"
    }

    async fn destroy() -> &'static str {
        "not an action"
    }
}

fn main() {}
