//! The Google Drive backend against the in-process Drive emulator: each `Remote`
//! operation, same-named files, native documents, the whole engine both ways, and the
//! faults (rate limits, 5xx, cuts during a resumable upload, truncated downloads, expired
//! tokens), with nothing lost and convergence after; a revoked sign-in renewed by a
//! relink; the change feed continued after a restart; hostile names stay outside the tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cloudsync_core::{ConnectionSettings, Kind, Node, RelPath, Tree};
use cloudsync_emulator::faults::{Fault, FaultRule};
use cloudsync_emulator::oauth::DEFAULT_ACCOUNT;
use cloudsync_emulator::{Emulator, Provider};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::secrets::{SecretRef, SecretStore};
use cloudsync_engine::store::Store;
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};
use cloudsync_providers::auth::{StaticToken, TokenSource};
use cloudsync_providers::gdrive::GoogleDrive;
use cloudsync_providers::oauth::stored::{StoredTokenSource, StoredTokens};
use cloudsync_providers::oauth::OAuthApp;
use cloudsync_tests::fixtures::{
    assert_credentials_refused, emulator_accepting, pseudo_random, sign_in_needed, MemorySessions,
};
use cloudsync_tests::proxy::CutProxy;
use cloudsync_tests::run_for as run;
use serde_json::{json, Value};

/// The emulator's script token (the default account).
const TOKEN: &str = "raw-token";
const CLIENT: &str = "cloudsync-test";
/// Small chunks keep multi-chunk uploads small (still multiples of 256 KiB).
const CHUNK: usize = 512 * 1024;

async fn emulator() -> Emulator {
    emulator_accepting(Provider::Gdrive, TOKEN).await
}

fn fault(emu: &Emulator, fault: Fault, prefix: &str, times: u32) {
    emu.context.faults.add(FaultRule {
        fault,
        path_prefix: Some(prefix.into()),
        times: Some(times),
    });
}

/// A refresh token and an access token for the default account, as a sign-in gives.
fn grant(emu: &Emulator) -> (String, String) {
    let code = emu
        .context
        .tokens
        .issue_code(CLIENT, None, None, DEFAULT_ACCOUNT);
    let g = emu
        .context
        .tokens
        .redeem_code(&code, CLIENT, None, None)
        .expect("redeem");
    (g.refresh_token, g.access_token)
}

/// Tokens as a sign-in stores them, in a secrets file in `dir`.
fn stored_tokens(emu: &Emulator, dir: &Path) -> SecretRef {
    let (refresh, access) = grant(emu);
    let store = SecretStore::at(&dir.join("secrets.json"));
    let tokens = StoredTokens {
        access_token: Some(access),
        refresh_token: Some(refresh),
        ..StoredTokens::default()
    };
    store.set("gd", &tokens.to_secret()).expect("secret");
    store.reference("gd")
}

/// A token source that renews at the emulator's `/token` (the lead's stored tokens).
fn renewing(emu: &Emulator, dir: &tempfile::TempDir) -> Arc<dyn TokenSource> {
    let app = OAuthApp::gdrive(Some(&emu.base_url), CLIENT, None);
    Arc::new(StoredTokenSource::open(app, stored_tokens(emu, dir.path())).expect("tokens"))
}

fn client(base: &str, root: &str, tokens: Arc<dyn TokenSource>) -> GoogleDrive {
    GoogleDrive::new(base, root, tokens)
        .expect("backend")
        .with_chunk_size(CHUNK)
}

fn p(s: &str) -> RelPath {
    RelPath::new(s).expect("path")
}

/// Another Drive client, speaking raw HTTP (someone editing on the web).
struct Raw {
    base: String,
    http: reqwest::Client,
}

impl Raw {
    fn new(emu: &Emulator) -> Raw {
        Raw {
            base: emu.base_url.clone(),
            http: reqwest::Client::new(),
        }
    }

    async fn json(&self, r: reqwest::RequestBuilder) -> Value {
        let r = r.bearer_auth(TOKEN).send().await.expect("request");
        assert!(r.status().is_success(), "raw request: {}", r.status());
        r.json().await.expect("json")
    }

    async fn children(&self, parent: &str) -> Vec<Value> {
        let q = format!("'{parent}' in parents and trashed = false");
        let v = self
            .json(
                self.http
                    .get(format!("{}/drive/v3/files", self.base))
                    .query(&[
                        ("q", q.as_str()),
                        ("fields", "files(id,name,mimeType,trashed,md5Checksum)"),
                    ]),
            )
            .await;
        v["files"].as_array().cloned().unwrap_or_default()
    }

    /// The id at `path` below My Drive (the first of same-named entries).
    async fn id(&self, path: &str) -> Option<String> {
        let mut current = "root".to_string();
        for name in path.split('/') {
            let kids = self.children(&current).await;
            current = kids.iter().find(|f| f["name"] == name)?["id"]
                .as_str()?
                .to_string();
        }
        Some(current)
    }

