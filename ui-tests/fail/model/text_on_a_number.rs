#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    #[text]
    pub words: i32,
}

fn main() {}
