//! The S3 backend against real S3 servers (`moto_server` and `s3rver`, see [`S3Kind`]): each
//! `Remote` operation, the whole engine, and long names (the odd-names corpus runs on both
//! servers in `odd_names.rs`). Every test runs once per server (`<test>::moto`,
//! `<test>::s3rver`).
//!
//! Both servers must be installed (`scripts/ensure-deps.sh`); without them these tests fail.

use std::path::PathBuf;
use std::time::Instant;

use cloudsync_core::{ConnectionSettings, Kind, Tree};
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::store::Action;
use cloudsync_engine::Engine;
use cloudsync_providers::s3::S3;
use cloudsync_tests::fixtures::{engine, node_at, pseudo_random, rel, upload_bytes};
use cloudsync_tests::proxy::CutProxy;
use cloudsync_tests::servers::{free_port, moto_installed, MotoS3, S3Kind, Server};

const BUCKET: &str = "cloudsync-test";
const PREFIX: &str = "sync/root";

use cloudsync_tests::run_for as run;

/// Defines `mod $test { fn moto(); fn s3rver(); }`, each calling `$test(kind)`.
macro_rules! per_server {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn moto() {
                super::$test(super::S3Kind::Moto)
            }
            #[test]
            fn s3rver() {
                super::$test(super::S3Kind::S3rver)
            }
        }
    )*};
}

per_server!(
    remote_operations_one_by_one,
    a_new_file_is_one_request_where_writes_are_conditional,
    refused_credentials_are_auth_errors,
    secret_key_comes_from_the_secret_store,
    whole_engine_over_s3,
    long_names_round_trip,
);

/// A running S3 server, and a temp dir.
struct Fixture {
    kind: S3Kind,
    server: Server,
    base: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    fn new(kind: S3Kind) -> Fixture {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().to_path_buf();
        let server = kind.start(&base.join("s3-data"));
        Fixture {
            kind,
            server,
            base,
            _tmp: tmp,
        }
    }

    fn config(&self, bucket: &str, prefix: &str) -> serde_json::Value {
        let (access_key, secret_key) = self.kind.credentials();
        serde_json::json!({
            "endpoint": self.server.base_url(),
            "bucket": bucket,
            "prefix": prefix,
            "region": "us-east-1",
            "access_key": access_key,
            "secret_key": secret_key,
        })
    }

    fn remote_at(&self, prefix: &str) -> S3 {
        S3::from_config(&self.config(BUCKET, prefix)).expect("backend")
    }

    fn remote(&self) -> S3 {
        self.remote_at(PREFIX)
    }

    /// The remote's trash, as a backend of its own.
    fn trash(&self) -> S3 {
        self.remote_at(&format!("{PREFIX}/.cloudsync-trash"))
    }
}

/// The listed file paths.
async fn file_paths(r: &S3) -> Vec<String> {
    r.list(&Tree::new())
        .await
        .expect("list")
        .nodes
        .into_iter()
        .filter(|n| n.kind == Kind::File)
        .map(|n| n.path.as_str().to_string())
        .collect()
}

/// The content of the file at `path`, if it is listed.
async fn read(r: &S3, path: &str) -> Option<Vec<u8>> {
    let listing = r.list(&Tree::new()).await.expect("list");
    let node = listing
        .nodes
        .into_iter()
        .find(|n| n.path.as_str() == path && n.kind == Kind::File)?;
    let mut out = Vec::new();
    r.download(&node, &mut out).await.expect("download");
    Some(out)
}

