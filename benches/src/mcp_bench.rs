//! MCP latency: `tools/list` and `bao_describe` through a real `bao
//! mcp:serve` over stdio, in an app's folder, once the app is built.
//!
//! `cargo run --release -p benches --bin mcp-bench -- PATH_TO_BAO APP_DIR [N]`
//! (for the example: `target/release/bao example 200`). Prints p50/p99 of
//! each and the tool list's size.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let bao = args.next().expect("the path of the bao binary");
    let app = args.next().expect("the app's folder");
    let n: usize = args.next().map_or(200, |n| n.parse().expect("a count"));
    let mut child = Command::new(bao)
        .arg("mcp:serve")
        .current_dir(app)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("bao mcp:serve starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut id = 0;
    let mut ask = |method: &str, params: Value| -> (Duration, String) {
        id += 1;
        let started = Instant::now();
        let message = if method.starts_with("notifications/") {
            json!({"jsonrpc": "2.0", "method": method})
        } else {
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
        };
        writeln!(stdin, "{message}").unwrap();
        if method.starts_with("notifications/") {
            stdin.flush().unwrap();
            return (started.elapsed(), String::new());
        }
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        (started.elapsed(), line)
    };
    ask(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "mcp-bench", "version": "1"}}),
    );
    ask("notifications/initialized", json!({}));
    // The first describe builds the app (cargo) and fills the cache.
    let (first, _) = ask(
        "tools/call",
        json!({"name": "bao_describe", "arguments": {}}),
    );
    let mut list = Vec::new();
    let mut describe = Vec::new();
    let mut size = 0;
    for _ in 0..n {
        let (t, line) = ask("tools/list", json!({}));
        size = line.len();
        list.push(t);
        let (t, _) = ask(
            "tools/call",
            json!({"name": "bao_describe", "arguments": {}}),
        );
        describe.push(t);
    }
    let pct = |v: &mut Vec<Duration>, p: f64| {
        v.sort();
        v[((v.len() as f64 - 1.0) * p) as usize]
    };
    println!("first bao_describe (cargo build check + describe): {first:?}");
    println!(
        "tools/list: p50 {:?} p99 {:?} ({size} bytes, ~{} tokens)",
        pct(&mut list, 0.5),
        pct(&mut list, 0.99),
        size / 4
    );
    println!(
        "bao_describe: p50 {:?} p99 {:?}",
        pct(&mut describe, 0.5),
        pct(&mut describe, 0.99)
    );
    let _ = child.kill();
    let _ = child.wait();
}
