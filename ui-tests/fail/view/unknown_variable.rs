#[bao::view("hello.html")]
pub struct Hello {
    pub title: String,
}

fn main() {}
