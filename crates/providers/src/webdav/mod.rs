//! The WebDAV backend (RFC 4918), over one keep-alive HTTP/1.1 client with Basic auth.
//!
//! - Listing walks every collection with `PROPFIND Depth: 1` (a bounded number in flight);
//!   `getetag` is the revision, `getlastmodified` the mtime; there is no content hash.
//! - Uploads `PUT` a `.cloudsync-tmp-*` file beside the target and `MOVE` it into place
//!   (`Overwrite: F` for a new file; for a replacement the ETag is re-checked first, since
//!   some servers ignore `If-Match`).
//! - Deletes are moves into `.cloudsync-trash/YYYY-MM-DD/` at the remote root (or, with the
//!   trash turned off, real deletes: see `trash.rs`, which also purges old day folders).
//! - A `.cloudsync-root` marker guards against an empty or wrong root.
//!
//! Not supported: Digest auth, `Depth: infinity` listings, custom CAs, resumed transfers.

pub mod propfind;
mod trash;

use std::io::{Read, Write};
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::capabilities::ProviderRules;
use cloudsync_core::rules::{SkipRule, ROOT_MARKER, TRASH_DIR};
use cloudsync_core::{Capabilities, Kind, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::scan::{is_internal_name, TEMP_PREFIX};
use cloudsync_engine::secrets::SecretRef;
use futures::stream::{FuturesUnordered, StreamExt};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use propfind::{parse_multistatus, Entry, PROPFIND_BODY};

/// Everything but the unreserved characters (RFC 3986) is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How many PROPFINDs a listing keeps in flight.
const LIST_PARALLELISM: usize = 8;
/// Upload chunk size.
const CHUNK: usize = 256 * 1024;

/// A WebDAV server folder used as the remote.
#[derive(Debug, Clone)]
pub struct WebDav {
    client: reqwest::Client,
    /// The root collection's URL; its path never ends in `/`.
    root: Url,
    /// The decoded segments of the root's path.
    root_segments: Vec<String>,
    user: String,
    password: Option<String>,
}

fn other(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::Other(e.to_string())
}

fn map_reqwest(e: reqwest::Error) -> RemoteError {
    if e.is_builder() {
        RemoteError::Other(e.to_string())
    } else {
        // Connect, timeout, request and body errors: the network or server may recover.
        RemoteError::Unavailable(e.to_string())
    }
}

/// Maps an unexpected HTTP status to the engine's error.
fn map_status(status: StatusCode, headers: &HeaderMap, what: &str) -> RemoteError {
    let msg = format!("{what}: HTTP {status}");
    match status.as_u16() {
        401 => RemoteError::Auth(msg),
        404 | 409 | 410 => RemoteError::NotFound(msg),
        412 => RemoteError::Changed(msg),
        423 => RemoteError::Unavailable(msg),
        429 => RemoteError::RateLimited(
            headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok()),
        ),
        507 => RemoteError::QuotaFull(msg),
        500..=599 | 408 => RemoteError::Unavailable(msg),
        _ => RemoteError::Other(msg),
    }
}

