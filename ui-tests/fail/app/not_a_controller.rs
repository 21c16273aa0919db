pub struct Posts;

bao::app! {
    controllers: [Posts],
}

fn main() {}
