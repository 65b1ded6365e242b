//! A TCP proxy on 127.0.0.1 that breaks connections on purpose, for transfer-resume
//! tests against real servers.
//!
//! Every accepted connection is forwarded to the target port. A connection that has
//! carried more than `after_bytes` in the chosen [`Direction`] is cut (both sockets shut
//! down), as long as fewer than `cuts` cuts were made so far; later connections pass
//! untouched. The proxy stops accepting when dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which bytes count towards a cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server (request bodies: uploads).
    ToServer,
    /// Server to client (response bodies: downloads).
    ToClient,
}

/// When to cut.
#[derive(Debug, Clone, Copy)]
pub struct Cut {
    /// The direction whose bytes are counted.
    pub direction: Direction,
    /// A connection is cut once more than this many bytes went that way.
    pub after_bytes: u64,
    /// How many connections to cut in all.
    pub cuts: usize,
}

/// A running proxy; stops accepting on drop.
#[derive(Debug)]
pub struct CutProxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    made: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CutProxy {
    /// Proxies a free local port to `127.0.0.1:target`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub fn start(target: u16, cut: Cut) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let made = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (made2, stop2) = (made.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], target)))
                else {
                    continue;
                };
                let made = made2.clone();
                std::thread::spawn(move || relay(client, server, cut, &made));
            }
        });
        CutProxy { port, made, stop }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many connections were cut so far.
    pub fn cuts_made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_millis(200),
        );
    }
}

/// Copies both ways until either side closes, cutting as configured.
fn relay(client: TcpStream, server: TcpStream, cut: Cut, made: &Arc<AtomicUsize>) {
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = {
        let made = made.clone();
        std::thread::spawn(move || pump(client, server, cut, Direction::ToServer, &made))
    };
    pump(s2, c2, cut, Direction::ToClient, made);
    let _ = up.join();
}

/// Copies `from` to `to`; shuts both down at the end or at the cut.
fn pump(mut from: TcpStream, mut to: TcpStream, cut: Cut, dir: Direction, made: &Arc<AtomicUsize>) {
    let mut buf = [0u8; 16 * 1024];
    let mut carried = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut send = n;
        let mut cutting = false;
        if dir == cut.direction && carried + n as u64 > cut.after_bytes {
            // Claim a cut; once all are made, connections pass untouched.
            let claimed = made
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
                    (m < cut.cuts).then_some(m + 1)
                })
                .is_ok();
            if claimed {
                send = usize::try_from(cut.after_bytes.saturating_sub(carried)).unwrap_or(n);
                cutting = true;
            }
        }
        if to.write_all(&buf[..send]).is_err() {
            break;
        }
        carried += send as u64;
        if cutting {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