/// Where the server enforces `If-None-Match: *` (moto), a new small file is one PUT; where
/// it ignores it (s3rver), the checks before and after stay. On both, a file that appeared
/// since the listing is never overwritten.
fn a_new_file_is_one_request_where_writes_are_conditional(kind: S3Kind) {
    let fx = Fixture::new(kind);
    run(120, async {
        let proxy = CutProxy::start(fx.server.port);
        let mut config = fx.config(BUCKET, PREFIX);
        config["endpoint"] = serde_json::json!(proxy.base_url());
        let r = S3::from_config(&config).expect("backend");
        r.create_bucket().await.expect("creating the bucket");
        let conditional = r.probe_conditional_writes().await.expect("probe");
        assert_eq!(conditional, kind == S3Kind::Moto);
        proxy.watch(b" HTTP/1.1\r\n");
        for i in 0..5 {
            let data = pseudo_random(4096, i);
            let node = upload_bytes(&r, &format!("new-{i}.bin"), &data, None)
                .await
                .expect("upload");
            assert_eq!(node.size, 4096);
            assert!(node.rev.is_some(), "the new version is named by its ETag");
        }
        let per_file = proxy.seen() as f64 / 5.0;
        if conditional {
            assert_eq!(per_file, 1.0, "one PUT per new file");
        } else {
            assert!(
                per_file >= 3.0,
                "checks before and after the PUT: {per_file}"
            );
        }
        // The ETag from the PUT is the one a listing reports.
        let listed = node_at(&r, "new-0.bin").await.expect("listed");
        let again = upload_bytes(&r, "new-0.bin", b"v2", Some(&listed))
            .await
            .expect("update over the listed version");
        assert_eq!(again.size, 2);
        // Someone else's file at the same name, not yet listed: refused, theirs kept.
        upload_bytes(&fx.remote(), "theirs.txt", b"theirs", None)
            .await
            .expect("their upload");
        let refused = upload_bytes(&r, "theirs.txt", b"mine", None).await;
        assert!(
            matches!(refused, Err(RemoteError::Changed(_))),
            "{refused:?}"
        );
        assert_eq!(
            read(&r, "theirs.txt").await.as_deref(),
            Some(&b"theirs"[..])
        );
    });
}

