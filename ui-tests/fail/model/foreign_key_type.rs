#[bao::model(table = "posts")]
pub struct Post {
    pub id: i64,
    pub title: String,
}

#[bao::model(table = "comments")]
pub struct Comment {
    pub id: i64,
    #[belongs_to(Post)]
    pub post_id: i32,
    #[belongs_to(Post)]
    pub reply_to_post_id: Option<i32>,
    pub body: String,
}

fn main() {}
