//! The WebDAV backend against two real servers, `rclone serve webdav` and WsgiDAV: each
//! `Remote` operation, the whole engine, awkward names, Digest auth, HTTPS with a private
//! CA, resumed downloads, `Depth: infinity` listings and the `If-Match` probe.
//!
//! rclone, WsgiDAV and openssl must be installed (`scripts/ensure-deps.sh`); without them
//! these tests fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloudsync_core::{ConnectionSettings, Kind, Tree};
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::store::Action;
use cloudsync_engine::Engine;
use cloudsync_providers::webdav::{WebDav, WebDavOptions};
use cloudsync_tests::corpus::{corpus, Outcome};
use cloudsync_tests::fixtures::{engine, pseudo_random, rel, upload_bytes};
use cloudsync_tests::proxy::CutProxy;
use cloudsync_tests::servers::{
    free_port, require, wsgidav_installed, RcloneWebdav, Server, WsgiAuth, WsgiDav,
};

const USER: &str = "syncer";
const PASS: &str = "s3cret pass";

use cloudsync_tests::run_for as run;

/// Which server a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Rclone,
    /// WsgiDAV with Basic auth.
    Wsgi,
    /// WsgiDAV with Digest auth only.
    WsgiDigest,
    /// WsgiDAV refusing `Depth: infinity`.
    WsgiFiniteDepth,
}

fn require_wsgidav() {
    assert!(
        wsgidav_installed(),
        "WsgiDAV is not installed: run scripts/ensure-deps.sh (it installs wsgidav and \
         cheroot from PyPI), then run the tests again"
    );
}

/// Serves `served` with the server `kind`.
fn serve(kind: ServerKind, served: &Path) -> Server {
    match kind {
        ServerKind::Rclone => {
            require("rclone");
            RcloneWebdav::start(served, USER, PASS)
                .expect("rclone serve webdav did not start within 10 s")
        }
        ServerKind::Wsgi | ServerKind::WsgiDigest | ServerKind::WsgiFiniteDepth => {
            require_wsgidav();
            let started = match kind {
                ServerKind::WsgiDigest => WsgiDav::start(served, USER, PASS, WsgiAuth::Digest),
                ServerKind::WsgiFiniteDepth => WsgiDav::start_finite_depth(served, USER, PASS),
                _ => WsgiDav::start(served, USER, PASS, WsgiAuth::Basic),
            };
            started.expect("wsgidav did not start within 10 s")
        }
    }
}

/// A served folder `served/` with the remote root `served/root/`, and the server.
struct Fixture {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    server: Server,
}

impl Fixture {
    fn new(kind: ServerKind) -> Fixture {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().to_path_buf();
        let served = base.join("served");
        let root = served.join("root");
        std::fs::create_dir_all(&root).expect("creating the served root");
        let server = serve(kind, &served);
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

/// One `#[test]` per server for each named `fn(ServerKind)`.
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn rclone() {
                    super::$name(super::ServerKind::Rclone)
                }
                #[test]
                fn wsgidav() {
                    super::$name(super::ServerKind::Wsgi)
                }
            }
        )*
    };
}

on_both_servers!(
    remote_operations_one_by_one,
    whole_engine_over_webdav,
    odd_names_round_trip,
    cli_adds_a_webdav_connection_and_keeps_the_password_out_of_the_database,
    downloads_resume_after_a_broken_connection,
    depth_infinity_and_the_walk_list_the_same_tree,
    if_match_probe_and_concurrent_changes,
    names_with_semicolons,
    a_change_between_resumes_is_reported,
);

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

fn remote_operations_one_by_one(kind: ServerKind) {
    let fx = Fixture::new(kind);
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
    cloudsync_tests::fixtures::sync(engine, "dav").await
}

