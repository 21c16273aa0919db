use bao::{CurrentUser, Db};

#[bao::channel("orders")]
pub async fn may_watch(user: CurrentUser, id: i64, db: Db) -> bao::Result<bool> {
    let _ = db;
    Ok(user.id == id)
}

#[bao::ws("echo")]
pub async fn echo(mut socket: bao::channels::Socket, id: String) -> bao::Result<()> {
    while let Some(text) = socket.recv().await {
        socket.send(format!("{id}: {text}")).await?;
    }
    Ok(())
}

bao::app! { channels: [may_watch, echo] }

fn main() {
    let app = app();
    let kinds: Vec<&str> = app.channels().iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ["orders", "echo", "workflow", "agent_stream"]);
}
