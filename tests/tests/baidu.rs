//! The Baidu Netdisk backend against the in-process emulator: each `Remote` operation, the
//! app-folder restriction, the whole engine both ways, faults (errno 31034, 5xx, a cut
//! upload, a truncated download, expired tokens renewed through the emulator's OAuth
//! endpoint), a resumed multi-block upload that sends only the missing blocks, a revoked
//! sign-in renewed by a relink, the account's file size cap, and hostile names that never
//! land outside the sync root.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use cloudsync_core::rules::SkipRule;
use cloudsync_core::{ConnectionSettings, Kind, Node, RelPath, Tree};
use cloudsync_emulator::faults::{Fault, FaultRule};
use cloudsync_emulator::oauth::DEFAULT_ACCOUNT;
use cloudsync_emulator::{Emulator, Provider};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::secrets::SecretRef;
use cloudsync_engine::store::{Action, Store};
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};
use cloudsync_providers::auth::{StaticToken, TokenSource};
use cloudsync_providers::baidu::Baidu;
use cloudsync_providers::oauth::stored::StoredTokenSource;
use cloudsync_providers::oauth::{device, OAuthApp};
use cloudsync_tests::fixtures::{
    assert_credentials_refused, emulator_accepting, pseudo_random, sign_in_needed, MemorySessions,
};
use cloudsync_tests::run_for as run;
use serde_json::json;

const TOKEN: &str = "baidu-test-token";
const APP: &str = "CloudSync";
const BLOCK: usize = 4 * 1024 * 1024;

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid path")
}

async fn emulator() -> Emulator {
    let emu = emulator_accepting(Provider::Baidu, TOKEN).await;
    // The engine lists often; the limit has its own test.
    settings(&emu, json!({"listall_per_minute": 0})).await;
    emu
}

async fn settings(emu: &Emulator, s: serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/__emulator/baidu/settings", emu.base_url))
        .json(&s)
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status().as_u16(), 204);
}

fn fault(emu: &Emulator, fault: Fault, prefix: &str, times: u32) {
    emu.context.faults.add(FaultRule {
        fault,
        path_prefix: Some(prefix.into()),
        times: Some(times),
    });
}

fn client(emu: &Emulator, tokens: Arc<dyn TokenSource>) -> Baidu {
    Baidu::new(APP, Some(&emu.base_url), tokens)
        .expect("client")
        .with_listall_per_minute(0)
}

fn plain(emu: &Emulator) -> Baidu {
    client(emu, Arc::new(StaticToken::new(TOKEN)))
}

async fn put(
    r: &Baidu,
    path: &str,
    data: &[u8],
    replaces: Option<&Node>,
) -> Result<Node, RemoteError> {
    let mut src = data;
    r.upload(
        &rel(path),
        &mut src,
        data.len() as u64,
        1_600_000_000_000_000_000,
        replaces,
    )
    .await
}

async fn get(r: &Baidu, node: &Node) -> Vec<u8> {
    let mut out = Vec::new();
    r.download(node, &mut out).await.expect("download");
    out
}

async fn node(r: &Baidu, path: &str) -> Option<Node> {
    let listing = r.list(&Tree::new()).await.expect("list");
    listing.nodes.into_iter().find(|n| n.path.as_str() == path)
}

