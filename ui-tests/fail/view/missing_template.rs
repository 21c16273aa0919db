#[bao::view("nope/missing.html")]
pub struct Missing {
    pub title: String,
}

fn main() {}
