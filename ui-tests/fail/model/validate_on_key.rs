#[bao::model(table = "notes")]
pub struct Note {
    #[validate(range(min = 1))]
    pub id: i64,
    pub title: String,
}

fn main() {}
