#[bao::model(table = "posts")]
#[has_many(Comment)]
pub struct Post {
    pub id: i64,
    pub title: String,
}

#[bao::model(table = "comments")]
pub struct Comment {
    pub id: i64,
    pub body: String,
}

fn main() {}
