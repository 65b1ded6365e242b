//! One conformance suite for every real server: the whole engine (store, planner,
//! executor, backend) syncing against `rclone serve webdav`, moto and s3rver.
//!
//! Each case is one test per server (`<server>::<case>`), on a fresh server. Remote-side
//! changes go through the backend's own `Remote` operations, so no case knows which
//! server it talks to. A new server is one line in the `suite!` invocation at the bottom,
//! e.g. `wsgidav => Spec::WebDav(|d, u, p| WsgiDav::start(d, u, p, WsgiAuth::Basic)),`
//! (a WebDAV server's start function serves a folder with Basic auth).
//!
//! The servers must be installed (`scripts/ensure-deps.sh`); without them these tests fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudsync_core::{ConnectionSettings, Kind, Node, Tree};
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::remote::{Remote, RemoteError, RemoteFactory};
use cloudsync_engine::Engine;
use cloudsync_providers::s3::S3;
use cloudsync_tests::fixtures::{node_at, rel, upload_bytes};
use cloudsync_tests::proxy::CutProxy;
use cloudsync_tests::run_for as run;
use cloudsync_tests::servers::{MotoS3, RcloneWebdav, S3Kind, Server, WsgiAuth, WsgiDav};
use sha2::{Digest, Sha256};

const USER: &str = "syncer";
const PASS: &str = "s3cret pass";
const BUCKET: &str = "conformance";
const PREFIX: &str = "sync/root";
/// The connection's name in every case.
const CONN: &str = "conf";

/// How to start one kind of server.
#[derive(Clone, Copy)]
enum Spec {
    /// A WebDAV server serving a folder with Basic auth `user`/`pass`.
    WebDav(fn(&Path, &str, &str) -> Option<Server>),
    /// An S3 server.
    S3(S3Kind),
}

/// A running server, its data, and how to reach the test root on it.
struct Target {
    spec: Spec,
    server: Server,
    /// Temp space: the served folder, the local folders, the stores.
    base: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Target {
    fn start(spec: Spec) -> Target {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().to_path_buf();
        let server = match spec {
            Spec::WebDav(start) => {
                let root = base.join("served").join("root");
                std::fs::create_dir_all(&root).expect("the served root");
                start(&base.join("served"), USER, PASS).expect(
                    "the WebDAV server is not installed (run scripts/ensure-deps.sh) or did \
                     not start within 10 s",
                )
            }
            Spec::S3(kind) => kind.start(&base.join("s3-data")),
        };
        let t = Target {
            spec,
            server,
            base,
            _tmp: tmp,
        };
        if let Spec::S3(_) = spec {
            let s3 = S3::from_config(&t.config()).expect("backend");
            run(
                30,
                async move { s3.create_bucket().await.expect("the bucket") },
            );
        }
        t
    }

    fn provider(&self) -> &'static str {
        match self.spec {
            Spec::WebDav(_) => "webdav",
            Spec::S3(_) => "s3",
        }
    }

    /// The connection's remote config, reaching the server at `base_url` (the server's
    /// own, or a proxy's), with the right credentials or wrong ones.
    fn config_at(&self, base_url: &str, good: bool) -> serde_json::Value {
        match self.spec {
            Spec::WebDav(_) => serde_json::json!({
                "url": format!("{base_url}/root"),
                "user": USER,
                "password": if good { PASS } else { "wrong password" },
            }),
            Spec::S3(kind) => {
                // Both keys wrong: s3rver checks only the access key id.
                let (access, secret) = if good {
                    kind.credentials()
                } else {
                    ("AKIDWRONG", "wrong secret")
                };
                serde_json::json!({
                    "endpoint": base_url, "bucket": BUCKET, "prefix": PREFIX,
                    "region": "us-east-1", "access_key": access, "secret_key": secret,
                })
            }
        }
    }

    /// True when the server never shows a partly written file under its name. The WebDAV
    /// backend uploads to a temporary name and moves it; S3 depends on the server.
    fn atomic_writes(&self) -> bool {
        match self.spec {
            Spec::WebDav(_) => true,
            Spec::S3(kind) => kind.atomic_writes(),
        }
    }

