pub struct Post {
    pub id: i64,
}

bao::app! {
    models: [Post],
}

fn main() {}
