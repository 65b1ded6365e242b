//! The Dropbox backend against the in-process Dropbox emulator: each `Remote` operation,
//! the whole engine both ways, the emulator's faults (429 with Retry-After, 5xx, a
//! connection cut mid-upload, a lost answer, a truncated download, expired tokens renewed
//! through the refresh token, a reset cursor, `too_many_write_operations`) with nothing lost
//! and convergence after them, a revoked sign-in renewed by a relink, the change feed
//! continued after a restart, hostile names and case-insensitive collisions.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudsync_core::{ConnectionSettings, Kind, Node, RelPath, Tree};
use cloudsync_emulator::{Emulator, Provider};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::secrets::SecretStore;
use cloudsync_engine::store::{Action, Store};
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};
use cloudsync_providers::auth::StaticToken;
use cloudsync_providers::dropbox::{Dropbox, DropboxOptions, Hosts};
use cloudsync_providers::oauth::stored::StoredTokens;
use cloudsync_tests::fixtures::{
    assert_credentials_refused, emulator_accepting, pseudo_random, sign_in_needed, MemorySessions,
};
use cloudsync_tests::run_for as run;
use serde_json::{json, Value};

const TOKEN: &str = "dropbox-test-token";
const MIB: usize = 1024 * 1024;

async fn emulator() -> Emulator {
    emulator_accepting(Provider::Dropbox, TOKEN).await
}

/// Small sizes so sessions are exercised with a few MiB.
fn small() -> DropboxOptions {
    DropboxOptions {
        single_upload_max: 4 * MIB as u64,
        chunk: 4 * MIB,
    }
}

fn remote(e: &Emulator, root: &str) -> Dropbox {
    Dropbox::new(
        Hosts::single(&e.base_url),
        Arc::new(StaticToken::new(TOKEN)),
        root,
        small(),
    )
    .expect("backend")
}

