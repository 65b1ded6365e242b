//! Secrets in a real OS keyring: a private D-Bus session with GNOME Keyring's Secret
//! Service (unlocked with a test password), the real `cloudsync` binary, and a WebDAV
//! server. The password goes to the keyring (not to `secrets.json`, the database or the
//! output), the connection syncs with it, and `unlink` removes it again. Without a keyring
//! the owner-only file is used (the other process tests cover that path).
//!
//! Needs `dbus-daemon`, `gnome-keyring-daemon` and `secret-tool`
//! (`scripts/ensure-deps.sh` installs them).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cloudsync_tests::cloudsync_binary;
use cloudsync_tests::servers::{installed, RcloneWebdav};

const PASS: &str = "keyring pass 42";

/// A private session bus with an unlocked GNOME Keyring on it; both die on drop.
struct Session {
    bus: Child,
    keyring: Child,
    address: String,
    home: tempfile::TempDir,
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in [&mut self.keyring, &mut self.bus] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Session {
    fn start() -> Session {
        for program in ["dbus-daemon", "gnome-keyring-daemon", "secret-tool"] {
            assert!(
                Command::new("sh")
                    .arg("-c")
                    .arg(format!("command -v {program}"))
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()),
                "`{program}` is not installed: run scripts/ensure-deps.sh"
            );
        }
        let home = tempfile::tempdir().expect("temp home");
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dbus-daemon");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().expect("bus stdout"))
            .read_line(&mut line)
            .expect("reading the bus address");
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "bus address {address:?}");
        let run_dir = home.path().join("run");
        std::fs::create_dir_all(&run_dir).expect("runtime dir");
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", home.path())
            .env("XDG_RUNTIME_DIR", &run_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting gnome-keyring-daemon");
        {
            let mut stdin = keyring.stdin.take().expect("keyring stdin");
            stdin
                .write_all(b"test keyring password")
                .expect("unlock password");
        }
        let session = Session {
            bus,
            keyring,
            address,
            home,
        };
        // Up once a lookup answers (exit 1: nothing found, but the service replied).
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = session.secret_tool(&["lookup", "service", "probe"]);
            if out.status.code() == Some(1) || out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the keyring did not answer: {out:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        session
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", self.home.path())
            .env("XDG_RUNTIME_DIR", self.home.path().join("run"))
            .env_remove("CLOUDSYNC_SECRETS");
    }

    fn secret_tool(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("secret-tool");
        self.env(&mut cmd);
        cmd.args(args).output().expect("running secret-tool")
    }

    /// Every secret the keyring holds for `service`, as `secret-tool search --all` shows.
    fn search(&self, service: &str) -> String {
        let out = self.secret_tool(&["search", "--all", "--unlock", "service", service]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn cli(&self, config: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(cloudsync_binary());
        self.env(&mut cmd);
        cmd.arg("--config-dir")
            .arg(config)
            .args(args)
            .env("CS_PW", PASS)
            .stdin(Stdio::null())
            .output()
            .expect("running cloudsync")
    }
}

#[test]
fn webdav_password_lives_in_the_os_keyring() {
    assert!(installed("rclone"), "rclone is not installed");
    let session = Session::start();
    let base = tempfile::tempdir().expect("temp dir");
    let (served, local, config) = (
        base.path().join("served"),
        base.path().join("local"),
        base.path().join("config"),
    );
    for d in [&served, &local] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(served.join("from-server.txt"), "hello").expect("write");
    let server = RcloneWebdav::start(&served, "syncer", PASS).expect("rclone serve webdav");
    let url = server.base_url();
    let add = session.cli(
        &config,
        &[
            "connection",
            "add",
            "webdav",
            "--name",
            "w",
            "--local",
            local.to_str().expect("UTF-8 path"),
            "--url",
            &url,
            "--user",
            "syncer",
            "--password-env",
            "CS_PW",
        ],
    );
    assert!(add.status.success(), "{add:?}");
    let shown = format!("{add:?}");
    assert!(!shown.contains(PASS), "the password was printed: {shown}");

    let service = format!("cloudsync {}", config.display());
    let found = session.search(&service);
    assert!(
        found.contains(PASS),
        "the keyring holds the password for {service:?}: {found}"
    );
    assert!(
        !config.join("secrets.json").exists(),
        "with a keyring, no secrets file is written"
    );
    let db = std::fs::read(config.join("cloudsync.db")).expect("database");
    assert!(!db.windows(PASS.len()).any(|w| w == PASS.as_bytes()));
    let list = session.cli(&config, &["connection", "list", "--json"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("\"keyring\""), "{listed}");
    assert!(!listed.contains(PASS), "{listed}");

    // A one-shot sync reads the password back from the keyring.
    std::fs::write(local.join("from-local.txt"), "hi").expect("write");
    let sync = session.cli(&config, &["sync", "--once"]);
    assert!(sync.status.success(), "{sync:?}");
    assert_eq!(
        std::fs::read_to_string(local.join("from-server.txt")).expect("downloaded"),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(served.join("from-local.txt")).expect("uploaded"),
        "hi"
    );

    let unlink = session.cli(&config, &["unlink", "w"]);
    assert!(unlink.status.success(), "{unlink:?}");
    let found = session.search(&service);
    assert!(!found.contains(PASS), "unlink left the password: {found}");
}
