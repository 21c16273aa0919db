#[bao::ws("echo")]
pub async fn echo(id: String) -> bao::Result<()> {
    let _ = id;
    Ok(())
}

fn main() {}
