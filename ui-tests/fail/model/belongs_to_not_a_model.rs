pub struct Usr;

#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    #[belongs_to(Usr)]
    pub user_id: i64,
    pub title: String,
}

fn main() {}