    /// Leftovers of interrupted uploads on the server, where its storage can be seen:
    /// temporary files in a WebDAV server's folder, unfinished multipart uploads in
    /// s3rver's (moto keeps everything in memory: nothing to see).
    fn stray_uploads(&self) -> Vec<String> {
        fn walk(dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                let p = e.path();
                if name.starts_with(".cloudsync-tmp-") {
                    out.push(p.display().to_string());
                } else if name == "._S3rver_uploads" {
                    let ups = std::fs::read_dir(&p).map(|d| d.count()).unwrap_or(0);
                    if ups > 0 {
                        out.push(format!("{} ({ups} uploads)", p.display()));
                    }
                } else if p.is_dir() {
                    walk(&p, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.base.join("served"), &mut out);
        walk(&self.base.join("s3-data"), &mut out);
        out
    }

    fn config(&self) -> serde_json::Value {
        self.config_at(&self.server.base_url(), true)
    }

    /// A backend of its own on the test root, straight to the server.
    fn remote(&self) -> Arc<dyn Remote> {
        cloudsync_providers::Factory
            .open(self.provider(), &self.config())
            .expect("backend")
    }

    /// A fresh engine with its own store.
    fn engine(&self, name: &str) -> Engine {
        cloudsync_tests::fixtures::engine(&self.base.join(format!("{name}.db")))
    }

    /// Adds the connection `CONN` from a new local folder `local_name` to the test root.
    async fn connect(
        &self,
        engine: &Engine,
        local_name: &str,
        config: serde_json::Value,
    ) -> PathBuf {
        let local = self.base.join(local_name);
        std::fs::create_dir_all(&local).expect("the local folder");
        engine
            .add_connection(self.add_request(&local, config))
            .await
            .expect("adding the connection");
        local
    }

    fn add_request(&self, local: &Path, config: serde_json::Value) -> AddConnection {
        AddConnection {
            name: CONN.into(),
            provider: self.provider().into(),
            local_root: local.to_path_buf(),
            remote: config,
            credential: format!("{}:{}", self.provider(), self.server.base_url()),
            remote_local_dir: None,
            settings: ConnectionSettings::default(),
        }
    }
}

/// Syncs; every op must succeed. Returns the ops that changed something.
async fn sync(engine: &Engine) -> usize {
    cloudsync_tests::fixtures::sync(engine, CONN).await
}

/// Syncs, then checks that a second sync has nothing to do.
async fn sync_converged(engine: &Engine) {
    sync(engine).await;
    let (plan, _) = engine.plan(CONN).await.expect("plan");
    assert!(plan.is_empty(), "after a sync, still planned: {plan:?}");
    assert_eq!(sync(engine).await, 0, "a second sync changed something");
}

/// Files (path → content) and folders below `dir`, CloudSync's own entries left out.
fn local_tree(dir: &Path) -> (BTreeMap<String, Vec<u8>>, BTreeSet<String>) {
    fn walk(
        base: &Path,
        dir: &Path,
        files: &mut BTreeMap<String, Vec<u8>>,
        dirs: &mut BTreeSet<String>,
    ) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("dir entry");
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(".cloudsync") {
                continue;
            }
            let p = e.path();
            let r = p
                .strip_prefix(base)
                .expect("below base")
                .to_string_lossy()
                .to_string();
            if e.file_type().expect("type").is_dir() {
                dirs.insert(r);
                walk(base, &p, files, dirs);
            } else {
                files.insert(r, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    walk(dir, dir, &mut files, &mut dirs);
    (files, dirs)
}

/// Files (path → content) and folders on the remote.
async fn remote_tree(r: &dyn Remote) -> (BTreeMap<String, Vec<u8>>, BTreeSet<String>) {
    let listing = r.list(&Tree::new()).await.expect("list");
    let mut files = BTreeMap::new();
    let mut dirs = BTreeSet::new();
    for n in listing.nodes {
        if n.kind == Kind::Dir {
            dirs.insert(n.path.as_str().to_string());
        } else {
            let mut out = Vec::new();
            r.download(&n, &mut out).await.expect("download");
            files.insert(n.path.as_str().to_string(), out);
        }
    }
    (files, dirs)
}

/// Writes `data` at `path` on the remote, replacing whatever is listed there.
async fn put(r: &dyn Remote, path: &str, data: &[u8]) -> Node {
    let replaces = node_at(r, path).await;
    upload_bytes(r, path, data, replaces.as_ref())
        .await
        .unwrap_or_else(|e| panic!("remote upload of {path}: {e}"))
}

/// Both sides hold exactly `files` (path → content) and `dirs`.
async fn assert_both(t: &Target, local: &Path, files: &[(&str, &str)], dirs: &[&str]) {
    let want_files: BTreeMap<String, Vec<u8>> = files
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect();
    let want_dirs: BTreeSet<String> = dirs.iter().map(|d| d.to_string()).collect();
    let (lf, ld) = local_tree(local);
    assert_eq!(lf, want_files, "local files");
    assert_eq!(ld, want_dirs, "local folders");
    let (rf, rd) = remote_tree(t.remote().as_ref()).await;
    assert_eq!(rf, want_files, "remote files");
    assert_eq!(rd, want_dirs, "remote folders");
}

/// The starting point of the change cases: a few files and folders, in sync.
const START_FILES: &[(&str, &str)] = &[
    ("a.txt", "alpha"),
    ("dir/b.txt", "bravo"),
    ("dir/sub/c.txt", "charlie"),
    ("other/d.txt", "delta"),
];
const START_DIRS: &[&str] = &["dir", "dir/sub", "other"];

/// A target, an engine connected to it, and the local folder, all holding the start tree.
async fn started(t: &Target, engine: &Engine) -> PathBuf {
    let local = t.connect(engine, "local", t.config()).await;
    for (p, c) in START_FILES {
        let p = local.join(p);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, c).expect("write");
    }
    sync_converged(engine).await;
    assert_both(t, &local, START_FILES, START_DIRS).await;
    local
}

/// Runs one change case: start tree, `change`, sync, then both sides must hold
/// `files`/`dirs` and a further sync must do nothing.
fn change_case<F>(spec: Spec, change: F, files: &[(&str, &str)], dirs: &[&str])
where
    F: for<'a> FnOnce(&'a Path, Arc<dyn Remote>) -> futures::future::BoxFuture<'a, ()>,
{
    let t = Target::start(spec);
    let engine = t.engine("e1");
    run(120, async {
        let local = started(&t, &engine).await;
        change(&local, t.remote()).await;
        sync_converged(&engine).await;
        assert_both(&t, &local, files, dirs).await;
    });
}

fn create_local(spec: Spec) {
    change_case(
        spec,
        |local, _| {
            Box::pin(async move {
                std::fs::write(local.join("new.txt"), "new file").expect("write");
                std::fs::create_dir_all(local.join("newdir/deep")).expect("mkdir");
                std::fs::write(local.join("newdir/deep/n.txt"), "nested").expect("write");
                std::fs::create_dir_all(local.join("empty")).expect("mkdir");
            })
        },
        &[
            ("a.txt", "alpha"),
            ("dir/b.txt", "bravo"),
            ("dir/sub/c.txt", "charlie"),
            ("new.txt", "new file"),
            ("newdir/deep/n.txt", "nested"),
            ("other/d.txt", "delta"),
        ],
        &["dir", "dir/sub", "empty", "newdir", "newdir/deep", "other"],
    );
}

fn create_remote(spec: Spec) {
    change_case(
        spec,
        |_, r| {
            Box::pin(async move {
                put(r.as_ref(), "new.txt", b"new file").await;
                r.mkdir(&rel("newdir")).await.expect("mkdir");
                r.mkdir(&rel("newdir/deep")).await.expect("mkdir");
                put(r.as_ref(), "newdir/deep/n.txt", b"nested").await;
                r.mkdir(&rel("empty")).await.expect("mkdir");
            })
        },
        &[
            ("a.txt", "alpha"),
            ("dir/b.txt", "bravo"),
            ("dir/sub/c.txt", "charlie"),
            ("new.txt", "new file"),
            ("newdir/deep/n.txt", "nested"),
            ("other/d.txt", "delta"),
        ],
        &["dir", "dir/sub", "empty", "newdir", "newdir/deep", "other"],
    );
}

const MODIFIED: &[(&str, &str)] = &[
    ("a.txt", "alpha, modified and longer"),
    ("dir/b.txt", "bravo"),
    ("dir/sub/c.txt", "C"),
    ("other/d.txt", "delta"),
];

fn modify_local(spec: Spec) {
    change_case(
        spec,
        |local, _| {
            Box::pin(async move {
                std::fs::write(local.join("a.txt"), "alpha, modified and longer").expect("write");
                std::fs::write(local.join("dir/sub/c.txt"), "C").expect("write");
            })
        },
        MODIFIED,
        START_DIRS,
    );
}

fn modify_remote(spec: Spec) {
    change_case(
        spec,
        |_, r| {
            Box::pin(async move {
                put(r.as_ref(), "a.txt", b"alpha, modified and longer").await;
                put(r.as_ref(), "dir/sub/c.txt", b"C").await;
            })
        },
        MODIFIED,
        START_DIRS,
    );
}

const DELETED: &[(&str, &str)] = &[("dir/b.txt", "bravo"), ("other/d.txt", "delta")];
const DELETED_DIRS: &[&str] = &["dir", "other"];

fn delete_local(spec: Spec) {
    change_case(
        spec,
        |local, _| {
            Box::pin(async move {
                std::fs::remove_file(local.join("a.txt")).expect("rm");
                std::fs::remove_dir_all(local.join("dir/sub")).expect("rm -r");
            })
        },
        DELETED,
        DELETED_DIRS,
    );
}

fn delete_remote(spec: Spec) {
    change_case(
        spec,
        |_, r| {
            Box::pin(async move {
                let a = node_at(r.as_ref(), "a.txt").await.expect("listed");
                r.delete(&a).await.expect("delete file");
                let sub = node_at(r.as_ref(), "dir/sub").await.expect("listed");
                r.delete(&sub).await.expect("delete folder");
            })
        },
        DELETED,
        DELETED_DIRS,
    );
}

const RENAMED: &[(&str, &str)] = &[
    ("a2.txt", "alpha"),
    ("dir2/b.txt", "bravo"),
    ("dir2/sub/c.txt", "charlie"),
    ("other/d.txt", "delta"),
];
const RENAMED_DIRS: &[&str] = &["dir2", "dir2/sub", "other"];

fn rename_local(spec: Spec) {
    change_case(
        spec,
        |local, _| {
            Box::pin(async move {
                std::fs::rename(local.join("a.txt"), local.join("a2.txt")).expect("mv");
                std::fs::rename(local.join("dir"), local.join("dir2")).expect("mv");
            })
        },
        RENAMED,
        RENAMED_DIRS,
    );
}

fn rename_remote(spec: Spec) {
    change_case(
        spec,
        |_, r| {
            Box::pin(async move {
                let a = node_at(r.as_ref(), "a.txt").await.expect("listed");
                r.rename(&a, &rel("a2.txt")).await.expect("rename file");
                let d = node_at(r.as_ref(), "dir").await.expect("listed");
                r.rename(&d, &rel("dir2")).await.expect("rename folder");
            })
        },
        RENAMED,
        RENAMED_DIRS,
    );
}

const MOVED: &[(&str, &str)] = &[
    ("dir/b.txt", "bravo"),
    ("other/a.txt", "alpha"),
    ("other/d.txt", "delta"),
    ("other/sub/c.txt", "charlie"),
];
const MOVED_DIRS: &[&str] = &["dir", "other", "other/sub"];

fn move_local(spec: Spec) {
    change_case(
        spec,
        |local, _| {
            Box::pin(async move {
                std::fs::rename(local.join("a.txt"), local.join("other/a.txt")).expect("mv");
                std::fs::rename(local.join("dir/sub"), local.join("other/sub")).expect("mv");
            })
        },
        MOVED,
        MOVED_DIRS,
    );
}

fn move_remote(spec: Spec) {
    change_case(
        spec,
        |_, r| {
            Box::pin(async move {
                let a = node_at(r.as_ref(), "a.txt").await.expect("listed");
                r.rename(&a, &rel("other/a.txt")).await.expect("move file");
                let d = node_at(r.as_ref(), "dir/sub").await.expect("listed");
                r.rename(&d, &rel("other/sub")).await.expect("move folder");
            })
        },
        MOVED,
        MOVED_DIRS,
    );
}

/// Both sides edit `a.txt`: the default policy keeps the local version under the name and
/// the remote one as a conflicted copy, on both sides.
fn conflict(spec: Spec) {
    let t = Target::start(spec);
    let engine = t.engine("e1");
    run(120, async {
        let local = started(&t, &engine).await;
        std::fs::write(local.join("a.txt"), "local edit").expect("write");
        put(t.remote().as_ref(), "a.txt", b"remote edit").await;
        sync_converged(&engine).await;

        let conflicts = engine.conflicts(Some(CONN)).expect("conflicts");
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        let copy = conflicts[0].copy_path.clone().expect("a conflicted copy");
        assert!(copy.contains("conflicted copy"), "{copy}");
        let (lf, _) = local_tree(&local);
        let (rf, _) = remote_tree(t.remote().as_ref()).await;
        for (side, files) in [("local", &lf), ("remote", &rf)] {
            assert_eq!(
                files.get("a.txt").map(Vec::as_slice),
                Some(&b"local edit"[..]),
                "{side}"
            );
            assert_eq!(
                files.get(&copy).map(Vec::as_slice),
                Some(&b"remote edit"[..]),
                "{side}: {:?}",
                files.keys()
            );
            assert_eq!(
                files.len(),
                START_FILES.len() + 1,
                "{side}: {:?}",
                files.keys()
            );
        }
    });
}

/// `len` bytes from a fixed seed (xorshift), written to `path` in blocks; returns the
/// content's SHA-256.
fn write_seeded(path: &Path, len: usize, seed: u64) -> Vec<u8> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut h = Sha256::new();
    let mut x = seed | 1;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len());
        for chunk in block[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        h.update(&block[..n]);
        f.write_all(&block[..n]).expect("write");
        left -= n;
    }
    f.flush().expect("flush");
    h.finalize().to_vec()
}