#[test]
fn remote_operations_one_by_one() {
    run(30, async {
        let emu = emulator().await;
        let r = plain(&emu);
        assert!(matches!(
            r.check_root().await,
            Err(RemoteError::NotFound(_))
        ));
        r.prepare_root().await.expect("prepare_root");
        r.prepare_root().await.expect("prepare_root again");
        r.check_root().await.expect("check_root");
        assert!(r.list(&Tree::new()).await.expect("list").nodes.is_empty());
        let uk = r.account_id().await.expect("account").expect("uk");
        assert!(uk.parse::<u64>().is_ok(), "{uk}");

        let d = r.mkdir(&rel("dir")).await.expect("mkdir");
        assert_eq!(d.kind, Kind::Dir);
        assert!(d.id.is_some());
        assert_eq!(r.mkdir(&rel("dir")).await.expect("mkdir again").id, d.id);

        let a = put(&r, "dir/a.txt", b"hello", None).await.expect("upload");
        assert_eq!((a.size, a.kind), (5, Kind::File));
        assert_eq!(a.mtime_ns, 1_600_000_000_000_000_000);
        // Nothing is overwritten without `replaces`.
        assert!(matches!(
            put(&r, "dir/a.txt", b"other", None).await,
            Err(RemoteError::Changed(_))
        ));
        let listed = node(&r, "dir/a.txt").await.expect("listed");
        assert_eq!(
            (listed.id.clone(), listed.rev.clone()),
            (a.id.clone(), a.rev.clone())
        );
        assert_eq!(listed.mtime_ns, a.mtime_ns);
        assert_eq!(listed.hash, None);
        assert_eq!(get(&r, &listed).await, b"hello");

        // A replacement checks the listed version first.
        let b = put(&r, "dir/a.txt", b"hello again", Some(&listed))
            .await
            .expect("replace");
        assert_ne!(b.id, a.id);
        assert!(matches!(
            put(&r, "dir/a.txt", b"stale", Some(&listed)).await,
            Err(RemoteError::Changed(_))
        ));
        // A download of a version replaced since it was listed is refused.
        let mut sink = Vec::new();
        assert!(matches!(
            r.download(&listed, &mut sink).await,
            Err(RemoteError::NotFound(_))
        ));
        assert_eq!(get(&r, &b).await, b"hello again");
        // Neither a delete nor a rename of the replaced version touches the new one.
        assert!(matches!(
            r.delete(&listed).await,
            Err(RemoteError::Changed(_))
        ));
        assert!(matches!(
            r.rename(&listed, &rel("elsewhere.txt")).await,
            Err(RemoteError::Changed(_))
        ));
        assert_eq!(get(&r, &b).await, b"hello again");

        // Rename keeps fs_id; onto a taken name is Changed.
        put(&r, "dir/taken.txt", b"t", None).await.expect("upload");
        assert!(matches!(
            r.rename(&b, &rel("dir/taken.txt")).await,
            Err(RemoteError::Changed(_))
        ));
        let moved = r.rename(&b, &rel("moved.txt")).await.expect("rename");
        assert_eq!(moved.id, b.id);
        assert_eq!(get(&r, &moved).await, b"hello again");
        let dir = node(&r, "dir").await.expect("dir");
        let dir2 = r.rename(&dir, &rel("dir2")).await.expect("folder rename");
        assert!(node(&r, "dir2/taken.txt").await.is_some());

        // Deletes go; one of something already gone is done.
        r.delete(&moved).await.expect("delete");
        r.delete(&moved).await.expect("delete again");
        r.delete(&dir2).await.expect("delete folder");
        assert!(r.list(&Tree::new()).await.expect("list").nodes.is_empty());

        // Empty files and files over the account's 4 GB cap are refused with a reason.
        match put(&r, "empty.txt", b"", None).await {
            Err(RemoteError::Other(m)) => assert!(m.contains("empty"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut nothing: &[u8] = b"";
        match r
            .upload(&rel("huge.bin"), &mut nothing, 5 << 30, 0, None)
            .await
        {
            Err(RemoteError::Other(m)) => assert!(m.contains("4 GB"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Names Baidu refuses: -7.
        assert!(matches!(
            put(&r, " lead.txt", b"x", None).await,
            Err(RemoteError::Other(_))
        ));
        emu.stop().await;
    });
}

#[test]
fn writes_outside_the_app_folder_are_refused() {
    run(20, async {
        let emu = emulator().await;
        // The emulated app is registered under another name: /apps/CloudSync is not ours.
        settings(&emu, json!({"app_name": "SomeoneElse"})).await;
        let r = plain(&emu);
        match r.prepare_root().await {
            Err(RemoteError::Other(m)) => assert!(m.contains("31064"), "{m}"),
            other => panic!("{other:?}"),
        }
        match put(&r, "x.txt", b"x", None).await {
            Err(RemoteError::Other(m)) => assert!(m.contains("31064"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Unconfigured, the emulator learns the account's app folder from its first write;
        // another app folder is refused after that.
        settings(&emu, json!({"app_name": ""})).await;
        r.prepare_root().await.expect("the first app folder");
        put(&r, "x.txt", b"x", None).await.expect("upload");
        let other = Baidu::new(
            "Intruder",
            Some(&emu.base_url),
            Arc::new(StaticToken::new(TOKEN)),
        )
        .expect("client");
        match other.prepare_root().await {
            Err(RemoteError::Other(m)) => assert!(m.contains("31064"), "{m}"),
            x => panic!("{x:?}"),
        }
        emu.stop().await;
    });
}

#[test]
fn listall_rate_limit_is_reported_and_passes() {
    run(20, async {
        let emu = emulator().await;
        let r = plain(&emu);
        r.prepare_root().await.expect("prepare");
        settings(&emu, json!({"listall_per_minute": 1})).await;
        r.list(&Tree::new()).await.expect("first listing");
        assert!(matches!(
            r.list(&Tree::new()).await,
            Err(RemoteError::RateLimited(None))
        ));
        settings(&emu, json!({"listall_per_minute": 0})).await;
        r.list(&Tree::new()).await.expect("after the limit");
        emu.stop().await;
    });
}

fn engine(base: &Path) -> Engine {
    let store = Store::open(&base.join("db")).expect("store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: "testhost".into(),
    };
    Engine::with_parts(store, ctx, Arc::new(cloudsync_providers::Factory))
}

async fn connect(emu: &Emulator, engine: &Engine, base: &Path) -> std::path::PathBuf {
    let local = base.join("local");
    std::fs::create_dir_all(&local).expect("local dir");
    engine
        .add_connection(AddConnection {
            name: "pan".into(),
            provider: "baidu".into(),
            local_root: local.clone(),
            remote: json!({
                "app_name": APP,
                "api_base": emu.base_url,
                "access_token": TOKEN,
                "listall_per_minute": 0,
            }),
            credential: "baidu:test".into(),
            remote_local_dir: None,
            settings: ConnectionSettings::default(),
        })
        .await
        .expect("adding the baidu connection");
    local
}

async fn sync(engine: &Engine) -> usize {
    let s = engine.sync_connection("pan").await.expect("sync");
    assert!(s.failures.is_empty(), "sync failures: {:?}", s.failures);
    s.ops
}

#[test]
fn whole_engine_both_ways() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(40, async {
        let emu = emulator().await;
        let local = connect(&emu, &engine, tmp.path()).await;
        let probe = plain(&emu);

        std::fs::create_dir_all(local.join("sub/deep")).expect("mkdir");
        std::fs::write(local.join("hello.txt"), "hello").expect("write");
        std::fs::write(local.join("sub/deep/two.txt"), "two").expect("write");
        let big = pseudo_random(2 * BLOCK + 1000, 3);
        std::fs::write(local.join("big.bin"), &big).expect("write");
        sync(&engine).await;
        let n = node(&probe, "sub/deep/two.txt").await.expect("uploaded");
        assert_eq!(get(&probe, &n).await, b"two");
        let n = node(&probe, "big.bin").await.expect("uploaded");
        assert!(get(&probe, &n).await == big);

        // Baidu -> local.
        probe.mkdir(&rel("from-pan")).await.expect("mkdir");
        put(&probe, "from-pan/s.txt", b"from baidu", None)
            .await
            .expect("upload");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-pan/s.txt")).expect("read"),
            b"from baidu"
        );
        assert_eq!(sync(&engine).await, 0, "a second sync does nothing");

        // Edits both ways.
        std::fs::write(local.join("hello.txt"), "hello again").expect("write");
        sync(&engine).await;
        let n = node(&probe, "hello.txt").await.expect("there");
        assert_eq!(get(&probe, &n).await, b"hello again");
        let s = node(&probe, "from-pan/s.txt").await.expect("there");
        put(&probe, "from-pan/s.txt", b"edited on baidu", Some(&s))
            .await
            .expect("replace");
        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("from-pan/s.txt")).expect("read"),
            b"edited on baidu"
        );

        // A folder rename is one move.
        let before = engine
            .log(Some("pan"), None, 10_000)
            .expect("log")
            .iter()
            .map(|r| r.id)
            .max()
            .unwrap_or(0);
        std::fs::rename(local.join("sub"), local.join("renamed")).expect("rename");
        sync(&engine).await;
        assert!(node(&probe, "sub").await.is_none());
        assert!(node(&probe, "renamed/deep/two.txt").await.is_some());
        let new: Vec<_> = engine
            .log(Some("pan"), None, 10_000)
            .expect("log")
            .into_iter()
            .filter(|r| r.id > before)
            .collect();
        let renames = new.iter().filter(|r| r.action == Action::Rename).count();
        let uploads = new.iter().filter(|r| r.action == Action::Upload).count();
        assert_eq!((renames, uploads), (1, 0), "{new:?}");

        // Deletes both ways.
        std::fs::remove_file(local.join("hello.txt")).expect("rm");
        sync(&engine).await;
        assert!(node(&probe, "hello.txt").await.is_none());
        let s = node(&probe, "from-pan/s.txt").await.expect("there");
        probe.delete(&s).await.expect("delete");
        sync(&engine).await;
        assert!(!local.join("from-pan/s.txt").exists());
        assert_eq!(sync(&engine).await, 0, "converged");
        emu.stop().await;
    });
}

/// Syncs until a round ends without failures, as the daemon does on its next tick; the
/// number of rounds that failed (a fault that hits the listing or the root check fails
/// the whole round).
async fn sync_through(engine: &Engine) -> usize {
    for failed in 0..4 {
        match engine.sync_connection("pan").await {
            Ok(s) if s.failures.is_empty() => return failed,
            Ok(s) => eprintln!("round failed: {:?}", s.failures),
            Err(e) => eprintln!("round failed: {e}"),
        }
    }
    panic!("no clean round after 4 tries");
}

#[test]
fn faults_lose_nothing_and_converge() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(45, async {
        let emu = emulator().await;
        let local = connect(&emu, &engine, tmp.path()).await;
        let probe = plain(&emu);

        // listall rate-limited (errno 31034): the listing waits and asks again, and the
        // sync goes through.
        let served = emu.context.faults.stats().faults_served;
        fault(
            &emu,
            Fault::RateLimit { retry_after: 1 },
            "/rest/2.0/xpan/multimedia",
            1,
        );
        std::fs::write(local.join("a.txt"), "a").expect("write");
        let s = engine
            .sync_connection("pan")
            .await
            .expect("the listing waits out the rate limit");
        assert!(s.failures.is_empty(), "{:?}", s.failures);
        assert_eq!(emu.context.faults.stats().faults_served, served + 1);
        assert!(node(&probe, "a.txt").await.is_some());

        // Uploads through 31034 on superfile2 and a cut block: the executor retries.
        let data = pseudo_random(BLOCK + 777, 5);
        std::fs::write(local.join("up.bin"), &data).expect("write");
        fault(
            &emu,
            Fault::RateLimit { retry_after: 1 },
            "/rest/2.0/pcs/superfile2",
            1,
        );
        fault(
            &emu,
            Fault::ResetMidBody {
                after_bytes: 100_000,
            },
            "/rest/2.0/pcs/superfile2",
            1,
        );
        assert_eq!(sync_through(&engine).await, 0);
        let n = node(&probe, "up.bin").await.expect("uploaded");
        assert!(get(&probe, &n).await == data);

        // A 503 on the file endpoint (it meets the root check: one failed round).
        std::fs::write(local.join("later.txt"), "later").expect("write");
        fault(
            &emu,
            Fault::ServerError { status: 503 },
            "/rest/2.0/xpan/file",
            1,
        );
        assert!(sync_through(&engine).await <= 1);
        assert!(node(&probe, "later.txt").await.is_some());

        // A truncated download is resumed with Range.
        let down = pseudo_random(3 * 1024 * 1024, 9);
        put(&probe, "down.bin", &down, None).await.expect("upload");
        fault(
            &emu,
            Fault::TruncateDownload {
                after_bytes: 1_000_000,
            },
            "/cdn/",
            1,
        );
        assert_eq!(sync_through(&engine).await, 0);
        assert!(std::fs::read(local.join("down.bin")).expect("read") == down);
        assert!(emu.context.faults.rules().is_empty(), "every fault was met");
        assert_eq!(sync(&engine).await, 0, "converged");
        emu.stop().await;
    });
}

#[test]
fn expired_tokens_are_renewed_through_the_token_endpoint() {
    let tmp = tempfile::tempdir().expect("tmp");
    run(30, async {
        let emu = emulator().await;
        // A real grant, by the sign-in client's device flow; the user types the code on
        // the emulator's verification page.
        settings(&emu, json!({"device_interval": 1})).await;
        let app = OAuthApp::baidu(Some(&emu.base_url), "app-key", Some("app-secret"));
        let http = reqwest::Client::new();
        let dc = device::start(&app, &http).await.expect("device code");
        assert_eq!(dc.verification_url, format!("{}/device", emu.base_url));
        let page = http
            .post(&dc.verification_url)
            .form(&[
                ("user_code", dc.user_code.as_str()),
                ("account", "ann"),
                ("decision", "allow"),
            ])
            .send()
            .await
            .expect("verification page");
        assert_eq!(page.status().as_u16(), 200);
        let tok = device::poll(&app, &http, &dc).await.expect("tokens");
        let first_refresh = tok.refresh_token.clone().expect("refresh token");
        let secret = SecretRef::File {
            store: tmp.path().join("secrets.json"),
            key: "baidu".into(),
        };
        secret
            .set(
                &json!({"access_token": tok.access_token, "refresh_token": first_refresh})
                    .to_string(),
            )
            .expect("store tokens");
        let tokens: Arc<dyn TokenSource> =
            Arc::new(StoredTokenSource::open(app, secret.clone()).expect("open"));
        let r = client(&emu, tokens);
        r.prepare_root().await.expect("prepare");
        let a = put(&r, "a.txt", b"before expiry", None)
            .await
            .expect("upload");

        // Every token expires: xpan answers 111, PCS and downloads 31045; each call renews
        // once and goes through.
        emu.context.tokens.expire_all();
        assert_eq!(r.list(&Tree::new()).await.expect("list").nodes.len(), 1);
        let stored = secret.resolve().expect("stored");
        assert!(
            !stored.contains(&first_refresh),
            "the rotated refresh token was stored"
        );
        emu.context.tokens.expire_all();
        put(&r, "b.txt", b"after expiry", None)
            .await
            .expect("upload after expiry");
        emu.context.tokens.expire_all();
        assert_eq!(get(&r, &a).await, b"before expiry");
        // The account is the one that approved the device code.
        assert_eq!(
            r.account_id().await.expect("id"),
            Some(cloudsync_emulator::baidu::account::uk("ann").to_string())
        );
        emu.stop().await;
    });
}

/// Hands out the token and, on the `at`-th request, switches a cut on for the next
/// superfile2 request.
struct CutOnRequest {
    emu_context: Arc<cloudsync_emulator::server::Context>,
    calls: AtomicUsize,
    at: usize,
}

#[async_trait]
impl TokenSource for CutOnRequest {
    async fn access_token(&self) -> Result<String, RemoteError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            self.emu_context.faults.add(FaultRule {
                fault: Fault::ResetMidBody {
                    after_bytes: 1_000_000,
                },
                path_prefix: Some("/rest/2.0/pcs/superfile2".into()),
                times: Some(1),
            });
        }
        Ok(TOKEN.into())
    }

    async fn renew(&self, _rejected: &str) -> Result<String, RemoteError> {
        Err(RemoteError::Auth("not renewable".into()))
    }
}

#[test]
fn a_cut_upload_resumes_with_only_the_missing_blocks() {
    run(30, async {
        let emu = emulator().await;
        let size = 5 * BLOCK + 12_345;
        let data = pseudo_random(size, 21);
        let sessions = Arc::new(MemorySessions::default());
        // Requests: precreate (1), superfile2 for blocks 0, 1, 2 (2-4), block 3 (5): cut.
        let tokens = Arc::new(CutOnRequest {
            emu_context: emu.context.clone(),
            calls: AtomicUsize::new(0),
            at: 5,
        });
        let first_run = client(&emu, tokens.clone());
        first_run.attach_upload_sessions(sessions.clone());
        first_run.account().await.expect("account");
        tokens.calls.store(0, Ordering::SeqCst);
        emu.context.faults.reset_stats();
        let first = put(&first_run, "big.bin", &data, None).await;
        assert!(
            matches!(first, Err(RemoteError::Unavailable(_))),
            "{first:?}"
        );
        let after_cut = emu.context.faults.stats().bytes_received;
        assert!(
            after_cut > 3 * BLOCK as u64,
            "three blocks went before the cut: {after_cut}"
        );
        assert_eq!(
            sessions.0.lock().expect("lock").len(),
            1,
            "the session was saved"
        );

        // A new client (a restart) with the saved sessions sends only blocks 3 to 5.
        drop(first_run);
        let second_run = plain(&emu);
        second_run.attach_upload_sessions(sessions.clone());
        let made = put(&second_run, "big.bin", &data, None)
            .await
            .expect("resumed upload");
        let total = emu.context.faults.stats().bytes_received;
        assert!(
            total < (size + BLOCK) as u64,
            "{total} bytes received for a {size}-byte file"
        );
        eprintln!("cut upload of {size} bytes: {total} bytes received in all");
        assert!(
            sessions.0.lock().expect("lock").is_empty(),
            "the session was forgotten"
        );
        assert_eq!(made.size, size as u64);
        assert!(get(&second_run, &made).await == data);
        emu.stop().await;
    });
}

#[test]
fn hostile_names_never_leave_the_sync_root() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(30, async {
        let emu = emulator().await;
        let local = connect(&emu, &engine, tmp.path()).await;
        let probe = plain(&emu);
        probe.mkdir(&rel("d")).await.expect("mkdir");
        put(&probe, "d/ok.txt", b"fine", None)
            .await
            .expect("upload");
        emu.context
            .hostile_names
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let listing = probe.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        // A backslash is a valid name here; the engine's rules skip it (forbidden character).
        assert_eq!(paths, ["a\\b", "d", "d/ok.txt"]);
        let skipped: Vec<&str> = listing.skipped.iter().map(|(p, _)| p.as_str()).collect();
        for shown in ["%2E%2E", "a%2Fb", "nul%00name", "%2Fetc%2Fshadow"] {
            assert!(skipped.contains(&shown), "{shown} not in {skipped:?}");
        }
        assert!(listing
            .skipped
            .iter()
            .all(|(_, r)| matches!(r, SkipRule::InvalidName { .. })));

        sync(&engine).await;
        assert_eq!(
            std::fs::read(local.join("d/ok.txt")).expect("read"),
            b"fine"
        );
        let skipped = engine.skipped(Some("pan")).expect("skipped");
        assert!(
            skipped
                .iter()
                .any(|s| s.path == "a\\b" && s.code == "forbidden-character"),
            "{skipped:?}"
        );
        assert!(skipped
            .iter()
            .any(|s| s.path == "%2E%2E" && s.code == "invalid-name"));
        // Only the expected entries exist, in and around the root.
        let mut around: Vec<String> = std::fs::read_dir(tmp.path())
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with("db"))
            .collect();
        around.sort();
        assert_eq!(around, ["local"]);
        let mut inside: Vec<String> = std::fs::read_dir(&local)
            .expect("read")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".cloudsync"))
            .collect();
        inside.sort();
        assert_eq!(inside, ["d"]);
        assert!(!tmp.path().join("escape.txt").exists());
        emu.stop().await;
    });
}

