//! The odd-names corpus (`cloudsync_tests::corpus`) through the whole engine, on every
//! backend and real server: each name is created locally and synced up, then created on
//! the server and synced down, and each outcome is checked against the corpus's written
//! expectation for that server. All mismatches are reported together.
//!
//! Every name sits in a folder of its own (`up/NNN/`, `down/NNN/`), so names that are
//! equal after NFC or that differ only in case do not meet (Dropbox is case-insensitive).
//!
//! The cloud providers run on their in-process emulators. A name our backend does not
//! write (a `/` inside one name, or a name the server refuses) is offered to the server
//! once more as another client would send it, over the provider's own HTTP API.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cloudsync_core::{ConnectionSettings, Kind, Node, RelPath, Tree};
use cloudsync_emulator::{Emulator, Provider};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Remote, RemoteError, RemoteFactory};
use cloudsync_engine::store::Store;
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};
use cloudsync_providers::Factory;
use cloudsync_tests::corpus::{corpus, render_table, visible, NameCase, Outcome, Server};
use cloudsync_tests::fixtures::emulator_accepting;
use cloudsync_tests::run_for as run;
use cloudsync_tests::servers::{require, RcloneWebdav, S3Kind, WsgiAuth, WsgiDav};

const HOST: &str = "testhost";

#[test]
fn the_written_table_matches_the_corpus() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("names/corpus.tsv");
    let table = render_table();
    if std::env::var_os("UPDATE_CORPUS").is_some() {
        std::fs::write(&path, &table).expect("writing the table");
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == table,
        "tests/names/corpus.tsv is out of date; regenerate it with \
         UPDATE_CORPUS=1 cargo test -p cloudsync-tests --test odd_names"
    );
}

/// A connection's remote: the stored config and a second backend on the same root,
/// through which the test looks at and writes to the server.
struct Target {
    server: Server,
    provider: &'static str,
    config: serde_json::Value,
    remote_local_dir: Option<PathBuf>,
    /// How another client writes to the server, for names our own backend does not write.
    raw: Option<Raw>,
}

/// Another client's way onto the server.
enum Raw {
    /// An S3 server that takes unsigned requests: port, bucket, prefix.
    S3(u16, String, String),
    /// Dropbox's `/2/files/upload`: API base, token, root folder ([`DROPBOX_ROOT`]).
    Dropbox(String, String, String),
    /// Drive's multipart upload: API base, token.
    Drive(String, String),
    /// Baidu's precreate, superfile2 and create: API base, token, app folder
    /// (`/apps/CloudSync`).
    Baidu(String, String, String),
}

impl Raw {
    /// Writes `content` as the file `name` in the folder `parent` (relative to the root;
    /// the folder exists).
    async fn write(
        &self,
        view: &dyn Remote,
        parent: &str,
        name: &str,
        content: &[u8],
    ) -> Result<(), String> {
        match self {
            Raw::S3(port, bucket, prefix) => {
                let key = format!("{bucket}/{prefix}/{parent}/{name}");
                raw_put(*port, &key, content).map_err(|e| e.to_string())
            }
            Raw::Dropbox(base, token, root) => {
                let arg = serde_json::json!({
                    "path": format!("{root}/{parent}/{name}"),
                    "mode": "add",
                });
                let resp = reqwest::Client::new()
                    .post(format!("{base}/2/files/upload"))
                    .bearer_auth(token)
                    .header("Dropbox-API-Arg", header_safe(&arg))
                    .header("Content-Type", "application/octet-stream")
                    .body(content.to_vec())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                answer(resp).await
            }
            Raw::Drive(base, token) => {
                let parent_id = listing(view)
                    .await
                    .get(parent)
                    .and_then(|n| n.id.clone())
                    .ok_or_else(|| format!("no folder {parent} on Drive"))?;
                let meta = serde_json::json!({"name": name, "parents": [parent_id]});
                let mut body = Vec::new();
                body.extend_from_slice(b"--b\r\nContent-Type: application/json\r\n\r\n");
                body.extend_from_slice(meta.to_string().as_bytes());
                body.extend_from_slice(b"\r\n--b\r\nContent-Type: text/plain\r\n\r\n");
                body.extend_from_slice(content);
                body.extend_from_slice(b"\r\n--b--\r\n");
                let resp = reqwest::Client::new()
                    .post(format!("{base}/upload/drive/v3/files?uploadType=multipart"))
                    .bearer_auth(token)
                    .header("Content-Type", "multipart/related; boundary=b")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                answer(resp).await
            }
            Raw::Baidu(base, token, app) => {
                baidu_put(base, token, &format!("{app}/{parent}/{name}"), content).await
            }
        }
    }
}

