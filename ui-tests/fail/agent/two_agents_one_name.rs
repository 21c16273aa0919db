#[derive(Default)]
pub struct Planner;

#[bao::agent(name = "planner")]
impl Planner {
    /// Plans.
    #[tool]
    async fn plan(&self, goal: String) -> bao::Result<String> {
        Ok(goal)
    }
}

#[derive(Default)]
pub struct OtherPlanner;

#[bao::agent(name = "planner")]
impl OtherPlanner {
    /// Plans differently.
    #[tool]
    async fn plan(&self, goal: String) -> bao::Result<String> {
        Ok(goal)
    }
}

bao::app! {
    agents: [Planner, OtherPlanner],
}

fn main() {}