fn whole_engine_over_webdav(kind: ServerKind) {
    let fx = Fixture::new(kind);
    let engine = engine(&fx.base.join("db"));
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

/// The odd-names corpus's names that `kind`'s server round-trips exactly (false) or that
/// the rules skip there (true); the corpus names each outcome per server.
fn corpus_names(kind: ServerKind) -> Vec<(String, bool)> {
    let server = match kind {
        ServerKind::Rclone => cloudsync_tests::corpus::Server::RcloneWebdav,
        _ => cloudsync_tests::corpus::Server::WsgiDav,
    };
    corpus()
        .into_iter()
        .filter(|c| c.fits_local_disk())
        .filter_map(|c| match c.expect(server) {
            Outcome::Same => Some((c.name, false)),
            Outcome::Skipped(_) => Some((c.name, true)),
            _ => None,
        })
        .collect()
}

/// The corpus's names through the engine, looked at in the served folder itself: each
/// arrives there under exactly its own name (or not at all when skipped), and one written
/// into that folder by another program on the server arrives locally. (`odd_names.rs`
/// checks every outcome, through a second backend.) Every name sits in a folder of its
/// own, so names equal after NFC or differing only in case do not meet.
fn odd_names_round_trip(kind: ServerKind) {
    let fx = Fixture::new(kind);
    let engine = engine(&fx.base.join("db"));
    run(120, async {
        let local = connect(&fx, &engine).await;
        let names = corpus_names(kind);
        assert!(names.len() >= 150, "{}", names.len());
        assert!(names.iter().any(|(_, skipped)| *skipped));
        for (i, (name, _)) in names.iter().enumerate() {
            let p = local.join(format!("up/{i:03}")).join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("content of {name}")).expect("write");
        }
        sync(&engine).await;
        for (i, (name, skipped)) in names.iter().enumerate() {
            let on_server = fx.root.join(format!("up/{i:03}")).join(name);
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
        for (i, (name, _)) in names.iter().enumerate() {
            let p = fx.root.join(format!("down/{i:03}")).join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("server {name}")).expect("write");
        }
        sync(&engine).await;
        for (i, (name, skipped)) in names.iter().enumerate() {
            let here = local.join(format!("down/{i:03}")).join(name);
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

fn cli_adds_a_webdav_connection_and_keeps_the_password_out_of_the_database(kind: ServerKind) {
    let base = tempfile::tempdir().expect("temp dir");
    let served = base.path().join("served");
    let (local, cfg) = (base.path().join("local"), base.path().join("cfg"));
    for d in [&served, &local] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(served.join("from-server.txt"), "hello").expect("write");
    let server = serve(kind, &served);
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

/// Downloads through a proxy that cuts the first connection once it carried 300 kB of
/// response: the backend resumes with `Range` and the sink gets every byte once.
fn downloads_resume_after_a_broken_connection(kind: ServerKind) {
    let fx = Fixture::new(kind);
    let data = pseudo_random(2 * 1024 * 1024 + 17, 5);
    std::fs::write(fx.root.join("big.bin"), &data).expect("write");
    let proxy = CutProxy::start(fx.server.port);
    proxy.arm_downloads(300_000, 1);
    let via_proxy = WebDav::new(
        &format!("{}/root", proxy.base_url()),
        USER,
        Some(PASS.into()),
        "",
    )
    .expect("backend");
    run(60, async {
        let listing = fx.remote().list(&Tree::new()).await.expect("list");
        let node = listing
            .nodes
            .iter()
            .find(|n| n.path.as_str() == "big.bin")
            .expect("listed")
            .clone();
        let mut sink = Vec::new();
        let n = via_proxy
            .download(&node, &mut sink)
            .await
            .expect("a download resumed after the cut");
        assert_eq!(proxy.cuts(), 1, "the proxy cut one connection");
        assert_eq!(n, data.len() as u64);
        assert!(sink == data, "the resumed download has the file's bytes");

        // Cut every connection after 100 kB: the resumes give up, reporting a temporary
        // error (the engine retries the whole download) and writing no wrong byte.
        let hostile = CutProxy::start(fx.server.port);
        hostile.arm_downloads(100_000, u32::MAX);
        let via_hostile = WebDav::new(
            &format!("{}/root", hostile.base_url()),
            USER,
            Some(PASS.into()),
            "",
        )
        .expect("backend");
        let mut sink = Vec::new();
        let e = via_hostile.download(&node, &mut sink).await;
        assert!(matches!(e, Err(RemoteError::Unavailable(_))), "{e:?}");
        assert!(hostile.cuts() >= 2, "{}", hostile.cuts());
        assert!(data.starts_with(&sink), "only correct bytes were written");
    });
}

/// Builds a tree with folders, odd and internal names, then lists it by `Depth: infinity`
/// and by the `Depth: 1` walk: both give the same nodes and skips.
fn depth_infinity_and_the_walk_list_the_same_tree(kind: ServerKind) {
    same_tree_both_ways(kind, true);
}

fn same_tree_both_ways(kind: ServerKind, infinity_expected: bool) {
    let fx = Fixture::new(kind);
    for d in 0..20 {
        let dir = fx.root.join(format!("d{d:02}/inner {d}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..25 {
            std::fs::write(dir.join(format!("f{f} #%&.txt")), format!("{d}/{f}")).expect("write");
        }
    }
    for (i, (name, _)) in corpus_names(kind).into_iter().enumerate() {
        let p = fx.root.join(format!("odd/{i:03}")).join(&name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, &name).expect("write");
    }
    std::fs::create_dir_all(fx.root.join(".cloudsync-trash/2026-01-01/x")).expect("mkdir");
    std::fs::write(fx.root.join(".cloudsync-trash/2026-01-01/x/y"), "t").expect("write");
    std::fs::write(fx.root.join("d00/.cloudsync-tmp-1"), "t").expect("write");
    std::fs::write(fx.root.join(".cloudsync-root"), "m").expect("write");
    run(120, async {
        let auto = fx.remote();
        let walk = WebDav::with_options(
            &fx.url(),
            USER,
            Some(PASS.into()),
            "",
            WebDavOptions {
                depth_infinity: false,
                ..WebDavOptions::default()
            },
        )
        .expect("backend");
        // Twice each, timing the second (warm) round.
        auto.list(&Tree::new()).await.expect("list");
        walk.list(&Tree::new()).await.expect("list");
        let t = std::time::Instant::now();
        let a = auto.list(&Tree::new()).await.expect("list (infinity)");
        let t_auto = t.elapsed();
        let t = std::time::Instant::now();
        let w = walk.list(&Tree::new()).await.expect("list (walk)");
        let t_walk = t.elapsed();
        eprintln!(
            "{kind:?}: {} nodes; Depth infinity {t_auto:?}, Depth 1 walk {t_walk:?}",
            a.nodes.len()
        );
        assert_eq!(auto.depth_infinity_supported(), Some(infinity_expected));
        assert_eq!(
            walk.depth_infinity_supported(),
            None,
            "the walk never probes"
        );
        assert!(a.nodes.len() > 500, "{}", a.nodes.len());
        assert_eq!(a.nodes, w.nodes);
        let skips = |l: &cloudsync_engine::remote::Listing| {
            l.skipped
                .iter()
                .map(|(p, r)| format!("{p} {r:?}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(skips(&a), skips(&w));
        assert!(
            !a.nodes
                .iter()
                .any(|n| n.path.as_str().contains(".cloudsync-")),
            "internal names are hidden"
        );
    });
}

#[test]
fn a_server_refusing_depth_infinity_gets_the_walk() {
    same_tree_both_ways(ServerKind::WsgiFiniteDepth, false);
}

/// The `If-Match` probe: rclone 1.60 ignores `If-Match`, WsgiDAV honours it. Either way a
/// replacement of a file changed on the server since it was listed is refused, and no
/// probe or temp file is left behind.
fn if_match_probe_and_concurrent_changes(kind: ServerKind) {
    let fx = Fixture::new(kind);
    run(60, async {
        let r = fx.remote();
        r.prepare_root().await.expect("prepare_root");
        let honoured = r.if_match_honoured().await.expect("probe");
        let expected = kind != ServerKind::Rclone;
        assert_eq!(
            honoured,
            cloudsync_providers::webdav::IfMatch {
                put: expected,
                move_source: expected
            },
            "{kind:?}"
        );
        assert_eq!(r.if_match_honoured().await.expect("cached"), honoured);
        assert!(temps_in(&fx.root).is_empty(), "{:?}", temps_in(&fx.root));

        let n1 = upload_bytes(&r, "a.txt", b"first", None)
            .await
            .expect("upload");
        // Someone else writes the file on the server.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        std::fs::write(fx.root.join("a.txt"), "changed by someone else").expect("write");
        let e = upload_bytes(&r, "a.txt", b"mine", Some(&n1)).await;
        assert!(matches!(e, Err(RemoteError::Changed(_))), "{e:?}");
        assert_eq!(
            std::fs::read(fx.root.join("a.txt")).expect("read"),
            b"changed by someone else"
        );
        // With the current version, the replace goes through.
        let now = r
            .list(&Tree::new())
            .await
            .expect("list")
            .nodes
            .into_iter()
            .find(|n| n.path.as_str() == "a.txt")
            .expect("listed");
        let n2 = upload_bytes(&r, "a.txt", b"mine", Some(&now))
            .await
            .expect("replace");
        assert_eq!(n2.size, 4);
        assert_eq!(std::fs::read(fx.root.join("a.txt")).expect("read"), b"mine");
        assert!(temps_in(&fx.root).is_empty(), "{:?}", temps_in(&fx.root));
    });
}

#[test]
fn basic_auth_is_used_where_offered() {
    let fx = Fixture::new(ServerKind::Rclone);
    run(30, async {
        let r = fx.remote();
        assert_eq!(
            r.auth_scheme(),
            None,
            "nothing is sent before the server asks"
        );
        r.prepare_root().await.expect("prepare_root");
        assert_eq!(r.auth_scheme(), Some("basic"));
    });
}

/// WsgiDAV offering only Digest (MD5, qop=auth): every operation works, the challenge is
/// reused, and a wrong password is an authentication error.
#[test]
fn digest_auth_against_wsgidav() {
    let fx = Fixture::new(ServerKind::WsgiDigest);
    let engine = engine(&fx.base.join("db"));
    run(90, async {
        let r = fx.remote();
        r.prepare_root().await.expect("prepare_root over digest");
        assert_eq!(r.auth_scheme(), Some("digest"));
        r.check_root().await.expect("check_root");
        r.mkdir(&rel("d")).await.expect("mkdir");
        let n1 = upload_bytes(&r, "d/a.txt", b"digest!", None)
            .await
            .expect("upload");
        let n2 = upload_bytes(&r, "d/a.txt", b"digest again", Some(&n1))
            .await
            .expect("replace");
        let mut got = Vec::new();
        r.download(&n2, &mut got).await.expect("download");
        assert_eq!(got, b"digest again");
        let b = r.rename(&n2, &rel("d/b.txt")).await.expect("rename");
        r.delete(&b).await.expect("delete");
        let paths: Vec<String> = r
            .list(&Tree::new())
            .await
            .expect("list")
            .nodes
            .iter()
            .map(|n| n.path.to_string())
            .collect();
        assert_eq!(paths, vec!["d".to_string()]);

        let bad = WebDav::new(&fx.url(), USER, Some("wrong".into()), "").expect("backend");
        let e = bad.check_root().await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
        let e = upload_bytes(&bad, "x.txt", b"x", None).await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
        assert!(!fx.root.join("x.txt").exists());

        // The whole engine over Digest.
        let local = connect(&fx, &engine).await;
        std::fs::write(local.join("up.txt"), "up").expect("write");
        std::fs::write(fx.root.join("down.txt"), "down").expect("write");
        sync(&engine).await;
        assert_eq!(std::fs::read(fx.root.join("up.txt")).expect("read"), b"up");
        assert_eq!(
            std::fs::read(local.join("down.txt")).expect("read"),
            b"down"
        );
        assert_eq!(sync(&engine).await, 0, "converged");
    });
}

/// A CA and a server certificate for 127.0.0.1, made with the openssl CLI.
struct Certs {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=CloudSync Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// HTTPS with a private CA: refused (clearly, and not as a temporary error) without
/// `ca_file`, working with it, from the backend and from the CLI.
#[test]
fn https_with_a_private_ca() {
    require("rclone");
    let tmp = tempfile::tempdir().expect("temp dir");
    let certs = make_certs(tmp.path());
    let served = tmp.path().join("served");
    std::fs::create_dir_all(served.join("root")).expect("mkdir");
    std::fs::write(served.join("root/from-server.txt"), "tls").expect("write");
    let server = RcloneWebdav::start_tls(&served, USER, PASS, (&certs.cert, &certs.key))
        .expect("rclone serves https");
    let url = format!("{}/root", server.https_url());
    run(60, async {
        let plain = WebDav::new(&url, USER, Some(PASS.into()), "").expect("backend");
        match plain.prepare_root().await {
            Err(RemoteError::Other(m)) => {
                assert!(m.contains("certificate"), "{m}");
                assert!(m.contains("ca_file"), "{m}");
            }
            other => panic!("an untrusted certificate gave {other:?}"),
        }
        let with_ca = WebDav::from_config(&serde_json::json!({
            "url": url, "user": USER, "password": PASS,
            "ca_file": certs.ca.to_str().expect("utf-8"),
        }))
        .expect("backend");
        with_ca
            .prepare_root()
            .await
            .expect("prepare_root over https");
        let n = upload_bytes(&with_ca, "up.txt", b"over tls", None)
            .await
            .expect("upload");
        let mut got = Vec::new();
        with_ca.download(&n, &mut got).await.expect("download");
        assert_eq!(got, b"over tls");
        let names: Vec<String> = with_ca
            .list(&Tree::new())
            .await
            .expect("list")
            .nodes
            .iter()
            .map(|n| n.path.to_string())
            .collect();
        assert_eq!(names, vec!["from-server.txt", "up.txt"]);
    });

    // A missing or invalid CA file is bad input; a bad --ca-file saves nothing.
    let bad = WebDav::from_config(&serde_json::json!({
        "url": url, "ca_file": tmp.path().join("nope.pem").to_str().expect("utf-8"),
    }));
    assert!(matches!(bad, Err(RemoteError::Other(_))), "{bad:?}");
    std::fs::write(tmp.path().join("junk.pem"), "not a certificate\n").expect("write");
    std::fs::write(
        tmp.path().join("broken.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let (local, cfg) = (tmp.path().join("local"), tmp.path().join("cfg"));
    std::fs::create_dir_all(&local).expect("mkdir");
    let local_s = local.to_str().expect("utf-8 temp path");
    let add = |ca: &Path| {
        cli(
            &cfg,
            ("CS_PW", PASS),
            &[
                "connection",
                "add",
                "webdav",
                "--name",
                "t",
                "--local",
                local_s,
                "--url",
                &url,
                "--user",
                USER,
                "--password-env",
                "CS_PW",
                "--ca-file",
                ca.to_str().expect("utf-8"),
            ],
        )
    };
    for ca in ["nope.pem", "junk.pem", "broken.pem"] {
        let out = add(&tmp.path().join(ca));
        assert_eq!(out.status.code(), Some(2), "{ca}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "one-line reason: {err}");
        assert!(err.contains("--ca-file"), "{err}");
        let list = cli(&cfg, ("X", ""), &["connection", "list", "--json"]);
        assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "[]");
    }
    // Without the CA the add fails (exit 2, nothing saved); with it, it syncs.
    let out = cli(
        &cfg,
        ("CS_PW", PASS),
        &[
            "connection",
            "add",
            "webdav",
            "--name",
            "t",
            "--local",
            local_s,
            "--url",
            &url,
            "--user",
            USER,
            "--password-env",
            "CS_PW",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = add(&certs.ca);
    assert!(out.status.success(), "{out:?}");
    let out = cli(&cfg, ("X", ""), &["sync", "--once"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(local.join("from-server.txt")).expect("downloaded"),
        "tls"
    );
    drop(server);
}

/// WsgiDAV cuts a MOVE Destination at ';' (it parses `;...` as URL parameters), so such
/// names are written by a direct conditional PUT there; rclone moves them as usual.
fn names_with_semicolons(kind: ServerKind) {
    let fx = Fixture::new(kind);
    run(60, async {
        let r = fx.remote();
        r.prepare_root().await.expect("prepare_root");
        let moves = r.can_move_to(&rel("a;b.txt")).await.expect("probe");
        assert_eq!(moves, kind == ServerKind::Rclone, "{kind:?}");
        assert!(r.can_move_to(&rel("plain.txt")).await.expect("no probe"));
        std::fs::write(fx.root.join("a"), "bystander").expect("write");

        let n1 = upload_bytes(&r, "a;b.txt", b"one", None)
            .await
            .expect("upload");
        assert_eq!(
            std::fs::read(fx.root.join("a;b.txt")).expect("read"),
            b"one"
        );
        let again = upload_bytes(&r, "a;b.txt", b"clash", None).await;
        assert!(matches!(again, Err(RemoteError::Changed(_))), "{again:?}");
        let n2 = upload_bytes(&r, "a;b.txt", b"two!", Some(&n1))
            .await
            .expect("replace");
        let stale = upload_bytes(&r, "a;b.txt", b"stale", Some(&n1)).await;
        assert!(matches!(stale, Err(RemoteError::Changed(_))), "{stale:?}");
        assert_eq!(
            std::fs::read(fx.root.join("a;b.txt")).expect("read"),
            b"two!"
        );
        assert_eq!(
            std::fs::read(fx.root.join("a")).expect("read"),
            b"bystander",
            "the name before the ';' is untouched"
        );

        // Renaming onto such a name works where the server can move there.
        let c = upload_bytes(&r, "c.txt", b"c", None).await.expect("upload");
        let renamed = r.rename(&c, &rel("c;d.txt")).await;
        if moves {
            renamed.expect("rename");
            assert!(fx.root.join("c;d.txt").is_file());
        } else {
            assert!(matches!(renamed, Err(RemoteError::Other(_))), "{renamed:?}");
            assert!(fx.root.join("c.txt").is_file());
        }

        // Deleting lands in the trash (with '_' for ';' where the server needs it).
        r.delete(&n2).await.expect("delete");
        assert!(!fx.root.join("a;b.txt").exists());
        let trashed = files_below(&fx.root.join(".cloudsync-trash"));
        let want = if moves { "/a;b.txt" } else { "/a_b.txt" };
        assert!(trashed.iter().any(|t| t.ends_with(want)), "{trashed:?}");
        assert!(temps_in(&fx.root).is_empty(), "{:?}", temps_in(&fx.root));
    });
}

/// A sink that replaces the served file (by rename, so the running GET keeps the old
/// bytes) as soon as the first bytes arrive.
struct ChangingSink {
    got: Vec<u8>,
    replace: Option<(PathBuf, PathBuf)>,
}

impl std::io::Write for ChangingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some((new, target)) = self.replace.take() {
            std::fs::rename(new, target)?;
        }
        self.got.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The file changes on the server after the download started and before it is resumed:
/// the resume is refused as a change, and only bytes of the listed version were written.
fn a_change_between_resumes_is_reported(kind: ServerKind) {
    let fx = Fixture::new(kind);
    let data = pseudo_random(1024 * 1024, 9);
    std::fs::write(fx.root.join("f.bin"), &data).expect("write");
    let newer = fx.base.join("newer.bin");
    std::fs::write(&newer, pseudo_random(1024 * 1024 + 1, 10)).expect("write");
    let proxy = CutProxy::start(fx.server.port);
    proxy.arm_downloads(200_000, 1);
    let via_proxy = WebDav::new(
        &format!("{}/root", proxy.base_url()),
        USER,
        Some(PASS.into()),
        "",
    )
    .expect("backend");
    run(60, async {
        let node = fx
            .remote()
            .list(&Tree::new())
            .await
            .expect("list")
            .nodes
            .into_iter()
            .find(|n| n.path.as_str() == "f.bin")
            .expect("listed");
        let mut sink = ChangingSink {
            got: Vec::new(),
            replace: Some((newer.clone(), fx.root.join("f.bin"))),
        };
        let e = via_proxy.download(&node, &mut sink).await;
        assert!(matches!(e, Err(RemoteError::Changed(_))), "{e:?}");
        assert_eq!(proxy.cuts(), 1);
        assert!(!sink.got.is_empty() && sink.got.len() < data.len());
        assert!(
            data.starts_with(&sink.got),
            "only bytes of the listed version"
        );
    });
}
