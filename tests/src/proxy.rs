//! A TCP proxy on 127.0.0.1 that can cut connections mid-transfer, for testing how the
//! engine and the backends survive a connection dropped during an upload or a download.
//!
//! [`CutProxy::start`] forwards every connection to a target port, byte for byte. Once
//! armed, a connection that has carried `after` bytes in the armed [`Direction`] since the
//! arming is closed on both sides, abruptly, in the middle of whatever it was sending; this
//! happens to `times` connections, then the proxy forwards normally again.
//! [`CutProxy::arm`] counts client→server bytes (uploads), [`CutProxy::arm_downloads`]
//! server→client bytes (downloads). [`CutProxy::cuts`] counts the cuts.
//! [`CutProxy::watch`] counts how often a byte string (say `partNumber=`) goes
//! client→server, to see which requests a backend made. Everything stops on drop.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// At most this many connections are forwarded at once; more wait in the listen queue
/// (the proxy's threads stay bounded whatever a test does).
const MAX_CONNECTIONS: usize = 64;

/// Which bytes count towards a cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Direction {
    /// Client to server (requests and their bodies: uploads).
    #[default]
    ToServer,
    /// Server to client (responses and their bodies: downloads).
    ToClient,
}

#[derive(Debug, Default)]
struct Arming {
    /// The direction whose bytes are counted.
    direction: Direction,
    /// Cut a connection once it carried this many bytes in `direction` since the arming.
    after: u64,
    /// How many more connections to cut.
    remaining: u32,
    /// Counts armings, so a pooled connection that carried bytes before counts afresh.
    generation: u64,
}

#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    arming: Mutex<Arming>,
    cuts: AtomicU32,
    /// The byte string counted in the upload direction, if any.
    needle: Mutex<Vec<u8>>,
    seen: AtomicU32,
    /// Both ends of every live connection, to close them all on drop.
    live: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
}

impl Shared {
    /// How many of the next `len` bytes that a connection's pump for `direction` passes
    /// may go, when it has passed `count.1` bytes since the arming `count.0`, and whether
    /// the connection is to be cut after them. Claims a cut when it says so; starts the
    /// count afresh after a new arming.
    fn allow(&self, direction: Direction, count: &mut (u64, u64), len: usize) -> (usize, bool) {
        let Ok(mut a) = self.arming.lock() else {
            return (len, false);
        };
        if count.0 != a.generation {
            *count = (a.generation, 0);
        }
        let sent = count.1;
        if a.direction != direction || a.remaining == 0 || sent + (len as u64) < a.after {
            return (len, false);
        }
        a.remaining -= 1;
        self.cuts.fetch_add(1, Ordering::SeqCst);
        let pass = a.after.saturating_sub(sent).min(len as u64);
        (usize::try_from(pass).unwrap_or(len), true)
    }
}

impl Shared {
    /// Counts the needle's occurrences in `tail` + `chunk` that end inside `chunk`, and
    /// keeps the chunk's last bytes in `tail` for the next call.
    fn count_needle(&self, tail: &mut Vec<u8>, chunk: &[u8]) {
        let Ok(needle) = self.needle.lock() else {
            return;
        };
        if needle.is_empty() {
            return;
        }
        let keep = tail.len();
        tail.extend_from_slice(chunk);
        let found = tail
            .windows(needle.len())
            .enumerate()
            .filter(|(i, w)| i + needle.len() > keep && *w == needle.as_slice())
            .count();
        if found > 0 {
            self.seen.fetch_add(found as u32, Ordering::SeqCst);
        }
        let cut = tail.len().saturating_sub(needle.len() - 1);
        tail.drain(..cut);
    }
}

/// A forwarding proxy on a free 127.0.0.1 port; stops (and closes every connection) on drop.
#[derive(Debug)]
pub struct CutProxy {
    /// The port clients connect to.
    pub port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl CutProxy {
    /// Forwards 127.0.0.1:`port` (a free port) to 127.0.0.1:`target`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub fn start(target: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy's port");
        let port = listener.local_addr().expect("the proxy's address").port();
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(&listener, target, &s));
        CutProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts the next `times` connections that carry `after` bytes client→server (uploads).
    pub fn arm(&self, after: u64, times: u32) {
        self.arm_in(Direction::ToServer, after, times);
    }

