//! A TCP proxy for fault tests: put it between the app and its database,
//! then cut and restore the network without touching the server.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Forwards connections from a local port to `target` until [`stop`]ped;
/// [`start_again`] listens again on the same port.
///
/// ```no_run
/// let proxy = bao::testing::TcpProxy::start("127.0.0.1:5432").unwrap();
/// let url = format!("postgres://postgres@{}/test", proxy.addr());
/// // .. the app works through `url` ..
/// proxy.stop();   // every connection is cut, new ones are refused
/// proxy.start_again().unwrap();  // the database is back
/// ```
///
/// [`stop`]: TcpProxy::stop
/// [`start_again`]: TcpProxy::start_again
pub struct TcpProxy {
    addr: SocketAddr,
    target: String,
    state: Mutex<Option<Running>>,
}

struct Running {
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free local port and forwards to `target` (`host:port`).
    pub fn start(target: &str) -> io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let running = serve(listener, target.to_string())?;
        Ok(TcpProxy {
            addr,
            target: target.to_string(),
            state: Mutex::new(Some(running)),
        })
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts every open connection and refuses new ones, as a database that
    /// went away would. Does nothing if already stopped.
    pub fn stop(&self) {
        let running = self.state.lock().expect("proxy state").take();
        if let Some(running) = running {
            running.stop.store(true, Ordering::SeqCst);
            for stream in running.streams.lock().expect("proxy streams").drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
            let _ = running.acceptor.join();
        }
    }

    /// Listens again on the same port. Does nothing if running.
    pub fn start_again(&self) -> io::Result<()> {
        let mut state = self.state.lock().expect("proxy state");
        if state.is_none() {
            let listener = TcpListener::bind(self.addr)?;
            *state = Some(serve(listener, self.target.clone())?);
        }
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(listener: TcpListener, target: String) -> io::Result<Running> {
    // Non-blocking accepts, so that `stop` ends the loop within a few ms.
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let acceptor = {
        let (stop, streams) = (stop.clone(), streams.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        match TcpStream::connect(&target) {
                            Ok(server) => pipe(client, server, &streams),
                            Err(_) => drop(client),
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        })
    };
    Ok(Running {
        stop,
        streams,
        acceptor,
    })
}

/// Copies both ways on two threads; both streams are kept so `stop` can cut
/// them.
fn pipe(client: TcpStream, server: TcpStream, streams: &Mutex<Vec<TcpStream>>) {
    let clones = (
        client.try_clone(),
        server.try_clone(),
        client.try_clone(),
        server.try_clone(),
    );
    let (Ok(client_read), Ok(server_write), Ok(client_keep), Ok(server_keep)) = clones else {
        return;
    };
    streams
        .lock()
        .expect("proxy streams")
        .extend([client_keep, server_keep]);
    let copy = |mut from: TcpStream, mut to: TcpStream| {
        std::thread::spawn(move || {
            let _ = io::copy(&mut from, &mut to);
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    };
    copy(client_read, server_write);
    copy(server, client);
}
