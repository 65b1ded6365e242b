//! The S3-compatible backend (AWS S3, MinIO, moto, ...), path-style requests to a custom
//! endpoint, built on `object_store` (feature `aws`) plus a small SigV4 client.
//!
//! - The remote root is `bucket` + `prefix`; a `<prefix>/.cloudsync-root` marker object
//!   guards against a wrong or empty root.
//! - Listing is a recursive `ListObjectsV2` (raw keys, URL-encoded on the wire). Folders are
//!   zero-byte `dir/` marker objects (as other tools write them) and the folders implied by
//!   keys; the ETag is the revision (it is an MD5 only for single-part uploads, so there is
//!   no content hash) and `LastModified` (whole seconds) the mtime.
//! - Uploads up to 8 MiB are one `PUT`; larger ones a multipart upload with 8 MiB parts read
//!   one after the other from the source. A new file is written with `If-None-Match: *`
//!   (after a `HEAD` that nothing is there, which also covers servers without conditional
//!   writes); a replacement `HEAD`s and compares the ETag, then writes with `If-Match`.
//!   Some servers (s3rver) silently ignore those headers, so before its first write a
//!   backend probes once whether the server honours them (a create-only PUT onto an
//!   existing scratch object must fail with 412); where it does not, the HEAD checks alone
//!   guard writes.
//!   File copies (renames, deletes into the trash) carry `x-amz-copy-source-if-match` and
//!   the delete of the source `If-Match`.
//!   Multipart uploads re-check just before completing (S3 has no atomic check there).
//! - S3 has no rename: a file is copied then deleted; a folder is every object below it
//!   copied, then the sources deleted (not atomic: an interruption leaves both, which the
//!   next listing shows and the engine reconciles).
//! - Deletes copy into `.cloudsync-trash/YYYY-MM-DD/<path>` below the prefix, then delete
//!   (with the trash turned off, just delete: see `trash.rs`, which also purges old days).
//!   The same upkeep aborts multipart uploads abandoned below the prefix (`uploads.rs`).
//!
//! `object_store` handles file transfers (GET, PUT, multipart, HEAD); the SigV4 client
//! handles what `object_store` cannot express: raw listings (keys that are not valid
//! `object_store` paths, `dir/` markers), folder markers, copies and deletes of raw keys,
//! and bucket creation.

mod raw;
mod trash;
mod uploads;
mod xml;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::capabilities::ProviderRules;
use cloudsync_core::rules::{SkipRule, ROOT_MARKER, TRASH_DIR};
use cloudsync_core::{Capabilities, Kind, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::scan::{is_internal_name, TEMP_PREFIX};
use cloudsync_engine::secrets::SecretRef;
use futures::stream::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as OsPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload, RetryConfig, UpdateVersion, WriteMultipart,
};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode};

use raw::{Answer, RawClient};

/// Files up to this size are one PUT; larger ones are uploaded in parts of this size.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// How many copies or deletes a folder operation keeps in flight.
const PARALLEL: usize = 8;

/// Conditional writes not probed yet.
const COND_UNKNOWN: u8 = 0;
/// The server refuses a create-only PUT onto an existing object.
const COND_YES: u8 = 1;
/// The server ignores (or refuses to implement) conditional PUTs.
const COND_NO: u8 = 2;

/// An S3 bucket (and key prefix) used as the remote.
#[derive(Debug, Clone)]
pub struct S3 {
    store: Arc<AmazonS3>,
    raw: RawClient,
    /// `""` or `some/prefix/` (always ending in `/`).
    prefix: String,
    /// Whether the server honours conditional (`If-None-Match`/`If-Match`) writes:
    /// [`COND_UNKNOWN`] until probed, then [`COND_YES`] or [`COND_NO`] (writes are then
    /// guarded by the HEAD checks alone).
    conditional: Arc<AtomicU8>,
    /// Keys with a multipart upload of ours in progress, which the sweep of abandoned
    /// uploads leaves alone whatever start date the server reports for them.
    uploading: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
}

/// Settings of an [`S3`] backend.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    /// `http(s)://host[:port]`.
    pub endpoint: String,
    /// The bucket.
    pub bucket: String,
    /// The key prefix of the root (may be empty).
    pub prefix: String,
    /// The signing region.
    pub region: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
}

fn other(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::Other(e.to_string())
}

/// Maps an S3 answer that is not a success to the engine's error.
fn map_status(a: &Answer, what: &str) -> RemoteError {
    let code = xml::error_code(&a.body).unwrap_or_default();
    let msg = if code.is_empty() {
        format!("{what}: HTTP {}", a.status)
    } else {
        format!("{what}: HTTP {} {code}", a.status)
    };
    classify(Some(a.status.as_u16()), code, &a.headers, msg)
}