fn sha256_file(path: &Path) -> Vec<u8> {
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).expect("hash");
    h.finalize().to_vec()
}

/// 200 MB up (S3: a multipart upload, seen on the wire through a proxy) and down into a
/// second connection's folder; the content hashes match.
fn big_file(spec: Spec) {
    const LEN: usize = 200 * 1000 * 1000;
    let t = Target::start(spec);
    let proxy = CutProxy::start(t.server.port);
    proxy.watch(b"partNumber=");
    let up = t.engine("up");
    let down = t.engine("down");
    run(600, async {
        let local = t
            .connect(&up, "local", t.config_at(&proxy.base_url(), true))
            .await;
        let hash = write_seeded(&local.join("big.bin"), LEN, 200);
        let start = Instant::now();
        sync_converged(&up).await;
        let up_time = start.elapsed();
        if let Spec::S3(_) = spec {
            // 8 MiB parts: 24 of them.
            let parts = proxy.seen();
            assert!(
                parts >= 24,
                "a multipart upload expected, saw {parts} parts"
            );
        }
        let n = node_at(t.remote().as_ref(), "big.bin")
            .await
            .expect("uploaded");
        assert_eq!(n.size, LEN as u64);

        let other = t.connect(&down, "second", t.config()).await;
        let start = Instant::now();
        sync_converged(&down).await;
        let down_time = start.elapsed();
        assert!(
            sha256_file(&other.join("big.bin")) == hash,
            "the downloaded copy differs"
        );
        eprintln!("200 MB: upload {up_time:?}, download {down_time:?}");
    });
}

