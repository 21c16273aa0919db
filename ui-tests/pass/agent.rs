//! An agent with every kind of tool argument, registered in an app.

use bao::agent::ToolParam;

#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    High,
}

impl ToolParam for Priority {
    fn schema() -> serde_json::Value {
        serde_json::json!({"type": "string", "enum": ["low", "high"]})
    }
}

#[derive(Default)]
pub struct Helper;

/// You help.
#[bao::agent(name = "helper", max_steps = 5, max_tokens = 1000, max_cost_usd = 0.25, rag = false, approval_timeout = "2h")]
impl Helper {
    /// Files a ticket.
    #[tool(requires_approval, scope = "write")]
    async fn file(
        &self,
        title: String,
        count: u32,
        ratio: f64,
        urgent: bool,
        tags: Vec<String>,
        note: Option<String>,
        priority: Priority,
        extra: serde_json::Value,
    ) -> bao::Result<serde_json::Value> {
        let _ = (count, ratio, urgent, tags, note, priority, extra);
        Ok(serde_json::json!({ "title": title }))
    }

    /// Not a tool: a plain method stays as it is.
    pub fn greeting(&self) -> &'static str {
        "hello"
    }
}

bao::app! { agents: [Helper] }

fn main() {
    use bao::agent::Agent;
    assert_eq!(Helper::DEFINITION.tools.len(), 1);
    assert_eq!(Helper.greeting(), "hello");
    let _ = app();
}