    async fn create(&self, parent: &str, name: &str, data: &[u8]) -> String {
        let mut body = Vec::new();
        body.extend_from_slice(b"--b\r\nContent-Type: application/json\r\n\r\n");
        body.extend_from_slice(
            json!({"name": name, "parents": [parent]})
                .to_string()
                .as_bytes(),
        );
        body.extend_from_slice(b"\r\n--b\r\nContent-Type: text/plain\r\n\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let v = self
            .json(
                self.http
                    .post(format!(
                        "{}/upload/drive/v3/files?uploadType=multipart",
                        self.base
                    ))
                    .header("content-type", "multipart/related; boundary=b")
                    .body(body),
            )
            .await;
        v["id"].as_str().expect("id").to_string()
    }

    async fn create_meta(&self, parent: &str, name: &str, mime: &str) -> String {
        let v = self
            .json(
                self.http
                    .post(format!("{}/drive/v3/files", self.base))
                    .json(&json!({"name": name, "parents": [parent], "mimeType": mime})),
            )
            .await;
        v["id"].as_str().expect("id").to_string()
    }

    async fn put_content(&self, id: &str, data: &[u8]) {
        self.json(
            self.http
                .patch(format!(
                    "{}/upload/drive/v3/files/{id}?uploadType=media",
                    self.base
                ))
                .body(data.to_vec()),
        )
        .await;
    }

    async fn patch(&self, id: &str, meta: Value) {
        self.json(
            self.http
                .patch(format!("{}/drive/v3/files/{id}", self.base))
                .json(&meta),
        )
        .await;
    }

    async fn meta(&self, id: &str) -> Value {
        self.json(
            self.http
                .get(format!("{}/drive/v3/files/{id}", self.base))
                .query(&[("fields", "id,name,trashed,parents,md5Checksum,size")]),
        )
        .await
    }

    async fn content(&self, id: &str) -> Vec<u8> {
        let r = self
            .http
            .get(format!("{}/drive/v3/files/{id}?alt=media", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("download");
        assert!(r.status().is_success());
        r.bytes().await.expect("bytes").to_vec()
    }

    async fn revisions(&self, id: &str) -> Vec<Value> {
        let v = self
            .json(
                self.http
                    .get(format!("{}/drive/v3/files/{id}/revisions", self.base))
                    .query(&[("fields", "revisions(id,keepForever,md5Checksum)")]),
            )
            .await;
        v["revisions"].as_array().cloned().unwrap_or_default()
    }
}

async fn download(d: &GoogleDrive, n: &Node) -> Vec<u8> {
    let mut out = Vec::new();
    d.download(n, &mut out).await.expect("download");
    out
}

fn find<'a>(nodes: &'a [Node], path: &str) -> &'a Node {
    nodes
        .iter()
        .find(|n| n.path.as_str() == path)
        .unwrap_or_else(|| panic!("{path} not listed: {nodes:?}"))
}

fn tree_of(nodes: &[Node]) -> Tree {
    cloudsync_core::tree::tree_from(nodes.iter().cloned())
}

#[test]
fn every_operation() {
    run(30, async {
        let emu = emulator().await;
        let tokens_dir = tempfile::tempdir().expect("tmp");
        let raw = Raw::new(&emu);
        let d = client(&emu.base_url, "Sync/Laptop", renewing(&emu, &tokens_dir));
        assert!(matches!(
            d.check_root().await,
            Err(RemoteError::NotFound(_))
        ));
        d.prepare_root().await.expect("prepare root");
        d.check_root().await.expect("root with marker");
        let root = raw.id("Sync/Laptop").await.expect("root made");
        assert_eq!(
            d.account_id().await.expect("about").as_deref(),
            Some("emulated-user@example.com")
        );

        let dir = d.mkdir(&p("docs")).await.expect("mkdir");
        assert_eq!(dir.kind, Kind::Dir);
        let again = d.mkdir(&p("docs")).await.expect("mkdir twice");
        assert_eq!(again.id, dir.id, "an existing folder is answered");

        let small = b"hello drive".to_vec();
        let mut src: &[u8] = &small;
        let a = d
            .upload(
                &p("docs/a.txt"),
                &mut src,
                small.len() as u64,
                1_700_000_000_123_000_000,
                None,
            )
            .await
            .expect("upload");
        assert_eq!(
            a.hash.as_deref(),
            Some("md5:c15c399d141ac66ef1f29f1bb30fee60"),
            "md5Checksum is the hash"
        );
        assert_eq!(
            a.mtime_ns, 1_700_000_000_123_000_000,
            "modifiedTime carried (ms)"
        );
        let big = pseudo_random(6 * 1024 * 1024 + 1000, 3);
        let mut src: &[u8] = &big;
        let b = d
            .upload(&p("big.bin"), &mut src, big.len() as u64, 0, None)
            .await
            .expect("resumable upload");
        assert_eq!(b.size, big.len() as u64);

        // Creating over an existing name is refused; a stale replacement too.
        let mut src: &[u8] = b"x";
        let e = d.upload(&p("docs/a.txt"), &mut src, 1, 0, None).await;
        assert!(matches!(e, Err(RemoteError::Changed(_))), "{e:?}");

        let listing = d.list(&Tree::new()).await.expect("list");
        let paths: BTreeSet<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, BTreeSet::from(["big.bin", "docs", "docs/a.txt"]));
        assert_eq!(download(&d, find(&listing.nodes, "big.bin")).await, big);
        assert_eq!(
            download(&d, find(&listing.nodes, "docs/a.txt")).await,
            small
        );

        let v2 = b"hello drive, second version".to_vec();
        let mut src: &[u8] = &v2;
        let a2 = d
            .upload(&p("docs/a.txt"), &mut src, v2.len() as u64, 0, Some(&a))
            .await
            .expect("replace");
        assert_eq!(a2.id, a.id, "same file, new revision");
        assert_ne!(a2.rev, a.rev);
        let mut src: &[u8] = b"late";
        let stale = d.upload(&p("docs/a.txt"), &mut src, 4, 0, Some(&a)).await;
        assert!(matches!(stale, Err(RemoteError::Changed(_))), "{stale:?}");
        assert_eq!(raw.content(a.id.as_deref().expect("id")).await, v2);

        // Rename and move in one go, by id.
        let moved = d.rename(&a2, &p("moved.txt")).await.expect("rename");
        assert_eq!(moved.id, a.id);
        let m = raw.meta(a.id.as_deref().expect("id")).await;
        assert_eq!(m["name"], "moved.txt");
        assert_eq!(m["parents"], json!([root]));

        // The change feed carries the next listing.
        let token = d.change_token().expect("a saved token");
        let listing = d.list(&tree_of(&listing.nodes)).await.expect("list");
        assert_ne!(d.change_token(), Some(token));
        let paths: BTreeSet<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, BTreeSet::from(["big.bin", "docs", "moved.txt"]));

        // Deletes go to Drive's trash; a permanent delete removes.
        d.delete(&moved).await.expect("trash");
        assert_eq!(
            raw.meta(a.id.as_deref().expect("id")).await["trashed"],
            true
        );
        d.delete(&moved).await.expect("trashing again is fine");
        let docs = find(&listing.nodes, "docs").clone();
        d.delete_permanently(&docs).await.expect("delete");
        let r = reqwest::Client::new()
            .get(format!(
                "{}/drive/v3/files/{}",
                emu.base_url,
                docs.id.as_deref().expect("id")
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 404);

        // Polling the change feed: nothing below the root yet, then a change there.
        let d = d.with_change_poll(std::time::Duration::from_millis(50));
        let listing = d.list(&Tree::new()).await.expect("list");
        let quiet = d
            .wait_for_change(std::time::Duration::from_millis(200))
            .await;
        assert!(!quiet.expect("poll"), "no change yet");
        let elsewhere = raw
            .create_meta("root", "Elsewhere", "application/vnd.google-apps.folder")
            .await;
        raw.create(&elsewhere, "x", b"x").await;
        let elsewhere = d
            .wait_for_change(std::time::Duration::from_millis(200))
            .await;
        assert!(
            !elsewhere.expect("poll"),
            "changes outside the root are not ours"
        );
        raw.create(&root, "new.txt", b"new").await;
        let t = std::time::Instant::now();
        assert!(d
            .wait_for_change(std::time::Duration::from_secs(10))
            .await
            .expect("poll"));
        assert!(t.elapsed() < std::time::Duration::from_secs(2));
        let listing2 = d.list(&tree_of(&listing.nodes)).await.expect("list");
        assert!(listing2.nodes.iter().any(|n| n.path.as_str() == "new.txt"));

        // A refused change token means a full listing, nothing dropped.
        d.set_change_token(Some("999999".into()));
        let listing = d.list(&Tree::new()).await.expect("relist");
        let paths: Vec<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["big.bin", "new.txt"]);
        assert_ne!(d.change_token().as_deref(), Some("999999"));
        emu.stop().await;
    });
}