fn remote_operations_one_by_one(kind: S3Kind) {
    let fx = Fixture::new(kind);
    run(120, async {
        let r = fx.remote();
        // A missing bucket is NotFound, for checking and for preparing.
        let e = r.check_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");
        let e = r.prepare_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");
        r.create_bucket().await.expect("creating the bucket");
        r.create_bucket().await.expect("creating it again is fine");

        // A root without its marker is refused; prepare_root writes the marker.
        let e = r.check_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");
        r.prepare_root().await.expect("prepare_root");
        r.check_root().await.expect("check_root after prepare");
        r.prepare_root().await.expect("prepare_root again");
        let listing = r.list(&Tree::new()).await.expect("list");
        assert!(listing.nodes.is_empty(), "{:?}", listing.nodes);
        // Another prefix in the same bucket is another (unprepared) root.
        let e = fx.remote_at("elsewhere").check_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");

        // mkdir, twice.
        let d = r.mkdir(&rel("dir")).await.expect("mkdir");
        assert_eq!(d.kind, Kind::Dir);
        r.mkdir(&rel("dir"))
            .await
            .expect("mkdir of an existing folder");
        let listing = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, vec!["dir"]);

        // Upload new; a second "new" upload onto it is refused.
        let n1 = upload_bytes(&r, "dir/a.txt", b"hello", None)
            .await
            .expect("upload new");
        assert_eq!(n1.size, 5);
        assert!(n1.rev.is_some());
        assert_eq!(read(&r, "dir/a.txt").await.as_deref(), Some(&b"hello"[..]));
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
            read(&r, "dir/a.txt").await.as_deref(),
            Some(&b"hello world"[..])
        );

        // Download; a stale node is refused.
        let mut got = Vec::new();
        let n = r.download(&n2, &mut got).await.expect("download");
        assert_eq!((n, got.as_slice()), (11, &b"hello world"[..]));
        let mut sink = Vec::new();
        let old = r.download(&n1, &mut sink).await;
        assert!(matches!(old, Err(RemoteError::Changed(_))), "{old:?}");

        // Listing shows the folder and the file, not the marker; an implied folder too.
        upload_bytes(&r, "implied/deep/x.txt", b"x", None)
            .await
            .expect("upload below implied folders");
        let listing = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "dir",
                "dir/a.txt",
                "implied",
                "implied/deep",
                "implied/deep/x.txt"
            ]
        );
        assert_eq!(listing.nodes[1].rev, n2.rev);
        assert_eq!(listing.nodes[1].size, 11);
        assert_eq!(listing.nodes[1].mtime_ns, n2.mtime_ns);

        // Rename a file; rename onto an existing name is refused.
        let b = r.rename(&n2, &rel("dir/b.txt")).await.expect("rename");
        assert_eq!((b.size, b.rev.clone()), (11, n2.rev.clone()));
        assert_eq!(
            file_paths(&r).await,
            vec!["dir/b.txt", "implied/deep/x.txt"]
        );
        let c = upload_bytes(&r, "c.txt", b"c", None)
            .await
            .expect("upload c");
        let clash = r.rename(&c, &rel("dir/b.txt")).await;
        assert!(matches!(clash, Err(RemoteError::Changed(_))), "{clash:?}");
        let clash = r.rename(&c, &rel("dir")).await;
        assert!(matches!(clash, Err(RemoteError::Changed(_))), "{clash:?}");
        let stale_rename = r.rename(&n1, &rel("dir/z.txt")).await;
        assert!(
            matches!(stale_rename, Err(RemoteError::NotFound(_))),
            "{stale_rename:?}"
        );
        let mut stale_b = b.clone();
        stale_b.rev = n1.rev.clone();
        let stale_rename = r.rename(&stale_b, &rel("dir/z.txt")).await;
        assert!(
            matches!(stale_rename, Err(RemoteError::Changed(_))),
            "{stale_rename:?}"
        );
        assert_eq!(
            read(&r, "dir/b.txt").await.as_deref(),
            Some(&b"hello world"[..])
        );

        // Rename folders: one with a marker, one only implied by its keys.
        let dir = node_at(&r, "dir").await.expect("dir listed");
        let moved = r.rename(&dir, &rel("moved dir")).await.expect("rename dir");
        assert_eq!(moved.kind, Kind::Dir);
        let implied = node_at(&r, "implied").await.expect("implied listed");
        r.rename(&implied, &rel("was implied"))
            .await
            .expect("rename implied folder");
        let clash = r.rename(&moved, &rel("was implied")).await;
        assert!(matches!(clash, Err(RemoteError::Changed(_))), "{clash:?}");
        let listing = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "c.txt",
                "moved dir",
                "moved dir/b.txt",
                "was implied",
                "was implied/deep",
                "was implied/deep/x.txt"
            ]
        );

        // Delete goes to the trash, which the listing hides.
        let b = node_at(&r, "moved dir/b.txt").await.expect("listed");
        r.delete(&b).await.expect("delete file");
        let moved = node_at(&r, "moved dir").await.expect("listed");
        r.delete(&moved).await.expect("delete folder");
        let wi = node_at(&r, "was implied").await.expect("listed");
        r.delete(&wi).await.expect("delete implied folder");
        assert_eq!(file_paths(&r).await, vec!["c.txt"]);
        let trashed = file_paths(&fx.trash()).await;
        assert_eq!(trashed.len(), 2, "{trashed:?}");
        assert!(trashed[0].ends_with("/moved dir/b.txt"), "{trashed:?}");
        assert!(
            trashed[1].ends_with("/was implied/deep/x.txt"),
            "{trashed:?}"
        );
        let listing = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, vec!["c.txt"]);
        // Deleting the same name again gets a fresh trash name.
        let c2 = upload_bytes(&r, "moved dir/b.txt", b"again", None)
            .await
            .expect("upload");
        r.delete(&c2).await.expect("delete again");
        assert_eq!(file_paths(&fx.trash()).await.len(), 3);

        // 20 MiB goes multipart (8 MiB parts: the ETag says 3 parts) and round-trips.
        let big = pseudo_random(20 * 1024 * 1024, 5);
        let t = Instant::now();
        let nb = upload_bytes(&r, "big.bin", &big, None)
            .await
            .expect("upload 20 MiB");
        let up = t.elapsed();
        assert_eq!(nb.size, big.len() as u64);
        let rev = nb.rev.clone().expect("an ETag");
        match fx.kind {
            S3Kind::Moto => assert!(rev.ends_with("-3\""), "multipart ETag expected, got {rev}"),
            // s3rver joins the parts and gives the whole content's MD5.
            S3Kind::S3rver => assert!(!rev.contains('-'), "s3rver's ETag: {rev}"),
        }
        let t = Instant::now();
        let mut back = Vec::new();
        r.download(&nb, &mut back).await.expect("download 20 MiB");
        eprintln!(
            "20 MiB: multipart upload {up:?}, download {:?}",
            t.elapsed()
        );
        assert!(back == big, "20 MiB round trip differs");
        // A multipart replacement checks the ETag too.
        let big2 = pseudo_random(9 * 1024 * 1024, 6);
        let stale = upload_bytes(&r, "big.bin", &big2, Some(&n1)).await;
        assert!(matches!(stale, Err(RemoteError::Changed(_))), "{stale:?}");
        let nb2 = upload_bytes(&r, "big.bin", &big2, Some(&nb))
            .await
            .expect("multipart replace");
        assert_eq!(nb2.size, big2.len() as u64);
        // A source shorter than announced is refused.
        let mut short: &[u8] = b"abc";
        let e = r.upload(&rel("short.txt"), &mut short, 10, 0, None).await;
        assert!(e.is_err(), "{e:?}");
        assert!(node_at(&r, "short.txt").await.is_none());

        // moto honours If-None-Match / If-Match on PUT; s3rver ignores them, which the
        // backend must notice (it then relies on its HEAD checks alone).
        assert_eq!(
            r.conditional_writes(),
            fx.kind == S3Kind::Moto,
            "conditional writes on {:?}",
            fx.kind
        );

        // Missing bucket, no server.
        let missing = S3::from_config(&fx.config("no-such-bucket", PREFIX)).expect("backend");
        let e = missing.check_root().await;
        assert!(matches!(e, Err(RemoteError::NotFound(_))), "{e:?}");
        let down = S3::from_config(&serde_json::json!({
            "endpoint": format!("http://127.0.0.1:{}", free_port()),
            "bucket": BUCKET, "prefix": "", "region": "us-east-1",
            "access_key": "a", "secret_key": "b",
        }))
        .expect("backend");
        let e = down.check_root().await;
        assert!(matches!(e, Err(RemoteError::Unavailable(_))), "{e:?}");
    });
}