#[test]
fn an_empty_local_file_is_skipped_with_its_reason_and_the_rest_syncs() {
    // Baidu stores no empty files: the rules skip them up front with the reason, so the
    // sync converges and the user can ask why.
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(20, async {
        let emu = emulator().await;
        let local = connect(&emu, &engine, tmp.path()).await;
        std::fs::write(local.join("empty.txt"), "").expect("write");
        std::fs::write(local.join("full.txt"), "x").expect("write");
        let summary = engine.sync_connection("pan").await.expect("converges");
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
        let skipped = engine.skipped(Some("pan")).expect("skipped");
        let row = skipped
            .iter()
            .find(|r| r.path == "empty.txt")
            .expect("empty.txt is listed as skipped");
        assert_eq!(row.code, "provider-name");
        assert!(row.reason.contains("empty files"), "{}", row.reason);
        let probe = plain(&emu);
        assert!(node(&probe, "full.txt").await.is_some());
        assert!(node(&probe, "empty.txt").await.is_none());
        emu.stop().await;
    });
}

#[test]
fn a_file_over_the_accounts_cap_is_skipped_with_its_reason_and_never_sent() {
    // A normal account stores files up to 4 GB; a VIP one up to 10 GB. The engine learns
    // the cap from uinfo and skips a larger file up front (a sparse file: no disk used).
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(30, async {
        let emu = emulator().await;
        let local = connect(&emu, &engine, tmp.path()).await;
        let four_gb: u64 = 4 << 30;
        std::fs::File::create(local.join("disk.img"))
            .and_then(|f| f.set_len(four_gb + 1))
            .expect("sparse file");
        std::fs::write(local.join("small.txt"), "x").expect("write");
        emu.context.faults.reset_stats();
        let summary = engine.sync_connection("pan").await.expect("converges");
        assert!(summary.failures.is_empty(), "{:?}", summary.failures);
        let skipped = engine.skipped(Some("pan")).expect("skipped");
        let row = skipped
            .iter()
            .find(|r| r.path == "disk.img")
            .expect("disk.img is listed as skipped");
        assert_eq!(row.code, "provider-too-large");
        assert!(row.reason.contains("4 GiB"), "{}", row.reason);
        assert!(
            emu.context.faults.stats().bytes_received < 1 << 20,
            "the big file was not sent"
        );
        let probe = plain(&emu);
        assert!(node(&probe, "small.txt").await.is_some());
        assert!(node(&probe, "disk.img").await.is_none());

        // A VIP account's cap is 10 GB; a new client asks uinfo again and reports it.
        settings(&emu, json!({"vip_type": 1})).await;
        let vip = plain(&emu);
        vip.check_root().await.expect("root");
        assert_eq!(vip.max_file_size(), Some(10 << 30));
        emu.stop().await;
    });
}

