#[bao::model(table = "notes")]
pub struct Note {
    pub title: String,
}

fn main() {}