/// 2,000 small files in 20 folders go up; a second sync plans nothing.
fn many_files(spec: Spec) {
    let t = Target::start(spec);
    let engine = t.engine("e1");
    run(300, async {
        let local = t.connect(&engine, "local", t.config()).await;
        for d in 0..20 {
            std::fs::create_dir_all(local.join(format!("d{d:02}"))).expect("mkdir");
            for f in 0..100 {
                std::fs::write(
                    local.join(format!("d{d:02}/f{f:03}.txt")),
                    format!("file {d}/{f}"),
                )
                .expect("write");
            }
        }
        let start = Instant::now();
        sync(&engine).await;
        let up_time = start.elapsed();
        let start = Instant::now();
        let (plan, _) = engine.plan(CONN).await.expect("plan");
        assert!(plan.is_empty(), "still planned: {plan:?}");
        assert_eq!(sync(&engine).await, 0, "a no-op sync changed something");
        let noop_time = start.elapsed();
        let listing = t.remote().list(&Tree::new()).await.expect("list");
        let listed: BTreeSet<String> = listing
            .nodes
            .iter()
            .filter(|n| n.kind == Kind::File)
            .map(|n| n.path.as_str().to_string())
            .collect();
        let want: BTreeSet<String> = (0..20)
            .flat_map(|d| (0..100).map(move |f| format!("d{d:02}/f{f:03}.txt")))
            .collect();
        let missing: Vec<_> = want.difference(&listed).take(10).collect();
        let extra: Vec<_> = listed.difference(&want).take(10).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} files listed; missing {missing:?}, extra {extra:?}; skipped {:?}",
            listed.len(),
            listing.skipped
        );
        let mut out = Vec::new();
        let n = node_at(t.remote().as_ref(), "d07/f042.txt")
            .await
            .expect("listed");
        t.remote().download(&n, &mut out).await.expect("download");
        assert_eq!(out, b"file 7/42");
        eprintln!("2,000 files: upload {up_time:?}, plan + no-op sync {noop_time:?}");
    });
}