/// A sign-in of the default account (the one `TOKEN` also reaches), stored as the sign-in
/// stores it under `key`.
fn signed_in(emu: &Emulator, store: &cloudsync_engine::secrets::SecretStore, key: &str) {
    let tokens = &emu.context.tokens;
    let code = tokens.issue_code("app-key", None, None, DEFAULT_ACCOUNT);
    let grant = tokens
        .redeem_code(&code, "app-key", None, None)
        .expect("redeem");
    let stored = json!({"access_token": grant.access_token, "refresh_token": grant.refresh_token});
    store
        .set(key, &stored.to_string())
        .expect("store the tokens");
}

#[test]
fn after_a_relink_the_trees_are_kept_and_changes_made_meanwhile_sync() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(40, async {
        let emu = emulator().await;
        let store = cloudsync_engine::secrets::SecretStore::at(&tmp.path().join("secrets.json"));
        signed_in(&emu, &store, "pan");
        let local = tmp.path().join("local");
        std::fs::create_dir_all(&local).expect("local dir");
        engine
            .add_connection(AddConnection {
                name: "pan".into(),
                provider: "baidu".into(),
                local_root: local.clone(),
                remote: json!({
                    "app_name": APP,
                    "api_base": emu.base_url,
                    "app_key": "app-key",
                    "app_secret": "app-secret",
                    "token_secret": store.reference("pan"),
                    "listall_per_minute": 0,
                }),
                credential: "baidu:relink".into(),
                remote_local_dir: None,
                settings: ConnectionSettings::default(),
            })
            .await
            .expect("adding the connection");
        let big = pseudo_random(3 << 20, 51);
        for (name, data) in [
            ("big.bin", &big[..]),
            ("remote-edit.txt", b"aaaa"),
            ("local-edit.txt", b"bbbb"),
            ("both.txt", b"cccc"),
        ] {
            std::fs::write(local.join(name), data).expect("write");
        }
        sync(&engine).await;

        // The authorization is revoked: syncing stops with a credentials error.
        let stored: serde_json::Value =
            serde_json::from_str(&store.get("pan").expect("read").expect("stored")).expect("json");
        let ours = stored["access_token"]
            .as_str()
            .expect("access token")
            .to_string();
        emu.context.tokens.revoke(&ours);
        assert_credentials_refused(&engine, "pan").await;

        // Meanwhile, from another device: same-size edits (Baidu gives each version a new
        // fs_id), and one file edited on both sides.
        let other = plain(&emu);
        for (name, data) in [("remote-edit.txt", b"AAAA"), ("both.txt", b"CCC2")] {
            let was = node(&other, name).await.expect("listed");
            put(&other, name, data, Some(&was)).await.expect("edit");
        }
        std::fs::write(local.join("local-edit.txt"), b"BBBB").expect("write");
        std::fs::write(local.join("both.txt"), b"CCC1").expect("write");

        // `cloudsync relink`: a new sign-in stored, the engine told.
        signed_in(&emu, &store, "pan");
        engine.relinked("pan").expect("relinked");
        assert!(!sign_in_needed(&engine, "pan"));
        emu.context.faults.reset_stats();
        sync_through(&engine).await;

        assert_eq!(
            std::fs::read(local.join("remote-edit.txt")).expect("read"),
            b"AAAA"
        );
        let edited = node(&other, "local-edit.txt").await.expect("listed");
        assert_eq!(get(&other, &edited).await, b"BBBB");
        // Both versions of the file edited on both sides survive, on both sides.
        let contents: Vec<Vec<u8>> = std::fs::read_dir(&local)
            .expect("list")
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().starts_with("both"))
            .map(|d| std::fs::read(d.path()).expect("read"))
            .collect();
        assert_eq!(contents.len(), 2, "both.txt and its conflict copy");
        assert!(contents.contains(&b"CCC1".to_vec()) && contents.contains(&b"CCC2".to_vec()));
        // The kept trees spared the unchanged file a second upload.
        let sent = emu.context.faults.stats().bytes_received;
        assert!(sent < 1 << 20, "{sent} bytes sent after the relink");
        assert_eq!(sync(&engine).await, 0, "converged");
        emu.stop().await;
    });
}

