#[derive(Default)]
pub struct Planner;

#[bao::agent(name = "planner", max_steps = 0)]
impl Planner {
    /// Plans.
    #[tool]
    async fn plan(&self, goal: String) -> bao::Result<String> {
        Ok(goal)
    }
}

fn main() {}