    /// Cuts the next `times` connections that carry `after` bytes server→client
    /// (downloads).
    pub fn arm_downloads(&self, after: u64, times: u32) {
        self.arm_in(Direction::ToClient, after, times);
    }

    /// Cuts the next `times` connections that carry `after` bytes in `direction`, counted
    /// from now (bytes a pooled connection carried before do not count).
    pub fn arm_in(&self, direction: Direction, after: u64, times: u32) {
        if let Ok(mut a) = self.shared.arming.lock() {
            *a = Arming {
                direction,
                after,
                remaining: times,
                generation: a.generation + 1,
            };
        }
    }

    /// Stops cutting (cuts already counted stay counted).
    pub fn disarm(&self) {
        self.arm(0, 0);
    }

    /// Counts from now on how often `needle` goes client→server (resets the count).
    pub fn watch(&self, needle: &[u8]) {
        if let Ok(mut n) = self.shared.needle.lock() {
            *n = needle.to_vec();
        }
        self.shared.seen.store(0, Ordering::SeqCst);
    }

    /// How often the watched byte string went client→server.
    pub fn seen(&self) -> u32 {
        self.shared.seen.load(Ordering::SeqCst)
    }

    /// How many connections were cut so far.
    pub fn cuts(&self) -> u32 {
        self.shared.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, target: u16, shared: &Arc<Shared>) {
    let mut next_id = 0u64;
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        pumps.retain(|h| !h.is_finished());
        if pumps.len() >= 2 * MAX_CONNECTIONS {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        match listener.accept() {
            Ok((client, _)) => {
                next_id += 1;
                if let Some(p) = connect(next_id, client, target, shared) {
                    pumps.extend(p);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    // Closing every socket ends the pumps' blocking reads.
    if let Ok(mut live) = shared.live.lock() {
        for (_, a, b) in live.drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
    }
    for h in pumps {
        let _ = h.join();
    }
}

/// Connects `client` to the target and starts its two pumps.
fn connect(
    id: u64,
    client: TcpStream,
    target: u16,
    shared: &Arc<Shared>,
) -> Option<[JoinHandle<()>; 2]> {
    let _ = client.set_nonblocking(false);
    let addr = SocketAddr::from(([127, 0, 0, 1], target));
    let server = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (c2, s2) = (client.try_clone().ok()?, server.try_clone().ok()?);
    let (c3, s3) = (client.try_clone().ok()?, server.try_clone().ok()?);
    if let Ok(mut live) = shared.live.lock() {
        live.push((id, c3, s3));
    }
    let up_shared = shared.clone();
    let up = std::thread::spawn(move || {
        pump(client, server, Direction::ToServer, &up_shared);
        forget(&up_shared, id);
    });
    let down_shared = shared.clone();
    let down = std::thread::spawn(move || {
        pump(s2, c2, Direction::ToClient, &down_shared);
        forget(&down_shared, id);
    });
    Some([up, down])
}

fn forget(shared: &Shared, id: u64) {
    if let Ok(mut live) = shared.live.lock() {
        live.retain(|(i, _, _)| *i != id);
    }
}

/// Copies `from` to `to` (the bytes going `direction`) until `from` ends (passed on as a
/// half close) or fails, or the arming cuts the connection.
fn pump(mut from: TcpStream, mut to: TcpStream, direction: Direction, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    // (arming generation, bytes passed since it).
    let mut sent = (0u64, 0u64);
    // The end of the previous chunk, so a needle split across reads is still found.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Err(_) => break,
            Ok(n) => n,
        };
        if direction == Direction::ToServer {
            shared.count_needle(&mut tail, &buf[..n]);
        }
        let (pass, cut) = shared.allow(direction, &mut sent, n);
        if to.write_all(&buf[..pass]).is_err() {
            break;
        }
        sent.1 += pass as u64;
        if cut {
            break;
        }
    }
    // A cut or a failure ends the whole connection (both directions), as a dropped
    // connection would.
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts a target on a free port that reads each request to its end (or until the
    /// connection fails) and writes `answer(request)`; returns the port.
    fn target(answer: fn(&[u8]) -> Vec<u8>) -> u16 {
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = server.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            for s in server.incoming() {
                let Ok(mut s) = s else { break };
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let _ = s.read_to_end(&mut request);
                    let _ = s.write_all(&answer(&request));
                });
            }
        });
        port
    }