#[test]
fn a_folder_below_the_app_folder_can_be_the_root() {
    run(20, async {
        let emu = emulator().await;
        let config = json!({
            "app_name": APP,
            "root": "/Work/Docs/",
            "api_base": emu.base_url,
            "access_token": TOKEN,
            "listall_per_minute": 0,
        });
        let r = Baidu::from_config(&config).expect("config");
        assert_eq!(r.root(), "/apps/CloudSync/Work/Docs");
        r.prepare_root().await.expect("prepare");
        put(&r, "x.txt", b"x", None).await.expect("upload");
        let whole = plain(&emu);
        assert!(node(&whole, "Work/Docs/x.txt").await.is_some());
        let listed = r.list(&Tree::new()).await.expect("list");
        let paths: Vec<&str> = listed.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["x.txt"]);
        let bad = json!({"app_name": APP, "root": "../escape", "access_token": TOKEN});
        assert!(Baidu::from_config(&bad).is_err());
        emu.stop().await;
    });
}

/// Awkward names Baidu accepts (it refuses leading or trailing white space and dots, and
/// the spec's forbidden characters), each with whether the spec's rules skip it.
fn odd_names() -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = [
        "with space.txt",
        "multiple   spaces.txt",
        "100% done.txt",
        "%41%42 looks encoded.txt",
        "%2F not a slash.txt",
        "#hash first.txt",
        "a#b.txt",
        "a&b.txt",
        "a+b.txt",
        "1+1=2.txt",
        "it's.txt",
        "semi;colon.txt",
        "comma,name.txt",
        "at@sign.txt",
        "dollar$.txt",
        "brackets[1].txt",
        "braces{x}.txt",
        "paren (1).txt",
        "tilde~in.txt",
        "caret^.txt",
        "backtick`.txt",
        "exclaim!.txt",
        "emoji 😀.txt",
        "family 👨\u{200d}👩\u{200d}👧.txt",
        "nfc/caf\u{e9}.txt",
        "nfd/cafe\u{301}.txt",
        "עברית.txt",
        "日本語のファイル.txt",
        "Ünïcödé ß.txt",
        "dir with space/inner file.txt",
        "dir%25/x#y&z.txt",
        "-dash start.txt",
    ]
    .iter()
    .map(|s| (s.to_string(), false))
    .collect();
    v.push((format!("{}.txt", "a".repeat(196)), false));
    v.push((format!("{}.txt", "é".repeat(98)), false));
    v.push(("what?.txt".into(), true));
    v.push(("~tilde start.txt".into(), true));
    v
}

