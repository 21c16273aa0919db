// A plugin that uses the database without declaring `.db()`: `cargo build`
// fails (the check runs when the plugin's code is instantiated, so `cargo
// check` alone does not see it; trybuild builds these cases).

use bao::plugin::{Capabilities, PluginCtx};

#[derive(Default)]
pub struct Counter;

impl bao::Plugin for Counter {
    const NAME: &'static str = "counter";
    const CAPABILITIES: Capabilities = Capabilities::new();

    async fn startup(&self, ctx: &PluginCtx<Self>) -> bao::Result<()> {
        ctx.db()?.ping().await?;
        Ok(())
    }
}

bao::app! { plugins: [Counter] }

fn main() {
    let _ = app();
}
