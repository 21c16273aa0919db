pub struct Planner {
    pub endpoint: &'static str,
}

#[bao::agent(name = "planner")]
impl Planner {
    /// Plans.
    #[tool]
    async fn plan(&self, goal: String) -> bao::Result<String> {
        Ok(format!("{goal} at {}", self.endpoint))
    }
}

fn main() {}