/// Writes a small file (one block) at the absolute `path` through Baidu's three upload
/// calls, each answering HTTP 200 with an `errno`.
async fn baidu_put(base: &str, token: &str, path: &str, content: &[u8]) -> Result<(), String> {
    use md5::{Digest, Md5};
    let http = reqwest::Client::new();
    let block: String = Md5::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let block_list = format!("[\"{block}\"]");
    let size = content.len().to_string();
    let file_api = format!("{base}/rest/2.0/xpan/file");
    let errno_of = |v: &serde_json::Value| {
        v.get("errno")
            .or_else(|| v.get("error_code"))
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0)
    };
    let call = |rb: reqwest::RequestBuilder| async move {
        let v: serde_json::Value = rb
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        match errno_of(&v) {
            0 => Ok(v),
            n => Err(format!("Baidu errno {n}")),
        }
    };
    let pre = call(
        http.post(&file_api)
            .query(&[("method", "precreate"), ("access_token", token)])
            .form(&[
                ("path", path),
                ("size", &size),
                ("isdir", "0"),
                ("autoinit", "1"),
                ("rtype", "0"),
                ("block_list", &block_list),
            ]),
    )
    .await?;
    let upload_id = pre
        .get("uploadid")
        .and_then(serde_json::Value::as_str)
        .ok_or("precreate gave no uploadid")?
        .to_string();
    let mut body = Vec::new();
    body.extend_from_slice(
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n\
          Content-Type: application/octet-stream\r\n\r\n",
    );
    body.extend_from_slice(content);
    body.extend_from_slice(b"\r\n--b--\r\n");
    call(
        http.post(format!("{base}/rest/2.0/pcs/superfile2"))
            .query(&[
                ("method", "upload"),
                ("access_token", token),
                ("type", "tmpfile"),
                ("path", path),
                ("uploadid", &upload_id),
                ("partseq", "0"),
            ])
            .header("Content-Type", "multipart/form-data; boundary=b")
            .body(body),
    )
    .await?;
    call(
        http.post(&file_api)
            .query(&[("method", "create"), ("access_token", token)])
            .form(&[
                ("path", path),
                ("size", &size),
                ("isdir", "0"),
                ("uploadid", &upload_id),
                ("block_list", &block_list),
                ("rtype", "0"),
            ]),
    )
    .await
    .map(|_| ())
}

/// The other client writes a name with a non-ASCII character where our backend reads it
/// back (so a name it fails to place later is the server's refusal, not the test's own
/// mistake); the folder is removed again.
async fn raw_writer_works(raw: &Raw, view: &dyn Remote) {
    let name = "raw caf\u{e9} #1.txt";
    let folder = view.mkdir(&rel("raw-check")).await.expect("a folder");
    raw.write(view, "raw-check", name, b"raw")
        .await
        .unwrap_or_else(|e| panic!("the other client writes {name}: {e}"));
    let files = server_files(view, "raw-check/").await;
    assert_eq!(
        files.get(&format!("raw-check/{name}")).map(Vec::as_slice),
        Some(&b"raw"[..]),
        "what the other client wrote: {files:?}"
    );
    let file = listing(view)
        .await
        .remove(&format!("raw-check/{name}"))
        .expect("listed");
    view.delete_permanently(&file)
        .await
        .expect("removing the check's file");
    view.delete_permanently(&folder)
        .await
        .expect("removing the check's folder");
}

/// Ok on a 2xx answer, else the status and the start of the body.
async fn answer(resp: reqwest::Response) -> Result<(), String> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    Err(format!(
        "HTTP {status}: {}",
        body.chars().take(200).collect::<String>()
    ))
}