async fn control(e: &Emulator, path: &str, body: Option<Value>) -> Value {
    let c = reqwest::Client::new();
    let url = format!("{}/__emulator/{path}", e.base_url);
    let rb = match body {
        Some(b) => c
            .post(url)
            .header("Content-Type", "application/json")
            .body(b.to_string()),
        None if path == "stats" => c.get(url),
        None => c.post(url),
    };
    let resp = rb.send().await.expect("control endpoint");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    let bytes = resp.bytes().await.expect("body");
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn fault(e: &Emulator, rule: Value) {
    control(e, "faults", Some(rule)).await;
}

/// Writes a file on the emulator directly (another device).
async fn server_put(e: &Emulator, path: &str, data: &[u8]) {
    upload_as(e, TOKEN, path, data).await;
}

async fn server_rpc(e: &Emulator, route: &str, arg: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/2/{route}", e.base_url))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(arg.to_string())
        .send()
        .await
        .expect("rpc");
    let status = resp.status().as_u16();
    let body = resp.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn server_get(e: &Emulator, path: &str) -> Option<Vec<u8>> {
    download_as(e, TOKEN, path).await
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid path")
}

async fn put(
    r: &Dropbox,
    path: &str,
    data: &[u8],
    replaces: Option<&Node>,
) -> Result<Node, RemoteError> {
    let mut src = data;
    r.upload(
        &rel(path),
        &mut src,
        data.len() as u64,
        1_431_445_838_000_000_000,
        replaces,
    )
    .await
}

async fn get(r: &Dropbox, node: &Node) -> Result<Vec<u8>, RemoteError> {
    let mut out = Vec::new();
    r.download(node, &mut out).await?;
    Ok(out)
}

async fn listed(r: &Dropbox) -> Vec<(String, Kind)> {
    r.list(&Tree::new())
        .await
        .expect("list")
        .nodes
        .into_iter()
        .map(|n| (n.path.to_string(), n.kind))
        .collect()
}

#[test]
fn remote_operations_one_by_one() {
    run(50, async {
        let e = emulator().await;
        let r = remote(&e, "/CloudSync");
        assert!(matches!(
            r.check_root().await,
            Err(RemoteError::NotFound(_))
        ));
        r.prepare_root().await.expect("prepare_root");
        r.prepare_root().await.expect("prepare_root again");
        r.check_root().await.expect("check_root");
        let account = r.account_id().await.expect("account").expect("some id");
        assert!(account.starts_with("dbid:"), "{account}");
        assert!(listed(&r).await.is_empty(), "the marker is not an entry");

        let d = r.mkdir(&rel("dir")).await.expect("mkdir");
        assert_eq!(d.kind, Kind::Dir);
        assert!(d.id.as_deref().is_some_and(|i| i.starts_with("id:")));
        r.mkdir(&rel("dir"))
            .await
            .expect("mkdir of an existing folder");

        // A new file: add without autorename; the node carries Dropbox's hash, rev, id, mtime.
        let a = put(&r, "dir/a.txt", b"abc", None).await.expect("upload");
        assert_eq!(
            a.hash.as_deref(),
            Some("dropbox:4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358")
        );
        assert_eq!((a.size, a.mtime_ns), (3, 1_431_445_838_000_000_000));
        assert!(a.rev.is_some() && a.id.is_some());
        assert!(matches!(
            put(&r, "dir/a.txt", b"other", None).await,
            Err(RemoteError::Changed(_))
        ));
        assert!(matches!(
            put(&r, "DIR/A.TXT", b"other", None).await,
            Err(RemoteError::Changed(_))
        ));
        // A replacement names the rev it replaces; a stale one is a conflict.
        let a2 = put(&r, "dir/a.txt", b"abcd", Some(&a))
            .await
            .expect("update");
        assert_ne!(a2.rev, a.rev);
        assert_eq!(a2.id, a.id);
        assert!(matches!(
            put(&r, "dir/a.txt", b"zzz", Some(&a)).await,
            Err(RemoteError::Changed(_))
        ));
        assert_eq!(get(&r, &a2).await.expect("download"), b"abcd");
        assert!(matches!(get(&r, &a).await, Err(RemoteError::Changed(_))));
        // The replaced version stays a revision (spec: the remote change is kept).
        let (_, revs) = server_rpc(
            &e,
            "files/list_revisions",
            json!({"path": "/CloudSync/dir/a.txt"}),
        )
        .await;
        assert_eq!(revs["entries"].as_array().map(Vec::len), Some(2));

        assert_eq!(
            listed(&r).await,
            [
                ("dir".to_string(), Kind::Dir),
                ("dir/a.txt".to_string(), Kind::File)
            ]
        );

        // Renames: to another name, then case only (through a temporary name).
        let b = r.rename(&a2, &rel("dir/b.txt")).await.expect("rename");
        assert_eq!(b.id, a2.id);
        let big_b = r
            .rename(&b, &rel("dir/B.txt"))
            .await
            .expect("case-only rename");
        assert_eq!(big_b.path.as_str(), "dir/B.txt");
        assert!(matches!(
            r.rename(&a, &rel("dir/c.txt")).await,
            Err(RemoteError::NotFound(_) | RemoteError::Changed(_))
        ));
        let mut stale = big_b.clone();
        stale.rev = Some("0123456789ab".into());
        assert!(matches!(
            r.rename(&stale, &rel("dir/c.txt")).await,
            Err(RemoteError::Changed(_))
        ));
        assert_eq!(
            listed(&r).await,
            [
                ("dir".to_string(), Kind::Dir),
                ("dir/B.txt".to_string(), Kind::File)
            ]
        );

        // Deletes are conditional on the rev; deleting what is gone is fine.
        assert!(matches!(
            r.delete(&stale).await,
            Err(RemoteError::Changed(_))
        ));
        r.delete(&big_b).await.expect("delete");
        r.delete(&big_b).await.expect("delete again");
        assert_eq!(listed(&r).await, [("dir".to_string(), Kind::Dir)]);

        // Through an upload session: 10 MiB in 4 MiB chunks.
        let big = pseudo_random(10 * MIB, 3);
        let n = put(&r, "dir/big.bin", &big, None)
            .await
            .expect("session upload");
        assert_eq!(n.size, big.len() as u64);
        assert!(get(&r, &n).await.expect("download") == big);

        // Names Dropbox refuses are errors, not panics.
        assert!(matches!(
            put(&r, "smile \u{1F600}.txt", b"x", None).await,
            Err(RemoteError::Other(_))
        ));

        // The longpoll: quiet after a listing, then woken by another device's change.
        listed(&r).await;
        let t = Instant::now();
        assert!(!r
            .wait_for_change(Duration::from_millis(300))
            .await
            .expect("wait"));
        assert!(t.elapsed() < Duration::from_secs(3));
        let t = Instant::now();
        let (woke, ()) = tokio::join!(r.wait_for_change(Duration::from_secs(20)), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            server_put(&e, "/CloudSync/elsewhere.txt", b"x").await;
        });
        assert!(woke.expect("wait"));
        assert!(t.elapsed() < Duration::from_secs(5));

        // A longpoll answer asking for a backoff: the next wait starts that much later.
        control(&e, "dropbox/longpoll-backoff", Some(json!({"seconds": 1}))).await;
        listed(&r).await;
        server_put(&e, "/CloudSync/elsewhere.txt", b"y").await;
        assert!(r
            .wait_for_change(Duration::from_secs(5))
            .await
            .expect("wait"));
        control(
            &e,
            "dropbox/longpoll-backoff",
            Some(json!({"seconds": null})),
        )
        .await;
        server_put(&e, "/CloudSync/elsewhere.txt", b"z").await;
        let t = Instant::now();
        assert!(r
            .wait_for_change(Duration::from_secs(5))
            .await
            .expect("wait"));
        assert!(
            t.elapsed() >= Duration::from_millis(900),
            "{:?}",
            t.elapsed()
        );
        assert!(listed(&r)
            .await
            .contains(&("elsewhere.txt".to_string(), Kind::File)));
        e.stop().await;
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

async fn connect(e: &Emulator, engine: &Engine, base: &Path) -> PathBuf {
    let local = base.join("local");
    std::fs::create_dir_all(&local).expect("local dir");
    engine
        .add_connection(AddConnection {
            name: "dbx".into(),
            provider: "dropbox".into(),
            local_root: local.clone(),
            remote: json!({
                "api_base": e.base_url,
                "access_token": TOKEN,
                "root": "/CloudSync",
                "single_upload_max": 4 * MIB,
                "chunk_size": 4 * MIB,
            }),
            credential: format!("dropbox:{}", e.base_url),
            remote_local_dir: None,
            settings: ConnectionSettings::default(),
        })
        .await
        .expect("adding the dropbox connection");
    local
}

async fn sync(engine: &Engine) -> usize {
    let s = engine.sync_connection("dbx").await.expect("sync");
    assert!(s.failures.is_empty(), "sync failures: {:?}", s.failures);
    s.ops
}

/// Syncs until a round has no failures (faults are switched on for a few requests).
async fn sync_until_clean(engine: &Engine) {
    for _ in 0..6 {
        match engine.sync_connection("dbx").await {
            Ok(s) if s.failures.is_empty() => return,
            Ok(s) => eprintln!("failures (retrying): {:?}", s.failures),
            Err(err) => eprintln!("sync error (retrying): {err}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("did not converge after the faults");
}

#[test]
fn whole_engine_round_trip() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(50, async {
        let e = emulator().await;
        let local = connect(&e, &engine, tmp.path()).await;

        // Local -> Dropbox.
        std::fs::create_dir_all(local.join("sub/deep")).expect("mkdir");
        std::fs::write(local.join("hello.txt"), "hello").expect("write");
        std::fs::write(local.join("sub/deep/two.txt"), "two").expect("write");
        sync(&engine).await;
        assert_eq!(
            server_get(&e, "/CloudSync/hello.txt").await.as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            server_get(&e, "/CloudSync/sub/deep/two.txt")
                .await
                .as_deref(),
            Some(&b"two"[..])
        );

        // Dropbox -> local, through the change feed.
        server_put(&e, "/CloudSync/from-server/s.txt", b"server side").await;
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-server/s.txt")).expect("read"),
            b"server side"
        );
        assert_eq!(sync(&engine).await, 0, "a second sync does nothing");

        // Edits both ways.
        std::fs::write(local.join("hello.txt"), "hello again").expect("write");
        sync(&engine).await;
        assert_eq!(
            server_get(&e, "/CloudSync/hello.txt").await.as_deref(),
            Some(&b"hello again"[..])
        );
        server_put(&e, "/CloudSync/from-server/s.txt", b"server edit, longer").await;
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-server/s.txt")).expect("read"),
            b"server edit, longer"
        );

        // Deletes both ways.
        std::fs::remove_file(local.join("hello.txt")).expect("rm");
        sync(&engine).await;
        assert_eq!(server_get(&e, "/CloudSync/hello.txt").await, None);
        server_rpc(
            &e,
            "files/delete_v2",
            json!({"path": "/CloudSync/from-server/s.txt"}),
        )
        .await;
        sync(&engine).await;
        assert!(!local.join("from-server/s.txt").exists());

        // A folder rename is one move.
        let before = engine
            .log(Some("dbx"), None, 10_000)
            .expect("log")
            .iter()
            .map(|r| r.id)
            .max()
            .unwrap_or(0);
        std::fs::rename(local.join("sub"), local.join("renamed sub")).expect("rename");
        sync(&engine).await;
        assert_eq!(
            server_get(&e, "/CloudSync/renamed sub/deep/two.txt")
                .await
                .as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(server_get(&e, "/CloudSync/sub/deep/two.txt").await, None);
        let new: Vec<_> = engine
            .log(Some("dbx"), None, 10_000)
            .expect("log")
            .into_iter()
            .filter(|r| r.id > before)
            .collect();
        let renames = new.iter().filter(|r| r.action == Action::Rename).count();
        let uploads = new.iter().filter(|r| r.action == Action::Upload).count();
        assert_eq!((renames, uploads), (1, 0), "{new:?}");

        // 10 MiB both ways (upload sessions up, one download down).
        let big = pseudo_random(10 * MIB, 7);
        std::fs::write(local.join("big.bin"), &big).expect("write");
        sync(&engine).await;
        assert!(
            server_get(&e, "/CloudSync/big.bin")
                .await
                .expect("on Dropbox")
                == big
        );
        let big2 = pseudo_random(6 * MIB, 11);
        server_put(&e, "/CloudSync/big2.bin", &big2).await;
        sync(&engine).await;
        assert!(std::fs::read(local.join("big2.bin")).expect("read") == big2);
        assert_eq!(sync(&engine).await, 0, "converged");
        e.stop().await;
    });
}

#[test]
fn faults_lose_nothing_and_converge() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(50, async {
        let e = emulator().await;
        let local = connect(&e, &engine, tmp.path()).await;
        std::fs::write(local.join("a.txt"), "a").expect("write");
        sync(&engine).await;

        // 429 with Retry-After on uploads.
        fault(&e, json!({"kind": "rate_limit", "retry_after": 1, "path_prefix": "/2/files/upload", "times": 2})).await;
        std::fs::write(local.join("limited.txt"), "slow down").expect("write");
        let t = Instant::now();
        sync_until_clean(&engine).await;
        assert!(
            t.elapsed() >= Duration::from_secs(1),
            "Retry-After was not waited out"
        );
        assert_eq!(
            server_get(&e, "/CloudSync/limited.txt").await.as_deref(),
            Some(&b"slow down"[..])
        );

        // 5xx on the change feed and on a download.
        server_put(&e, "/CloudSync/down.txt", b"from the server").await;
        fault(&e, json!({"kind": "server_error", "status": 503, "path_prefix": "/2/files/list_folder", "times": 1})).await;
        fault(&e, json!({"kind": "server_error", "status": 500, "path_prefix": "/2/files/download", "times": 1})).await;
        sync_until_clean(&engine).await;
        assert_eq!(
            std::fs::read(local.join("down.txt")).expect("read"),
            b"from the server"
        );

        // A download cut short resumes with Range and is verified.
        let big = pseudo_random(3 * MIB, 5);
        server_put(&e, "/CloudSync/cut.bin", &big).await;
        fault(&e, json!({"kind": "truncate_download", "after_bytes": 100_000, "path_prefix": "/2/files/download", "times": 1})).await;
        sync_until_clean(&engine).await;
        assert!(std::fs::read(local.join("cut.bin")).expect("read") == big);

        // A connection cut in the middle of a single upload: no partial file on Dropbox.
        let up = pseudo_random(2 * MIB, 9);
        std::fs::write(local.join("reset.bin"), &up).expect("write");
        fault(&e, json!({"kind": "reset_mid_body", "after_bytes": 500_000, "path_prefix": "/2/files/upload", "times": 1})).await;
        sync_until_clean(&engine).await;
        assert!(
            server_get(&e, "/CloudSync/reset.bin")
                .await
                .expect("uploaded")
                == up
        );

        // Another write holds the namespace lock (`too_many_write_operations`): as a 429
        // on an upload, and as the route's own 409 on a delete and on a move.
        fault(&e, json!({"kind": "write_contention", "retry_after": 1, "path_prefix": "/2/files/upload", "times": 1})).await;
        for route in ["delete_v2", "move_v2"] {
            fault(&e, json!({"kind": "write_contention", "retry_after": 0, "endpoint_error": true, "path_prefix": format!("/2/files/{route}"), "times": 2})).await;
        }
        std::fs::write(local.join("locked.txt"), "namespace busy").expect("write");
        std::fs::remove_file(local.join("down.txt")).expect("delete");
        std::fs::rename(local.join("cut.bin"), local.join("moved.bin")).expect("rename");
        sync_until_clean(&engine).await;
        let left: Value = reqwest::Client::new()
            .get(format!("{}/__emulator/faults", e.base_url))
            .send()
            .await
            .expect("faults")
            .json()
            .await
            .expect("faults json");
        assert_eq!(left, json!([]), "every contention answer was served");
        assert_eq!(
            server_get(&e, "/CloudSync/locked.txt").await.as_deref(),
            Some(&b"namespace busy"[..])
        );
        assert_eq!(server_get(&e, "/CloudSync/down.txt").await, None);
        assert_eq!(server_get(&e, "/CloudSync/cut.bin").await, None);
        assert!(server_get(&e, "/CloudSync/moved.bin").await.expect("moved") == big);

        // Every local file is still there, and both sides agree.
        assert_eq!(std::fs::read(local.join("a.txt")).expect("read"), b"a");
        assert_eq!(sync(&engine).await, 0);
        e.stop().await;
    });
}

#[test]
fn upload_sessions_resume_where_dropbox_stopped() {
    run(50, async {
        let e = emulator().await;
        let r = remote(&e, "/CloudSync");
        r.prepare_root().await.expect("prepare");
        let data = pseudo_random(20 * MIB, 13);

        // A cut mid-chunk: only that chunk is sent again.
        fault(&e, json!({"kind": "reset_mid_body", "after_bytes": 2 * MIB, "path_prefix": "/2/files/upload_session/append_v2", "times": 1})).await;
        control(&e, "stats", None).await;
        reqwest::Client::new()
            .delete(format!("{}/__emulator/stats", e.base_url))
            .send()
            .await
            .expect("reset stats");
        let n = put(&r, "cut.bin", &data, None)
            .await
            .expect("upload despite the cut");
        let stats = control(&e, "stats", None).await;
        let received = stats["bytes_received"].as_u64().expect("bytes");
        eprintln!("20 MiB with a cut: {received} bytes received");
        assert!(received >= data.len() as u64);
        assert!(
            received <= (data.len() + 4 * MIB) as u64,
            "{received} bytes for a 20 MiB file"
        );
        assert!(get(&r, &n).await.expect("download") == data);

        // An append whose answer is lost: Dropbox has the chunk, the client learns it from
        // incorrect_offset and does not send it again.
        fault(&e, json!({"kind": "truncate_download", "after_bytes": 0, "path_prefix": "/2/files/upload_session/append_v2", "times": 1})).await;
        reqwest::Client::new()
            .delete(format!("{}/__emulator/stats", e.base_url))
            .send()
            .await
            .expect("reset stats");
        let n = put(&r, "lost.bin", &data, None)
            .await
            .expect("upload despite the lost answer");
        let received = control(&e, "stats", None).await["bytes_received"]
            .as_u64()
            .expect("bytes");
        assert!(
            received <= data.len() as u64 + 64 * 1024,
            "{received}: the acknowledged chunk was sent again"
        );
        assert!(get(&r, &n).await.expect("download") == data);

        // A finish whose answer is lost: the commit is found and not repeated.
        fault(&e, json!({"kind": "truncate_download", "after_bytes": 0, "path_prefix": "/2/files/upload_session/finish", "times": 1})).await;
        let n = put(&r, "finish.bin", &data[..9 * MIB], None)
            .await
            .expect("upload despite the lost commit answer");
        assert_eq!(n.size, 9 * MIB as u64);
        let (_, list) = server_rpc(&e, "files/list_folder", json!({"path": "/CloudSync"})).await;
        let names: Vec<&str> = list["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|m| m["name"].as_str())
            .collect();
        assert!(
            names.contains(&"finish.bin") && !names.iter().any(|n| n.contains("(1)")),
            "{names:?}"
        );
        e.stop().await;
    });
}

/// Signs in on the emulator's OAuth pages with PKCE; returns the refresh token.
async fn refresh_token(e: &Emulator) -> String {
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let q = "client_id=app-key&response_type=code&token_access_type=offline&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let page = c
        .post(format!("{}/oauth2/authorize", e.base_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("{q}&account=ann&decision=allow"))
        .send()
        .await
        .expect("allow")
        .text()
        .await
        .expect("page");
    let start = page.find("<code id=\"code\">").expect("code page") + 16;
    let code = page[start..].split('<').next().expect("code");
    let body = c
        .post(format!("{}/oauth2/token", e.base_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&client_id=app-key&code_verifier={verifier}"
        ))
        .send()
        .await
        .expect("token")
        .bytes()
        .await
        .expect("body");
    let v: Value = serde_json::from_slice(&body).expect("json");
    v["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string()
}

#[test]
fn expired_tokens_are_renewed_once_through_the_refresh_token() {
    let tmp = tempfile::tempdir().expect("tmp");
    run(30, async {
        let e = emulator().await;
        // The tokens as the sign-in stores them, in a secrets file; the config as
        // `connection add dropbox` writes it.
        let refresh = refresh_token(&e).await;
        let store = SecretStore::at(&tmp.path().join("secrets.json"));
        let stored = StoredTokens {
            refresh_token: Some(refresh.clone()),
            ..StoredTokens::default()
        };
        store
            .set("dbx", &stored.to_secret())
            .expect("store the tokens");
        let config = json!({
            "api_base": e.base_url,
            "app_key": "app-key",
            "root": "/Mine",
            "token_secret": store.reference("dbx"),
            "single_upload_max": 4 * MIB,
            "chunk_size": 4 * MIB,
        });
        let r = Dropbox::from_config(&config).expect("backend");
        r.prepare_root().await.expect("prepare");
        put(&r, "a.txt", b"a", None).await.expect("upload");
        control(&e, "expire-tokens", None).await;
        assert_eq!(listed(&r).await, [("a.txt".to_string(), Kind::File)]);
        control(&e, "expire-tokens", None).await;
        let big = pseudo_random(9 * MIB, 1);
        put(&r, "big.bin", &big, None)
            .await
            .expect("session upload after expiry");
        let id = r.account_id().await.expect("id").expect("some");
        assert!(id.starts_with("dbid:"));
        // The renewed access token was written back; the refresh token kept.
        let now = StoredTokens::parse(&store.get("dbx").expect("read").expect("stored"));
        assert_eq!(now.refresh_token.as_deref(), Some(refresh.as_str()));
        assert!(now.access_token.is_some());

        // A token given directly cannot be renewed: an auth error, no retry loop.
        let grant = c_token(&e, &refresh).await;
        let fixed = Dropbox::from_config(&json!({
            "api_base": e.base_url,
            "root": "/Mine",
            "access_token": grant,
        }))
        .expect("backend");
        fixed.check_root().await.expect("valid before expiry");
        control(&e, "expire-tokens", None).await;
        assert!(matches!(
            fixed.check_root().await,
            Err(RemoteError::Auth(_))
        ));
        e.stop().await;
    });
}

async fn c_token(e: &Emulator, refresh: &str) -> String {
    let body = reqwest::Client::new()
        .post(format!("{}/oauth2/token", e.base_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=refresh_token&refresh_token={refresh}&client_id=app-key"
        ))
        .send()
        .await
        .expect("token")
        .bytes()
        .await
        .expect("body");
    let v: Value = serde_json::from_slice(&body).expect("json");
    v["access_token"].as_str().expect("access").to_string()
}

/// Writes `data` at `path` as another device signed in with `token` would.
async fn upload_as(e: &Emulator, token: &str, path: &str, data: &[u8]) {
    let resp = reqwest::Client::new()
        .post(format!("{}/2/files/upload", e.base_url))
        .bearer_auth(token)
        .header(
            "Dropbox-API-Arg",
            json!({"path": path, "mode": "overwrite"}).to_string(),
        )
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 200);
}

/// Reads `path` as another device signed in with `token` would.
async fn download_as(e: &Emulator, token: &str, path: &str) -> Option<Vec<u8>> {
    let resp = reqwest::Client::new()
        .post(format!("{}/2/files/download", e.base_url))
        .bearer_auth(token)
        .header("Dropbox-API-Arg", json!({"path": path}).to_string())
        .send()
        .await
        .expect("download");
    (resp.status() == 200).then_some(resp.bytes().await.expect("body").to_vec())
}

#[test]
fn after_a_relink_the_trees_are_kept_and_changes_made_meanwhile_sync() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(40, async {
        let e = emulator().await;
        let store = SecretStore::at(&tmp.path().join("secrets.json"));
        let sign_in = |refresh: String| {
            let stored = StoredTokens {
                refresh_token: Some(refresh),
                ..StoredTokens::default()
            };
            store
                .set("dbx", &stored.to_secret())
                .expect("store the tokens");
        };
        sign_in(refresh_token(&e).await);
        let local = tmp.path().join("local");
        std::fs::create_dir_all(&local).expect("local dir");
        engine
            .add_connection(AddConnection {
                name: "dbx".into(),
                provider: "dropbox".into(),
                local_root: local.clone(),
                remote: json!({
                    "api_base": e.base_url,
                    "app_key": "app-key",
                    "root": "/CloudSync",
                    "token_secret": store.reference("dbx"),
                }),
                credential: format!("dropbox:{}", e.base_url),
                remote_local_dir: None,
                settings: ConnectionSettings::default(),
            })
            .await
            .expect("adding the connection");
        let big = pseudo_random(3 * MIB, 31);
        for (name, data) in [
            ("big.bin", &big[..]),
            ("remote-edit.txt", b"aaaa"),
            ("local-edit.txt", b"bbbb"),
            ("both.txt", b"cccc"),
        ] {
            std::fs::write(local.join(name), data).expect("write");
        }
        sync(&engine).await;
        // Another device of the same account, signed in on its own.
        let other = c_token(&e, &refresh_token(&e).await).await;

        // The authorization is revoked: syncing stops with a credentials error.
        let ours = StoredTokens::parse(&store.get("dbx").expect("read").expect("stored"))
            .access_token
            .expect("an access token was stored");
        e.context.tokens.revoke(&ours);
        assert_credentials_refused(&engine, "dbx").await;

        // Meanwhile: same-size edits on each side, and one file edited on both.
        upload_as(&e, &other, "/CloudSync/remote-edit.txt", b"AAAA").await;
        upload_as(&e, &other, "/CloudSync/both.txt", b"CCC2").await;
        std::fs::write(local.join("local-edit.txt"), b"BBBB").expect("write");
        std::fs::write(local.join("both.txt"), b"CCC1").expect("write");

        // `cloudsync relink`: new tokens stored, the engine told.
        sign_in(refresh_token(&e).await);
        engine.relinked("dbx").expect("relinked");
        assert!(!sign_in_needed(&engine, "dbx"));
        e.context.faults.reset_stats();
        sync_until_clean(&engine).await;

        assert_eq!(
            std::fs::read(local.join("remote-edit.txt")).expect("read"),
            b"AAAA"
        );
        assert_eq!(
            download_as(&e, &other, "/CloudSync/local-edit.txt")
                .await
                .as_deref(),
            Some(&b"BBBB"[..])
        );
        // The file edited on both sides: the newer local edit wins (the default policy),
        // and the Dropbox version it replaced stays a revision.
        assert_eq!(
            std::fs::read(local.join("both.txt")).expect("read"),
            b"CCC1"
        );
        assert_eq!(
            download_as(&e, &other, "/CloudSync/both.txt")
                .await
                .as_deref(),
            Some(&b"CCC1"[..])
        );
        let resp = reqwest::Client::new()
            .post(format!("{}/2/files/list_revisions", e.base_url))
            .bearer_auth(&other)
            .json(&json!({"path": "/CloudSync/both.txt", "limit": 10}))
            .send()
            .await
            .expect("list_revisions");
        let revisions: Value = resp.json().await.expect("revisions");
        let mut kept = Vec::new();
        for rev in revisions["entries"].as_array().expect("entries") {
            let rev = rev["rev"].as_str().expect("rev");
            kept.extend(download_as(&e, &other, &format!("rev:{rev}")).await);
        }
        assert!(
            kept.contains(&b"CCC2".to_vec()),
            "the replaced version is a revision"
        );
        // The kept trees spared the unchanged file a second upload.
        let sent = e.context.faults.stats().bytes_received;
        assert!(sent < MIB as u64, "{sent} bytes sent after the relink");
        assert!(std::fs::read(local.join("big.bin")).expect("read") == big);
        assert_eq!(sync(&engine).await, 0, "converged");
        e.stop().await;
    });
}

#[test]
fn a_restart_continues_the_change_feed_instead_of_listing_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    run(40, async {
        let e = emulator().await;
        let local = {
            let engine = engine(tmp.path());
            let local = connect(&e, &engine, tmp.path()).await;
            for i in 0..20 {
                std::fs::write(local.join(format!("f{i}.txt")), format!("file {i}"))
                    .expect("write");
            }
            sync(&engine).await;
            local
            // The engine goes here, as the process would.
        };
        // Meanwhile on Dropbox: a new file, a deleted one, an edited one.
        server_put(&e, "/CloudSync/new.txt", b"new").await;
        let (status, _) =
            server_rpc(&e, "files/delete_v2", json!({"path": "/CloudSync/f0.txt"})).await;
        assert_eq!(status, 200);
        server_put(&e, "/CloudSync/f1.txt", b"edited").await;

        e.context.faults.reset_stats();
        let engine = engine(tmp.path());
        sync(&engine).await;
        let calls = e.context.faults.stats().by_path;
        assert_eq!(
            calls.get("/2/files/list_folder"),
            None,
            "no full listing after the restart: {calls:?}"
        );
        assert!(
            calls.contains_key("/2/files/list_folder/continue"),
            "{calls:?}"
        );
        assert_eq!(std::fs::read(local.join("new.txt")).expect("read"), b"new");
        assert!(!local.join("f0.txt").exists(), "the remote delete arrived");
        assert_eq!(
            std::fs::read(local.join("f1.txt")).expect("read"),
            b"edited"
        );
        for i in 2..20 {
            assert_eq!(
                std::fs::read_to_string(local.join(format!("f{i}.txt"))).expect("read"),
                format!("file {i}")
            );
        }
        assert_eq!(sync(&engine).await, 0, "converged");
        e.stop().await;
    });
}

#[test]
fn a_reset_cursor_relists_and_deletes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(30, async {
        let e = emulator().await;
        let local = connect(&e, &engine, tmp.path()).await;
        for i in 0..5 {
            std::fs::write(local.join(format!("f{i}.txt")), format!("{i}")).expect("write");
        }
        sync(&engine).await;
        control(&e, "dropbox/reset-cursors", None).await;
        server_put(&e, "/CloudSync/after-reset.txt", b"new").await;
        sync(&engine).await;
        for i in 0..5 {
            assert!(local.join(format!("f{i}.txt")).is_file());
            assert!(server_get(&e, &format!("/CloudSync/f{i}.txt"))
                .await
                .is_some());
        }
        assert_eq!(
            std::fs::read(local.join("after-reset.txt")).expect("read"),
            b"new"
        );
        assert_eq!(sync(&engine).await, 0);
        e.stop().await;
    });
}

#[test]
fn hostile_names_are_skipped_inside_the_root() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(30, async {
        let e = emulator().await;
        let local = connect(&e, &engine, tmp.path()).await;
        server_put(&e, "/CloudSync/ok.txt", b"fine").await;
        control(&e, "hostile-names", Some(json!({"enabled": true}))).await;
        sync(&engine).await;
        assert_eq!(std::fs::read(local.join("ok.txt")).expect("read"), b"fine");
        // Nothing was written beside the sync root or above it.
        let mut beside: Vec<String> = std::fs::read_dir(tmp.path())
            .expect("ls")
            .filter_map(|d| d.ok())
            .map(|d| d.file_name().to_string_lossy().into_owned())
            .collect();
        beside.sort();
        assert!(
            beside.iter().all(|n| n == "local" || n.starts_with("db")),
            "{beside:?}"
        );
        let mut inside: Vec<String> = std::fs::read_dir(&local)
            .expect("ls")
            .filter_map(|d| d.ok())
            .map(|d| d.file_name().to_string_lossy().into_owned())
            .collect();
        inside.sort();
        assert_eq!(inside, [".cloudsync-root", "ok.txt"]);
        let skipped = engine.skipped(Some("dbx")).expect("skipped");
        let invalid = skipped.iter().filter(|s| s.code == "invalid-name").count();
        assert!(invalid >= 5, "{skipped:?}");
        assert_eq!(sync(&engine).await, 0);
        e.stop().await;
    });
}

#[test]
fn names_differing_only_in_case_do_not_clobber_each_other() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(30, async {
        let e = emulator().await;
        let local = connect(&e, &engine, tmp.path()).await;
        std::fs::write(local.join("Readme.txt"), "first").expect("write");
        std::fs::write(local.join("README.txt"), "second").expect("write");
        // The engine does not yet leave out local names that clash on a case-insensitive
        // remote, so the second one fails (Changed) on every round: reported, not hidden.
        let s = engine.sync_connection("dbx").await;
        eprintln!("case clash sync: {s:?}");
        assert_eq!(
            std::fs::read(local.join("Readme.txt")).expect("read"),
            b"first"
        );
        assert_eq!(
            std::fs::read(local.join("README.txt")).expect("read"),
            b"second"
        );
        let (_, list) = server_rpc(&e, "files/list_folder", json!({"path": "/CloudSync"})).await;
        let readmes = list["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|m| m["path_lower"] == "/cloudsync/readme.txt")
            .count();
        assert_eq!(readmes, 1, "{list}");
        let body = server_get(&e, "/CloudSync/readme.txt")
            .await
            .expect("on Dropbox");
        assert!(body == b"first" || body == b"second");

        // Dropbox has Photo.JPG, the disk gets photo.jpg with the same bytes: Dropbox
        // answers the upload with its Photo.JPG, which the client refuses to record as
        // photo.jpg, so the engine never reads photo.jpg as deleted remotely.
        server_put(&e, "/CloudSync/Photo.JPG", b"photo").await;
        std::fs::write(local.join("photo.jpg"), "photo").expect("write");
        let s = engine.sync_connection("dbx").await;
        eprintln!("case-equal names sync: {s:?}");
        let s = engine.sync_connection("dbx").await;
        eprintln!("and again: {s:?}");
        assert_eq!(
            std::fs::read(local.join("photo.jpg")).expect("read"),
            b"photo"
        );
        assert_eq!(
            std::fs::read(local.join("Photo.JPG")).expect("read"),
            b"photo"
        );
        let (_, list) = server_rpc(&e, "files/list_folder", json!({"path": "/CloudSync"})).await;
        let photos: Vec<&str> = list["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter_map(|m| m["path_display"].as_str())
            .filter(|p| p.to_lowercase().contains("photo"))
            .collect();
        assert_eq!(photos, ["/CloudSync/Photo.JPG"]);
        e.stop().await;
    });
}

/// Runs the `cloudsync` binary with `args` (bounded by the test's timeout; killed if the
/// test ends first). Returns the exit code and the output.
async fn cli(cfg: &Path, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(cloudsync_tests::cloudsync_binary())
        .arg("--config-dir")
        .arg(cfg)
        .args(args)
        .env_remove("CLOUDSYNC_HOME")
        .env("CLOUDSYNC_SECRETS", "file")
        .env("DBX_TOKEN", TOKEN)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("running cloudsync");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_cli_adds_a_dropbox_connection_and_syncs_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    run(50, async {
        let e = emulator().await;
        let cfg = tmp.path().join("cfg");
        let local = tmp.path().join("local");
        std::fs::create_dir_all(&local).expect("local");
        let local_arg = local.to_string_lossy().into_owned();
        let add = [
            "connection",
            "add",
            "dropbox",
            "--name",
            "d",
            "--local",
            &local_arg,
            "--app-key",
            "app-key",
            "--api-base",
            &e.base_url,
            "--token-env",
            "DBX_TOKEN",
        ];
        let (code, out) = cli(&cfg, &add).await;
        assert_eq!(code, 0, "{out}");
        std::fs::write(local.join("up.txt"), "from the disk").expect("write");
        let (code, out) = cli(&cfg, &["sync", "--once"]).await;
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            server_get(&e, "/CloudSync/up.txt").await.as_deref(),
            Some(&b"from the disk"[..])
        );
        server_put(&e, "/CloudSync/down.txt", b"from Dropbox").await;
        let (code, out) = cli(&cfg, &["sync", "--once"]).await;
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            std::fs::read(local.join("down.txt")).expect("read"),
            b"from Dropbox"
        );
        // The same account again is refused: one connection per account.
        let other = tmp.path().join("other");
        std::fs::create_dir_all(&other).expect("other");
        let other_arg = other.to_string_lossy().into_owned();
        let mut again = add;
        again[4] = "d2";
        again[6] = &other_arg;
        let (code, out) = cli(&cfg, &again).await;
        assert_eq!(code, 2, "{out}");
        e.stop().await;
    });
}

#[test]
fn a_kept_upload_session_resumes_in_a_new_process() {
    run(50, async {
        let e = emulator().await;
        let kept = Arc::new(MemorySessions::default());
        let first = remote(&e, "/CloudSync");
        first.attach_upload_sessions(kept.clone());
        first.prepare_root().await.expect("prepare");
        let data = pseudo_random(10 * MIB, 21);
        // Every commit is refused until the faults are cleared: the upload gives up with
        // 8 MiB in the session.
        fault(&e, json!({"kind": "rate_limit", "retry_after": 0, "path_prefix": "/2/files/upload_session/finish", "times": 1000})).await;
        let failed = put(&first, "resume.bin", &data, None).await;
        assert!(
            matches!(failed, Err(RemoteError::RateLimited(_))),
            "{failed:?}"
        );
        assert_eq!(kept.0.lock().expect("lock").len(), 1);
        reqwest::Client::new()
            .delete(format!("{}/__emulator/faults", e.base_url))
            .send()
            .await
            .expect("clear faults");
        reqwest::Client::new()
            .delete(format!("{}/__emulator/stats", e.base_url))
            .send()
            .await
            .expect("reset stats");

        // A new backend (a restarted process) with the same kept sessions sends the rest.
        let second = remote(&e, "/CloudSync");
        second.attach_upload_sessions(kept.clone());
        let n = put(&second, "resume.bin", &data, None)
            .await
            .expect("resumed upload");
        let received = control(&e, "stats", None).await["bytes_received"]
            .as_u64()
            .expect("bytes");
        eprintln!("resumed 10 MiB upload: {received} bytes sent after the restart");
        assert!(received < 3 * MIB as u64, "{received}");
        assert!(get(&second, &n).await.expect("download") == data);
        assert!(
            kept.0.lock().expect("lock").is_empty(),
            "the finished session is forgotten"
        );

        // A kept session Dropbox no longer has: a new one, the whole file.
        let key = cloudsync_engine::sessions::session_key(
            &rel("gone.bin"),
            data.len() as u64,
            1_431_445_838_000_000_000,
        );
        kept.0.lock().expect("lock").insert(
            key,
            json!({"session_id": "pid_upload_session:gone", "offset": 4 * MIB}),
        );
        let n = put(&second, "gone.bin", &data, None)
            .await
            .expect("upload with a stale session");
        assert!(get(&second, &n).await.expect("download") == data);
        e.stop().await;
    });
}
