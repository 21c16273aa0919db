//! Starts a server command and measures the time from spawn to the first 200
//! from `/healthz`, then its resident memory after a second of idling.
//!
//! Usage: `startup-probe PORT COMMAND [ARGS...]`

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn healthz(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(program)) = (args.next(), args.next()) else {
        eprintln!("usage: startup-probe PORT COMMAND [ARGS...]");
        std::process::exit(2);
    };
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server command starts");
    let deadline = started + Duration::from_secs(10);
    while !healthz(&addr) {
        if Instant::now() > deadline {
            let _ = child.kill();
            eprintln!("no 200 from /healthz within 10 s");
            std::process::exit(1);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let first_ok = started.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let rss = rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "start_to_first_200_ms={:.1} idle_rss_mib={:.1}",
        first_ok.as_secs_f64() * 1000.0,
        rss as f64 / 1024.0
    );
}