fn classify(
    status: Option<u16>,
    code: &str,
    headers: &reqwest::header::HeaderMap,
    msg: String,
) -> RemoteError {
    if code == "SlowDown" {
        return RemoteError::RateLimited(retry_after(headers));
    }
    match status {
        Some(401 | 403) => RemoteError::Auth(msg),
        Some(404) => RemoteError::NotFound(msg),
        Some(409 | 412) => RemoteError::Changed(msg),
        Some(429) => RemoteError::RateLimited(retry_after(headers)),
        Some(503) => RemoteError::RateLimited(retry_after(headers)),
        Some(408 | 500..=599) | None => RemoteError::Unavailable(msg),
        Some(_) => RemoteError::Other(msg),
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Maps an `object_store` error to the engine's error.
fn map_os(e: object_store::Error, what: &str) -> RemoteError {
    use object_store::Error as E;
    let msg = format!("{what}: {e}");
    match e {
        E::NotFound { .. } => RemoteError::NotFound(msg),
        E::Precondition { .. } | E::AlreadyExists { .. } | E::NotModified { .. } => {
            RemoteError::Changed(msg)
        }
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => RemoteError::Auth(msg),
        E::Generic { .. } | E::JoinError { .. } => {
            // The HTTP status only shows in the message ("status code: 503 ...").
            let mut full = msg.clone();
            let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
            while let Some(s) = src {
                full.push_str(&format!(": {s}"));
                src = s.source();
            }
            let status = full
                .find("status code: ")
                .and_then(|i| full.get(i + 13..i + 16).and_then(|s| s.parse::<u16>().ok()));
            let code = if full.contains("SlowDown") {
                "SlowDown"
            } else {
                ""
            };
            classify(status, code, &reqwest::header::HeaderMap::new(), full)
        }
        _ => RemoteError::Other(msg),
    }
}

/// True for an error that says the server does not do conditional writes.
fn not_implemented(e: &object_store::Error) -> bool {
    match e {
        object_store::Error::NotImplemented { .. } | object_store::Error::NotSupported { .. } => {
            true
        }
        object_store::Error::Generic { .. } => {
            let s = format!("{e} {:?}", e);
            s.contains("status code: 501") || s.contains("NotImplemented")
        }
        _ => false,
    }
}

/// ETags compared and stored in one spelling: quoted, no weak prefix.
fn norm_etag(e: &str) -> String {
    format!(
        "\"{}\"",
        e.trim().trim_start_matches("W/").trim_matches('"')
    )
}

fn same_rev(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => norm_etag(a) == norm_etag(b),
        _ => false,
    }
}

fn file_node(path: RelPath, meta: &ObjectMeta) -> Node {
    Node {
        path,
        kind: Kind::File,
        size: meta.size,
        mtime_ns: meta.last_modified.timestamp().saturating_mul(1_000_000_000),
        hash: None,
        id: None,
        rev: meta.e_tag.as_deref().map(norm_etag),
    }
}

/// What a listed key becomes.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    File(RelPath),
    Dir(RelPath),
    Invalid(RelPath, String),
    Ignored,
}

/// Classifies `rest` (a key with the root prefix removed).
fn classify_key(rest: &str) -> Entry {
    let (path, dir) = match rest.strip_suffix('/') {
        Some(p) => (p, true),
        None => (rest, false),
    };
    if path.is_empty() {
        return Entry::Ignored;
    }
    if path.split('/').any(is_internal_name) {
        return Entry::Ignored;
    }
    match RelPath::new(path) {
        Ok(p) if dir => Entry::Dir(p),
        Ok(p) => Entry::File(p),
        Err(e) => {
            let shown = utf8_percent_encode(path, NON_ALPHANUMERIC).to_string();
            match RelPath::from_name(&shown) {
                Ok(p) => Entry::Invalid(
                    p,
                    format!("the remote key {path:?} is not a valid path: {e}"),
                ),
                Err(_) => Entry::Ignored,
            }
        }
    }
}

