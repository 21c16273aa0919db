#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    pub owner_id: i64,
    pub title: String,
}

#[bao::api("/api/notes", model = Note, owned_by = user_id)]
pub struct NotesApi;

fn main() {}
