pub struct Note {
    pub id: i64,
}

#[bao::api("/api/notes", model = Note)]
pub struct NotesApi;

fn main() {}
