#[derive(Default)]
pub struct Planner;

#[bao::agent(name = "planner")]
impl Planner {
    /// Plans.
    #[tool]
    fn plan(&self, goal: String) -> bao::Result<String> {
        Ok(goal)
    }
}

fn main() {}
