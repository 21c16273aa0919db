//! Live channels through a real server and across "processes" (two pools on
//! one database have a hub each, exactly as two app processes do): SSE and
//! WebSocket clients, authorization per kind, `Last-Event-ID` resumes, a
//! slow consumer dropped while a fast one keeps up, and the LISTEN
//! connection surviving terminated backends on PostgreSQL.

use bao::channels::{self, ChannelDef};
use bao::db::{DbConnection, DbPool};
use bao::testing::{free_port, wait_until_healthy, TestDatabase};
use bao::Config;
use diesel::connection::SimpleConnection;
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Even orders may be watched; odd ones may not.
#[bao::channel("orders")]
pub async fn may_watch(id: i64) -> bao::Result<bool> {
    Ok(id % 2 == 0)
}

/// Echoes each message with the socket's id in front.
#[bao::ws("echo")]
pub async fn echo(mut socket: bao::channels::Socket, id: String) -> bao::Result<()> {
    while let Some(text) = socket.recv().await {
        socket.send(format!("{id}: {text}")).await?;
    }
    Ok(())
}

fn with_public(app: bao::App) -> bao::App {
    app.channel(ChannelDef::public("news"))
}

bao::app! { channels: [may_watch, echo], setup: with_public }

const WAIT: Duration = Duration::from_secs(10);

async fn next(sub: &mut channels::Subscription) -> std::sync::Arc<channels::Message> {
    tokio::time::timeout(WAIT, sub.rx.recv())
        .await
        .expect("a message within 10 s")
        .expect("the subscription is open")
}