/// Wrong credentials: adding the connection fails with the auth error and changes nothing.
fn wrong_credentials(spec: Spec) {
    // moto checks credentials only when told to (and then knows none).
    let enforcing = match spec {
        Spec::S3(S3Kind::Moto) => {
            Some(MotoS3::start_enforcing_auth().expect("moto_server did not start within 10 s"))
        }
        _ => None,
    };
    let t = Target::start(spec);
    let url = enforcing
        .as_ref()
        .map_or_else(|| t.server.base_url(), Server::base_url);
    let engine = t.engine("e1");
    run(60, async {
        let before = remote_tree(t.remote().as_ref()).await;
        let local = t.base.join("local");
        std::fs::create_dir_all(&local).expect("mkdir");
        let e = engine
            .add_connection(t.add_request(&local, t.config_at(&url, false)))
            .await
            .expect_err("adding with wrong credentials");
        let shown = e.to_string();
        let auth = RemoteError::Auth(String::new()).to_string();
        assert!(
            shown.contains(auth.trim_end_matches(": ")),
            "not an auth error: {shown}"
        );
        assert!(engine.connections().expect("connections").is_empty());
        assert_eq!(
            std::fs::read_dir(&local).expect("read_dir").count(),
            0,
            "the local folder was changed"
        );
        assert_eq!(remote_tree(t.remote().as_ref()).await, before);
    });
}