#[test]
fn odd_names_round_trip_both_ways() {
    let tmp = tempfile::tempdir().expect("tmp");
    let engine = engine(tmp.path());
    run(40, async {
        let emu = emulator().await;
        let local = connect(&emu, &engine, tmp.path()).await;
        let names = odd_names();
        for (name, _) in &names {
            let p = local.join("up").join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, format!("content of {name}")).expect("write");
        }
        sync(&engine).await;
        let probe = plain(&emu);
        let listed = probe.list(&Tree::new()).await.expect("list");
        for (name, skipped) in &names {
            let on_pan = listed
                .nodes
                .iter()
                .find(|n| n.path.as_str() == format!("up/{name}"));
            if *skipped {
                assert!(on_pan.is_none(), "{name:?} should be skipped");
                continue;
            }
            let n = on_pan.unwrap_or_else(|| panic!("{name:?} missing on Baidu"));
            assert_eq!(
                get(&probe, n).await,
                format!("content of {name}").as_bytes()
            );
            // And back down, under another folder.
            let down = format!("down/{name}");
            put(
                &probe,
                &down,
                format!("from baidu: {name}").as_bytes(),
                None,
            )
            .await
            .unwrap_or_else(|e| panic!("{down:?}: {e}"));
        }
        sync(&engine).await;
        for (name, _) in names.iter().filter(|(_, skipped)| !*skipped) {
            assert_eq!(
                std::fs::read(local.join("down").join(name)).expect("downloaded"),
                format!("from baidu: {name}").as_bytes(),
                "{name:?}"
            );
        }
        assert_eq!(sync(&engine).await, 0, "converged");
        emu.stop().await;
    });
}