#[bao::test]
async fn a_publish_in_one_process_reaches_subscribers_in_the_others() {
    for db in TestDatabase::each() {
        // Two pools, two hubs: what two app processes have.
        let (here, there) = (
            DbPool::new(db.url()).unwrap(),
            DbPool::new(db.url()).unwrap(),
        );
        let mut local = channels::subscribe(&here, "orders", 2, None);
        let mut remote = channels::subscribe(&there, "orders", 2, None);
        let mut other_order = channels::subscribe(&there, "orders", 4, None);
        // The receiver starts by reading where the table ends: let it.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let id = channels::publish(&here, "orders", 2, &serde_json::json!({"status": "paid"}))
            .await
            .unwrap();
        let got = next(&mut local).await;
        assert_eq!((got.id, got.data.as_str()), (id, r#"{"status":"paid"}"#));
        let got = next(&mut remote).await;
        assert_eq!(
            (got.id, got.event.as_str()),
            (id, "message"),
            "{:?}",
            db.dialect()
        );
        // A message over NOTIFY's 8,000 bytes goes through the table.
        let big = "x".repeat(20_000);
        let id2 = channels::publish_event(&there, "orders", 2, "big", big.clone())
            .await
            .unwrap();
        assert!(id2 > id);
        assert_eq!(next(&mut local).await.data, big);
        assert_eq!(next(&mut remote).await.data, big);
        // Each process saw each message once, and other keys saw nothing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(local.rx.try_recv().is_err(), "no duplicate here");
        assert!(remote.rx.try_recv().is_err(), "no duplicate there");
        assert!(other_order.rx.try_recv().is_err());
    }
}

#[bao::test]
async fn publish_refuses_bad_kinds_ids_and_oversized_messages() {
    let db = TestDatabase::sqlite();
    let pool = DbPool::new(db.url()).unwrap();
    let bad_kind = channels::publish(&pool, "Orders!", 1, &1)
        .await
        .unwrap_err();
    assert!(bad_kind.to_string().contains("channel kind"), "{bad_kind}");
    let bad_id = channels::publish(&pool, "orders", "a\tb", &1)
        .await
        .unwrap_err();
    assert!(
        bad_id.to_string().contains("control characters"),
        "{bad_id}"
    );
    let huge = "x".repeat(channels::MAX_MESSAGE + 1);
    let too_big = channels::publish_event(&pool, "orders", 1, "m", huge)
        .await
        .unwrap_err();
    assert!(too_big.to_string().contains("at most"), "{too_big}");
}

#[bao::test]
async fn the_listen_connection_survives_terminated_backends() {
    let db = TestDatabase::postgres().expect("this test needs PostgreSQL");
    let (here, there) = (
        DbPool::new(db.url()).unwrap(),
        DbPool::new(db.url()).unwrap(),
    );
    let mut remote = channels::subscribe(&there, "orders", 8, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    channels::publish(&here, "orders", 8, &"before")
        .await
        .unwrap();
    assert_eq!(next(&mut remote).await.data, "\"before\"");

    // An administrator terminates every other backend of the database,
    // the LISTEN connection included.
    let url = db.url().to_string();
    tokio::task::spawn_blocking(move || {
        let mut admin = DbConnection::open(&bao::db::DatabaseUrl::parse(&url).unwrap()).unwrap();
        admin
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .unwrap();
    })
    .await
    .unwrap();

    // Messages sent while the connection is being restored are lost (NOTIFY
    // is not stored); once it is back, they flow again, to the same
    // subscriber.
    let started = Instant::now();
    loop {
        assert!(started.elapsed() < WAIT, "delivery resumed within 10 s");
        if channels::publish(&here, "orders", 8, &"after")
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        match tokio::time::timeout(Duration::from_millis(500), remote.rx.recv()).await {
            Ok(Some(message)) => {
                assert_eq!(message.data, "\"after\"");
                break;
            }
            Ok(None) => panic!("the subscriber was dropped"),
            Err(_) => {}
        }
    }
}

/// A server of this file's app on `db`, stopped when the guard drops.
struct Server {
    addr: String,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(db: &TestDatabase) -> Server {
        Server::start_with_drain(db, "1s")
    }

    fn start_with_drain(db: &TestDatabase, drain: &str) -> Server {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let port_text = port.to_string();
        let config = Config::from_vars(&[
            ("BAO_PORT", port_text.as_str()),
            ("BAO_WORKERS", "2"),
            ("BAO_DATABASE_URL", db.url()),
            ("BAO_LOG_LEVEL", "off"),
            ("BAO_SHUTDOWN_DRAIN_TIMEOUT", drain),
        ])
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _ = bao::__private::block_on(bao::serve_until(app(), config, async move {
                while rx.try_recv().is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        });
        assert!(wait_until_healthy(&addr, WAIT), "the server came up");
        Server {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads SSE events (id, event, data) from a streaming response.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(url: &str, last_id: Option<i64>) -> Events {
        let mut request = reqwest::Client::new().get(url);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or None when the stream ended.
    async fn next(&mut self) -> Option<(i64, String, String)> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, "message".to_string(), Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push(v.to_string());
                    }
                }
                if let Some(id) = id {
                    return Some((id, event, data.join("\n")));
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("an event within 10 s")
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[bao::test]
async fn sse_clients_are_authorized_per_kind_and_resume_with_last_event_id() {
    let db = TestDatabase::postgres().expect("this test needs PostgreSQL");
    let server = Server::start(&db);
    let pool = DbPool::new(db.url()).unwrap();
    let client = reqwest::Client::new();
    for (path, status) in [
        ("/_bao/channels/orders/3", 403),
        ("/_bao/channels/orders/not-a-number", 404),
        ("/_bao/channels/nobody-declared/1", 403),
        ("/_bao/channels/echo/1", 400),
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
    }
    let refused = client
        .get(server.url("/_bao/channels/nobody-declared/1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(refused.contains("#[bao::channel"), "{refused}");

    let mut events = Events::open(&server.url("/_bao/channels/orders/2"), None).await;
    let mut news = Events::open(&server.url("/_bao/channels/news/today"), None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Published from another "process" (a pool of its own).
    let first = channels::publish_event(&pool, "orders", 2, "status", "<p>paid</p>\n<p>packed</p>")
        .await
        .unwrap();
    let (id, event, data) = events.next().await.unwrap();
    assert_eq!(
        (id, event.as_str(), data.as_str()),
        (first, "status", "<p>paid</p>\n<p>packed</p>")
    );
    channels::publish(&pool, "news", "today", &"hello")
        .await
        .unwrap();
    assert_eq!(news.next().await.unwrap().2, "\"hello\"");
    drop(events);

    // Missed while away: replayed after the last id the client saw.
    let second = channels::publish(&pool, "orders", 2, &2).await.unwrap();
    let third = channels::publish(&pool, "orders", 2, &3).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut resumed = Events::open(&server.url("/_bao/channels/orders/2"), Some(first)).await;
    assert_eq!(resumed.next().await.unwrap().0, second);
    assert_eq!(resumed.next().await.unwrap().0, third);
    drop(server);
}

#[bao::test]
async fn a_slow_sse_client_is_dropped_while_a_fast_one_keeps_up() {
    let db = TestDatabase::sqlite();
    let server = Server::start(&db);
    let pool = DbPool::new(db.url()).unwrap();
    let mut fast = Events::open(&server.url("/_bao/channels/news/firehose"), None).await;
    let mut slow = Events::open(&server.url("/_bao/channels/news/firehose"), None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // 600 messages of 100 KB: far more than the socket buffers and the
    // 256-message queue of a client that does not read. The fast client
    // reads each batch of 50 as it is published.
    let total = 600;
    let payload = "y".repeat(100_000);
    let mut got_fast = 0;
    for _ in 0..total / 50 {
        for _ in 0..50 {
            channels::publish_event(&pool, "news", "firehose", "m", payload.clone())
                .await
                .unwrap();
        }
        for _ in 0..50 {
            fast.next()
                .await
                .expect("the fast client's stream stays open");
            got_fast += 1;
        }
    }
    let mut got_slow = 0;
    while slow.next().await.is_some() {
        got_slow += 1;
    }
    assert_eq!(got_fast, total);
    assert!(
        got_slow < total,
        "the slow client was dropped (it got {got_slow} of {total}, then its stream ended)"
    );
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("bao_channel_dropped_subscribers_total{kind=\"news\"} 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("bao_channel"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[bao::test]
async fn websockets_carry_channel_messages_and_two_way_handlers() {
    let db = TestDatabase::sqlite();
    let server = Server::start(&db);
    let pool = DbPool::new(db.url()).unwrap();
    let ws_url = |path: &str| format!("ws://{}{path}", server.addr);

    // A refused kind is refused before the upgrade, as plain HTTP.
    let refused = tokio_tungstenite::connect_async(ws_url("/_bao/ws/orders/3")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }

    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url("/_bao/ws/orders/2"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = channels::publish(
        &pool,
        "orders",
        2,
        &serde_json::json!({"status": "shipped"}),
    )
    .await
    .unwrap();
    let message = tokio::time::timeout(WAIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
    assert_eq!(value["id"], id);
    assert_eq!(value["data"], r#"{"status":"shipped"}"#);

    let (mut echo, _) = tokio_tungstenite::connect_async(ws_url("/_bao/ws/echo/ada"))
        .await
        .unwrap();
    echo.send(WsMessage::text("hello")).await.unwrap();
    let reply = tokio::time::timeout(WAIT, echo.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.to_text().unwrap(), "ada: hello");
    echo.send(WsMessage::Ping(b"p".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, echo.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(pong, WsMessage::Pong(_)), "{pong:?}");

    // A message over the limit closes the socket with 1009.
    let huge = "z".repeat(channels::MAX_MESSAGE + 10);
    let _ = echo.send(WsMessage::text(huge)).await;
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(frame) = echo.next().await {
            if let Ok(WsMessage::Close(Some(frame))) = frame {
                return Some(u16::from(frame.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(closed, Some(1009));
}

#[bao::test]
async fn open_streams_end_when_the_server_shuts_down_instead_of_holding_the_drain() {
    let db = TestDatabase::sqlite();
    let mut server = Server::start_with_drain(&db, "20s");
    let mut events = Events::open(&server.url("/_bao/channels/news/today"), None).await;
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/_bao/ws/news/today", server.addr))
            .await
            .unwrap();
    let started = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    assert!(events.next().await.is_none(), "the SSE stream ended");
    let close = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    assert!(
        matches!(close, Some(Ok(WsMessage::Close(Some(ref f)))) if u16::from(f.code) == 1012),
        "the socket was closed with 1012 (service restart): {close:?}"
    );
    let thread = server.thread.take().unwrap();
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server stopped in {:?}, not after the 20 s drain timeout",
        started.elapsed()
    );
}
