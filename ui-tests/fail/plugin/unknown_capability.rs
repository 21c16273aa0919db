use bao::plugin::Capabilities;

#[derive(Default)]
pub struct Files;

impl bao::Plugin for Files {
    const NAME: &'static str = "files";
    const CAPABILITIES: Capabilities = Capabilities::new().filesystem();
}

fn main() {}
