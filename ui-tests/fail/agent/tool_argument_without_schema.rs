#[derive(Default)]
pub struct Planner;

#[bao::agent(name = "planner")]
impl Planner {
    /// Schedules a reminder.
    #[tool]
    async fn remind(&self, after: std::time::Duration) -> bao::Result<String> {
        Ok(format!("{after:?}"))
    }
}

fn main() {}
