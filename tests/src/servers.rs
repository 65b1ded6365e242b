//! Real servers for backend tests, started on a free local port and killed on drop.
//!
//! - [`RcloneWebdav`]: `rclone serve webdav DIR` with Basic auth (optionally HTTPS).
//! - [`WsgiDav`]: WsgiDAV (PyPI `wsgidav` + `cheroot`) with Basic or Digest auth.
//! - [`MotoS3`]: `moto_server`, an in-memory mock of AWS S3 (PyPI `moto[server]`).
//! - [`S3rver`]: `s3rver`, a filesystem-backed S3 server (npm, pinned in
//!   `tests/servers/s3rver/`), the second S3 implementation the backend is checked against.
//!
//! A missing server program is reported by [`require`], which tells how to install it
//! (`scripts/ensure-deps.sh`), so a test fails with that message rather than passing
//! vacuously.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server process; killed (and reaped) on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// Files the server reads while it runs (its config), removed after it.
    _keep: Option<tempfile::TempDir>,
}

impl Server {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Server {
    /// `https://127.0.0.1:PORT` (for a server started with TLS).
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0 for a free port");
    l.local_addr().expect("the bound address").port()
}

/// True when `program` runs (`program version` or `--version` exits).
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Panics with an installation hint when `program` is missing.
///
/// # Panics
/// When `program` cannot be run.
pub fn require(program: &str) {
    assert!(
        installed(program),
        "`{program}` is not installed: run scripts/ensure-deps.sh (it installs Debian's \
         {program}), then run the tests again"
    );
}

/// Waits until `port` accepts connections or `child` exits; false on timeout or exit.
fn wait_listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Starts the command `command(port)` builds for a free port (its output discarded);
/// `Some` once it listens (and, with `http`, answers HTTP) within 10 s. A few ports are
/// tried, in case another process takes the chosen one meanwhile. `keep` lives as long as
/// the server (its config files, say).
fn start_on_free_port(
    http: bool,
    keep: Option<tempfile::TempDir>,
    mut command: impl FnMut(u16) -> Option<Command>,
) -> Option<Server> {
    for _ in 0..3 {
        let port = free_port();
        let mut child = command(port)?
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        if wait_listening(&mut child, port) && (!http || answers_http(port)) {
            return Some(Server {
                child,
                port,
                _keep: keep,
            });
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

/// `rclone serve webdav`.
#[derive(Debug)]
pub struct RcloneWebdav;

impl RcloneWebdav {
    /// Serves `dir` over WebDAV on a free port with Basic auth `user`/`pass`; `None` when
    /// rclone is missing or the server does not come up within 10 s (a few ports are
    /// tried, in case another process took the chosen one meanwhile).
    pub fn start(dir: &Path, user: &str, pass: &str) -> Option<Server> {
        Self::start_with(dir, user, pass, None)
    }

    /// Like [`RcloneWebdav::start`], over HTTPS with the PEM certificate and key files
    /// `tls = (cert, key)`.
    pub fn start_tls(dir: &Path, user: &str, pass: &str, tls: (&Path, &Path)) -> Option<Server> {
        Self::start_with(dir, user, pass, Some(tls))
    }

    fn start_with(
        dir: &Path,
        user: &str,
        pass: &str,
        tls: Option<(&Path, &Path)>,
    ) -> Option<Server> {
        if !installed("rclone") {
            return None;
        }
        start_on_free_port(false, None, |port| {
            let mut cmd = Command::new("rclone");
            cmd.arg("serve")
                .arg("webdav")
                .arg(dir)
                .arg("--addr")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--user")
                .arg(user)
                .arg("--pass")
                .arg(pass)
                // The tests change the served folder behind the server's back.
                .arg("--dir-cache-time")
                .arg("0s")
                .arg("--config")
                .arg("/dev/null");
            if let Some((cert, key)) = tls {
                cmd.arg("--cert").arg(cert).arg("--key").arg(key);
            }
            Some(cmd)
        })
    }
}

/// How a [`WsgiDav`] server asks for credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsgiAuth {
    /// Basic only.
    Basic,
    /// Digest only (MD5, `qop=auth`; WsgiDAV 4.4 offers no SHA-256).
    Digest,
}

/// WsgiDAV on cheroot (`python3 -m wsgidav`), configured by a JSON file in a temp dir.
#[derive(Debug)]
pub struct WsgiDav;

impl WsgiDav {
    /// Serves `dir` on a free port for `user`/`pass` with `auth`; `None` when WsgiDAV is
    /// missing or does not answer within 10 s (a few ports are tried).
    pub fn start(dir: &Path, user: &str, pass: &str, auth: WsgiAuth) -> Option<Server> {
        Self::start_with(dir, user, pass, auth, true)
    }

    /// Like [`WsgiDav::start`], refusing `PROPFIND Depth: infinity` (403).
    pub fn start_finite_depth(dir: &Path, user: &str, pass: &str) -> Option<Server> {
        Self::start_with(dir, user, pass, WsgiAuth::Basic, false)
    }

    fn start_with(
        dir: &Path,
        user: &str,
        pass: &str,
        auth: WsgiAuth,
        infinity: bool,
    ) -> Option<Server> {
        if !wsgidav_installed() {
            return None;
        }
        let conf_dir = tempfile::tempdir().ok()?;
        let digest = auth == WsgiAuth::Digest;
        let conf = conf_dir.path().join("wsgidav.json");
        let launch = |port: u16| {
            let config = serde_json::json!({
                "host": "127.0.0.1",
                "port": port,
                "provider_mapping": { "/": dir.to_string_lossy() },
                "http_authenticator": {
                    "accept_basic": !digest,
                    "accept_digest": digest,
                    "default_to_digest": digest,
                },
                "simple_dc": { "user_mapping": { "*": { user: { "password": pass } } } },
                "verbose": 0,
                "logging": { "enable_loggers": [] },
                "dir_browser": { "enable": false },
                "suppress_version_info": true,
            });
            std::fs::write(&conf, config.to_string()).ok()?;
            // WsgiDAV has no setting for finite depth; a tiny launcher flips the switch
            // its request server reads.
            let launcher = format!(
                "import sys, wsgidav.request_server as rs\n\
                 if not {infinity}:\n\
                 \torig = rs.RequestServer.__init__\n\
                 \tdef init(self, *a, **k):\n\
                 \t\torig(self, *a, **k)\n\
                 \t\tself.allow_propfind_infinite = False\n\
                 \trs.RequestServer.__init__ = init\n\
                 from wsgidav.server.server_cli import run\n\
                 sys.argv = ['wsgidav', '--config', sys.argv[1], '-q']\n\
                 run()\n",
                infinity = if infinity { "True" } else { "False" },
            );
            let mut cmd = Command::new("python3");
            cmd.arg("-c").arg(launcher).arg(&conf);
            Some(cmd)
        };
        start_on_free_port(true, Some(conf_dir), launch)
    }
}

/// True when `python3 -c 'import wsgidav, cheroot'` works.
pub fn wsgidav_installed() -> bool {
    Command::new("python3")
        .arg("-c")
        .arg("import wsgidav, cheroot")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `moto_server` (in-memory S3; it accepts any credentials).
#[derive(Debug)]
pub struct MotoS3;

impl MotoS3 {
    /// Starts `moto_server` on a free port; `None` when it is missing or does not answer
    /// within 10 s (a few ports are tried, in case another process took one meanwhile).
    pub fn start() -> Option<Server> {
        Self::start_with(false)
    }

    /// Like [`MotoS3::start`], but checking every request's credentials against moto's
    /// (empty) IAM, so any access key is refused with 403 `InvalidAccessKeyId`.
    pub fn start_enforcing_auth() -> Option<Server> {
        Self::start_with(true)
    }

    fn start_with(auth: bool) -> Option<Server> {
        if !moto_installed() {
            return None;
        }
        start_on_free_port(true, None, |port| {
            let mut cmd = Command::new("moto_server");
            cmd.arg("-H")
                .arg("127.0.0.1")
                .arg("-p")
                .arg(port.to_string())
                .env(
                    "INITIAL_NO_AUTH_ACTION_COUNT",
                    if auth { "0" } else { "inf" },
                );
            Some(cmd)
        })
    }
}

/// True when `moto_server --help` runs.
pub fn moto_installed() -> bool {
    Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True once `GET /` on `port` gets any HTTP answer (moto imports lazily after it binds).
fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let req =
                format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            let mut head = [0u8; 12];
            if s.write_all(req.as_bytes()).is_ok()
                && s.read_exact(&mut head).is_ok()
                && head.starts_with(b"HTTP/")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// `s3rver` (npm), serving buckets from a folder. It knows one account,
/// [`S3rver::ACCESS_KEY`] / [`S3rver::SECRET_KEY`], and refuses other access key ids, but it
/// does not verify SigV4 signatures: a wrong secret key goes unnoticed.
#[derive(Debug)]
pub struct S3rver;

impl S3rver {
    /// The access key id s3rver accepts.
    pub const ACCESS_KEY: &'static str = "S3RVER";
    /// The secret key s3rver accepts.
    pub const SECRET_KEY: &'static str = "S3RVER";

    /// The `s3rver` script installed by `scripts/ensure-deps.sh` (`npm ci` in
    /// `tests/servers/s3rver/`).
    pub fn program() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("servers")
            .join("s3rver")
            .join("node_modules")
            .join(".bin")
            .join("s3rver")
    }

    /// True when the pinned s3rver is installed (and `node` runs it).
    pub fn installed() -> bool {
        Self::program().is_file()
            && Command::new(Self::program())
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    /// Serves buckets stored in `dir` on a free port; `None` when s3rver is missing or does
    /// not answer HTTP within 10 s (a few ports are tried, in case another process took
    /// one meanwhile).
    pub fn start(dir: &Path) -> Option<Server> {
        if !Self::installed() {
            return None;
        }
        start_on_free_port(true, None, |port| {
            let mut cmd = Command::new(Self::program());
            cmd.arg("--directory")
                .arg(dir)
                .arg("--address")
                .arg("127.0.0.1")
                .arg("--port")
                .arg(port.to_string())
                .arg("--silent")
                // Path-style requests only: the bucket is never taken from the Host header.
                .arg("--no-vhost-buckets")
                // s3rver makes its continuation tokens with DES, which Node >= 17 (OpenSSL
                // 3) only has in the legacy provider; without it every truncated listing
                // (more than max-keys objects) is a 500.
                .env("NODE_OPTIONS", "--openssl-legacy-provider");
            Some(cmd)
        })
    }
}

/// The S3 servers the S3 backend is tested against; every S3 test runs once per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Kind {
    /// [`MotoS3`]: in memory, close to AWS (multipart ETags, conditional writes).
    Moto,
    /// [`S3rver`]: on disk; whole-content MD5 ETags even for multipart uploads, conditional
    /// writes ignored, SigV4 signatures not verified, objects written in place.
    S3rver,
}

impl S3Kind {
    /// Every kind.
    pub const ALL: [S3Kind; 2] = [S3Kind::Moto, S3Kind::S3rver];

    /// Starts this server (s3rver keeps its buckets in `dir`).
    ///
    /// # Panics
    /// When the server is not installed (with the hint to run `scripts/ensure-deps.sh`)
    /// or does not come up.
    pub fn start(self, dir: &Path) -> Server {
        match self {
            S3Kind::Moto => {
                assert!(
                    moto_installed(),
                    "`moto_server` is not installed: run scripts/ensure-deps.sh (it installs \
                     moto[server] from PyPI), then run the tests again"
                );
                MotoS3::start().expect("moto_server did not start within 10 s")
            }
            S3Kind::S3rver => {
                assert!(
                    S3rver::installed(),
                    "s3rver is not installed: run scripts/ensure-deps.sh (it runs `npm ci` in \
                     tests/servers/s3rver), then run the tests again"
                );
                std::fs::create_dir_all(dir).expect("s3rver's data folder");
                S3rver::start(dir).expect("s3rver did not start within 10 s")
            }
        }
    }

    /// True when an object becomes visible only once completely written. s3rver streams
    /// a PUT (and the joining of a multipart upload's parts) straight into the object's
    /// file, so a listing meanwhile shows it partly written, whatever the client does.
    pub fn atomic_writes(self) -> bool {
        self == S3Kind::Moto
    }

    /// The access key and secret key the server accepts.
    pub fn credentials(self) -> (&'static str, &'static str) {
        match self {
            // moto accepts anything (unless started to enforce auth).
            S3Kind::Moto => ("AKIDTEST", "test secret"),
            S3Kind::S3rver => (S3rver::ACCESS_KEY, S3rver::SECRET_KEY),
        }
    }
}
