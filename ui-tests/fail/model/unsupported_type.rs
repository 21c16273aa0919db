use std::time::Instant;

#[bao::model(table = "events")]
pub struct Event {
    #[key]
    pub id: i64,
    pub at: Instant,
    pub tags: Vec<String>,
}

fn main() {}