fn refused_credentials_are_auth_errors(kind: S3Kind) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let server = match kind {
        S3Kind::Moto => {
            assert!(
                moto_installed(),
                "`moto_server` is not installed: run scripts/ensure-deps.sh"
            );
            MotoS3::start_enforcing_auth().expect("moto_server did not start within 10 s")
        }
        // s3rver always checks signatures against its one account.
        S3Kind::S3rver => kind.start(tmp.path()),
    };
    let cfg = serde_json::json!({
        "endpoint": server.base_url(), "bucket": BUCKET, "prefix": PREFIX,
        "region": "us-east-1", "access_key": "AKIDUNKNOWN", "secret_key": "wrong",
    });
    let r = S3::from_config(&cfg).expect("backend");
    run(60, async {
        let e = r.check_root().await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
        let e = r.prepare_root().await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
        // Through object_store (HEAD then PUT).
        let e = upload_bytes(&r, "x.txt", b"x", None).await;
        assert!(matches!(e, Err(RemoteError::Auth(_))), "{e:?}");
    });
}

fn secret_key_comes_from_the_secret_store(kind: S3Kind) {
    let fx = Fixture::new(kind);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = cloudsync_engine::secrets::SecretStore::in_dir(dir.path());
    store.set("s3:k", "test secret").expect("store the secret");
    let mut cfg = fx.config(BUCKET, "secret-root");
    let obj = cfg.as_object_mut().expect("object");
    obj.remove("secret_key");
    obj.insert(
        "secret_key_secret".into(),
        serde_json::to_value(store.reference("s3:k")).expect("json"),
    );
    let r = S3::from_config(&cfg).expect("backend from a secret reference");
    run(30, async {
        r.create_bucket().await.expect("bucket");
        r.prepare_root().await.expect("prepare");
        r.check_root().await.expect("check");
    });
    let mut missing = cfg.clone();
    missing["secret_key_secret"]["key"] = "nope".into();
    assert!(matches!(
        S3::from_config(&missing),
        Err(RemoteError::Auth(_))
    ));
    let via_factory =
        cloudsync_engine::remote::RemoteFactory::open(&cloudsync_providers::Factory, "s3", &cfg);
    assert!(via_factory.is_ok());
}

