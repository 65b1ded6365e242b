//! The WebDAV backend against a real server (`rclone serve webdav`): each `Remote`
//! operation, the whole engine, and awkward names.
//!
//! rclone must be installed (`scripts/ensure-deps.sh`); without it these tests fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cloudsync_core::{ConnectionSettings, Kind, RelPath, Tree};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::store::Action;
use cloudsync_engine::store::Store;
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};
use cloudsync_providers::webdav::WebDav;
use cloudsync_tests::servers::{free_port, require, RcloneWebdav, Server};

const USER: &str = "syncer";
const PASS: &str = "s3cret pass";

use cloudsync_tests::run_for as run;

/// A served folder `served/` with the remote root `served/root/`, and the server.
struct Fixture {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    server: Server,
}

impl Fixture {
    fn new() -> Fixture {
        require("rclone");
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().to_path_buf();
        let served = base.join("served");
        let root = served.join("root");
        std::fs::create_dir_all(&root).expect("creating the served root");
        let server = RcloneWebdav::start(&served, USER, PASS)
            .expect("rclone serve webdav did not start within 10 s");
        Fixture {
            _tmp: tmp,
            base,
            root,
            server,
        }
    }

    fn url(&self) -> String {
        format!("{}/root", self.server.base_url())
    }

    fn remote(&self) -> WebDav {
        WebDav::new(&self.url(), USER, Some(PASS.into()), "").expect("backend")
    }
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid path")
}

fn temps_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".cloudsync-tmp-"))
        .collect()
}

/// Every file below `dir` (relative paths), skipping nothing.
fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let r = p.strip_prefix(base).expect("below base");
                out.insert(r.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

async fn upload_bytes(
    r: &WebDav,
    path: &str,
    data: &[u8],
    replaces: Option<&cloudsync_core::Node>,
) -> Result<cloudsync_core::Node, RemoteError> {
    let mut src = data;
    r.upload(&rel(path), &mut src, data.len() as u64, 0, replaces)
        .await
}

#[test]
fn remote_operations_one_by_one() {
    let fx = Fixture::new();
    run(60, async {
        let r = fx.remote();
        // A root without its marker is refused; prepare_root writes the marker.
        assert!(matches!(
            r.check_root().await,
            Err(RemoteError::NotFound(_))
        ));
        r.prepare_root().await.expect("prepare_root");
        assert!(fx.root.join(".cloudsync-root").is_file());
        r.check_root().await.expect("check_root after prepare");
        let listing = r.list(&Tree::new()).await.expect("list");
        assert!(listing.nodes.is_empty(), "{:?}", listing.nodes);

        // mkdir, twice.
        let d = r.mkdir(&rel("dir")).await.expect("mkdir");
        assert_eq!(d.kind, Kind::Dir);
        r.mkdir(&rel("dir"))
            .await
            .expect("mkdir of an existing folder");
        assert!(fx.root.join("dir").is_dir());

        // Upload new; a second "new" upload onto it is refused.
        let n1 = upload_bytes(&r, "dir/a.txt", b"hello", None)
            .await
            .expect("upload new");
        assert_eq!(n1.size, 5);
        assert!(n1.rev.is_some());
        assert_eq!(
            std::fs::read(fx.root.join("dir/a.txt")).expect("read"),
            b"hello"
        );
        let again = upload_bytes(&r, "dir/a.txt", b"other", None).await;
        assert!(matches!(again, Err(RemoteError::Changed(_))), "{again:?}");

        // Replace with the right rev, then with a stale one.
        let n2 = upload_bytes(&r, "dir/a.txt", b"hello world", Some(&n1))
            .await
            .expect("upload replace");
        assert_ne!(n2.rev, n1.rev);
        assert_eq!(n2.size, 11);
        let stale = upload_bytes(&r, "dir/a.txt", b"stale!", Some(&n1)).await;
        assert!(matches!(stale, Err(RemoteError::Changed(_))), "{stale:?}");
        assert_eq!(
            std::fs::read(fx.root.join("dir/a.txt")).expect("read"),
            b"hello world"
        );
        assert!(temps_in(&fx.root.join("dir")).is_empty());

        // Download; a stale node is refused.
        let mut got = Vec::new();
        let n = r.download(&n2, &mut got).await.expect("download");
        assert_eq!((n, got.as_slice()), (11, &b"hello world"[..]));
        let mut sink = Vec::new();
        let old = r.download(&n1, &mut sink).await;
        assert!(matches!(old, Err(RemoteError::Changed(_))), "{old:?}");

        // Listing shows the folder and the file, not the marker.
        let listing = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, vec!["dir", "dir/a.txt"]);
        assert_eq!(listing.nodes[1].rev, n2.rev);
        assert_eq!(listing.nodes[1].size, 11);

        // Rename; rename onto an existing name is refused.
        let b = r.rename(&n2, &rel("dir/b.txt")).await.expect("rename");
        assert_eq!(b.size, 11);
        assert!(fx.root.join("dir/b.txt").is_file() && !fx.root.join("dir/a.txt").exists());
        let c = upload_bytes(&r, "c.txt", b"c", None)
            .await
            .expect("upload c");
        let clash = r.rename(&c, &rel("dir/b.txt")).await;
        assert!(matches!(clash, Err(RemoteError::Changed(_))), "{clash:?}");
        assert_eq!(
            std::fs::read(fx.root.join("dir/b.txt")).expect("read"),
            b"hello world"
        );

        // Delete goes to the trash, which the listing hides.
        r.delete(&b).await.expect("delete file");
        let dir_node = r.mkdir(&rel("dir")).await.expect("stat dir");
        r.delete(&dir_node).await.expect("delete folder");
        assert!(!fx.root.join("dir").exists());
        let trashed = files_below(&fx.root.join(".cloudsync-trash"));
        assert_eq!(trashed.len(), 1, "{trashed:?}");
        let t = trashed.iter().next().expect("one");
        assert!(t.ends_with("/dir/b.txt"), "{t}");
        let listing = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, vec!["c.txt"]);

        // Wrong password, missing root, no server.
        let bad = WebDav::new(&fx.url(), USER, Some("wrong".into()), "").expect("backend");
        let e = bad.check_root().await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
        let none = WebDav::new(&fx.url(), USER, None, "").expect("backend");
        let e = none.check_root().await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
        let missing = WebDav::new(
            &format!("{}/nope", fx.server.base_url()),
            USER,
            Some(PASS.into()),
            "",
        )
        .expect("backend");
        let e = missing.check_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");
        let e = missing.prepare_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");
        let down = WebDav::new(
            &format!("http://127.0.0.1:{}/root", free_port()),
            USER,
            None,
            "",
        )
        .expect("backend");
        let e = down.check_root().await;
        assert!(matches!(e, Err(RemoteError::Unavailable(_))), "{e:?}");
    });
}