#[test]
fn same_named_files_both_get_a_local_name_and_native_documents_are_skipped() {
    run(30, async {
        let emu = emulator().await;
        let tokens_dir = tempfile::tempdir().expect("tmp");
        let raw = Raw::new(&emu);
        let d = client(&emu.base_url, "Dup", renewing(&emu, &tokens_dir));
        d.prepare_root().await.expect("prepare");
        let root = raw.id("Dup").await.expect("root");
        let first = raw.create(&root, "report.txt", b"first").await;
        // createdTime has millisecond precision: the second is younger for sure.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let second = raw.create(&root, "report.txt", b"second, longer").await;
        raw.create_meta(&root, "Plan", "application/vnd.google-apps.spreadsheet")
            .await;
        let listing = d.list(&Tree::new()).await.expect("list");
        let dup = format!("report ({}).txt", &second[..8]);
        assert_eq!(
            find(&listing.nodes, "report.txt").id.as_deref(),
            Some(first.as_str())
        );
        assert_eq!(
            find(&listing.nodes, &dup).id.as_deref(),
            Some(second.as_str())
        );
        assert_eq!(
            download(&d, find(&listing.nodes, &dup)).await,
            b"second, longer"
        );
        let skipped: Vec<(String, String)> = listing
            .skipped
            .iter()
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .collect();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, "Plan");
        assert!(
            skipped[0].1.contains("spreadsheet") || skipped[0].1.contains("Google"),
            "{skipped:?}"
        );

        // A third one, older names kept; renaming the first away does not move the others.
        let third = raw.create(&root, "report.txt", b"third").await;
        raw.patch(&first, json!({"name": "other.txt"})).await;
        let listing = d.list(&tree_of(&listing.nodes)).await.expect("list");
        let names: BTreeSet<&str> = listing.nodes.iter().map(|n| n.path.as_str()).collect();
        let dup3 = format!("report ({}).txt", &third[..8]);
        assert!(names.contains(dup.as_str()), "{names:?}");
        assert!(names.contains("other.txt"));
        assert!(
            names.contains("report.txt") || names.contains(dup3.as_str()),
            "{names:?}"
        );
        // Writing the suffixed one changes that Drive file, keeping its Drive name.
        let n = find(&listing.nodes, &dup).clone();
        let mut src: &[u8] = b"edited";
        d.upload(&n.path, &mut src, 6, 0, Some(&n))
            .await
            .expect("upload");
        assert_eq!(raw.content(&second).await, b"edited");
        assert_eq!(raw.meta(&second).await["name"], "report.txt");
        emu.stop().await;
    });
}