async fn connect(fx: &Fixture, engine: &Engine) -> PathBuf {
    fx.remote().create_bucket().await.expect("bucket");
    let local = fx.base.join("local");
    std::fs::create_dir_all(&local).expect("local dir");
    engine
        .add_connection(AddConnection {
            name: "s3".into(),
            provider: "s3".into(),
            local_root: local.clone(),
            remote: fx.config(BUCKET, PREFIX),
            credential: format!("s3:{}:{BUCKET}/{PREFIX}", fx.server.base_url()),
            remote_local_dir: None,
            settings: ConnectionSettings::default(),
        })
        .await
        .expect("adding the s3 connection");
    local
}

async fn sync(engine: &Engine) -> usize {
    cloudsync_tests::fixtures::sync(engine, "s3").await
}

fn whole_engine_over_s3(kind: S3Kind) {
    let fx = Fixture::new(kind);
    let engine = engine(&fx.base.join("db"));
    run(300, async {
        let local = connect(&fx, &engine).await;
        let remote = fx.remote();
        remote
            .check_root()
            .await
            .expect("the connection prepared the root");

        // Local -> server.
        std::fs::create_dir_all(local.join("sub/deep")).expect("mkdir");
        std::fs::create_dir_all(local.join("empty")).expect("mkdir");
        std::fs::write(local.join("hello.txt"), "hello").expect("write");
        std::fs::write(local.join("sub/one.txt"), "one").expect("write");
        std::fs::write(local.join("sub/deep/two.txt"), "two").expect("write");
        sync(&engine).await;
        assert_eq!(
            read(&remote, "hello.txt").await.as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            read(&remote, "sub/deep/two.txt").await.as_deref(),
            Some(&b"two"[..])
        );
        assert!(
            node_at(&remote, "empty").await.is_some(),
            "empty folder marker"
        );

        // Server -> local (another client writes; the folder is only implied).
        upload_bytes(&remote, "from-server/s.txt", b"server side", None)
            .await
            .expect("server-side upload");
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
            read(&remote, "hello.txt").await.as_deref(),
            Some(&b"hello again"[..])
        );
        let s = node_at(&remote, "from-server/s.txt").await.expect("listed");
        upload_bytes(
            &remote,
            "from-server/s.txt",
            b"server edit, longer",
            Some(&s),
        )
        .await
        .expect("server-side edit");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-server/s.txt")).expect("read"),
            b"server edit, longer"
        );

        // A local delete lands in the remote trash.
        std::fs::remove_file(local.join("hello.txt")).expect("rm");
        sync(&engine).await;
        assert!(node_at(&remote, "hello.txt").await.is_none());
        let trashed = file_paths(&fx.trash()).await;
        assert!(
            trashed.iter().any(|t| t.ends_with("/hello.txt")),
            "{trashed:?}"
        );

        // A server-side delete removes the local file (into the local trash).
        let s = node_at(&remote, "from-server/s.txt").await.expect("listed");
        remote.delete(&s).await.expect("server-side delete");
        sync(&engine).await;
        assert!(!local.join("from-server/s.txt").exists());

        // A folder rename is one rename (copies and deletes on S3).
        let before = engine
            .log(Some("s3"), None, 10_000)
            .expect("log")
            .iter()
            .map(|r| r.id)
            .max()
            .unwrap_or(0);
        std::fs::rename(local.join("sub"), local.join("renamed sub")).expect("rename");
        sync(&engine).await;
        assert!(node_at(&remote, "sub").await.is_none());
        assert_eq!(
            read(&remote, "renamed sub/deep/two.txt").await.as_deref(),
            Some(&b"two"[..])
        );
        let new: Vec<_> = engine
            .log(Some("s3"), None, 10_000)
            .expect("log")
            .into_iter()
            .filter(|r| r.id > before)
            .collect();
        let renames = new.iter().filter(|r| r.action == Action::Rename).count();
        let uploads = new.iter().filter(|r| r.action == Action::Upload).count();
        assert_eq!((renames, uploads), (1, 0), "{new:?}");

        // 20 MiB both ways.
        let big = pseudo_random(20 * 1024 * 1024, 7);
        std::fs::write(local.join("big.bin"), &big).expect("write");
        let t = Instant::now();
        sync(&engine).await;
        let up = t.elapsed();
        assert!(read(&remote, "big.bin").await.expect("uploaded") == big);
        let big2 = pseudo_random(20 * 1024 * 1024, 11);
        upload_bytes(&remote, "big2.bin", &big2, None)
            .await
            .expect("server-side upload");
        let t = Instant::now();
        sync(&engine).await;
        let down = t.elapsed();
        assert!(std::fs::read(local.join("big2.bin")).expect("read") == big2);
        eprintln!("engine 20 MiB: upload round {up:?}, download round {down:?}");

        // 200 small files.
        std::fs::create_dir_all(local.join("many")).expect("mkdir");
        for i in 0..200 {
            std::fs::write(local.join(format!("many/f{i:03}.txt")), format!("file {i}"))
                .expect("write");
        }
        let t = Instant::now();
        sync(&engine).await;
        eprintln!("200 small files: {:?}", t.elapsed());
        let on_server = file_paths(&remote).await;
        assert_eq!(
            on_server.iter().filter(|p| p.starts_with("many/")).count(),
            200
        );
        assert_eq!(
            read(&remote, "many/f123.txt").await.as_deref(),
            Some(&b"file 123"[..])
        );
        let t = Instant::now();
        assert_eq!(sync(&engine).await, 0, "converged");
        eprintln!("no-op sync of ~215 entries: {:?}", t.elapsed());
    });
}

