//! A TCP proxy between the server and PostgreSQL that a test can break: cut
//! every connection (and refuse new ones), add latency, or swallow traffic
//! without closing anything (a black hole).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Existing connections are closed, new ones closed at once.
    Cut,
    Latency(Duration),
    /// Everything is accepted and nothing forwarded or answered.
    BlackHole,
}

struct Shared {
    mode: Mutex<Mode>,
    streams: Mutex<Vec<TcpStream>>,
    stopped: AtomicBool,
}

pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy binds");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            mode: Mutex::new(Mode::Pass),
            streams: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::Acquire) {
                    return;
                }
                let Ok(client) = client else { continue };
                let mode = *accepting.mode.lock().unwrap();
                if mode == Mode::Cut {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                {
                    let mut streams = accepting.streams.lock().unwrap();
                    streams.push(client.try_clone().unwrap());
                    streams.push(server.try_clone().unwrap());
                }
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let shared = accepting.clone();
                    std::thread::spawn(move || pump(from, to, &shared));
                }
            }
        });
        FaultProxy { addr, shared }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    fn close_all(&self) {
        for s in self.shared.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Closes every connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        self.set(Mode::Cut);
        self.close_all();
    }

    pub fn latency(&self, delay: Duration) {
        self.set(Mode::Latency(delay));
    }

    pub fn black_hole(&self) {
        self.set(Mode::BlackHole);
    }

    /// Passes traffic again. Connections a black hole swallowed are closed
    /// (their protocol state is lost), as a network that comes back would
    /// eventually do.
    pub fn restore(&self) {
        let was = *self.shared.mode.lock().unwrap();
        if was == Mode::BlackHole {
            self.close_all();
        }
        self.set(Mode::Pass);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mode = *shared.mode.lock().unwrap();
        match mode {
            Mode::Pass => {}
            Mode::Latency(d) => std::thread::sleep(d),
            Mode::BlackHole => continue,
            Mode::Cut => break,
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.close_all();
        let _ = TcpStream::connect(self.addr);
    }
}