#[test]
fn rate_limits_server_errors_and_cuts_are_classified() {
    run(30, async {
        let emu = emulator().await;
        let tokens_dir = tempfile::tempdir().expect("tmp");
        let d = client(&emu.base_url, "", renewing(&emu, &tokens_dir));
        d.prepare_root().await.expect("prepare");
        fault(
            &emu,
            Fault::RateLimit { retry_after: 1 },
            "/drive/v3/files",
            3,
        );
        let mut seen = Vec::new();
        for _ in 0..3 {
            match d.list(&Tree::new()).await {
                Err(RemoteError::RateLimited(after)) => seen.push(after),
                other => panic!("expected a rate limit, got {other:?}"),
            }
        }
        // 403 userRateLimitExceeded, 429 with Retry-After, 403 rateLimitExceeded.
        assert_eq!(seen, [None, Some(1), None]);
        fault(
            &emu,
            Fault::ServerError { status: 503 },
            "/drive/v3/files",
            1,
        );
        assert!(matches!(
            d.list(&Tree::new()).await,
            Err(RemoteError::Unavailable(_))
        ));
        d.list(&Tree::new()).await.expect("recovered");

        // The session start and then the first chunk are cut mid-body: the start is tried
        // again, the chunk resumed from what Drive holds.
        let data = pseudo_random(6 * 1024 * 1024, 5);
        emu.context.faults.reset_stats();
        fault(
            &emu,
            Fault::ResetMidBody {
                after_bytes: (CHUNK / 2) as u64,
            },
            "/upload/drive/v3/files",
            2,
        );
        let mut src: &[u8] = &data;
        let n = d
            .upload(&p("f.bin"), &mut src, data.len() as u64, 0, None)
            .await
            .expect("upload through two cuts");
        let stats = emu.context.faults.stats();
        assert_eq!(stats.faults_served, 2);
        assert!(
            stats.bytes_received < (data.len() + CHUNK) as u64,
            "{} bytes received for {}",
            stats.bytes_received,
            data.len()
        );

        // A rate limit on a chunk waits and goes on in the same session.
        emu.context.faults.reset_stats();
        let data2 = pseudo_random(6 * 1024 * 1024 + 10, 6);
        // The session start passes (a 1 ms delay uses up the first fault); the first chunk
        // and the status query after it meet rate limits (403, then 429 with Retry-After);
        // the upload then goes on in the same session.
        fault(&emu, Fault::Slow { millis: 1 }, "/upload/drive/v3/files", 1);
        fault(
            &emu,
            Fault::RateLimit { retry_after: 1 },
            "/upload/drive/v3/files",
            2,
        );
        let mut src: &[u8] = &data2;
        let n2 = d
            .upload(&p("f2.bin"), &mut src, data2.len() as u64, 0, None)
            .await
            .expect("upload through rate limits");
        let stats = emu.context.faults.stats();
        assert_eq!(stats.faults_served, 3);
        // The refused chunk was sent (and read by the server) once more than needed.
        assert!(stats.bytes_received < (data2.len() + 2 * CHUNK) as u64);
        assert_eq!(download(&d, &n2).await, data2);

        // A truncated download is resumed with Range.
        fault(
            &emu,
            Fault::TruncateDownload {
                after_bytes: 300_000,
            },
            "/drive/v3/files/",
            1,
        );
        let before = emu.context.faults.stats().faults_served;
        assert_eq!(download(&d, &n).await, data);
        assert_eq!(emu.context.faults.stats().faults_served, before + 1);
        emu.stop().await;
    });
}

#[test]
fn a_resumable_upload_cut_midway_resumes_without_resending() {
    run(30, async {
        let emu = emulator().await;
        let tokens_dir = tempfile::tempdir().expect("tmp");
        let port = emu
            .base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .expect("port");
        let proxy = CutProxy::start(port);
        let d = client(&proxy.base_url(), "", renewing(&emu, &tokens_dir));
        d.prepare_root().await.expect("prepare");
        let size = 11 * CHUNK + 1234; // 12 chunks, above the multipart limit
        let data = pseudo_random(size, 9);
        emu.context.faults.reset_stats();
        // Cut the connection in the middle of the sixth chunk.
        proxy.arm((5 * CHUNK + CHUNK / 2) as u64, 1);
        let mut src: &[u8] = &data;
        let n = d
            .upload(&p("cut.bin"), &mut src, size as u64, 0, None)
            .await
            .expect("upload resumed");
        assert_eq!(proxy.cuts(), 1, "the connection was cut once");
        let received = emu.context.faults.stats().bytes_received;
        eprintln!("resumable upload of {size} bytes, cut once: {received} bytes received");
        assert!(received >= size as u64);
        assert!(
            received < (size + CHUNK) as u64,
            "{received} bytes received for a {size}-byte file"
        );
        assert_eq!(download(&d, &n).await, data);
        emu.stop().await;
    });
}

