#[bao::model(table = "posts")]
pub struct Post {
    pub id: i64,
    pub title: String,
}

#[bao::model(table = "posts")]
pub struct Article {
    pub id: i64,
    pub headline: String,
}

bao::app! {
    models: [Post, Article],
}

fn main() {}
