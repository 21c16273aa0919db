//! Live channels under load, as production runs them: a Bao server in a
//! process of its own, SSE subscribers over real connections, messages
//! published by another process through the database.
//!
//! `cargo run --release -p benches --bin channel-bench -- [SUBSCRIBERS]`
//! (default 10,000) reports, on PostgreSQL (`BAO_TEST_POSTGRES_URL` or the
//! local server) and on SQLite:
//! - publish-to-delivery latency p50/p99 at every subscriber of one channel,
//! - the server's memory per subscriber (its RSS before and after),
//! - cross-process latency with one subscriber.

use bao::channels::{self, ChannelDef};
use bao::db::DbPool;
use bao::testing::{free_port, wait_until_healthy, TestDatabase};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn with_public(app: bao::App) -> bao::App {
    app.channel(ChannelDef::public("bench"))
}

/// A channel kind that only the benchmark's own code publishes to.
#[bao::channel("unused")]
pub async fn nobody(id: i64) -> bao::Result<bool> {
    Ok(id < 0)
}

bao::app! { channels: [nobody], setup: with_public }

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at] as f64 / 1000.0
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(url: &str, port: u16) -> Server {
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--serve", &port.to_string(), url])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    assert!(
        wait_until_healthy(&format!("127.0.0.1:{port}"), Duration::from_secs(20)),
        "the server came up"
    );
    Server(child)
}

/// Opens `n` SSE subscribers; each records the latency of every message
/// (the message carries its publish time).
async fn subscribe_all(
    port: u16,
    key: &str,
    n: usize,
    latencies: Arc<Mutex<Vec<i64>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/_bao/channels/bench/{key}");
    let mut handles = Vec::with_capacity(n);
    // At most 256 connections being opened at once (the accept queue).
    let connecting = Arc::new(tokio::sync::Semaphore::new(256));
    let opened = Arc::new(tokio::sync::Semaphore::new(0));
    for _ in 0..n {
        let (client, url, latencies) = (client.clone(), url.clone(), latencies.clone());
        let (connecting, opened) = (connecting.clone(), opened.clone());
        handles.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await.unwrap();
            let mut response = loop {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => break r,
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            drop(permit);
            opened.add_permits(1);
            let mut buffer = String::new();
            let mut mine = Vec::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                let at = now_us();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    if let Some(sent) = block
                        .lines()
                        .find_map(|l| l.strip_prefix("data: "))
                        .and_then(|d| d.parse::<i64>().ok())
                    {
                        if sent < 0 {
                            latencies.lock().unwrap().extend(mine.drain(..));
                            return;
                        }
                        mine.push(at - sent);
                    }
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    opened.acquire_many(n as u32).await.unwrap().forget();
    handles
}

async fn fan_out(url: &str, label: &str, subscribers: usize) {
    let port = free_port();
    let server = start_server(url, port);
    let pool = DbPool::new(url).unwrap();
    // Warm: the tables exist, the receiver runs.
    channels::publish(&pool, "bench", "warm", &0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(server.0.id());
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let handles = subscribe_all(port, "all", subscribers, latencies.clone()).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = rss_kib(server.0.id());
    println!(
        "{label}: {subscribers} SSE subscribers connected in {:.1} s; server RSS {} -> {} KiB ({:.1} KiB per subscriber)",
        started.elapsed().as_secs_f64(),
        before,
        after,
        (after.saturating_sub(before)) as f64 / subscribers as f64
    );
    let messages = 30;
    for _ in 0..messages {
        channels::publish_event(&pool, "bench", "all", "message", now_us().to_string())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    channels::publish_event(&pool, "bench", "all", "message", "-1")
        .await
        .unwrap();
    for handle in handles {
        let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
    }
    let mut all = latencies.lock().unwrap().clone();
    all.sort_unstable();
    println!(
        "{label}: {} deliveries of {messages} messages to {subscribers} subscribers (publisher in another process): p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    drop(server);
}

async fn one_subscriber(url: &str, label: &str) {
    let port = free_port();
    let server = start_server(url, port);
    let pool = DbPool::new(url).unwrap();
    channels::publish(&pool, "bench", "warm", &0).await.unwrap();
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let handles = subscribe_all(port, "one", 1, latencies.clone()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..200 {
        channels::publish_event(&pool, "bench", "one", "message", now_us().to_string())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    channels::publish_event(&pool, "bench", "one", "message", "-1")
        .await
        .unwrap();
    for handle in handles {
        let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
    }
    let mut all = latencies.lock().unwrap().clone();
    all.sort_unstable();
    println!(
        "{label}: cross-process publish -> SSE client, 200 messages: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    drop(server);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        let (port, url) = (args[2].clone(), args[3].clone());
        let config = bao::Config::from_vars(&[
            ("BAO_PORT", port.as_str()),
            ("BAO_DATABASE_URL", url.as_str()),
            ("BAO_LOG_LEVEL", "warn"),
            ("BAO_WORKERS", "2"),
        ])
        .unwrap();
        bao::__private::block_on(bao::serve(app(), config)).unwrap();
        return;
    }
    let subscribers: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pg = TestDatabase::postgres().expect("the benchmark needs PostgreSQL");
        let sqlite = TestDatabase::sqlite();
        for db in [&pg, &sqlite] {
            let pool = DbPool::new(db.url()).unwrap();
            pool.run(|c| bao::db::system::migrate(c).map(|_| ()))
                .await
                .unwrap();
        }
        one_subscriber(pg.url(), "PostgreSQL").await;
        one_subscriber(sqlite.url(), "SQLite").await;
        fan_out(pg.url(), "PostgreSQL", subscribers).await;
    });
}
