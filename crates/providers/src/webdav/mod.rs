//! The WebDAV backend (RFC 4918), over one keep-alive HTTP/1.1 client.
//!
//! - Authentication: Basic, or Digest (MD5/SHA-256, `qop=auth`) for servers offering
//!   only Digest (`auth.rs`). HTTPS trusts the system roots plus an optional `ca_file`
//!   (`tls.rs`).
//! - Listing: one `PROPFIND Depth: infinity` where the server allows it, else a walk of
//!   `Depth: 1` PROPFINDs (`listing.rs`); `getetag` is the revision, `getlastmodified` the
//!   mtime; there is no content hash.
//! - Uploads `PUT` a `.cloudsync-tmp-*` file beside the target and `MOVE` it into place
//!   (`Overwrite: F` for a new file). A replacement re-checks the ETag first (some servers
//!   ignore `If-Match`); when a one-time probe shows the server honours `If-Match` on a
//!   `MOVE` source, the old version is also moved aside with `If-Match` before the new one
//!   moves in, so a change racing the check is caught by the server itself.
//! - Downloads resume a broken body with `Range`/`If-Range` (`download.rs`).
//! - Deletes are moves into `.cloudsync-trash/YYYY-MM-DD/` at the remote root (or, with the
//!   trash turned off, real deletes: see `trash.rs`, which also purges old day folders).
//! - A `.cloudsync-root` marker guards against an empty or wrong root.
//!
//! Not supported: resumed uploads (WebDAV has no standard partial PUT), locks, `auth-int`
//! Digest, client certificates, setting mtimes.

mod auth;
mod download;
mod listing;
mod paths;
pub mod probe;
pub mod propfind;
pub mod tls;
mod trash;
mod upload;

pub use probe::IfMatch;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::capabilities::ProviderRules;
use cloudsync_core::rules::{ROOT_MARKER, TRASH_DIR};
use cloudsync_core::{Capabilities, Kind, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::scan::TEMP_PREFIX;
use cloudsync_engine::secrets::SecretRef;
use percent_encoding::percent_decode_str;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use auth::{Auth, Next};
use paths::{enc, enc_all};
use probe::Probes;
use propfind::{parse_multistatus, Entry, PROPFIND_BODY};

/// Upload chunk size.
const CHUNK: usize = 256 * 1024;

/// Connection options beyond the URL and credentials.
#[derive(Debug, Clone)]
pub struct WebDavOptions {
    /// A PEM file of extra trusted CA certificates (added to the system roots).
    pub ca_file: Option<PathBuf>,
    /// Try `PROPFIND Depth: infinity` for listings (the walk is used when refused).
    pub depth_infinity: bool,
}

impl Default for WebDavOptions {
    fn default() -> Self {
        WebDavOptions {
            ca_file: None,
            depth_infinity: true,
        }
    }
}

/// A WebDAV server folder used as the remote.
#[derive(Debug, Clone)]
pub struct WebDav {
    client: reqwest::Client,
    /// The root collection's URL; its path never ends in `/`.
    root: Url,
    /// The decoded segments of the root's path.
    root_segments: Vec<String>,
    /// Credentials and the scheme the server asked for (shared by clones).
    auth: Arc<Auth>,
    /// What one-time probes found out about the server (shared by clones).
    probes: Arc<Probes>,
    options: WebDavOptions,
}

/// A PROPFIND that failed: refused by the server (status), or another remote error.
#[derive(Debug)]
enum PropfindError {
    Refused(RemoteError),
    Remote(RemoteError),
}

impl From<RemoteError> for PropfindError {
    fn from(e: RemoteError) -> Self {
        PropfindError::Remote(e)
    }
}

/// The error and its sources on one line (reqwest's own message hides the TLS reason).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn other(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::Other(e.to_string())
}