/// A spelling of any name that is a valid path component (dots and slashes escaped too).
fn enc_all(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

fn enc(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

impl WebDav {
    /// A backend for the collection at `url` (plus the optional `root` path below it),
    /// authenticating with Basic auth as `user` (with `password`, when there is one).
    ///
    /// # Errors
    /// [`RemoteError::Other`] for a URL that is not `http(s)://...` or a client that cannot
    /// be built.
    pub fn new(
        url: &str,
        user: &str,
        password: Option<String>,
        root: &str,
    ) -> Result<WebDav, RemoteError> {
        let mut base =
            Url::parse(url).map_err(|e| RemoteError::Other(format!("bad URL {url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(RemoteError::Other(format!(
                "WebDAV URL must be http:// or https://, got {url:?}"
            )));
        }
        base.set_query(None);
        base.set_fragment(None);
        let mut root_segments: Vec<String> = base
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        root_segments.extend(
            root.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        let path: String = root_segments
            .iter()
            .map(|s| format!("/{}", enc(s)))
            .collect();
        base.set_path(if path.is_empty() { "/" } else { &path });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(16)
            .user_agent(concat!("CloudSync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(other)?;
        Ok(WebDav {
            client,
            root: base,
            root_segments,
            user: user.to_string(),
            password,
        })
    }

    /// Builds from `{"url": "...", "user": "...", "password": "..."}` (password optional).
    ///
    /// # Errors
    /// [`RemoteError::Other`] when the config has no usable url.
    pub fn from_config(config: &serde_json::Value) -> Result<WebDav, RemoteError> {
        let s = |k: &str| config.get(k).and_then(|v| v.as_str());
        let url = s("url")
            .ok_or_else(|| RemoteError::Other("webdav backend config needs a \"url\"".into()))?;
        // The stored config names where the password is kept, never the password; an
        // inline one is accepted for tests and scripts that build configs themselves.
        let password = match config.get("password_secret") {
            Some(r) => {
                let r: SecretRef = serde_json::from_value(r.clone()).map_err(|e| {
                    RemoteError::Other(format!("webdav config has a bad password reference: {e}"))
                })?;
                Some(r.resolve().map_err(|e| RemoteError::Auth(e.to_string()))?)
            }
            None => s("password").map(str::to_string),
        };
        WebDav::new(
            url,
            s("user").unwrap_or_default(),
            password,
            s("root").unwrap_or_default(),
        )
    }

    /// The root collection's URL.
    pub fn root_url(&self) -> &Url {
        &self.root
    }

    /// The URL of `rel` below the root (`None`: the root), with a trailing `/` for folders.
    fn url(&self, rel: Option<&RelPath>, dir: bool) -> Url {
        let mut path = self.root.path().trim_end_matches('/').to_string();
        if let Some(rel) = rel {
            for c in rel.components() {
                path.push('/');
                path.push_str(&enc(c));
            }
        }
        if dir || path.is_empty() {
            path.push('/');
        }
        let mut u = self.root.clone();
        u.set_path(&path);
        u
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        self.client
            .request(method, url)
            .basic_auth(&self.user, self.password.as_deref())
    }

    /// PROPFIND with `depth`; `Ok(None)` when the resource is not there.
    async fn propfind(&self, url: Url, depth: &str) -> Result<Option<Vec<Entry>>, RemoteError> {
        let method = Method::from_bytes(b"PROPFIND").map_err(other)?;
        let resp = self
            .request(method, url.clone())
            .header("Depth", depth)
            .header(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml; charset=utf-8"),
            )
            .body(PROPFIND_BODY)
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.as_u16() != 207 {
            return Err(map_status(
                status,
                resp.headers(),
                &format!("PROPFIND {}", url.path()),
            ));
        }
        let body = resp.text().await.map_err(map_reqwest)?;
        parse_multistatus(&body)
            .map(Some)
            .map_err(RemoteError::Other)
    }

    /// The decoded path segments of `href` below the root (`Err(raw)` for a segment that
    /// is not UTF-8 once decoded); `None` when it lies outside the root.
    fn relative_segments(&self, href: &str) -> Option<Vec<Result<String, String>>> {
        let path = match href.find("://") {
            Some(i) => {
                let rest = &href[i + 3..];
                rest.find('/').map_or("/", |j| &rest[j..])
            }
            None => href,
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segs: Vec<Result<String, String>> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_decode_str(s)
                    .decode_utf8()
                    .map(|d| d.into_owned())
                    .map_err(|_| s.to_string())
            })
            .collect();
        let n = self.root_segments.len();
        if segs.len() < n
            || !segs[..n]
                .iter()
                .zip(&self.root_segments)
                .all(|(a, b)| a.as_ref().is_ok_and(|a| a == b))
        {
            return None;
        }
        Some(segs.split_off(n))
    }

    /// Depth 0 on `rel`: the node there, or `None`.
    async fn stat(&self, rel: &RelPath, dir: bool) -> Result<Option<Node>, RemoteError> {
        let entries = self.propfind(self.url(Some(rel), dir), "0").await?;
        let Some(e) = entries.and_then(|v| v.into_iter().next()) else {
            return Ok(None);
        };
        Ok(Some(node_from(rel.clone(), &e)))
    }

    /// Checks that `node` is still there as listed (kind and, for files, ETag).
    async fn expect(&self, node: &Node) -> Result<(), RemoteError> {
        let now = self
            .stat(&node.path, node.kind == Kind::Dir)
            .await?
            .ok_or_else(|| RemoteError::NotFound(node.path.to_string()))?;
        let same = now.kind == node.kind
            && (node.kind == Kind::Dir || node.rev.is_none() || now.rev == node.rev);
        if same {
            Ok(())
        } else {
            Err(RemoteError::Changed(format!(
                "{} changed since it was listed",
                node.path
            )))
        }
    }

    /// MOVE `from` to `to`; `overwrite` sends `Overwrite: T`, else `F`.
    async fn move_to(&self, from: Url, to: Url, overwrite: bool) -> Result<(), RemoteError> {
        let method = Method::from_bytes(b"MOVE").map_err(other)?;
        let resp = self
            .request(method, from.clone())
            .header("Destination", to.as_str())
            .header("Overwrite", if overwrite { "T" } else { "F" })
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(map_status(
            status,
            resp.headers(),
            &format!("MOVE {} -> {}", from.path(), to.path()),
        ))
    }

    /// MKCOL; `Ok(false)` when something is there already (405).
    async fn mkcol(&self, url: Url) -> Result<bool, RemoteError> {
        let method = Method::from_bytes(b"MKCOL").map_err(other)?;
        let resp = self
            .request(method, url.clone())
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        if status.is_success() {
            Ok(true)
        } else if status == StatusCode::METHOD_NOT_ALLOWED {
            Ok(false)
        } else {
            Err(map_status(
                status,
                resp.headers(),
                &format!("MKCOL {}", url.path()),
            ))
        }
    }

    async fn delete_url(&self, url: Url) -> Result<(), RemoteError> {
        let resp = self
            .request(Method::DELETE, url.clone())
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(map_status(
                status,
                resp.headers(),
                &format!("DELETE {}", url.path()),
            ))
        }
    }

    /// PUTs `size` bytes from `source` to `url`, streaming 256 KiB chunks.
    async fn put_stream(
        &self,
        url: Url,
        source: &mut (dyn Read + Send),
        size: u64,
    ) -> Result<(), RemoteError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body_stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let request = self
            .request(Method::PUT, url.clone())
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body_stream))
            .send();
        let producer = async move {
            let mut total = 0u64;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = match source.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let kind = e.kind();
                        let text = e.to_string();
                        let _ = tx.send(Err(e)).await;
                        return Err(std::io::Error::new(kind, text));
                    }
                };
                if n == 0 {
                    break;
                }
                total += n as u64;
                if total > size {
                    break;
                }
                buf.truncate(n);
                if tx.send(Ok(buf)).await.is_err() {
                    // The request ended early; its own error tells why.
                    return Ok(total);
                }
            }
            if total != size {
                let e = || {
                    std::io::Error::other(format!(
                        "source changed during upload: expected {size} bytes, read {total}"
                    ))
                };
                let _ = tx.send(Err(e())).await;
                return Err(e());
            }
            Ok(total)
        };
        let (produced, response) = tokio::join!(producer, request);
        produced?;
        let resp = response.map_err(map_reqwest)?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(map_status(
                status,
                resp.headers(),
                &format!("PUT {}", url.path()),
            ))
        }
    }

    /// Places the uploaded temp file at `path`, checking `replaces` first.
    async fn place(
        &self,
        temp: Url,
        path: &RelPath,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let target = self.url(Some(path), false);
        match replaces {
            None => self.move_to(temp, target, false).await?,
            Some(old) => {
                let now = self.stat(path, false).await?.ok_or_else(|| {
                    RemoteError::Changed(format!("{path} was removed since it was listed"))
                })?;
                if now.kind != Kind::File || now.rev != old.rev {
                    return Err(RemoteError::Changed(format!(
                        "{path} changed since it was listed"
                    )));
                }
                self.move_to(temp, target, true).await?;
            }
        }
        self.stat(path, false)
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("{path} vanished after upload")))
    }

    /// Lists the direct children of the collection `dir` (`None`: the root).
    async fn list_dir(&self, dir: Option<RelPath>) -> Result<DirListing, RemoteError> {
        let entries = self
            .propfind(self.url(dir.as_ref(), true), "1")
            .await?
            .ok_or_else(|| {
                RemoteError::NotFound(match &dir {
                    Some(d) => format!("folder {d} vanished during listing"),
                    None => format!("remote root {}", self.root),
                })
            })?;
        let depth = dir.as_ref().map_or(0, RelPath::depth);
        let mut out = DirListing::default();
        for e in entries {
            let Some(segs) = self.relative_segments(&e.href) else {
                continue;
            };
            if segs.len() != depth + 1 {
                continue; // the folder itself (or a server answering deeper than asked)
            }
            if segs[..depth].iter().any(Result::is_err) {
                continue;
            }
            match child(dir.as_ref(), &segs[depth]) {
                Child::Valid(p) => out.nodes.push(node_from(p, &e)),
                Child::Invalid(p, detail) => {
                    out.skipped.push((p, SkipRule::InvalidName { detail }));
                }
                Child::Ignored => {}
            }
        }
        Ok(out)
    }
}