fn engine(base: &Path) -> Engine {
    let store = Store::open(&base.join("db")).expect("opening the store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: "testhost".into(),
    };
    Engine::with_parts(store, ctx, Arc::new(cloudsync_providers::Factory))
}

async fn connect(fx: &Fixture, engine: &Engine) -> PathBuf {
    let local = fx.base.join("local");
    std::fs::create_dir_all(&local).expect("local dir");
    engine
        .add_connection(AddConnection {
            name: "dav".into(),
            provider: "webdav".into(),
            local_root: local.clone(),
            remote: serde_json::json!({ "url": fx.url(), "user": USER, "password": PASS }),
            credential: format!("webdav:{}:{USER}", fx.url()),
            remote_local_dir: None,
            settings: ConnectionSettings::default(),
        })
        .await
        .expect("adding the webdav connection");
    local
}

async fn sync(engine: &Engine) -> usize {
    let s = engine.sync_connection("dav").await.expect("sync");
    assert!(s.failures.is_empty(), "sync failures: {:?}", s.failures);
    s.ops
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn whole_engine_over_webdav() {
    let fx = Fixture::new();
    let engine = engine(&fx.base);
    run(240, async {
        let local = connect(&fx, &engine).await;
        assert!(fx.root.join(".cloudsync-root").is_file());
        let remote = &fx.root;

        // Local -> server.
        std::fs::create_dir_all(local.join("sub/deep")).expect("mkdir");
        std::fs::write(local.join("hello.txt"), "hello").expect("write");
        std::fs::write(local.join("sub/one.txt"), "one").expect("write");
        std::fs::write(local.join("sub/deep/two.txt"), "two").expect("write");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(remote.join("hello.txt")).expect("read"),
            b"hello"
        );
        assert_eq!(
            std::fs::read(remote.join("sub/deep/two.txt")).expect("read"),
            b"two"
        );

        // Server -> local.
        std::fs::create_dir_all(remote.join("from-server")).expect("mkdir");
        std::fs::write(remote.join("from-server/s.txt"), "server side").expect("write");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-server/s.txt")).expect("read"),
            b"server side"
        );
        assert_eq!(sync(&engine).await, 0, "a second sync does nothing");

        // Modify on both sides (different files).
        std::fs::write(local.join("hello.txt"), "hello again").expect("write");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(remote.join("hello.txt")).expect("read"),
            b"hello again"
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(remote.join("from-server/s.txt"), "server edit, longer").expect("write");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-server/s.txt")).expect("read"),
            b"server edit, longer"
        );

        // A local delete lands in the remote trash.
        std::fs::remove_file(local.join("hello.txt")).expect("rm");
        sync(&engine).await;
        assert!(!remote.join("hello.txt").exists());
        let trashed = files_below(&remote.join(".cloudsync-trash"));
        assert!(
            trashed.iter().any(|t| t.ends_with("/hello.txt")),
            "{trashed:?}"
        );

        // A folder rename is one MOVE.
        let before = engine
            .log(Some("dav"), None, 10_000)
            .expect("log")
            .iter()
            .map(|r| r.id)
            .max()
            .unwrap_or(0);
        std::fs::rename(local.join("sub"), local.join("renamed sub")).expect("rename");
        sync(&engine).await;
        assert!(!remote.join("sub").exists());
        assert_eq!(
            std::fs::read(remote.join("renamed sub/deep/two.txt")).expect("read"),
            b"two"
        );
        let new: Vec<_> = engine
            .log(Some("dav"), None, 10_000)
            .expect("log")
            .into_iter()
            .filter(|r| r.id > before)
            .collect();
        let renames = new.iter().filter(|r| r.action == Action::Rename).count();
        let uploads = new.iter().filter(|r| r.action == Action::Upload).count();
        assert_eq!((renames, uploads), (1, 0), "{new:?}");

        // 20 MB both ways.
        let big = pseudo_random(20 * 1024 * 1024, 7);
        std::fs::write(local.join("big.bin"), &big).expect("write");
        let t = std::time::Instant::now();
        sync(&engine).await;
        let up = t.elapsed();
        assert!(std::fs::read(remote.join("big.bin")).expect("read") == big);
        let big2 = pseudo_random(20 * 1024 * 1024, 11);
        std::fs::write(remote.join("big2.bin"), &big2).expect("write");
        let t = std::time::Instant::now();
        sync(&engine).await;
        let down = t.elapsed();
        assert!(std::fs::read(local.join("big2.bin")).expect("read") == big2);
        eprintln!("20 MiB: upload round {up:?}, download round {down:?}");

        // 300 small files.
        std::fs::create_dir_all(local.join("many")).expect("mkdir");
        for i in 0..300 {
            std::fs::write(local.join(format!("many/f{i:03}.txt")), format!("file {i}"))
                .expect("write");
        }
        let t = std::time::Instant::now();
        sync(&engine).await;
        eprintln!("300 small files: {:?}", t.elapsed());
        let on_server = files_below(&remote.join("many"));
        assert_eq!(on_server.len(), 300);
        assert_eq!(
            std::fs::read(remote.join("many/f123.txt")).expect("read"),
            b"file 123"
        );
        let t = std::time::Instant::now();
        assert_eq!(sync(&engine).await, 0, "converged");
        eprintln!("no-op sync of ~310 entries: {:?}", t.elapsed());
        assert!(temps_in(remote).is_empty());
    });
}