/// JSON made "HTTP header safe" the way Dropbox asks: 0x7F and every non-ASCII character
/// as `\uXXXX` (UTF-16 code units, so surrogate pairs beyond the BMP).
fn header_safe(v: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in v.to_string().chars() {
        if c.is_ascii() && c != '\x7f' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{u:04x}");
            }
        }
    }
    out
}

impl Target {
    fn view(&self) -> Arc<dyn Remote> {
        Factory
            .open(self.provider, &self.config)
            .expect("a second backend on the same root")
    }
}

fn engine(base: &Path) -> Engine {
    let store = Store::open(&base.join("db")).expect("opening the store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: HOST.into(),
    };
    Engine::with_parts(store, ctx, Arc::new(Factory))
}

fn rel(s: &str) -> RelPath {
    RelPath::new(s).unwrap_or_else(|e| panic!("{}: {e}", visible(s)))
}

/// Every entry the server lists, by exact path.
async fn listing(view: &dyn Remote) -> BTreeMap<String, Node> {
    view.list(&Tree::new())
        .await
        .expect("listing the server")
        .nodes
        .into_iter()
        .map(|n| (n.path.as_str().to_string(), n))
        .collect()
}

/// Every path the server has, including those its backend lists as skipped.
async fn present(view: &dyn Remote) -> BTreeSet<String> {
    let listed = view.list(&Tree::new()).await.expect("listing the server");
    listed
        .nodes
        .iter()
        .map(|n| n.path.as_str().to_string())
        .chain(listed.skipped.iter().map(|(p, _)| p.as_str().to_string()))
        .collect()
}

/// Every file below `root` (relative, exact spelling), with its content.
fn local_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .expect("below the base")
                .to_str()
                .expect("UTF-8 path")
                .to_string();
            if rel.starts_with(".cloudsync") {
                continue;
            }
            if e.file_type().expect("file type").is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// True when `name` is `{original}_{HOST}_{YYYYMMDD}_TailCharacterConflict`.
fn is_tail_rename_of(name: &str, original: &str) -> bool {
    let Some(rest) = name.strip_prefix(&format!("{original}_{HOST}_")) else {
        return false;
    };
    rest.strip_suffix("_TailCharacterConflict")
        .is_some_and(|date| date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()))
}

/// The path the name should have after a tail rename, found among `present` paths:
/// the first component ending in `.` or a space replaced by its renamed spelling.
fn renamed_path(full: &str, present: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = full.split('/').collect();
    let i = parts
        .iter()
        .position(|c| c.ends_with('.') || c.ends_with(' '))?;
    let prefix = parts[..i].join("/");
    let rest = parts[i + 1..].join("/");
    present
        .iter()
        .find(|p| {
            let Some(tail) = p.strip_prefix(&format!("{prefix}/")) else {
                return false;
            };
            let (head, after) = tail.split_once('/').unwrap_or((tail, ""));
            is_tail_rename_of(head, parts[i]) && after == rest
        })
        .cloned()
}

/// The engine's skipped list of the connection: (path, code).
fn skipped(engine: &Engine) -> BTreeSet<(String, String)> {
    engine
        .skipped(Some("c"))
        .expect("skipped list")
        .into_iter()
        .map(|r| (r.path, r.code))
        .collect()
}

/// True when `skipped` holds `code` for `full` or one of its ancestors.
fn skipped_with(skipped: &BTreeSet<(String, String)>, full: &str, code: &str) -> bool {
    skipped
        .iter()
        .any(|(p, c)| c == code && (p == full || full.starts_with(&format!("{p}/"))))
}