/// What a listed name becomes.
#[derive(Debug, PartialEq, Eq)]
enum Child {
    /// A name to sync.
    Valid(RelPath),
    /// A name that is no valid path here, reported under its percent-encoded spelling.
    Invalid(RelPath, String),
    /// An engine-internal name (marker, trash, temp files).
    Ignored,
}

fn child(dir: Option<&RelPath>, seg: &Result<String, String>) -> Child {
    let (raw, detail) = match seg {
        Ok(name) if is_internal_name(name) => return Child::Ignored,
        Ok(name) if !name.contains('/') => match RelPath::child_of(dir, name) {
            Ok(p) => return Child::Valid(p),
            Err(_) => (
                enc_all(name),
                format!("the remote name {name:?} is not a valid name"),
            ),
        },
        Ok(name) => (
            enc_all(name),
            format!("the remote name {name:?} contains a slash"),
        ),
        Err(raw) => (
            raw.clone(),
            "the remote name is not valid UTF-8".to_string(),
        ),
    };
    match RelPath::child_of(dir, &raw) {
        Ok(p) => Child::Invalid(p, detail),
        Err(_) => Child::Ignored,
    }
}

#[derive(Default)]
struct DirListing {
    nodes: Vec<Node>,
    skipped: Vec<(RelPath, SkipRule)>,
}

