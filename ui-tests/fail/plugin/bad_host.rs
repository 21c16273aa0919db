use bao::plugin::Capabilities;

#[derive(Default)]
pub struct Payments;

impl bao::Plugin for Payments {
    const NAME: &'static str = "payments";
    const CAPABILITIES: Capabilities = Capabilities::new().hosts(&["https://api.example.com/v1"]);
}

bao::app! { plugins: [Payments] }

fn main() {}
