#[bao::model(table = "posts")]
pub struct Post {
    #[key]
    pub id: i64,
    pub title: String,
}

#[bao::model(table = "comments")]
pub struct Comment {
    #[key]
    pub id: i64,
    #[belongs_to(Post)]
    pub post_id: i64,
    pub body: String,
}

// `Post` is missing: the table comments point at would never be migrated.
bao::app! {
    models: [Comment],
}

fn main() {}