fn map_reqwest(e: reqwest::Error) -> RemoteError {
    let chain = error_chain(&e);
    if e.is_builder() {
        RemoteError::Other(chain)
    } else if e.is_connect() && tls::is_certificate_error(&chain) {
        // An untrusted certificate does not fix itself: not worth retrying.
        RemoteError::Other(format!(
            "TLS certificate not trusted ({chain}); for a private CA, give its PEM file as ca_file"
        ))
    } else {
        // Connect, timeout, request and body errors: the network or server may recover.
        RemoteError::Unavailable(chain)
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

impl WebDav {
    /// A backend for the collection at `url` (plus the optional `root` path below it),
    /// authenticating as `user` (with `password`, when there is one) by Basic or Digest
    /// auth, whichever the server asks for.
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
        WebDav::with_options(url, user, password, root, WebDavOptions::default())
    }

    /// Like [`WebDav::new`], with [`WebDavOptions`].
    ///
    /// # Errors
    /// As [`WebDav::new`]; also [`RemoteError::Other`] for an unusable `ca_file`.
    pub fn with_options(
        url: &str,
        user: &str,
        password: Option<String>,
        root: &str,
        options: WebDavOptions,
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
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(16)
            .user_agent(concat!("CloudSync/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &options.ca_file {
            builder = builder.tls_certs_merge(tls::load_ca_file(path)?);
        }
        let client = builder.build().map_err(|e| {
            RemoteError::Other(format!(
                "cannot set up the HTTP client: {}",
                error_chain(&e)
            ))
        })?;
        Ok(WebDav {
            client,
            root: base,
            root_segments,
            auth: Arc::new(Auth::new(user, password)),
            probes: Arc::new(Probes::default()),
            options,
        })
    }

    /// Builds from `{"url": "...", "user": "...", "password": "..."}` (password optional;
    /// also `"ca_file": "/path/ca.pem"` and `"depth_infinity": false`).
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
        let options = WebDavOptions {
            ca_file: s("ca_file").map(PathBuf::from),
            depth_infinity: config
                .get("depth_infinity")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(true),
        };
        WebDav::with_options(
            url,
            s("user").unwrap_or_default(),
            password,
            s("root").unwrap_or_default(),
            options,
        )
    }

    /// The authentication scheme the server asked for (`None`: not asked yet, or none).
    pub fn auth_scheme(&self) -> Option<&'static str> {
        self.auth.scheme()
    }

    /// The root collection's URL.
    pub fn root_url(&self) -> &Url {
        &self.root
    }

    /// Sends a request with a small replayable body, answering the server's
    /// authentication challenge (once, plus once more for a stale Digest nonce).
    async fn send(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Option<&'static [u8]>,
    ) -> Result<reqwest::Response, RemoteError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let mut rb = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(b) = body {
                rb = rb.body(b);
            }
            let (rb, sent) = self.auth.apply(rb, &method, &url)?;
            let resp = rb.send().await.map_err(map_reqwest)?;
            if resp.status() != StatusCode::UNAUTHORIZED || tries >= 3 {
                return Ok(resp);
            }
            match self.auth.unauthorized(resp.headers(), sent) {
                Next::Retry => continue,
                Next::Refused => return Ok(resp),
            }
        }
    }

    /// Makes sure the authentication scheme is known before a request whose body cannot
    /// be sent twice (an upload).
    async fn ensure_auth(&self) -> Result<(), RemoteError> {
        self.probes
            .auth
            .get_or_try_init(|| async {
                let resp = self.propfind_request(self.url(None, true), "0").await?;
                if resp.status() == StatusCode::UNAUTHORIZED {
                    return Err(map_status(resp.status(), resp.headers(), "PROPFIND /"));
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    async fn propfind_request(
        &self,
        url: Url,
        depth: &'static str,
    ) -> Result<reqwest::Response, RemoteError> {
        let method = Method::from_bytes(b"PROPFIND").map_err(other)?;
        let mut headers = HeaderMap::new();
        headers.insert("Depth", HeaderValue::from_static(depth));
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml; charset=utf-8"),
        );
        self.send(method, url, headers, Some(PROPFIND_BODY.as_bytes()))
            .await
    }

    /// PROPFIND with `depth`; `Ok(None)` when the resource is not there, `Refused` for
    /// other statuses but 401 (which is [`RemoteError::Auth`]).
    async fn propfind_raw(
        &self,
        url: Url,
        depth: &'static str,
    ) -> Result<Option<Vec<Entry>>, PropfindError> {
        let resp = self.propfind_request(url.clone(), depth).await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.as_u16() != 207 {
            let e = map_status(status, resp.headers(), &format!("PROPFIND {}", url.path()));
            // Anything but bad credentials or a request to slow down counts as a refusal
            // (servers answer an unwelcome `Depth: infinity` with 403, 400 or even 500).
            return Err(match status.as_u16() {
                401 | 429 => PropfindError::Remote(e),
                _ => PropfindError::Refused(e),
            });
        }
        let body = resp.text().await.map_err(map_reqwest)?;
        parse_multistatus(&body)
            .map(Some)
            .map_err(|e| PropfindError::Refused(RemoteError::Other(e)))
    }

    /// PROPFIND with `depth`; `Ok(None)` when the resource is not there.
    async fn propfind(
        &self,
        url: Url,
        depth: &'static str,
    ) -> Result<Option<Vec<Entry>>, RemoteError> {
        self.propfind_raw(url, depth).await.map_err(|e| match e {
            PropfindError::Remote(e) | PropfindError::Refused(e) => e,
        })
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
        self.move_if(from, to, overwrite, None).await
    }

    /// MOVE `from` to `to`, with `If-Match: if_match` on the source when given.
    async fn move_if(
        &self,
        from: Url,
        to: Url,
        overwrite: bool,
        if_match: Option<&str>,
    ) -> Result<(), RemoteError> {
        let method = Method::from_bytes(b"MOVE").map_err(other)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "Destination",
            HeaderValue::from_str(to.as_str()).map_err(other)?,
        );
        headers.insert(
            "Overwrite",
            HeaderValue::from_static(if overwrite { "T" } else { "F" }),
        );
        if let Some(tag) = if_match {
            headers.insert(
                reqwest::header::IF_MATCH,
                HeaderValue::from_str(tag).map_err(other)?,
            );
        }
        let resp = self.send(method, from.clone(), headers, None).await?;
        let status = resp.status();
        if status.is_success() {
            upload::drain(resp).await;
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
            .send(method, url.clone(), HeaderMap::new(), None)
            .await?;
        let status = resp.status();
        if status.is_success() {
            upload::drain(resp).await;
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
            .send(Method::DELETE, url.clone(), HeaderMap::new(), None)
            .await?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            upload::drain(resp).await;
            Ok(())
        } else {
            Err(map_status(
                status,
                resp.headers(),
                &format!("DELETE {}", url.path()),
            ))
        }
    }
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
            self.put_stream(
                self.url(Some(&marker), false),
                &mut src,
                body.len() as u64,
                HeaderMap::new(),
            )
            .await?;
        }
        Ok(())
    }

    async fn list(&self, _previous: &Tree) -> Result<Listing, RemoteError> {
        self.list_tree().await
    }

    async fn child_folders(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        self.folders_in(dir).await
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.download_resuming(node, sink).await
    }

    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        self.upload_file(path, source, size, mtime_ns, replaces)
            .await
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
        if !self.can_move_to(to).await? {
            return Err(RemoteError::Other(format!(
                "this server cannot move entries to names with ';' (it cuts the MOVE \
                 Destination there), so {} cannot be renamed to {to}",
                node.path
            )));
        }
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
        // The trash name is only for people: a server that cannot move to names with ';'
        // gets '_' there instead.
        let base = if self.can_move_to(&base).await? {
            base
        } else {
            base.with_name(&base.name().replace(';', "_"))
                .map_err(other)?
        };
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