#[test]
fn a_session_saved_before_a_crash_is_resumed_by_the_next_run() {
    run(30, async {
        let emu = emulator().await;
        let tokens_dir = tempfile::tempdir().expect("tmp");
        let sessions = Arc::new(MemorySessions::default());
        let d = client(&emu.base_url, "", renewing(&emu, &tokens_dir));
        d.attach_upload_sessions(sessions.clone());
        d.prepare_root().await.expect("prepare");
        let size = 11 * CHUNK + 99;
        let data = pseudo_random(size, 12);
        emu.context.faults.reset_stats();
        // The session start and three chunks pass; the fourth hangs, and the process
        // "dies" while it waits.
        fault(&emu, Fault::Slow { millis: 1 }, "/upload/drive/v3/files", 4);
        fault(
            &emu,
            Fault::Slow { millis: 20_000 },
            "/upload/drive/v3/files",
            1,
        );
        let mut src: &[u8] = &data;
        let crashed = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            d.upload(&p("crash.bin"), &mut src, size as u64, 7, None),
        )
        .await;
        assert!(crashed.is_err(), "the upload was still running");
        drop(d);
        assert_eq!(
            sessions.0.lock().expect("lock").len(),
            1,
            "the session was saved"
        );
        emu.context.faults.clear();

        let d = client(&emu.base_url, "", renewing(&emu, &tokens_dir));
        d.attach_upload_sessions(sessions.clone());
        let mut src: &[u8] = &data;
        let n = d
            .upload(&p("crash.bin"), &mut src, size as u64, 7, None)
            .await
            .expect("the next run resumes");
        let received = emu.context.faults.stats().bytes_received;
        assert!(
            received < (size + CHUNK) as u64,
            "{received} bytes received for a {size}-byte file"
        );
        assert!(
            sessions.0.lock().expect("lock").is_empty(),
            "forgotten when done"
        );
        assert_eq!(download(&d, &n).await, data);
        emu.stop().await;
    });
}

#[test]
fn expired_tokens_are_renewed_at_the_token_endpoint() {
    run(30, async {
        let emu = emulator().await;
        let tokens_dir = tempfile::tempdir().expect("tmp");
        let d = client(&emu.base_url, "T", renewing(&emu, &tokens_dir));
        d.prepare_root().await.expect("prepare");
        d.list(&Tree::new()).await.expect("list");
        emu.context.tokens.expire_all();
        d.list(&Tree::new())
            .await
            .expect("list after expiry, renewed");
        let mut src: &[u8] = b"after renewal";
        emu.context.tokens.expire_all();
        d.upload(&p("r.txt"), &mut src, 13, 0, None)
            .await
            .expect("upload after expiry");

        // A token that cannot be renewed surfaces as Auth.
        let (_, access) = grant(&emu);
        let fixed = client(&emu.base_url, "T", Arc::new(StaticToken::new(access)));
        fixed.list(&Tree::new()).await.expect("list");
        emu.context.tokens.expire_all();
        assert!(matches!(
            fixed.list(&Tree::new()).await,
            Err(RemoteError::Auth(_))
        ));
        emu.stop().await;
    });
}

// --- The whole engine -------------------------------------------------------------------

struct Setup {
    _tmp: tempfile::TempDir,
    base: PathBuf,
    local: PathBuf,
    engine: Engine,
}

fn engine_at(base: &Path) -> Engine {
    let store = Store::open(&base.join("db")).expect("store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: "testhost".into(),
    };
    Engine::with_parts(store, ctx, Arc::new(cloudsync_providers::Factory))
}

async fn connect(emu: &Emulator, root: &str) -> Setup {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path().to_path_buf();
    let local = base.join("local");
    std::fs::create_dir_all(&local).expect("local");
    let secret = stored_tokens(emu, &base);
    let engine = engine_at(&base);
    engine
        .add_connection(AddConnection {
            name: "gd".into(),
            provider: "gdrive".into(),
            local_root: local.clone(),
            remote: json!({
                "api_base": emu.base_url,
                "app_key": CLIENT,
                "token_secret": secret,
                "root": root,
                "chunk_size": CHUNK,
            }),
            credential: format!("gdrive:{}", emu.base_url),
            remote_local_dir: None,
            settings: ConnectionSettings::default(),
        })
        .await
        .expect("adding the gdrive connection");
    Setup {
        _tmp: tmp,
        base,
        local,
        engine,
    }
}

async fn sync(engine: &Engine) -> usize {
    let s = engine.sync_connection("gd").await.expect("sync");
    assert!(s.failures.is_empty(), "sync failures: {:?}", s.failures);
    s.ops
}

/// Syncs until a round has no failures (faults on), at most `rounds` times.
async fn sync_through_faults(engine: &Engine, rounds: usize) {
    for _ in 0..rounds {
        match engine.sync_connection("gd").await {
            Ok(s) if s.failures.is_empty() => return,
            Ok(s) => eprintln!("sync with failures (faults on): {:?}", s.failures),
            Err(e) => eprintln!("sync failed (faults on): {e}"),
        }
    }
    panic!("no convergence within {rounds} syncs");
}