/// The backend talks through a proxy that cuts connections in the middle of uploads: two
/// cuts during a 24 MiB upload (S3: multipart), then one during a 4 MiB one (S3: a single
/// PUT). The engine's retries (or the backend's) finish them; a second, direct backend
/// watching the server never sees anything but the whole file under its name.
fn cut_mid_upload(spec: Spec) {
    let t = Target::start(spec);
    let proxy = CutProxy::start(t.server.port);
    let engine = t.engine("e1");
    run(240, async {
        let local = t
            .connect(&engine, "local", t.config_at(&proxy.base_url(), true))
            .await;
        let big = write_seeded(&local.join("big.bin"), 24 << 20, 24);
        cut_upload(&t, &engine, &proxy, "big.bin", 24 << 20, (3 << 20, 2)).await;
        let small = write_seeded(&local.join("small.bin"), 4 << 20, 4);
        cut_upload(&t, &engine, &proxy, "small.bin", 4 << 20, (1 << 20, 1)).await;

        let r = t.remote();
        for (name, hash) in [("big.bin", big), ("small.bin", small)] {
            let n = node_at(r.as_ref(), name).await.expect("uploaded");
            let mut out = Vec::new();
            r.download(&n, &mut out).await.expect("download");
            assert!(
                Sha256::digest(&out).to_vec() == hash,
                "the uploaded {name} differs"
            );
        }
        let (files, _) = remote_tree(r.as_ref()).await;
        assert_eq!(files.len(), 2, "{:?}", files.keys());
        assert_eq!(sync(&engine).await, 0, "converged");
        let stray = t.stray_uploads();
        assert!(
            stray.is_empty(),
            "interrupted uploads left behind: {stray:?}"
        );
    });
}

