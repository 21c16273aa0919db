//! `bao run`: the development loop. Build; serve the new binary; on a change
//! under `src/`, `views/`, `static/` or to `Cargo.toml`/`askama.toml`/`.env`,
//! rebuild while the old server keeps answering, then swap. A failed build
//! prints the errors and serves them as a page on the app's port until the
//! next change fixes them.

use super::project::{build, find_app_root, Build};
use super::{fail, RunArgs};
use notify::{RecursiveMode, Watcher};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const WATCHED: &[&str] = &[
    "src",
    "views",
    "static",
    "Cargo.toml",
    "askama.toml",
    ".env",
];

pub(super) fn run(args: &RunArgs) -> ExitCode {
    let root = match find_app_root() {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let config = crate::Config::from_env();
    let host = args
        .bind
        .host
        .clone()
        .or_else(|| config.as_ref().ok().map(|c| c.host.clone()))
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = args
        .bind
        .port
        .or_else(|| config.as_ref().ok().map(|c| c.port))
        .unwrap_or(8000);
    // The app binds the port on each restart: say at once if it cannot.
    if let Err(e) = std::net::TcpListener::bind((host.as_str(), port)) {
        return fail(format!(
            "cannot listen on {host}:{port} ({e}): another server has it; stop it, or pick another port with `bao run --port {}`",
            port.saturating_add(1)
        ));
    }
    let (tx, changes) = channel();
    let mut watcher =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if let Ok(event) = event {
                if !matches!(event.kind, notify::EventKind::Access(_)) {
                    let _ = tx.send(event.paths);
                }
            }
        }) {
            Ok(w) => w,
            Err(e) => return fail(format!("cannot watch files: {e}")),
        };
    for name in WATCHED {
        let path = root.join(name);
        if path.exists() {
            if let Err(e) = watcher.watch(&path, RecursiveMode::Recursive) {
                return fail(format!("cannot watch `{}`: {e}", path.display()));
            }
        }
    }
    eprintln!(
        "bao run: watching {} for changes (Ctrl-C to stop)",
        root.display()
    );
    stop_signal::install();
    let mut state = Serving::Nothing;
    loop {
        if stop_signal::received() {
            state.stop();
            return ExitCode::SUCCESS;
        }
        eprintln!("bao run: building...");
        match build(&root) {
            Ok(Build::Built(exe)) => {
                state.stop();
                match start_app(&exe, &host, port) {
                    Ok(child) => {
                        eprintln!("bao run: serving on http://{host}:{port}");
                        state = Serving::App(child);
                    }
                    Err(e) => eprintln!("bao run: cannot start the app: {e}"),
                }
            }
            Ok(Build::Failed(errors)) => {
                state.stop();
                eprintln!("bao run: the build failed; the errors are also on http://{host}:{port} until you fix them");
                state = match ErrorPage::start(&host, port, errors) {
                    Ok(page) => Serving::Errors(page),
                    Err(e) => {
                        eprintln!("bao run: cannot serve the error page: {e}");
                        Serving::Nothing
                    }
                };
            }
            Err(e) => {
                state.stop();
                return fail(e);
            }
        }
        if !wait_for_change(&changes, &root, &mut state) {
            state.stop();
            return ExitCode::SUCCESS;
        }
    }
}

enum Serving {
    Nothing,
    App(Child),
    Errors(ErrorPage),
}

impl Serving {
    fn stop(&mut self) {
        match std::mem::replace(self, Serving::Nothing) {
            Serving::Nothing => {}
            Serving::App(child) => stop_child(child),
            Serving::Errors(page) => page.stop(),
        }
    }
}

fn start_app(exe: &Path, host: &str, port: u16) -> std::io::Result<Child> {
    let mut command = Command::new(exe);
    command.args(["serve", "--host", host, "--port", &port.to_string()]);
    if std::env::var_os("BAO_ENV").is_none() {
        command.env("BAO_ENV", "development");
    }
    // Open pages reload when the rebuilt app answers.
    if std::env::var_os("BAO_LIVE_RELOAD").is_none() {
        command.env("BAO_LIVE_RELOAD", "true");
    }
    command.spawn()
}

/// SIGTERM (a graceful stop), then SIGKILL if it has not exited in 5 s.
fn stop_child(mut child: Child) {
    #[cfg(unix)]
    {
        let pid = child.id() as libc::pid_t;
        // SAFETY: `pid` is our own child, which has not been reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Blocks until a relevant file changes (true) or the watcher is gone (false).
/// Reports if the app exits on its own meanwhile.
fn wait_for_change(changes: &Receiver<Vec<PathBuf>>, root: &Path, state: &mut Serving) -> bool {
    let target = root.join("target");
    loop {
        if stop_signal::received() {
            return false;
        }
        match changes.recv_timeout(Duration::from_millis(200)) {
            Ok(paths) if paths.iter().all(|p| p.starts_with(&target)) => continue,
            Ok(paths) => {
                // Editors write in bursts: wait for quiet before rebuilding.
                while changes.recv_timeout(Duration::from_millis(200)).is_ok() {}
                // A new admin page template is no file cargo knows the app
                // read: make it expand `bao::app!` again.
                let admin = root.join("views").join("admin");
                if paths.iter().any(|p| p.starts_with(&admin)) {
                    super::admin_commands::touch_app_sources(root);
                }
                if let Some(p) = paths.first() {
                    eprintln!(
                        "bao run: {} changed",
                        p.strip_prefix(root).unwrap_or(p).display()
                    );
                }
                return true;
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Serving::App(child) = state {
                    if let Ok(Some(status)) = child.try_wait() {
                        eprintln!(
                            "bao run: the app exited ({status}); waiting for a change to rebuild"
                        );
                        *state = Serving::Nothing;
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// A minimal server that answers every request with the build errors.
struct ErrorPage {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl ErrorPage {
    fn start(host: &str, port: u16, errors: String) -> std::io::Result<ErrorPage> {
        let listener = TcpListener::bind((host, port))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let page = error_page(&errors);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                        let mut buf = [0u8; 4096];
                        let _ = stream.read(&mut buf);
                        let response = format!(
                            "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{page}",
                            page.len()
                        );
                        let _ = stream.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(ErrorPage { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn error_page(errors: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">\
         <title>Build failed</title><style>body{{font-family:system-ui,sans-serif;margin:2rem;background:#fff7f7;color:#1d2330}}\
         pre{{background:#1d2330;color:#f3f4f6;padding:1rem;border-radius:6px;overflow-x:auto;white-space:pre-wrap}}</style></head>\
         <body><h1>The app does not build</h1><p>Fix the errors below and save; this page reloads when the build succeeds.</p>\
         <pre>{}</pre></body></html>",
        crate::http::page::escape_html(errors)
    )
}

/// SIGINT and SIGTERM end `bao run` cleanly: the app it started is stopped
/// too, instead of being left running without its supervisor.
mod stop_signal {
    use std::sync::atomic::{AtomicBool, Ordering};

    static RECEIVED: AtomicBool = AtomicBool::new(false);

    #[cfg(unix)]
    extern "C" fn on_signal(_: libc::c_int) {
        RECEIVED.store(true, Ordering::SeqCst);
    }

    pub(super) fn install() {
        #[cfg(unix)]
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::signal(libc::SIGINT, handler);
            libc::signal(libc::SIGTERM, handler);
        }
    }

    pub(super) fn received() -> bool {
        RECEIVED.load(Ordering::SeqCst)
    }
}
