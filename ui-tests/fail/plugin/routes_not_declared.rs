use bao::plugin::{controller, Capabilities, PluginController};

pub struct Hooks;

#[bao::controller("/hooks")]
impl Hooks {
    #[get("/ping")]
    async fn ping() -> &'static str {
        "pong"
    }
}

#[derive(Default)]
pub struct Payments;

impl bao::Plugin for Payments {
    const NAME: &'static str = "payments";
    const CAPABILITIES: Capabilities = Capabilities::new().hosts(&["api.example.com"]);
    const CONTROLLERS: &'static [PluginController] = &[controller::<Hooks>()];
}

bao::app! { plugins: [Payments] }

fn main() {}
