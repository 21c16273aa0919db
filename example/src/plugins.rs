//! A small plugin: `/uptime` says how long the app has been up. It declares
//! what it touches (its route and the database it checks at startup);
//! `bao plugins:list` shows that and `bao plugins:audit` what it used.

use bao::plugin::{controller, Capabilities, PluginController, PluginCtx};
use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// The plugin's one page.
pub struct UptimePage;

#[bao::controller("/uptime")]
impl UptimePage {
    /// Seconds since the plugin started.
    #[get("/")]
    async fn show() -> String {
        let seconds = STARTED.get().map_or(0, |t| t.elapsed().as_secs());
        format!("up {seconds} s")
    }
}

/// Serves `/uptime`.
#[derive(Default)]
pub struct Uptime;

impl bao::Plugin for Uptime {
    const NAME: &'static str = "uptime";
    const CAPABILITIES: Capabilities = Capabilities::new().db().routes();
    const CONTROLLERS: &'static [PluginController] = &[controller::<UptimePage>()];

    async fn startup(&self, ctx: &PluginCtx<Self>) -> bao::Result<()> {
        STARTED.get_or_init(Instant::now);
        // The app is only up when its database answers.
        ctx.db()?.ping().await?;
        Ok(())
    }
}
