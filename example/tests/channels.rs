//! Live channels between real app processes: two `example serve` processes
//! on one database; a guestbook entry signed through one reaches an SSE
//! client and a WebSocket client of the other.

use bao::testing::{free_port, LiveServer, TestDatabase};
use futures_util::StreamExt;
use std::process::{Command, Stdio};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn serve(db: &TestDatabase, port: u16) -> LiveServer {
    let mut command = Command::new(env!("CARGO_BIN_EXE_example"));
    command
        .args(["serve", "--port", &port.to_string()])
        .env("BAO_DATABASE_URL", db.url())
        .env("BAO_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    LiveServer::start(command, port)
}

/// The CSRF token of the guestbook form, with its cookie in `client`.
async fn csrf_token(client: &reqwest::Client, base: &str) -> String {
    let page = client
        .get(format!("{base}/guestbook"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page
        .find("name=\"_csrf\" value=\"")
        .expect("the form's token")
        + 20;
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

#[bao::test]
async fn a_guestbook_entry_signed_in_one_process_reaches_the_other_processs_clients() {
    for db in TestDatabase::each() {
        let (port_a, port_b) = (free_port(), free_port());
        let a = serve(&db, port_a);
        let b = serve(&db, port_b);
        let (base_a, base_b) = (
            format!("http://127.0.0.1:{port_a}"),
            format!("http://127.0.0.1:{port_b}"),
        );

        // The page of process B subscribes with the template's channel URL.
        let page = reqwest::get(format!("{base_b}/guestbook"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(r#"sse-connect="/_bao/channels/guestbook/all""#),
            "{page}"
        );
        assert!(page.contains("/_bao/static/htmx-ext-sse-"), "{page}");

        let mut sse = reqwest::get(format!("{base_b}/_bao/channels/guestbook/all"))
            .await
            .unwrap();
        assert_eq!(sse.status(), 200);
        let (mut socket, _) = tokio_tungstenite::connect_async(format!(
            "ws://127.0.0.1:{port_b}/_bao/ws/guestbook/all"
        ))
        .await
        .unwrap();
        // A watcher of another key is refused by the app's authorize function.
        let refused = reqwest::get(format!("{base_b}/_bao/channels/guestbook/secret"))
            .await
            .unwrap();
        assert_eq!(refused.status(), 403);
        tokio::time::sleep(Duration::from_millis(500)).await;

        let client = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let token = csrf_token(&client, &base_a).await;
        let signed = client
            .post(format!("{base_a}/guestbook"))
            .form(&[
                ("_csrf", token.as_str()),
                ("name", "Grace"),
                ("message", "live <b>hello</b>"),
            ])
            .send()
            .await
            .unwrap();
        assert!(signed.status().is_success(), "{}", signed.status());

        let mut text = String::new();
        tokio::time::timeout(WAIT, async {
            while !text.contains("event: entry") || !text.contains("Grace") {
                let chunk = sse.chunk().await.unwrap().expect("the stream stays open");
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "process B's SSE client got the entry ({:?}):\n{text}",
                db.dialect()
            )
        });
        assert!(
            text.contains("<li><strong>Grace</strong>: live &#60;b&#62;hello&#60;/b&#62;</li>")
                || text.contains("<li><strong>Grace</strong>: live &lt;b&gt;hello&lt;/b&gt;</li>"),
            "the fragment is the escaped list item:\n{text}"
        );

        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("process B's WebSocket client got the entry")
            .unwrap()
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        assert_eq!(value["event"], "entry");
        assert!(value["data"].as_str().unwrap().contains("Grace"), "{value}");

        // The echo socket answers through the real server too.
        let (mut echo, _) =
            tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port_a}/_bao/ws/echo/ada"))
                .await
                .unwrap();
        futures_util::SinkExt::send(
            &mut echo,
            tokio_tungstenite::tungstenite::Message::text("hi"),
        )
        .await
        .unwrap();
        let reply = tokio::time::timeout(WAIT, echo.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(reply.to_text().unwrap(), "ada: hi");
        drop((a, b));
    }
}