fn files_below(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            let r = p
                .strip_prefix(base)
                .expect("below")
                .to_string_lossy()
                .into_owned();
            if p.is_dir() {
                out.insert(format!("{r}/"));
                walk(base, &p, out);
            } else {
                out.insert(r);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn whole_engine_both_ways() {
    run(50, async {
        let emu = emulator().await;
        let raw = Raw::new(&emu);
        let s = connect(&emu, "CloudSync").await;
        let root = raw.id("CloudSync").await.expect("root prepared");
        assert!(raw.id("CloudSync/.cloudsync-root").await.is_some());

        // Local -> Drive.
        std::fs::create_dir_all(s.local.join("sub/deep")).expect("mkdir");
        std::fs::write(s.local.join("hello.txt"), "hello").expect("write");
        std::fs::write(s.local.join("sub/deep/two.txt"), "two").expect("write");
        let big = pseudo_random(6 * 1024 * 1024 + 77, 1);
        std::fs::write(s.local.join("big.bin"), &big).expect("write");
        sync(&s.engine).await;
        let hello = raw.id("CloudSync/hello.txt").await.expect("uploaded");
        assert_eq!(raw.content(&hello).await, b"hello");
        let two = raw
            .id("CloudSync/sub/deep/two.txt")
            .await
            .expect("uploaded");
        assert_eq!(raw.content(&two).await, b"two");
        let big_id = raw.id("CloudSync/big.bin").await.expect("uploaded");
        assert!(raw.content(&big_id).await == big);

        // Drive -> local.
        let rdir = raw
            .create_meta(&root, "from drive", "application/vnd.google-apps.folder")
            .await;
        let fd = raw.create(&rdir, "d.txt", b"drive side").await;
        raw.create_meta(&root, "Notes", "application/vnd.google-apps.document")
            .await;
        sync(&s.engine).await;
        assert_eq!(
            std::fs::read(s.local.join("from drive/d.txt")).expect("read"),
            b"drive side"
        );
        assert!(!s.local.join("Notes").exists());
        let skipped = s.engine.skipped(Some("gd")).expect("skipped");
        assert!(
            skipped
                .iter()
                .any(|r| r.path == "Notes" && r.code == "google-native-document"),
            "{skipped:?}"
        );
        assert_eq!(sync(&s.engine).await, 0, "a second sync does nothing");

        // Edits both ways.
        std::fs::write(s.local.join("hello.txt"), "hello again").expect("write");
        raw.put_content(&fd, b"drive edit, longer").await;
        sync(&s.engine).await;
        assert_eq!(raw.content(&hello).await, b"hello again");
        assert_eq!(
            std::fs::read(s.local.join("from drive/d.txt")).expect("read"),
            b"drive edit, longer"
        );

        // Renames both ways keep the ids.
        raw.patch(&fd, json!({"name": "renamed.txt"})).await;
        std::fs::rename(s.local.join("sub"), s.local.join("sub2")).expect("rename");
        sync(&s.engine).await;
        assert!(s.local.join("from drive/renamed.txt").is_file());
        assert!(!s.local.join("from drive/d.txt").exists());
        assert_eq!(
            raw.id("CloudSync/sub2/deep/two.txt").await.as_deref(),
            Some(two.as_str())
        );

        // A local delete trashes on Drive.
        std::fs::remove_file(s.local.join("hello.txt")).expect("rm");
        sync(&s.engine).await;
        assert_eq!(raw.meta(&hello).await["trashed"], true);

        // Both sides edit one file: keep-local uploads, the Drive edit stays as a kept revision.
        raw.put_content(&two, b"the drive edit").await;
        let drive_md5 = raw.meta(&two).await["md5Checksum"].clone();
        std::fs::write(s.local.join("sub2/deep/two.txt"), "the local edit wins").expect("write");
        sync(&s.engine).await;
        assert_eq!(raw.content(&two).await, b"the local edit wins");
        let revs = raw.revisions(&two).await;
        assert!(
            revs.iter()
                .any(|r| r["md5Checksum"] == drive_md5 && r["keepForever"] == true),
            "{revs:?}"
        );

        // Two same-named files on Drive both arrive, and stay tied to their ids.
        let one = raw.create(&root, "dup.txt", b"one").await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let other = raw.create(&root, "dup.txt", b"other, longer").await;
        sync(&s.engine).await;
        let suffixed = format!("dup ({}).txt", &other[..8]);
        assert_eq!(
            std::fs::read(s.local.join("dup.txt")).expect("read"),
            b"one"
        );
        assert_eq!(
            std::fs::read(s.local.join(&suffixed)).expect("read"),
            b"other, longer"
        );
        std::fs::write(s.local.join(&suffixed), "edited through its local name").expect("write");
        sync(&s.engine).await;
        assert_eq!(raw.content(&other).await, b"edited through its local name");
        assert_eq!(raw.content(&one).await, b"one");
        assert_eq!(raw.meta(&other).await["name"], "dup.txt");
        assert_eq!(sync(&s.engine).await, 0, "converged");
        let _ = &s.base;
        emu.stop().await;
    });
}

#[test]
fn faults_during_sync_lose_nothing() {
    run(50, async {
        let emu = emulator().await;
        let raw = Raw::new(&emu);
        let s = connect(&emu, "F").await;
        let root = raw.id("F").await.expect("root");
        for i in 0..6 {
            std::fs::write(s.local.join(format!("l{i}.txt")), format!("local {i}")).expect("write");
        }
        let big = pseudo_random(6 * 1024 * 1024 + 5, 2);
        std::fs::write(s.local.join("big.bin"), &big).expect("write");
        let remote_big = pseudo_random(2 * 1024 * 1024, 4);
        raw.create(&root, "r.bin", &remote_big).await;
        raw.create(&root, "r.txt", b"remote").await;

        fault(
            &emu,
            Fault::RateLimit { retry_after: 1 },
            "/drive/v3/files",
            2,
        );
        fault(
            &emu,
            Fault::ServerError { status: 503 },
            "/upload/drive/v3/files",
            2,
        );
        fault(
            &emu,
            Fault::TruncateDownload {
                after_bytes: 100_000,
            },
            "/drive/v3/files/",
            1,
        );
        emu.context.tokens.expire_all();
        sync_through_faults(&s.engine, 6).await;
        assert!(emu.context.faults.rules().is_empty(), "every fault was met");

        for i in 0..6 {
            let id = raw.id(&format!("F/l{i}.txt")).await.expect("uploaded");
            assert_eq!(raw.content(&id).await, format!("local {i}").as_bytes());
        }
        let id = raw.id("F/big.bin").await.expect("uploaded");
        assert!(raw.content(&id).await == big);
        assert!(std::fs::read(s.local.join("r.bin")).expect("read") == remote_big);
        assert_eq!(
            std::fs::read(s.local.join("r.txt")).expect("read"),
            b"remote"
        );
        assert_eq!(sync(&s.engine).await, 0, "converged");
        // Each upload landed once.
        let names: Vec<String> = raw
            .children(&root)
            .await
            .iter()
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect();
        let unique: BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        emu.stop().await;
    });
}

#[test]
fn after_a_relink_the_trees_are_kept_and_changes_made_meanwhile_sync() {
    run(40, async {
        let emu = emulator().await;
        let raw = Raw::new(&emu);
        let s = connect(&emu, "CloudSync").await;
        let big = pseudo_random(3 << 20, 41);
        for (name, data) in [
            ("big.bin", &big[..]),
            ("remote-edit.txt", b"aaaa"),
            ("local-edit.txt", b"bbbb"),
            ("both.txt", b"cccc"),
        ] {
            std::fs::write(s.local.join(name), data).expect("write");
        }
        sync(&s.engine).await;

        // The authorization is revoked: syncing stops with a credentials error.
        let store = SecretStore::at(&s.base.join("secrets.json"));
        let ours = StoredTokens::parse(&store.get("gd").expect("read").expect("stored"))
            .access_token
            .expect("an access token is stored");
        emu.context.tokens.revoke(&ours);
        assert_credentials_refused(&s.engine, "gd").await;

        // Meanwhile: same-size edits on each side (Drive keeps the file id), and one file
        // edited on both.
        let remote_edit = raw.id("CloudSync/remote-edit.txt").await.expect("id");
        raw.put_content(&remote_edit, b"AAAA").await;
        let both = raw.id("CloudSync/both.txt").await.expect("id");
        raw.put_content(&both, b"CCC2").await;
        std::fs::write(s.local.join("local-edit.txt"), b"BBBB").expect("write");
        std::fs::write(s.local.join("both.txt"), b"CCC1").expect("write");

        // `cloudsync relink`: a new sign-in stored, the engine told.
        let (refresh, access) = grant(&emu);
        let renewed = StoredTokens {
            access_token: Some(access),
            refresh_token: Some(refresh),
            ..StoredTokens::default()
        };
        store.set("gd", &renewed.to_secret()).expect("store");
        s.engine.relinked("gd").expect("relinked");
        assert!(!sign_in_needed(&s.engine, "gd"));
        emu.context.faults.reset_stats();
        sync_through_faults(&s.engine, 4).await;

        assert_eq!(
            std::fs::read(s.local.join("remote-edit.txt")).expect("read"),
            b"AAAA"
        );
        let local_edit = raw.id("CloudSync/local-edit.txt").await.expect("id");
        assert_eq!(raw.content(&local_edit).await, b"BBBB");
        // The file edited on both sides: the newer local edit wins (the default policy),
        // and the Drive revision it replaced is kept forever.
        assert_eq!(
            std::fs::read(s.local.join("both.txt")).expect("read"),
            b"CCC1"
        );
        assert_eq!(raw.content(&both).await, b"CCC1");
        let ccc2 = "4a18d7861b6a5cdad531a2f670d55778"; // MD5 of "CCC2"
        assert!(
            raw.revisions(&both)
                .await
                .iter()
                .any(|r| r["md5Checksum"] == ccc2 && r["keepForever"] == true),
            "the replaced version is a revision kept forever"
        );
        // The kept trees spared the unchanged file a second upload.
        let sent = emu.context.faults.stats().bytes_received;
        assert!(sent < 1 << 20, "{sent} bytes sent after the relink");
        assert_eq!(sync(&s.engine).await, 0, "converged");
        emu.stop().await;
    });
}

#[test]
fn a_restart_continues_the_change_feed_instead_of_walking_again() {
    run(40, async {
        let emu = emulator().await;
        let raw = Raw::new(&emu);
        let s = connect(&emu, "CloudSync").await;
        std::fs::create_dir_all(s.local.join("sub")).expect("mkdir");
        for i in 0..10 {
            std::fs::write(s.local.join(format!("sub/f{i}.txt")), format!("file {i}"))
                .expect("write");
        }
        sync(&s.engine).await;
        let root = raw.id("CloudSync").await.expect("root");
        // Two files of the same name in one folder: the second gets a stable suffix, which
        // the kept state must keep.
        raw.create(&root, "twin.txt", b"first").await;
        raw.create(&root, "twin.txt", b"second").await;
        sync(&s.engine).await;
        let twins_before = files_below(&s.local);

        // The process ends; meanwhile on Drive a file is added, one edited, one trashed.
        let engine_db = s.base.clone();
        drop(s.engine);
        raw.create(&root, "new.txt", b"new").await;
        let f1 = raw.id("CloudSync/sub/f1.txt").await.expect("id");
        raw.put_content(&f1, b"edited").await;
        let f0 = raw.id("CloudSync/sub/f0.txt").await.expect("id");
        raw.patch(&f0, json!({"trashed": true})).await;

        emu.context.faults.reset_stats();
        let engine = engine_at(&engine_db);
        sync(&engine).await;
        let calls = emu.context.faults.stats().by_path;
        assert_eq!(
            calls.get("/drive/v3/changes/startPageToken"),
            None,
            "no new walk after the restart: {calls:?}"
        );
        assert!(calls.contains_key("/drive/v3/changes"), "{calls:?}");
        assert_eq!(
            std::fs::read(s.local.join("new.txt")).expect("read"),
            b"new"
        );
        assert_eq!(
            std::fs::read(s.local.join("sub/f1.txt")).expect("read"),
            b"edited"
        );
        assert!(
            !s.local.join("sub/f0.txt").exists(),
            "the trashed file went"
        );
        let mut expected = twins_before;
        expected.remove("sub/f0.txt");
        expected.insert("new.txt".into());
        let now: BTreeSet<String> = files_below(&s.local)
            .into_iter()
            .filter(|p| !p.starts_with(".cloudsync-trash"))
            .collect();
        assert_eq!(now, expected, "the twins kept their names");
        assert!(
            s.local.join(".cloudsync-trash").exists(),
            "the local copy of the trashed file went to the local trash"
        );
        assert_eq!(sync(&engine).await, 0, "converged");
        emu.stop().await;
    });
}

#[test]
fn hostile_names_never_reach_the_disk() {
    run(30, async {
        let emu = emulator().await;
        let raw = Raw::new(&emu);
        let s = connect(&emu, "H").await;
        let root = raw.id("H").await.expect("root");
        let sub = raw
            .create_meta(&root, "sub", "application/vnd.google-apps.folder")
            .await;
        raw.create(&sub, "fine.txt", b"fine").await;
        emu.context.hostile_names.store(true, Ordering::Relaxed);
        sync(&s.engine).await;
        assert_eq!(
            std::fs::read(s.local.join("sub/fine.txt")).expect("read"),
            b"fine"
        );
        let everything = files_below(&s.base);
        for name in &everything {
            assert!(
                !name.ends_with("escape.txt")
                    && !name.ends_with("passwd")
                    && !name.ends_with("win.txt"),
                "{name} was written: {everything:?}"
            );
            assert!(
                name.starts_with("local/") || name.starts_with("db") || name.starts_with("secrets"),
                "{name}"
            );
        }
        let skipped = s.engine.skipped(Some("gd")).expect("skipped");
        let rows: BTreeSet<(&str, &str)> = skipped
            .iter()
            .map(|r| (r.path.as_str(), r.code.as_str()))
            .collect();
        for dir in ["", "sub/"] {
            for (path, code) in [
                ("%2E", "invalid-name"),
                ("%2E%2E", "invalid-name"),
                ("a%2Fb", "invalid-name"),
                ("..%2F..%2Fescape.txt", "invalid-name"),
                ("%2Fetc%2Fpasswd", "invalid-name"),
                ("nul%00byte", "invalid-name"),
                ("(empty name)", "invalid-name"),
                ("back\\slash", "forbidden-character"),
                ("..\\..\\win.txt", "forbidden-character"),
            ] {
                let path = format!("{dir}{path}");
                assert!(
                    rows.contains(&(path.as_str(), code)),
                    "{path} {code}: {rows:?}"
                );
            }
        }
        assert_eq!(sync(&s.engine).await, 0, "converged");
        emu.stop().await;
    });
}

// --- Scenarios ------------------------------------------------------------------------

/// Scenarios whose remote actions exercise Drive's id-based moves, folder moves and
/// deletes, remote-side edits and restarts, with the remote on the Drive emulator (the
/// keep-local conflict scenarios expect conflicted copies, which a remote keeping
/// revisions does not make; they are covered by `whole_engine_both_ways`).
#[test]
fn scenarios_on_the_drive_emulator() {
    use cloudsync_tests::scenario::{run_file_on_cloud, scenario_dir, CloudRun};
    let started = std::time::Instant::now();
    let mut ran = 0;
    for name in [
        "create_remote",
        "modify_remote",
        "delete_remote",
        "delete_remote_edit_local",
        "delete_local_edit_remote",
        "rename_file_remote",
        "rename_folder_remote",
        "move_folder_remote",
        "move_file_remote",
        "rename_folder_local_add_inside_remote",
        "move_folder_local_edit_inside_remote",
        "delete_folder_remote_edit_inside_local",
        "rename_both_sides_differently",
        "swap_names_local",
        "case_only_rename_remote",
        "file_to_folder_remote",
        "restart_between_syncs",
        "skip_forbidden_characters_remote",
        "conflict_keep_remote",
        "both_created_same_content",
    ] {
        let path = scenario_dir().join(format!("{name}.scn"));
        match run_file_on_cloud(&path, Provider::Gdrive) {
            Ok(CloudRun::Passed) => ran += 1,
            Ok(CloudRun::NotApplicable(why)) => panic!("{name} does not apply: {why}"),
            Err(e) => panic!("\n{e}"),
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(40),
            "scenarios too slow"
        );
    }
    assert_eq!(ran, 20);
}