/// Names near the length where s3rver's storage gives up: the odd-names corpus
/// (`tests/tests/odd_names.rs`, every name both ways on both servers) has names of 254 and
/// 255 bytes, which s3rver refuses; these 200-byte ones must still round-trip there.
fn long_names_round_trip(kind: S3Kind) {
    let fx = Fixture::new(kind);
    let engine = engine(&fx.base.join("db"));
    let names = [
        format!("{}.txt", "a".repeat(196)),
        format!("{}.txt", "\u{e9}".repeat(98)),
    ];
    run(120, async {
        let local = connect(&fx, &engine).await;
        let remote = fx.remote();
        for name in &names {
            std::fs::create_dir_all(local.join("up")).expect("mkdir");
            std::fs::write(local.join("up").join(name), format!("content of {name}"))
                .expect("write");
        }
        sync(&engine).await;
        for name in &names {
            assert_eq!(
                read(&remote, &format!("up/{name}")).await,
                Some(format!("content of {name}").into_bytes()),
                "{name:?}"
            );
        }
        assert_eq!(
            sync(&engine).await,
            0,
            "the names list back as they were sent"
        );

        // The other way: written by another client, listed, downloaded.
        for name in &names {
            upload_bytes(
                &remote,
                &format!("down/{name}"),
                format!("server {name}").as_bytes(),
                None,
            )
            .await
            .expect("server-side upload");
        }
        sync(&engine).await;
        for name in &names {
            assert_eq!(
                std::fs::read(local.join("down").join(name))
                    .unwrap_or_else(|e| panic!("{name:?} missing locally: {e}")),
                format!("server {name}").as_bytes(),
                "{name:?}"
            );
        }
        assert_eq!(sync(&engine).await, 0, "converged");
    });
}