use cloudsync_tests::names::odd_names;

#[test]
fn odd_names_round_trip() {
    let fx = Fixture::new();
    let engine = engine(&fx.base);
    run(120, async {
        let local = connect(&fx, &engine).await;
        let names = odd_names();
        assert!(names.len() >= 30);
        for (name, _) in &names {
            let p = local.join("up").join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("content of {name}")).expect("write");
        }
        sync(&engine).await;
        for (name, skipped) in &names {
            let on_server = fx.root.join("up").join(name);
            if *skipped {
                assert!(!on_server.exists(), "{name:?} should be skipped");
            } else {
                assert_eq!(
                    std::fs::read(&on_server)
                        .unwrap_or_else(|e| panic!("{name:?} missing on the server: {e}")),
                    format!("content of {name}").as_bytes(),
                    "{name:?}"
                );
            }
        }
        assert_eq!(
            sync(&engine).await,
            0,
            "the names list back as they were sent"
        );

        // The other way: created in the served folder, listed, downloaded.
        for (name, _) in &names {
            let p = fx.root.join("down").join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("server {name}")).expect("write");
        }
        sync(&engine).await;
        for (name, skipped) in &names {
            let here = local.join("down").join(name);
            if *skipped {
                assert!(!here.exists(), "{name:?} should be skipped");
            } else {
                assert_eq!(
                    std::fs::read(&here)
                        .unwrap_or_else(|e| panic!("{name:?} missing locally: {e}")),
                    format!("server {name}").as_bytes(),
                    "{name:?}"
                );
            }
        }
        assert_eq!(sync(&engine).await, 0, "converged");
    });
}