fn node_from(path: RelPath, e: &Entry) -> Node {
    if e.is_collection {
        let mut n = Node::dir(path, None);
        n.mtime_ns = e.mtime_ns.unwrap_or(0);
        n
    } else {
        Node {
            path,
            kind: Kind::File,
            size: e.size.unwrap_or(0),
            mtime_ns: e.mtime_ns.unwrap_or(0),
            hash: None,
            id: None,
            rev: e.etag.clone(),
        }
    }
}

fn temp_name() -> String {
    format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>())
}

#[async_trait]
impl Remote for WebDav {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hash_kind: None,
            keeps_revisions: false,
            case_insensitive: false,
            change_feed: false,
            rules: ProviderRules::WebDav,
        }
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        let root = self.propfind(self.url(None, true), "0").await?;
        match root.as_ref().and_then(|v| v.first()) {
            Some(e) if e.is_collection => {}
            Some(_) => {
                return Err(RemoteError::NotFound(format!(
                    "{} is not a folder",
                    self.root
                )))
            }
            None => {
                return Err(RemoteError::NotFound(format!(
                    "remote root {} (missing)",
                    self.root
                )))
            }
        }
        let marker = RelPath::from_name(ROOT_MARKER).map_err(other)?;
        match self.stat(&marker, false).await? {
            Some(n) if n.kind == Kind::File => Ok(()),
            _ => Err(RemoteError::NotFound(format!(
                "{} has no {ROOT_MARKER} marker (wrong folder, or not set up)",
                self.root
            ))),
        }
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        let root = self.propfind(self.url(None, true), "0").await?;
        match root.as_ref().and_then(|v| v.first()) {
            Some(e) if e.is_collection => {}
            Some(_) => return Err(RemoteError::Other(format!("{} is not a folder", self.root))),
            None => {
                return Err(RemoteError::NotFound(format!(
                    "remote folder {} (it must exist)",
                    self.root
                )))
            }
        }
        let marker = RelPath::from_name(ROOT_MARKER).map_err(other)?;
        if self.stat(&marker, false).await?.is_none() {
            let body: &[u8] = b"CloudSync remote root. Do not delete.\n";
            let mut src = body;
            self.put_stream(self.url(Some(&marker), false), &mut src, body.len() as u64)
                .await?;
        }
        Ok(())
    }

    async fn list(&self, _previous: &Tree) -> Result<Listing, RemoteError> {
        let mut listing = Listing::default();
        let mut pending: Vec<Option<RelPath>> = vec![None];
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < LIST_PARALLELISM {
                let Some(dir) = pending.pop() else { break };
                in_flight.push(self.list_dir(dir));
            }
            let Some(done) = in_flight.next().await else {
                break;
            };
            let done = done?;
            for n in &done.nodes {
                if n.kind == Kind::Dir {
                    pending.push(Some(n.path.clone()));
                }
            }
            listing.nodes.extend(done.nodes);
            listing.skipped.extend(done.skipped);
        }
        listing.nodes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listing)
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let url = self.url(Some(&node.path), false);
        let mut resp = self
            .request(Method::GET, url)
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(map_status(
                status,
                resp.headers(),
                &format!("GET {}", node.path),
            ));
        }
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let (Some(want), Some(got)) = (&node.rev, &etag) {
            if want.trim_start_matches("W/") != got.trim_start_matches("W/") {
                return Err(RemoteError::Changed(format!(
                    "{} changed since it was listed (ETag {got}, listed {want})",
                    node.path
                )));
            }
        }
        let mut total = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
            total += chunk.len() as u64;
            if total > node.size {
                break;
            }
            sink.write_all(&chunk)?;
        }
        if total != node.size {
            return Err(RemoteError::Changed(format!(
                "{}: got {total} bytes, listed {}",
                node.path, node.size
            )));
        }
        Ok(total)
    }

    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        _mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let temp_rel = path.with_name(&temp_name()).map_err(other)?;
        let temp = self.url(Some(&temp_rel), false);
        let result = match self.put_stream(temp.clone(), source, size).await {
            Ok(()) => self.place(temp.clone(), path, replaces).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            let _ = self.delete_url(temp).await;
        }
        result
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        let created = self.mkcol(self.url(Some(path), true)).await?;
        let node = self.stat(path, true).await?;
        match node {
            Some(n) if n.kind == Kind::Dir => Ok(n),
            Some(_) => Err(RemoteError::Changed(format!("{path} exists as a file"))),
            None if created => Err(RemoteError::NotFound(format!("{path} vanished"))),
            None => Err(RemoteError::NotFound(format!(
                "cannot create {path} (parent missing?)"
            ))),
        }
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.expect(node).await?;
        let dir = node.kind == Kind::Dir;
        self.move_to(
            self.url(Some(&node.path), dir),
            self.url(Some(to), dir),
            false,
        )
        .await?;
        self.stat(to, dir)
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("{to} vanished after the move")))
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect(node).await?;
        let day = cloudsync_engine::trash::day_folder(chrono::Utc::now().timestamp());
        let day_rel = RelPath::new(format!("{TRASH_DIR}/{day}")).map_err(other)?;
        let base = RelPath::new(format!("{day_rel}/{}", node.path)).map_err(other)?;
        // Create the trash folders down to the entry's parent.
        let mut folder = RelPath::from_name(TRASH_DIR).map_err(other)?;
        self.mkcol(self.url(Some(&folder), true)).await?;
        folder = day_rel;
        self.mkcol(self.url(Some(&folder), true)).await?;
        if let Some(parent) = node.path.parent() {
            for c in parent.components() {
                folder = folder.join(c).map_err(other)?;
                self.mkcol(self.url(Some(&folder), true)).await?;
            }
        }
        let dir = node.kind == Kind::Dir;
        for n in 1..1000 {
            let dest = if n == 1 {
                base.clone()
            } else {
                base.with_name(&format!("{}.{n}", base.name()))
                    .map_err(other)?
            };
            match self
                .move_to(
                    self.url(Some(&node.path), dir),
                    self.url(Some(&dest), dir),
                    false,
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(RemoteError::Changed(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(RemoteError::Other(format!(
            "no free name in the trash for {}",
            node.path
        )))
    }

    async fn delete_permanently(&self, node: &Node) -> Result<(), RemoteError> {
        self.delete_now(node).await
    }

    async fn purge_trash(&self, now_secs: i64) -> Result<usize, RemoteError> {
        self.purge_expired_trash(now_secs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_every_reserved_character() {
        let d = WebDav::new("http://127.0.0.1:1/a%20b/root", "u", None, "").expect("valid");
        assert_eq!(d.root_segments, vec!["a b".to_string(), "root".to_string()]);
        let p = RelPath::new("x y/100% #1?&+'é😀").expect("valid path");
        let u = d.url(Some(&p), false);
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:1/a%20b/root/x%20y/100%25%20%231%3F%26%2B%27%C3%A9%F0%9F%98%80"
        );
        let segs = d
            .relative_segments(
                "http://127.0.0.1:1/a%20b/root/x%20y/100%25%20%231%3F%26%2B%27%C3%A9%F0%9F%98%80",
            )
            .expect("below the root");
        assert_eq!(
            segs,
            vec![Ok("x y".to_string()), Ok("100% #1?&+'é😀".to_string())]
        );
        assert_eq!(d.relative_segments("/a b/root/"), Some(Vec::new()));
        assert_eq!(
            d.relative_segments("/a%20b/root/bad%FF"),
            Some(vec![Err("bad%FF".to_string())])
        );
        assert_eq!(d.relative_segments("/elsewhere/x"), None);
        assert_eq!(d.url(None, true).as_str(), "http://127.0.0.1:1/a%20b/root/");
    }

    #[test]
    fn listed_names_are_validated() {
        let dir = RelPath::new("d").expect("valid");
        assert_eq!(
            child(Some(&dir), &Ok("a b.txt".into())),
            Child::Valid(RelPath::new("d/a b.txt").expect("valid"))
        );
        for internal in [".cloudsync-root", ".cloudsync-trash", ".cloudsync-tmp-12"] {
            assert_eq!(child(None, &Ok(internal.into())), Child::Ignored);
        }
        for (bad, shown) in [("..", "d/%2E%2E"), ("a/b", "d/a%2Fb"), (".", "d/%2E")] {
            match child(Some(&dir), &Ok(bad.into())) {
                Child::Invalid(p, _) => assert_eq!(p.as_str(), shown),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(matches!(
            child(None, &Err("x%FF".into())),
            Child::Invalid(p, _) if p.as_str() == "x%FF"
        ));
    }
}