/// Starts a multipart upload of `key` with an unsigned request (moto takes them), as a
/// client killed before it finished or aborted would leave it; its upload id.
async fn start_multipart(port: u16, key: &str) -> String {
    let body = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/{BUCKET}/{key}?uploads"))
        .send()
        .await
        .expect("CreateMultipartUpload")
        .text()
        .await
        .expect("body");
    let start = body.find("<UploadId>").expect("an upload id") + "<UploadId>".len();
    let end = body[start..].find("</UploadId>").expect("closed") + start;
    body[start..end].to_string()
}

/// The upload ids of the multipart uploads in progress in the bucket.
async fn multipart_uploads(port: u16) -> std::collections::BTreeSet<String> {
    let body = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/{BUCKET}?uploads"))
        .send()
        .await
        .expect("ListMultipartUploads")
        .text()
        .await
        .expect("body");
    body.split("<UploadId>")
        .skip(1)
        .filter_map(|s| s.split("</UploadId>").next())
        .map(str::to_string)
        .collect()
}

/// A source that hands out its first part at once and the rest only when told, so an
/// upload can be held in progress.
struct HeldSource {
    data: Vec<u8>,
    at: usize,
    release_at: usize,
    go: std::sync::mpsc::Receiver<()>,
}

impl std::io::Read for HeldSource {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.release_at {
            self.go
                .recv_timeout(std::time::Duration::from_secs(30))
                .map_err(std::io::Error::other)?;
        }
        let end = if self.at < self.release_at {
            self.release_at
        } else {
            self.data.len()
        };
        let n = buf.len().min(end - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn abandoned_multipart_uploads_below_the_prefix_are_aborted_after_a_week() {
    let fx = Fixture::new(S3Kind::Moto);
    run(60, async {
        let r = std::sync::Arc::new(fx.remote());
        r.create_bucket().await.expect("creating the bucket");
        r.prepare_root().await.expect("root");
        let port = fx.server.port;
        let ours = start_multipart(port, &format!("{PREFIX}/big.bin")).await;
        let theirs = start_multipart(port, "another-tool/big.bin").await;
        let both: std::collections::BTreeSet<String> = [ours.clone(), theirs.clone()].into();
        assert_eq!(multipart_uploads(port).await, both);

        // An upload of ours in progress, held after its first part.
        let part = cloudsync_providers::s3::PART_SIZE;
        let data = pseudo_random(2 * part + 5, 77);
        let (go, wait) = std::sync::mpsc::channel();
        let uploader = {
            let r = r.clone();
            let data = data.clone();
            tokio::spawn(async move {
                let mut source = HeldSource {
                    data: data.clone(),
                    at: 0,
                    release_at: part,
                    go: wait,
                };
                r.upload(&rel("live.bin"), &mut source, data.len() as u64, 0, None)
                    .await
            })
        };
        let started = Instant::now();
        while multipart_uploads(port).await.len() < 3 {
            assert!(
                started.elapsed().as_secs() < 20,
                "the live upload never started"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }

        // Nothing is a week old at the epoch's start: the sweep leaves everything alone.
        r.purge_trash(0).await.expect("upkeep");
        assert_eq!(multipart_uploads(port).await.len(), 3);
        // Now (moto dates every upload in 2010): the abandoned upload below the prefix
        // goes; another tool's outside the prefix and our live one stay.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        r.purge_trash(now).await.expect("upkeep");
        let left = multipart_uploads(port).await;
        assert!(!left.contains(&ours), "the abandoned upload was aborted");
        assert!(
            left.contains(&theirs),
            "uploads outside the prefix are not ours"
        );
        assert_eq!(left.len(), 2, "the live upload is still there");

        go.send(()).expect("release the live upload");
        uploader
            .await
            .expect("join")
            .expect("the live upload completes");
        assert!(read(&r, "live.bin").await.expect("uploaded") == data);
        assert_eq!(multipart_uploads(port).await, [theirs].into());
    });
}