/// Runs the real `cloudsync` binary with a config dir and an environment variable.
fn cli(cfg: &Path, env: (&str, &str), args: &[&str]) -> std::process::Output {
    std::process::Command::new(cloudsync_tests::cloudsync_binary())
        .arg("--config-dir")
        .arg(cfg)
        .args(args)
        .env(env.0, env.1)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running cloudsync")
}

#[test]
fn cli_adds_a_webdav_connection_and_keeps_the_password_out_of_the_database() {
    require("rclone");
    let base = tempfile::tempdir().expect("temp dir");
    let served = base.path().join("served");
    let (local, cfg) = (base.path().join("local"), base.path().join("cfg"));
    for d in [&served, &local] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(served.join("from-server.txt"), "hello").expect("write");
    let server = RcloneWebdav::start(&served, USER, PASS).expect("rclone serves");
    let url = server.base_url();
    let local_s = local.to_str().expect("utf-8 temp path");
    let add = |pass: &str, url: &str| {
        cli(
            &cfg,
            ("CS_PW", pass),
            &[
                "connection",
                "add",
                "webdav",
                "--name",
                "w",
                "--local",
                local_s,
                "--url",
                url,
                "--user",
                USER,
                "--password-env",
                "CS_PW",
            ],
        )
    };

    // Wrong password, then a missing folder: exit 2, one line, nothing saved.
    for (pass, u) in [("wrong", url.clone()), (PASS, format!("{url}/missing"))] {
        let out = add(pass, &u);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
        let secrets = std::fs::read_to_string(cfg.join("secrets.json")).unwrap_or_default();
        assert!(
            !secrets.contains(pass),
            "a failed add left the password: {secrets}"
        );
        assert!(!local.join(".cloudsync-root").exists());
    }
    let list = cli(&cfg, ("X", ""), &["connection", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");

    let out = add(PASS, &url);
    assert!(out.status.success(), "{out:?}");
    std::fs::write(local.join("from-local.txt"), "hi").expect("write");
    let out = cli(&cfg, ("X", ""), &["sync", "--once"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(local.join("from-server.txt")).expect("downloaded"),
        "hello"
    );
    assert_eq!(
        std::fs::read_to_string(served.join("from-local.txt")).expect("uploaded"),
        "hi"
    );

    // The password lives only in the owner-only secret store.
    let db = std::fs::read(cfg.join("cloudsync.db")).expect("database");
    assert!(
        !db.windows(PASS.len()).any(|w| w == PASS.as_bytes()),
        "the password is in the database"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(cfg.join("secrets.json"))
        .expect("secret store")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Unlinking drops the password with the connection.
    let out = cli(&cfg, ("X", ""), &["unlink", "w"]);
    assert!(out.status.success(), "{out:?}");
    let secrets = std::fs::read_to_string(cfg.join("secrets.json")).expect("secret store");
    assert!(
        !secrets.contains(PASS),
        "unlink left the password: {secrets}"
    );
    drop(server);
}
