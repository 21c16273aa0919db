#[bao::model(table = "users")]
pub struct User {
    pub id: i64,
    pub email: String,
}

bao::app! {
    models: [User],
    auth: User,
}

fn main() {}
