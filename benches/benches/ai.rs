//! What the AI router adds to a call: `Router::complete` and `stream` against
//! a local stub speaking OpenAI's wire format, versus the same request made
//! with bare reqwest. `cargo bench -p benches --bench ai`.

use actix_web::{web, App, HttpResponse, HttpServer};
use bao::ai::{Chat, HttpSettings, OpenAi, Router};
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::StreamExt;
use std::time::{Duration, Instant};

const REPLY: &str = r#"{"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"pong"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
const STREAM: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"po\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ng\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";

fn start_stub() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new().route(
                    "/v1/chat/completions",
                    web::post().to(|body: web::Bytes| async move {
                        if body.windows(13).any(|w| w == b"\"stream\":true") {
                            HttpResponse::Ok()
                                .content_type("text/event-stream")
                                .body(STREAM)
                        } else {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(REPLY)
                        }
                    }),
                )
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind");
            tx.send(server.addrs()[0]).expect("send");
            server.run().await.expect("stub");
        });
    });
    format!("http://{}", rx.recv().expect("stub address"))
}

fn bench(c: &mut Criterion) {
    let base = start_stub();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let settings = HttpSettings {
        timeout: Duration::from_secs(5),
        retries: 0,
        ..HttpSettings::default()
    };
    let router = Router::new().provider(OpenAi::new("k").base_url(&base).http(settings));
    let chat = Chat::from("ping");
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/chat/completions");
    let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}]});

    let mut group = c.benchmark_group("ai");
    group.bench_function("bare_reqwest_complete", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let response = client
                    .post(&url)
                    .bearer_auth("k")
                    .json(&body)
                    .send()
                    .await
                    .expect("send");
                let value: serde_json::Value = response.json().await.expect("json");
                assert_eq!(value["choices"][0]["message"]["content"], "pong");
            })
        })
    });
    group.bench_function("router_complete", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let reply = router.complete(&chat).await.expect("reply");
                assert_eq!(reply.text, "pong");
            })
        })
    });
    group.bench_function("router_stream_first_piece", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut stream = router.stream(&chat).await.expect("stream");
                assert_eq!(stream.next().await.expect("piece").expect("ok"), "po");
            })
        })
    });
    group.finish();

    // Time to first token added by the router, measured directly.
    let (mut bare, mut routed) = (Duration::ZERO, Duration::ZERO);
    let n = 500;
    runtime.block_on(async {
        let stream_body = serde_json::json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "ping"}]});
        for _ in 0..n {
            let started = Instant::now();
            let response = client.post(&url).json(&stream_body).send().await.expect("send");
            let mut bytes = response.bytes_stream();
            let _ = bytes.next().await;
            bare += started.elapsed();
            let started = Instant::now();
            let mut stream = router.stream(&chat).await.expect("stream");
            let _ = stream.next().await;
            routed += started.elapsed();
        }
    });
    println!(
        "first streamed piece: bare reqwest {:?}, router {:?} (mean of {n})",
        bare / n,
        routed / n
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
