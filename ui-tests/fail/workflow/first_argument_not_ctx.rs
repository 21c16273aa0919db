#[bao::workflow]
async fn onboard(input: String) -> bao::Result<()> {
    let _ = input;
    Ok(())
}

fn main() {}