/// Checks one direction's outcome for `case` at `full`; `from` is the side the name was
/// created on, `to` the other (exact paths of files present), `content` what was written.
fn check(
    case: &NameCase,
    expected: Outcome,
    full: &str,
    from: &BTreeSet<String>,
    to: &BTreeMap<String, Vec<u8>>,
    content: &[u8],
    skipped: &BTreeSet<(String, String)>,
) -> Result<(), String> {
    let to_paths: BTreeSet<String> = to.keys().cloned().collect();
    match expected {
        Outcome::Same => match to.get(full) {
            Some(c) if c == content => Ok(()),
            Some(_) => Err("arrived with other content".into()),
            None => Err("did not arrive under the same name".into()),
        },
        Outcome::Skipped(code) => {
            if to_paths
                .iter()
                .any(|p| p.starts_with(&format!("{}/", top(full))) || p == full)
            {
                return Err("arrived although it should be skipped".into());
            }
            let ancestors_or_self = full
                .match_indices('/')
                .map(|(i, _)| &full[..i])
                .chain([full]);
            if !ancestors_or_self.into_iter().any(|p| from.contains(p)) {
                return Err("vanished from its own side".into());
            }
            if !skipped_with(skipped, full, code) {
                return Err(format!("not listed as skipped with {code}"));
            }
            Ok(())
        }
        Outcome::TailRenamed => {
            if from.contains(full) {
                return Err("still under its old name on its own side".into());
            }
            let Some(new) = renamed_path(full, from) else {
                return Err("no renamed entry on its own side".into());
            };
            match to.get(&new) {
                Some(c) if c == content => Ok(()),
                _ => Err(format!("the renamed {} did not arrive", visible(&new))),
            }
        }
        Outcome::Refused => {
            if to_paths.iter().any(|p| p == full) {
                return Err("arrived although the server refuses it".into());
            }
            if !from.contains(full) {
                return Err("vanished from its own side".into());
            }
            Ok(())
        }
        Outcome::Unstorable => Err(format!(
            "{} was expected to be unstorable here",
            visible(&case.name)
        )),
    }
}

