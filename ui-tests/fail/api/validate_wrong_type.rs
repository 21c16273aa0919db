#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    #[validate(range(min = 1))]
    pub title: String,
    #[validate(length(max = 3))]
    pub stars: i32,
    #[validate(lenght(max = 3), email)]
    pub email: String,
    #[validate(length(min = 5, max = 2))]
    pub code: String,
}

fn main() {}
