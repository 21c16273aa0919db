#[bao::model(tabel = "notes")]
pub struct Note {
    pub id: i64,
    pub title: String,
}

fn main() {}