/// `up/NNN` of `up/NNN/rest`.
fn top(full: &str) -> String {
    full.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// An unsigned `PUT /{path}` with `body` on 127.0.0.1:`port` (every byte of `path` that is
/// not unreserved is percent-encoded); Ok on a 2xx answer.
fn raw_put(port: u16, path: &str, body: &[u8]) -> Result<(), RemoteError> {
    use std::io::{Read, Write};
    let encoded: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(RemoteError::Io)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .map_err(RemoteError::Io)?;
    let head = format!(
        "PUT /{encoded} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).map_err(RemoteError::Io)?;
    s.write_all(body).map_err(RemoteError::Io)?;
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    if answer.starts_with("HTTP/1.1 2") {
        Ok(())
    } else {
        Err(RemoteError::Other(
            answer.lines().next().unwrap_or("").to_string(),
        ))
    }
}

/// Downloads every file the server lists below `prefix`.
async fn server_files(view: &dyn Remote, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (path, node) in listing(view).await {
        if node.kind == Kind::File && path.starts_with(prefix) {
            let mut data = Vec::new();
            view.download(&node, &mut data).await.expect("download");
            out.insert(path, data);
        }
    }
    out
}

/// Syncs; a sync that cannot converge only because of ops on `refused` paths (prefixes
/// such as `up/012/`) counts as done. Returns the ops done (0 for such a sync).
async fn sync_clean(engine: &Engine, what: &str, refused: &[String]) -> usize {
    match engine.sync_connection("c").await {
        Ok(summary) => {
            assert!(
                summary.failures.is_empty(),
                "{what}: failures {:?}",
                summary.failures
            );
            summary.ops
        }
        Err(e) => {
            let plan = engine
                .plan("c")
                .await
                .map(|(ops, _)| ops)
                .unwrap_or_default();
            let unexpected: Vec<&String> = plan
                .iter()
                .filter(|op| !refused.iter().any(|r| op.contains(r.as_str())))
                .collect();
            assert!(
                !plan.is_empty() && unexpected.is_empty(),
                "{what}: sync failed: {e}; ops left that no refusal explains: {unexpected:#?}"
            );
            0
        }
    }
}

/// The whole corpus through the engine against `target`.
async fn round_trip(target: &Target, base: &Path) {
    let local = base.join("local");
    std::fs::create_dir_all(&local).expect("local dir");
    let engine = engine(base);
    engine
        .add_connection(AddConnection {
            name: "c".into(),
            provider: target.provider.into(),
            local_root: local.clone(),
            remote: target.config.clone(),
            credential: format!("odd-names:{}", target.server.column()),
            remote_local_dir: target.remote_local_dir.clone(),
            settings: ConnectionSettings::default(),
        })
        .await
        .expect("adding the connection");
    let view = target.view();
    if let Some(raw) = &target.raw {
        raw_writer_works(raw, view.as_ref()).await;
    }
    let cases = corpus();
    let mut problems: Vec<String> = Vec::new();

    // Up: created locally.
    for (i, case) in cases.iter().enumerate() {
        if !case.fits_local_disk() {
            continue;
        }
        let p = local.join(format!("up/{i:03}/{}", case.name));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, format!("up {i}")).expect("write");
    }
    let refused_up: Vec<String> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.expect(target.server) == Outcome::Refused)
        .map(|(i, _)| format!("up/{i:03}/"))
        .collect();
    sync_clean(&engine, "up", &refused_up).await;
    let on_server = server_files(view.as_ref(), "up/").await;
    let here: BTreeSet<String> = local_files(&local).into_keys().collect();
    let skips = skipped(&engine);
    for (i, case) in cases.iter().enumerate() {
        if !case.fits_local_disk() {
            continue;
        }
        let full = format!("up/{i:03}/{}", case.name);
        let expected = case.expect(target.server);
        let content = format!("up {i}");
        if let Err(e) = check(
            case,
            expected,
            &full,
            &here,
            &on_server,
            content.as_bytes(),
            &skips,
        ) {
            problems.push(format!("up   {:?} {}: {e}", expected, visible(&case.name)));
        }
    }
    let again = sync_clean(&engine, "up, again", &refused_up).await;
    if again != 0 {
        problems.push(format!("up: a second sync did {again} operations"));
    }

    // Down: created on the server.
    let mut folders: BTreeSet<String> = BTreeSet::new();
    let mut stored: Vec<bool> = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let full = format!("down/{i:03}/{}", case.name);
        let expected = case.expect(target.server);
        // The folders to make, and the file's own folder and name.
        let mut parts: Vec<String> = vec!["down".into(), format!("{i:03}")];
        if case.single {
            parts.push(case.name.clone());
        } else {
            parts.extend(case.name.split('/').map(str::to_string));
        }
        let name = parts.pop().unwrap_or_default();
        let parent = parts.join("/");
        let mut folder_made: Result<(), String> = Ok(());
        for depth in 1..=parts.len() {
            let folder = parts[..depth].join("/");
            if folder_made.is_ok() && folders.insert(folder.clone()) {
                folder_made = view
                    .mkdir(&rel(&folder))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
            }
        }
        let content = format!("down {i}");
        let mut made = folder_made.clone();
        if made.is_ok() && case.single {
            made = Err("a name holding '/' is no path our backend can write".into());
        } else if made.is_ok() {
            // Twice at most: s3rver writes objects in place, so the backend's own check
            // after the PUT can catch the write still under way. The first try then left
            // an object there, so the second replaces it, as the engine's next sync would.
            let mut replaces: Option<Node> = None;
            for attempt in 0..2 {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    replaces = listing(view.as_ref()).await.remove(&full);
                }
                let mut src = content.as_bytes();
                let result = view
                    .upload(
                        &rel(&full),
                        &mut src,
                        content.len() as u64,
                        0,
                        replaces.as_ref(),
                    )
                    .await;
                let again = matches!(result, Err(RemoteError::Changed(_)));
                made = result.map(|_| ()).map_err(|e| e.to_string());
                if !again {
                    break;
                }
            }
        }
        if made.is_err() && matches!(expected, Outcome::Skipped(_)) {
            // Our backend need not write a name the engine never writes; another client
            // may, where the server takes it (moto refuses a few, such as a newline).
            let by_another_client = match &target.raw {
                Some(raw) if folder_made.is_ok() => Some(
                    raw.write(view.as_ref(), &parent, &name, content.as_bytes())
                        .await,
                ),
                _ => None,
            };
            if !matches!(by_another_client, Some(Ok(()))) {
                stored.push(false);
                continue;
            }
            made = Ok(());
        }
        match (made, expected) {
            (Err(_), Outcome::Unstorable | Outcome::Refused) => stored.push(false),
            // The server stores no such name: it can only go up (renamed first).
            (Err(_), Outcome::TailRenamed) if target.server.refuses_tail_characters() => {
                stored.push(false);
            }
            (Ok(()), Outcome::Unstorable) => {
                problems.push(format!(
                    "down {}: the server stored a name expected to be unstorable",
                    visible(&case.name)
                ));
                stored.push(false);
            }
            (Err(e), _) => {
                problems.push(format!(
                    "down {}: the server refused it: {e}",
                    visible(&case.name)
                ));
                stored.push(false);
            }
            (Ok(()), _) => stored.push(true),
        }
    }
    // A server may store a name other than the one sent (rclone maps control characters
    // to the U+2400 pictures): such a name cannot be placed there by any client.
    let placed = present(view.as_ref()).await;
    for (i, case) in cases.iter().enumerate() {
        let full = format!("down/{i:03}/{}", case.listed_name());
        if stored[i] && !placed.contains(&full) {
            stored[i] = false;
            let expected = case.expect(target.server);
            if !matches!(expected, Outcome::Skipped(_) | Outcome::Unstorable) {
                problems.push(format!(
                    "down {}: the server stored it under another name",
                    visible(&case.name)
                ));
            }
            // What the server made of it is not this name's business any more.
            if let Some(node) = listing(view.as_ref())
                .await
                .into_iter()
                .find(|(p, _)| p.starts_with(&format!("down/{i:03}/")))
                .map(|(_, n)| n)
            {
                view.delete_permanently(&node)
                    .await
                    .expect("removing the renamed entry");
            }
        }
    }
    sync_clean(&engine, "down", &refused_up).await;
    let here = local_files(&local);
    let on_server = present(view.as_ref()).await;
    let skips = skipped(&engine);
    for (i, case) in cases.iter().enumerate() {
        if !stored[i] {
            continue;
        }
        let full = format!("down/{i:03}/{}", case.listed_name());
        let expected = case.expect(target.server);
        let content = format!("down {i}");
        if let Err(e) = check(
            case,
            expected,
            &full,
            &on_server,
            &here,
            content.as_bytes(),
            &skips,
        ) {
            problems.push(format!("down {:?} {}: {e}", expected, visible(&case.name)));
        }
    }
    // Whatever a name holds, nothing lands outside the two test folders.
    for path in here.keys() {
        if !(path.starts_with("up/") || path.starts_with("down/")) {
            problems.push(format!("a file arrived at {}", visible(path)));
        }
    }
    let again = sync_clean(&engine, "down, again", &refused_up).await;
    if again != 0 {
        problems.push(format!("down: a second sync did {again} operations"));
    }

    assert!(
        problems.is_empty(),
        "{} of {} names behaved otherwise on {}:\n{}",
        problems.len(),
        cases.len(),
        target.server.column(),
        problems.join("\n")
    );
}