impl S3 {
    /// A backend for `cfg`.
    ///
    /// # Errors
    /// [`RemoteError::Other`] for an unusable endpoint or bucket.
    pub fn new(cfg: &S3Config) -> Result<S3, RemoteError> {
        if cfg.bucket.is_empty() {
            return Err(RemoteError::Other("S3 config needs a bucket".into()));
        }
        let raw = RawClient::new(
            &cfg.endpoint,
            &cfg.bucket,
            &cfg.region,
            &cfg.access_key,
            &cfg.secret_key,
        )?;
        let options = ClientOptions::new()
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_secs(15))
            .with_timeout(Duration::from_secs(300));
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 2,
            retry_timeout: Duration::from_secs(30),
        };
        let store = AmazonS3Builder::new()
            .with_endpoint(cfg.endpoint.trim_end_matches('/'))
            .with_bucket_name(&cfg.bucket)
            .with_region(&cfg.region)
            .with_access_key_id(&cfg.access_key)
            .with_secret_access_key(&cfg.secret_key)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_client_options(options)
            .with_retry(retry)
            .build()
            .map_err(|e| RemoteError::Other(format!("S3 config: {e}")))?;
        let prefix: Vec<&str> = cfg.prefix.split('/').filter(|s| !s.is_empty()).collect();
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", prefix.join("/"))
        };
        Ok(S3 {
            store: Arc::new(store),
            raw,
            prefix,
            conditional: Arc::new(AtomicU8::new(COND_UNKNOWN)),
            uploading: Arc::default(),
        })
    }

    /// Builds from `{"endpoint", "bucket", "prefix", "region", "access_key",
    /// "secret_key" | "secret_key_secret"}`.
    ///
    /// # Errors
    /// [`RemoteError::Other`] for a config without endpoint or bucket, or with a bad secret
    /// reference; [`RemoteError::Auth`] when the referenced secret cannot be read.
    pub fn from_config(config: &serde_json::Value) -> Result<S3, RemoteError> {
        let s = |k: &str| config.get(k).and_then(|v| v.as_str());
        let need = |k: &str| {
            s(k).map(str::to_string)
                .ok_or_else(|| RemoteError::Other(format!("s3 backend config needs a {k:?}")))
        };
        let secret_key = match config.get("secret_key_secret") {
            Some(r) => {
                let r: SecretRef = serde_json::from_value(r.clone()).map_err(|e| {
                    RemoteError::Other(format!("s3 config has a bad secret key reference: {e}"))
                })?;
                r.resolve().map_err(|e| RemoteError::Auth(e.to_string()))?
            }
            None => s("secret_key").unwrap_or_default().to_string(),
        };
        S3::new(&S3Config {
            endpoint: need("endpoint")?,
            bucket: need("bucket")?,
            prefix: s("prefix").unwrap_or_default().to_string(),
            region: s("region").unwrap_or("us-east-1").to_string(),
            access_key: s("access_key").unwrap_or_default().to_string(),
            secret_key,
        })
    }

    /// Creates the bucket (for tests and setup scripts; succeeds if it is already ours).
    ///
    /// # Errors
    /// The server refused.
    pub async fn create_bucket(&self) -> Result<(), RemoteError> {
        let a = self
            .raw
            .send(Method::PUT, None, &[], &[], Vec::new())
            .await?;
        let code = xml::error_code(&a.body).unwrap_or_default();
        if a.status.is_success() || code == "BucketAlreadyOwnedByYou" {
            Ok(())
        } else if code == "BucketAlreadyExists" {
            // AWS says this when someone else owns the name, but some servers (s3rver)
            // say it to the owner too: the bucket is ours when we may list it.
            self.list_raw("", Some(1))
                .await
                .map(|_| ())
                .map_err(|_| map_status(&a, "CreateBucket"))
        } else {
            Err(map_status(&a, "CreateBucket"))
        }
    }

    /// True once a probe showed that the server honours conditional writes (false before
    /// the first write, and for servers that ignore or refuse them; their writes are
    /// guarded by HEAD checks alone).
    pub fn conditional_writes(&self) -> bool {
        self.conditional.load(Ordering::Relaxed) == COND_YES
    }

    /// Finds out (once per backend) whether the server honours `If-None-Match: *` on PUT:
    /// a scratch object is written, then written again create-only, which must fail with
    /// 412; the scratch object is removed. Its name is internal, so listings never show it.
    ///
    /// # Errors
    /// The server refused the probe's plain writes (credentials, missing bucket, ...).
    pub async fn probe_conditional_writes(&self) -> Result<bool, RemoteError> {
        match self.conditional.load(Ordering::Relaxed) {
            COND_YES => return Ok(true),
            COND_NO => return Ok(false),
            _ => {}
        }
        let key = format!("{}{TEMP_PREFIX}conditional-probe", self.prefix);
        self.put_raw(&key, b"probe".to_vec()).await?;
        let a = self
            .raw
            .send(
                Method::PUT,
                Some(&key),
                &[],
                &[("if-none-match", "*".to_string())],
                b"probe".to_vec(),
            )
            .await;
        let _ = self.delete_raw(&key, None).await;
        let a = a?;
        let code = xml::error_code(&a.body).unwrap_or_default();
        let honoured = if a.status == StatusCode::PRECONDITION_FAILED {
            true
        } else if a.status.is_success()
            || a.status == StatusCode::NOT_IMPLEMENTED
            || code == "NotImplemented"
        {
            false
        } else {
            return Err(map_status(&a, "conditional-write probe"));
        };
        if !honoured {
            tracing::info!(
                "{} ignores conditional writes; relying on HEAD checks",
                self.describe()
            );
        }
        self.conditional
            .store(if honoured { COND_YES } else { COND_NO }, Ordering::Relaxed);
        Ok(honoured)
    }

    /// The key of `rel` below the root.
    fn key(&self, rel: &RelPath) -> String {
        format!("{}{}", self.prefix, rel.as_str())
    }

    fn os_path(&self, key: &str) -> Result<OsPath, RemoteError> {
        OsPath::parse(key).map_err(|e| {
            RemoteError::Other(format!("the key {key:?} cannot be addressed on S3: {e}"))
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.raw.bucket, self.prefix)
    }

    /// Every object whose key starts with `prefix` (raw keys).
    async fn list_raw(
        &self,
        prefix: &str,
        max: Option<usize>,
    ) -> Result<Vec<xml::Object>, RemoteError> {
        Ok(self.list_pages(prefix, max, None).await?.0)
    }

    /// The names of the "folders" one level below `prefix` (which ends in `/` or is
    /// empty): the `CommonPrefixes` of a listing with the `/` delimiter, which also
    /// covers `dir/` marker objects.
    async fn folders_below(&self, prefix: &str) -> Result<Vec<String>, RemoteError> {
        let (_, prefixes) = self.list_pages(prefix, None, Some("/")).await?;
        Ok(prefixes
            .iter()
            .filter_map(|p| p.strip_prefix(prefix)?.strip_suffix('/'))
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// The objects (and, with a `delimiter`, the common prefixes) whose keys start with
    /// `prefix`, all pages, keys decoded.
    async fn list_pages(
        &self,
        prefix: &str,
        max: Option<usize>,
        delimiter: Option<&str>,
    ) -> Result<(Vec<xml::Object>, Vec<String>), RemoteError> {
        let mut out = Vec::new();
        let mut prefixes = Vec::new();
        let mut token: Option<String> = None;
        let max_keys = max.map(|m| m.to_string());
        // A key that is not UTF-8 once decoded keeps its encoded spelling (and fails
        // validation later).
        let decode = |s: String| match percent_decode_str(&s).decode_utf8() {
            Ok(k) => k.into_owned(),
            Err(_) => s,
        };
        loop {
            let mut q: Vec<(&str, &str)> = vec![
                ("list-type", "2"),
                ("prefix", prefix),
                ("encoding-type", "url"),
            ];
            if let Some(d) = delimiter {
                q.push(("delimiter", d));
            }
            if let Some(t) = &token {
                q.push(("continuation-token", t));
            }
            if let Some(m) = &max_keys {
                q.push(("max-keys", m));
            }
            let a = self
                .raw
                .send(Method::GET, None, &q, &[], Vec::new())
                .await?;
            if !a.status.is_success() {
                return Err(map_status(
                    &a,
                    &format!("ListObjectsV2 {}", self.describe()),
                ));
            }
            let page = xml::parse_list(&a.body).map_err(RemoteError::Other)?;
            let encoded = page.encoding.as_deref() == Some("url");
            prefixes.extend(
                page.prefixes
                    .into_iter()
                    .map(|p| if encoded { decode(p) } else { p }),
            );
            for mut o in page.objects {
                if encoded {
                    o.key = decode(std::mem::take(&mut o.key));
                }
                out.push(o);
            }
            if max.is_some_and(|m| out.len() >= m) {
                break;
            }
            match (page.truncated, page.next_token) {
                (true, Some(t)) => token = Some(t),
                _ => break,
            }
        }
        Ok((out, prefixes))
    }

    /// True when the bucket answers; `NotFound` when it is missing.
    async fn marker_present(&self) -> Result<bool, RemoteError> {
        let marker = format!("{}{ROOT_MARKER}", self.prefix);
        let objs = self.list_raw(&marker, Some(1)).await.map_err(|e| match e {
            RemoteError::NotFound(m) => {
                RemoteError::NotFound(format!("bucket {} is missing ({m})", self.raw.bucket))
            }
            e => e,
        })?;
        Ok(objs.iter().any(|o| o.key == marker))
    }

    /// HEAD of a raw key; `None` when it is not there.
    async fn head_raw(&self, key: &str) -> Result<Option<()>, RemoteError> {
        let a = self
            .raw
            .send(Method::HEAD, Some(key), &[], &[], Vec::new())
            .await?;
        if a.status.is_success() {
            Ok(Some(()))
        } else if a.status == StatusCode::NOT_FOUND {
            Ok(None)
        } else {
            Err(map_status(&a, &format!("HEAD {key}")))
        }
    }

    async fn put_raw(&self, key: &str, body: Vec<u8>) -> Result<(), RemoteError> {
        let a = self
            .raw
            .send(Method::PUT, Some(key), &[], &[], body)
            .await?;
        if a.status.is_success() {
            Ok(())
        } else {
            Err(map_status(&a, &format!("PUT {key}")))
        }
    }

    /// CopyObject; with `etag`, only if the source still has it.
    async fn copy_raw(&self, from: &str, to: &str, etag: Option<&str>) -> Result<(), RemoteError> {
        let source = format!(
            "/{}/{}",
            raw::uri_encode(&self.raw.bucket),
            raw::key_encode(from)
        );
        let mut headers = vec![("x-amz-copy-source", source)];
        if let Some(e) = etag {
            headers.push(("x-amz-copy-source-if-match", e.to_string()));
        }
        let a = self
            .raw
            .send(Method::PUT, Some(to), &[], &headers, Vec::new())
            .await?;
        // A copy can fail after the 200 has been sent, with an error in the body.
        if a.status.is_success() && !a.body.contains("<Error>") {
            Ok(())
        } else {
            Err(map_status(&a, &format!("CopyObject {from} -> {to}")))
        }
    }

    /// DeleteObject; with `etag`, only if the object still has it (`If-Match`, which
    /// servers without conditional deletes ignore).
    async fn delete_raw(&self, key: &str, etag: Option<&str>) -> Result<(), RemoteError> {
        let headers: Vec<(&str, String)> = etag
            .map(|e| vec![("if-match", e.to_string())])
            .unwrap_or_default();
        let a = self
            .raw
            .send(Method::DELETE, Some(key), &[], &headers, Vec::new())
            .await?;
        if a.status.is_success() || a.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(map_status(&a, &format!("DELETE {key}")))
        }
    }

    /// The file at `rel`, if there is one.
    async fn head_file(&self, rel: &RelPath) -> Result<Option<Node>, RemoteError> {
        let path = self.os_path(&self.key(rel))?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(file_node(rel.clone(), &meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(map_os(e, &format!("HEAD {rel}"))),
        }
    }

    /// Every raw key below the folder `rel` (its `rel/` marker included).
    async fn keys_below(&self, rel: &RelPath) -> Result<Vec<String>, RemoteError> {
        let p = format!("{}/", self.key(rel));
        Ok(self
            .list_raw(&p, None)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    /// True when something (a file, a marker, or keys below it) is at `rel`.
    async fn occupied(&self, rel: &RelPath) -> Result<bool, RemoteError> {
        if self.head_file(rel).await?.is_some() {
            return Ok(true);
        }
        let p = format!("{}/", self.key(rel));
        Ok(!self.list_raw(&p, Some(1)).await?.is_empty())
    }

    /// Checks that `node` is still there as listed (kind and, for files, ETag).
    async fn expect(&self, node: &Node) -> Result<(), RemoteError> {
        match node.kind {
            Kind::Dir => {
                if self.keys_below(&node.path).await?.is_empty() {
                    return Err(RemoteError::NotFound(format!("folder {}", node.path)));
                }
                Ok(())
            }
            _ => {
                let now = self
                    .head_file(&node.path)
                    .await?
                    .ok_or_else(|| RemoteError::NotFound(node.path.to_string()))?;
                if node.rev.is_none() || same_rev(now.rev.as_deref(), node.rev.as_deref()) {
                    Ok(())
                } else {
                    Err(RemoteError::Changed(format!(
                        "{} changed since it was listed",
                        node.path
                    )))
                }
            }
        }
    }

    /// Copies every key in `keys` (below `from_key`) to the same place below `to_key`,
    /// then deletes the sources.
    async fn move_keys(
        &self,
        keys: Vec<String>,
        from_key: &str,
        to_key: &str,
    ) -> Result<(), RemoteError> {
        let pairs: Vec<(String, String)> = keys
            .into_iter()
            .filter_map(|k| {
                let rest = k.strip_prefix(from_key)?.to_string();
                Some((k, format!("{to_key}{rest}")))
            })
            .collect();
        let copies: Vec<_> = pairs
            .iter()
            .map(|(f, t)| self.copy_raw(f, t, None))
            .collect();
        futures::stream::iter(copies)
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        let deletes: Vec<_> = pairs
            .iter()
            .map(|(f, _)| self.delete_raw(f, None))
            .collect();
        futures::stream::iter(deletes)
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Reads up to `limit` bytes (fewer only at the end of `source`).
    fn read_up_to(source: &mut (dyn Read + Send), limit: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; limit];
        let mut filled = 0;
        while filled < limit {
            match source.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// Checks the target before a write (or the completion of a multipart upload).
    async fn check_target(
        &self,
        path: &RelPath,
        replaces: Option<&Node>,
    ) -> Result<Option<String>, RemoteError> {
        let now = self.head_file(path).await?;
        match (replaces, now) {
            (None, None) => {
                let p = format!("{}/", self.key(path));
                if self.list_raw(&p, Some(1)).await?.is_empty() {
                    Ok(None)
                } else {
                    Err(RemoteError::Changed(format!("{path} exists as a folder")))
                }
            }
            (None, Some(_)) => Err(RemoteError::Changed(format!("{path} exists already"))),
            (Some(_), None) => Err(RemoteError::Changed(format!(
                "{path} was removed since it was listed"
            ))),
            (Some(old), Some(now)) => {
                if same_rev(now.rev.as_deref(), old.rev.as_deref()) {
                    Ok(now.rev)
                } else {
                    Err(RemoteError::Changed(format!(
                        "{path} changed since it was listed"
                    )))
                }
            }
        }
    }

    /// A new file in one request, on a server that enforces `If-None-Match: *`: the
    /// write itself is the check that nothing is there, and its answer's ETag names the
    /// version (one request instead of HEAD, a one-key listing, PUT and HEAD). A folder
    /// made meanwhile under the same name is not checked for; the listing reports such a
    /// pair as skipped, both objects kept.
    async fn create_single(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
    ) -> Result<Node, RemoteError> {
        let data = Self::read_exactly(source, size)?;
        let os = self.os_path(&self.key(path))?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let put = self
            .store
            .put_opts(&os, PutPayload::from(data), opts)
            .await
            .map_err(|e| map_os(e, &format!("PUT {path}")))?;
        match put.e_tag {
            Some(e_tag) => Ok(Node {
                path: path.clone(),
                kind: Kind::File,
                size,
                // The server's Last-Modified arrives with the next listing; the ETag is
                // what identifies the version meanwhile.
                mtime_ns: chrono::Utc::now().timestamp().saturating_mul(1_000_000_000),
                hash: None,
                id: None,
                rev: Some(norm_etag(&e_tag)),
            }),
            None => self
                .head_file(path)
                .await?
                .ok_or_else(|| RemoteError::NotFound(format!("{path} vanished after upload"))),
        }
    }

    /// Reads exactly `size` bytes (one more would mean the file grew while read).
    fn read_exactly(source: &mut (dyn Read + Send), size: u64) -> Result<Vec<u8>, RemoteError> {
        let limit = usize::try_from(size).map_err(other)? + 1;
        let data = Self::read_up_to(source, limit)?;
        if data.len() as u64 != size {
            return Err(RemoteError::Io(std::io::Error::other(format!(
                "source changed during upload: expected {size} bytes, read {}",
                data.len()
            ))));
        }
        Ok(data)
    }

    /// One PUT, conditional where the server supports it.
    async fn put_single(
        &self,
        path: &RelPath,
        data: Vec<u8>,
        etag: Option<String>,
    ) -> Result<(), RemoteError> {
        let os = self.os_path(&self.key(path))?;
        let payload = PutPayload::from(data);
        if self.probe_conditional_writes().await? {
            let mode = match &etag {
                None => PutMode::Create,
                Some(e) => PutMode::Update(UpdateVersion {
                    e_tag: Some(e.clone()),
                    version: None,
                }),
            };
            let opts = PutOptions {
                mode,
                ..PutOptions::default()
            };
            match self.store.put_opts(&os, payload.clone(), opts).await {
                Ok(_) => return Ok(()),
                Err(e) if not_implemented(&e) => {
                    tracing::info!("S3 server has no conditional writes; relying on HEAD checks");
                    self.conditional.store(COND_NO, Ordering::Relaxed);
                }
                Err(e) => return Err(map_os(e, &format!("PUT {path}"))),
            }
        }
        self.store
            .put(&os, payload)
            .await
            .map(|_| ())
            .map_err(|e| map_os(e, &format!("PUT {path}")))
    }

    /// A multipart upload of `size` bytes in `PART_SIZE` parts.
    async fn put_multipart(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        replaces: Option<&Node>,
    ) -> Result<(), RemoteError> {
        let os = self.os_path(&self.key(path))?;
        let _in_progress = uploads::InProgress::new(&self.uploading, self.key(path));
        let upload = self
            .store
            .put_multipart(&os)
            .await
            .map_err(|e| map_os(e, &format!("CreateMultipartUpload {path}")))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let result: Result<(), RemoteError> = async {
            let mut total = 0u64;
            loop {
                let buf = Self::read_up_to(source, PART_SIZE)?;
                if buf.is_empty() {
                    break;
                }
                total += buf.len() as u64;
                if total > size {
                    break;
                }
                w.wait_for_capacity(2)
                    .await
                    .map_err(|e| map_os(e, &format!("UploadPart {path}")))?;
                w.write(&buf);
            }
            if total != size {
                return Err(RemoteError::Io(std::io::Error::other(format!(
                    "source changed during upload: expected {size} bytes, read {total}"
                ))));
            }
            // No conditional completion in object_store: re-check just before it.
            self.check_target(path, replaces).await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => w
                .finish()
                .await
                .map(|_| ())
                .map_err(|e| map_os(e, &format!("CompleteMultipartUpload {path}"))),
            Err(e) => {
                let _ = w.abort().await;
                Err(e)
            }
        }
    }
}

#[async_trait]
impl Remote for S3 {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hash_kind: None,
            keeps_revisions: false,
            case_insensitive: false,
            change_feed: false,
            rules: ProviderRules::S3,
        }
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        if self.marker_present().await? {
            Ok(())
        } else {
            Err(RemoteError::NotFound(format!(
                "{} has no {ROOT_MARKER} marker (wrong bucket or prefix, or not set up)",
                self.describe()
            )))
        }
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        if !self.marker_present().await? {
            let marker = format!("{}{ROOT_MARKER}", self.prefix);
            self.put_raw(&marker, b"CloudSync remote root. Do not delete.\n".to_vec())
                .await?;
        }
        Ok(())
    }

    async fn child_folders(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        let below = dir.map_or_else(|| self.prefix.clone(), |d| format!("{}/", self.key(d)));
        let mut names = self.folders_below(&below).await?;
        names.retain(|n| !cloudsync_engine::scan::is_internal_name(n));
        Ok(names)
    }

    async fn list(&self, _previous: &Tree) -> Result<Listing, RemoteError> {
        let objects = self.list_raw(&self.prefix, None).await?;
        let mut files: BTreeMap<RelPath, Node> = BTreeMap::new();
        let mut dirs: BTreeSet<RelPath> = BTreeSet::new();
        let mut skipped: BTreeMap<RelPath, SkipRule> = BTreeMap::new();
        for o in objects {
            let Some(rest) = o.key.strip_prefix(&self.prefix) else {
                continue;
            };
            match classify_key(rest) {
                Entry::File(p) => {
                    dirs.extend(p.ancestors().into_iter().filter(|a| a != &p));
                    files.insert(
                        p.clone(),
                        Node {
                            path: p,
                            kind: Kind::File,
                            size: o.size,
                            mtime_ns: o.mtime_secs.saturating_mul(1_000_000_000),
                            hash: None,
                            id: None,
                            rev: o.etag.as_deref().map(norm_etag),
                        },
                    );
                }
                Entry::Dir(p) => {
                    dirs.extend(p.ancestors());
                    dirs.insert(p);
                }
                Entry::Invalid(p, detail) => {
                    skipped.insert(p, SkipRule::InvalidName { detail });
                }
                Entry::Ignored => {}
            }
        }
        let mut listing = Listing::default();
        for d in dirs {
            if files.remove(&d).is_some() {
                skipped.insert(
                    d.clone(),
                    SkipRule::InvalidName {
                        detail: format!("{d} is both a file and a folder on S3"),
                    },
                );
            }
            listing.nodes.push(Node::dir(d, None));
        }
        listing.nodes.extend(files.into_values());
        listing.nodes.sort_by(|a, b| a.path.cmp(&b.path));
        listing.skipped = skipped.into_iter().collect();
        Ok(listing)
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let os = self.os_path(&self.key(&node.path))?;
        let opts = GetOptions {
            if_match: node.rev.clone(),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&os, opts)
            .await
            .map_err(|e| map_os(e, &format!("GET {}", node.path)))?;
        let etag = got.meta.e_tag.clone();
        if node.rev.is_some() && !same_rev(etag.as_deref(), node.rev.as_deref()) {
            return Err(RemoteError::Changed(format!(
                "{} changed since it was listed (ETag {etag:?}, listed {:?})",
                node.path, node.rev
            )));
        }
        let mut stream = got.into_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| map_os(e, &format!("GET {}", node.path)))?;
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
        if replaces.is_none() && size <= PART_SIZE as u64 && self.probe_conditional_writes().await?
        {
            return self.create_single(path, source, size).await;
        }
        let etag = self.check_target(path, replaces).await?;
        if size <= PART_SIZE as u64 {
            let data = Self::read_exactly(source, size)?;
            self.put_single(path, data, etag).await?;
        } else {
            self.put_multipart(path, source, size, replaces).await?;
        }
        let node = self
            .head_file(path)
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("{path} vanished after upload")))?;
        if node.size != size {
            return Err(RemoteError::Changed(format!(
                "{path} changed during upload ({} bytes there, {size} sent)",
                node.size
            )));
        }
        Ok(node)
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        if self.head_file(path).await?.is_some() {
            return Err(RemoteError::Changed(format!("{path} exists as a file")));
        }
        let marker = format!("{}/", self.key(path));
        if self.head_raw(&marker).await?.is_none() {
            self.put_raw(&marker, Vec::new()).await?;
        }
        Ok(Node::dir(path.clone(), None))
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.expect(node).await?;
        if self.occupied(to).await? {
            return Err(RemoteError::Changed(format!("{to} exists already")));
        }
        match node.kind {
            Kind::Dir => {
                let from_key = format!("{}/", self.key(&node.path));
                let to_key = format!("{}/", self.key(to));
                let keys = self.keys_below(&node.path).await?;
                // The target gets a marker, so it exists even while its objects move.
                self.put_raw(&to_key, Vec::new()).await?;
                self.move_keys(keys, &from_key, &to_key).await?;
                Ok(Node::dir(to.clone(), None))
            }
            _ => {
                let from = self.key(&node.path);
                let rev = node.rev.as_deref();
                self.copy_raw(&from, &self.key(to), rev).await?;
                self.delete_raw(&from, rev).await?;
                self.head_file(to)
                    .await?
                    .ok_or_else(|| RemoteError::NotFound(format!("{to} vanished after the copy")))
            }
        }
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect(node).await?;
        let day = cloudsync_engine::trash::day_folder(chrono::Utc::now().timestamp());
        let base = RelPath::new(format!("{TRASH_DIR}/{day}/{}", node.path)).map_err(other)?;
        let mut dest = base.clone();
        let mut n = 1;
        while self.occupied(&dest).await? {
            n += 1;
            if n > 1000 {
                return Err(RemoteError::Other(format!(
                    "no free name in the trash for {}",
                    node.path
                )));
            }
            dest = base
                .with_name(&format!("{}.{n}", base.name()))
                .map_err(other)?;
        }
        match node.kind {
            Kind::Dir => {
                let keys = self.keys_below(&node.path).await?;
                self.move_keys(
                    keys,
                    &format!("{}/", self.key(&node.path)),
                    &format!("{}/", self.key(&dest)),
                )
                .await
            }
            _ => {
                let from = self.key(&node.path);
                let rev = node.rev.as_deref();
                self.copy_raw(&from, &self.key(&dest), rev).await?;
                self.delete_raw(&from, rev).await
            }
        }
    }

    async fn delete_permanently(&self, node: &Node) -> Result<(), RemoteError> {
        self.delete_now(node).await
    }

    async fn purge_trash(&self, now_secs: i64) -> Result<usize, RemoteError> {
        // The same hourly upkeep sweeps multipart uploads abandoned below the prefix; a
        // failure there is logged and holds back nothing.
        match self.abort_stale_uploads(now_secs).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(remote = %self.describe(), uploads = n, "aborted abandoned multipart uploads")
            }
            Err(e) => {
                tracing::warn!(remote = %self.describe(), error = %e, "cannot sweep abandoned multipart uploads")
            }
        }
        self.purge_expired_trash(now_secs).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_classified() {
        let p = |s: &str| RelPath::new(s).expect("valid");
        assert_eq!(classify_key("a/b.txt"), Entry::File(p("a/b.txt")));
        assert_eq!(classify_key("a/b/"), Entry::Dir(p("a/b")));
        assert_eq!(classify_key(""), Entry::Ignored);
        assert_eq!(classify_key(".cloudsync-root"), Entry::Ignored);
        assert_eq!(
            classify_key(".cloudsync-trash/2026-01-01/x"),
            Entry::Ignored
        );
        assert_eq!(classify_key("d/.cloudsync-tmp-1"), Entry::Ignored);
        match classify_key("a//b") {
            Entry::Invalid(p, _) => assert_eq!(p.as_str(), "a%2F%2Fb"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify_key("x/../y"), Entry::Invalid(..)));
    }

    #[test]
    fn statuses_map_to_engine_errors() {
        let h = reqwest::header::HeaderMap::new();
        let c = |s: u16, code: &str| classify(Some(s), code, &h, String::new());
        assert!(matches!(c(403, "InvalidAccessKeyId"), RemoteError::Auth(_)));
        assert!(matches!(
            c(403, "SignatureDoesNotMatch"),
            RemoteError::Auth(_)
        ));
        assert!(matches!(c(404, "NoSuchBucket"), RemoteError::NotFound(_)));
        assert!(matches!(
            c(412, "PreconditionFailed"),
            RemoteError::Changed(_)
        ));
        assert!(matches!(c(503, "SlowDown"), RemoteError::RateLimited(_)));
        assert!(matches!(c(429, ""), RemoteError::RateLimited(_)));
        assert!(matches!(
            c(500, "InternalError"),
            RemoteError::Unavailable(_)
        ));
        assert!(matches!(
            classify(None, "", &h, String::new()),
            RemoteError::Unavailable(_)
        ));
        assert_eq!(norm_etag("W/\"abc\""), "\"abc\"");
        assert_eq!(norm_etag("abc"), "\"abc\"");
    }
}