    #[test]
    fn cut_after_n_bytes_once_then_forward() {
        // The target answers how many bytes it got.
        let proxy = CutProxy::start(target(|r| r.len().to_string().into_bytes()));
        let send = |len: usize| -> Result<String, std::io::Error> {
            let mut c = TcpStream::connect(("127.0.0.1", proxy.port))?;
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(&vec![7u8; len])?;
            c.shutdown(Shutdown::Write)?;
            let mut out = String::new();
            c.read_to_string(&mut out)?;
            Ok(out)
        };
        assert_eq!(send(100_000).expect("forwarded"), "100000");
        proxy.arm(50_000, 1);
        // Cut: the server saw at most 50,000 bytes and the client no answer.
        let cut = send(100_000);
        assert!(
            cut.as_ref().map_or(true, |s| s.is_empty()),
            "a cut connection answered {cut:?}"
        );
        assert_eq!(proxy.cuts(), 1);
        // Once the cuts are spent, connections pass again.
        assert_eq!(send(100_000).expect("forwarded after the cut"), "100000");
        assert_eq!(proxy.cuts(), 1);
        // Twice, then forward.
        proxy.arm(10, 2);
        assert!(send(1000).map_or(true, |s| s.is_empty()));
        assert!(send(1000).map_or(true, |s| s.is_empty()));
        assert_eq!(send(1000).expect("forwarded"), "1000");
        assert_eq!(proxy.cuts(), 3);

        // The watched string is counted, also when split across writes.
        proxy.watch(b"needle");
        let mut c = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
        for part in [&b"a needle, a nee"[..], b"dle", b" and needleneedle"] {
            c.write_all(part).expect("write");
            std::thread::sleep(Duration::from_millis(50));
        }
        c.shutdown(Shutdown::Write).expect("shutdown");
        let mut out = String::new();
        c.read_to_string(&mut out).expect("answer");
        assert_eq!(out, "35");
        assert_eq!(proxy.seen(), 4);
    }

    #[test]
    fn cut_downloads_after_n_bytes_counting_only_the_answers() {
        // The target answers with as many bytes as the request's first line asks for.
        let proxy = CutProxy::start(target(|r| {
            let wanted: usize = String::from_utf8_lossy(r)
                .lines()
                .next()
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            vec![9u8; wanted]
        }));
        // Sends a request of `len` bytes asking for `wanted`; returns how many came back.
        let ask = |wanted: usize, len: usize| -> usize {
            let mut c = TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let mut request = format!("{wanted}\n").into_bytes();
            request.resize(len.max(request.len()), b'x');
            c.write_all(&request).expect("the request goes through");
            c.shutdown(Shutdown::Write).expect("shutdown");
            let mut out = Vec::new();
            let _ = c.read_to_end(&mut out);
            out.len()
        };
        assert_eq!(ask(100_000, 10), 100_000);
        proxy.arm_downloads(50_000, 1);
        // A large request with a short answer is not cut: request bytes do not count.
        assert_eq!(ask(1_000, 200_000), 1_000);
        assert_eq!(proxy.cuts(), 0);
        // A long answer is cut after 50,000 bytes.
        assert_eq!(ask(100_000, 10), 50_000);
        assert_eq!(proxy.cuts(), 1);
        // Once the cuts are spent, answers pass whole again.
        assert_eq!(ask(100_000, 10), 100_000);
        // Every connection, until disarmed; an upload arming leaves answers alone.
        proxy.arm_downloads(10_000, u32::MAX);
        assert_eq!(ask(30_000, 10), 10_000);
        assert_eq!(ask(30_000, 10), 10_000);
        assert_eq!(proxy.cuts(), 3);
        proxy.arm(50_000, 1);
        assert_eq!(ask(100_000, 10), 100_000);
        proxy.disarm();
        assert_eq!(ask(100_000, 10), 100_000);
        assert_eq!(proxy.cuts(), 3);
    }
}