#[test]
fn corpus_on_the_local_folder_backend() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let remote = tmp.path().join("remote");
    std::fs::create_dir_all(&remote).expect("remote dir");
    let target = Target {
        server: Server::Local,
        provider: "local",
        config: serde_json::json!({ "path": remote }),
        remote_local_dir: Some(remote.clone()),
        raw: None,
    };
    run(300, round_trip(&target, tmp.path()));
}

fn webdav_target(server: Server, base_url: &str) -> Target {
    Target {
        server,
        provider: "webdav",
        config: serde_json::json!({
            "url": format!("{base_url}/root"),
            "user": "u",
            "password": "p",
        }),
        remote_local_dir: None,
        raw: None,
    }
}

#[test]
fn corpus_on_webdav_rclone() {
    require("rclone");
    let tmp = tempfile::tempdir().expect("temp dir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(served.join("root")).expect("served root");
    let server = RcloneWebdav::start(&served, "u", "p").expect("rclone serve webdav");
    let target = webdav_target(Server::RcloneWebdav, &server.base_url());
    run(300, round_trip(&target, tmp.path()));
}

#[test]
fn corpus_on_webdav_wsgidav() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(served.join("root")).expect("served root");
    let server = WsgiDav::start(&served, "u", "p", WsgiAuth::Basic).expect("wsgidav");
    let target = webdav_target(Server::WsgiDav, &server.base_url());
    run(300, round_trip(&target, tmp.path()));
}

