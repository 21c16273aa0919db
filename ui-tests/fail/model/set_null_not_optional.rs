#[bao::model(table = "users")]
pub struct User {
    pub id: i64,
    pub name: String,
}

#[bao::model(table = "notes")]
pub struct Note {
    pub id: i64,
    #[belongs_to(User, on_delete = "set_null")]
    pub user_id: i64,
}

fn main() {}
