#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    pub title: String,
}

#[bao::api("/api/notes", model = Note)]
pub struct NotesApi;

#[bao::api("/api/notes", model = Note, only(index))]
pub struct OtherNotesApi;

bao::app! {
    apis: [NotesApi, OtherNotesApi],
    models: [Note],
}

fn main() {}
