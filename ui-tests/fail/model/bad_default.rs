#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    #[default(7)]
    pub title: String,
    #[default("yes")]
    pub done: bool,
}

fn main() {}
