#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    pub title: String,
}

#[bao::api("/api/notes", model = Note, filter(titel))]
pub struct NotesApi;

fn main() {}
