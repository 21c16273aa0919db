#[bao::model(table = "posts")]
#[has_many(Comment)]
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

// `Comment` is missing: its table would never be migrated.
bao::app! {
    models: [Post],
}

fn main() {}