/// Syncs the new local file `name` (`len` bytes) while the proxy cuts `cut.1` connections
/// after `cut.0` upload bytes each and a direct backend keeps listing the server.
async fn cut_upload(
    t: &Target,
    engine: &Engine,
    proxy: &CutProxy,
    name: &str,
    len: u64,
    cut: (u64, u32),
) {
    let cuts_before = proxy.cuts();
    proxy.arm(cut.0, cut.1);
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let watcher = {
        let (r, stop, seen, name) = (t.remote(), stop.clone(), seen.clone(), name.to_string());
        tokio::spawn(async move {
            loop {
                // One more look after the sync ended, so the final file is seen too.
                let last = stop.load(Ordering::SeqCst);
                if let Ok(l) = r.list(&Tree::new()).await {
                    if let Some(n) = l.nodes.iter().find(|n| n.path.as_str() == name) {
                        seen.lock().expect("lock").push(n.size);
                    }
                }
                if last {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let s = engine.sync_connection(CONN).await;
    stop.store(true, Ordering::SeqCst);
    watcher.await.expect("the watcher");
    let s = s.expect("sync");
    assert!(s.failures.is_empty(), "{name}: {:?}", s.failures);
    assert_eq!(
        proxy.cuts() - cuts_before,
        cut.1,
        "{name}: the proxy was to cut {} connections",
        cut.1
    );
    proxy.disarm();

    let sizes = seen.lock().expect("lock").clone();
    assert_eq!(
        sizes.last(),
        Some(&len),
        "{name}: the final look: {sizes:?}"
    );
    if t.atomic_writes() {
        assert!(
            sizes.iter().all(|s| *s == len),
            "{name}: a partial file showed under the final name: sizes {sizes:?}"
        );
    } else {
        eprintln!("the server writes in place; sizes seen under {name}: {sizes:?}");
    }
}

/// Defines `mod $server { #[test] fn $case() ... }` for every server and case.
macro_rules! suite {
    (servers { $($server:ident => $spec:expr,)* } cases $cases:tt) => {
        $( suite!(@server $server, $spec, $cases); )*
    };
    (@server $server:ident, $spec:expr, [$($case:ident),* $(,)?]) => {
        mod $server {
            use super::*;
            $(
                #[test]
                fn $case() {
                    super::$case($spec)
                }
            )*
        }
    };
}

suite! {
    servers {
        rclone_webdav => Spec::WebDav(RcloneWebdav::start),
        wsgidav => Spec::WebDav(|d, u, p| WsgiDav::start(d, u, p, WsgiAuth::Basic)),
        moto => Spec::S3(S3Kind::Moto),
        s3rver => Spec::S3(S3Kind::S3rver),
    }
    cases [
        create_local, create_remote,
        modify_local, modify_remote,
        delete_local, delete_remote,
        rename_local, rename_remote,
        move_local, move_remote,
        conflict,
        big_file,
        many_files,
        wrong_credentials,
        cut_mid_upload,
    ]
}