/// The corpus on an S3 server; `unsigned_writes` when it takes unsigned PUTs, so keys our
/// backend refuses to write can be placed as another client would.
fn s3_corpus(kind: S3Kind, server: Server) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let running = kind.start(&tmp.path().join("s3-data"));
    let (access, secret) = kind.credentials();
    let config = serde_json::json!({
        "endpoint": running.base_url(),
        "bucket": "odd-names",
        "prefix": "root",
        "region": "us-east-1",
        "access_key": access,
        "secret_key": secret,
    });
    let raw =
        (kind == S3Kind::Moto).then(|| Raw::S3(running.port, "odd-names".into(), "root".into()));
    run(300, async {
        cloudsync_providers::s3::S3::from_config(&config)
            .expect("backend")
            .create_bucket()
            .await
            .expect("bucket");
        let target = Target {
            server,
            provider: "s3",
            config,
            remote_local_dir: None,
            raw,
        };
        round_trip(&target, tmp.path()).await;
    });
}

#[test]
fn corpus_on_s3_moto() {
    s3_corpus(S3Kind::Moto, Server::Moto);
}

#[test]
fn corpus_on_s3_s3rver() {
    s3_corpus(S3Kind::S3rver, Server::S3rver);
}

const EMULATOR_TOKEN: &str = "odd-names-token";

/// The corpus on a provider's in-process emulator, with the connection `config` (and the
/// other client `raw`) made for its address.
fn emulator_corpus(
    provider: Provider,
    server: Server,
    name: &'static str,
    config: impl FnOnce(&Emulator) -> (serde_json::Value, Option<Raw>),
) {
    let tmp = tempfile::tempdir().expect("temp dir");
    run(120, async {
        let emu = emulator_accepting(provider, EMULATOR_TOKEN).await;
        if provider == Provider::Baidu {
            // listall is limited to a few calls a minute; the corpus lists far more often
            // (the limit has its own test in tests/tests/baidu.rs).
            let r = reqwest::Client::new()
                .post(format!("{}/__emulator/baidu/settings", emu.base_url))
                .json(&serde_json::json!({"listall_per_minute": 0}))
                .send()
                .await
                .expect("emulator settings");
            assert_eq!(r.status().as_u16(), 204, "lifting the listall limit");
        }
        let (config, raw) = config(&emu);
        let target = Target {
            server,
            provider: name,
            config,
            remote_local_dir: None,
            raw,
        };
        round_trip(&target, tmp.path()).await;
        emu.stop().await;
    });
}

/// The Dropbox root: its final `Σ` lowercases differently in Rust (`ς`) and in Dropbox's
/// `path_lower` (`σ`), so every entry's place below it is found by Dropbox's folding.
const DROPBOX_ROOT: &str = "/CloudSync \u{39c}\u{391}\u{3a3}";

#[test]
fn corpus_on_dropbox_emulator() {
    emulator_corpus(Provider::Dropbox, Server::Dropbox, "dropbox", |emu| {
        let config = serde_json::json!({
            "api_base": emu.base_url,
            "access_token": EMULATOR_TOKEN,
            "root": DROPBOX_ROOT,
        });
        let raw = Raw::Dropbox(
            emu.base_url.clone(),
            EMULATOR_TOKEN.into(),
            DROPBOX_ROOT.into(),
        );
        (config, Some(raw))
    });
}

#[test]
fn corpus_on_gdrive_emulator() {
    emulator_corpus(Provider::Gdrive, Server::GoogleDrive, "gdrive", |emu| {
        let config = serde_json::json!({
            "api_base": emu.base_url,
            "app_key": "odd-names",
            "access_token": EMULATOR_TOKEN,
            "root": "CloudSync",
        });
        let raw = Raw::Drive(emu.base_url.clone(), EMULATOR_TOKEN.into());
        (config, Some(raw))
    });
}

#[test]
fn corpus_on_baidu_emulator() {
    emulator_corpus(Provider::Baidu, Server::Baidu, "baidu", |emu| {
        let config = serde_json::json!({
            "app_name": "CloudSync",
            "api_base": emu.base_url,
            "access_token": EMULATOR_TOKEN,
            "listall_per_minute": 0,
        });
        let raw = Raw::Baidu(
            emu.base_url.clone(),
            EMULATOR_TOKEN.into(),
            "/apps/CloudSync".into(),
        );
        (config, Some(raw))
    });
}
