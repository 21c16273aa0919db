#[derive(Default)]
pub struct Planner;

#[bao::agent(name = "planner")]
impl Planner {
    /// Plans.
    #[tool]
    async fn plan(&self, goal: String) -> String {
        goal
    }
}

fn main() {}
