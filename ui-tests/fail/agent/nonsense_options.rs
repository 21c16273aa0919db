#[derive(Default)]
pub struct Planner;

#[bao::agent(name = "planner", max_step = 3)]
impl Planner {
    /// Posts.
    #[tool(requires_aproval)]
    async fn post(&self, text: String) -> bao::Result<String> {
        Ok(text)
    }
}

fn main() {}
