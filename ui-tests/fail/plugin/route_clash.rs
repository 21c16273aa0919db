use bao::plugin::{controller, Capabilities, PluginController};

pub struct Hooks;

#[bao::controller("/hooks")]
impl Hooks {
    #[get("/ping")]
    async fn ping() -> &'static str {
        "pong"
    }
}

pub struct Mine;

#[bao::controller("/hooks")]
impl Mine {
    #[get("/ping")]
    async fn my_ping() -> &'static str {
        "mine"
    }
}

#[derive(Default)]
pub struct Payments;

impl bao::Plugin for Payments {
    const NAME: &'static str = "payments";
    const CAPABILITIES: Capabilities = Capabilities::new().routes();
    const CONTROLLERS: &'static [PluginController] = &[controller::<Hooks>()];
}

bao::app! { controllers: [Mine], plugins: [Payments] }

fn main() {}
