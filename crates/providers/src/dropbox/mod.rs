//! The Dropbox backend (API v2), built to `reference/provider-apis.md` section 1.
//!
//! - Listing is the change feed (`listing.rs`): one recursive `list_folder` of the root,
//!   then `list_folder/continue` deltas; a `reset` cursor relists; `wait_for_change` is
//!   `list_folder/longpoll`. The cursor and its listing are kept across restarts
//!   ([`crate::feed`]), so a new process continues the feed.
//! - Uploads (`upload.rs`) are conditional (`add` without autorename, `update(rev)` with
//!   `strict_conflict`), one request up to `single_upload_max`, upload sessions above it
//!   with chunks that resume at `incorrect_offset`, and sessions kept by the engine across
//!   restarts. Downloads (`download.rs`) check the rev
//!   and the `content_hash`, and resume with `Range`.
//! - Node hashes are `dropbox:<content_hash>`, revs are Dropbox `rev`s, ids `id:...`;
//!   `client_modified` carries the local mtime (whole seconds).
//! - Requests (`api.rs`) escape `Dropbox-API-Arg` (`arg.rs`), renew an expired token once,
//!   and map errors (`errors.rs`): 429 -> `RateLimited(Retry-After)`,
//!   `too_many_write_operations` -> `RateLimited`, conflicts -> `Changed`, 5xx and broken
//!   connections -> `Unavailable`.
//! - Deletes are `delete_v2` (files with `parent_rev`): Dropbox keeps deleted files
//!   restorable, so no trash folder of ours. A `.cloudsync-root` marker file guards the root.
//!
//! Configuration (`from_config`), all optional but a token:
//! - `root`: the Dropbox folder synced, default `/CloudSync` (`""` or `/`: the whole
//!   Dropbox, or the app folder for an app-folder app key);
//! - `api_base`: one URL replacing every Dropbox host (api, content, notify and the token
//!   endpoint), for the emulator;
//! - `app_key` and `token_secret` (a `SecretRef` to the stored tokens of the PKCE sign-in,
//!   see [`crate::oauth::stored`]): an expired access token is renewed with the refresh
//!   token (no secret: PKCE), once per refusal; an inline `access_token` instead is used
//!   as it is (scripts, and the account check before a connection is saved);
//! - `single_upload_max` (bytes, default 16 MiB, at most 150 MiB) and `chunk_size` (bytes,
//!   a multiple of 4 MiB, default 8 MiB): each upload holds one chunk in memory, and a broken
//!   connection costs at most one chunk.

mod api;
mod arg;
pub mod content_hash;
mod download;
mod errors;
mod listing;
mod upload;

pub use api::Hosts;
pub use arg::header_safe_json;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::capabilities::ProviderRules;
use cloudsync_core::rules::ROOT_MARKER;
use cloudsync_core::{Capabilities, Kind, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::sessions::UploadSessions;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::auth::TokenSource;
use crate::oauth::stored::token_source_from_config;
use crate::oauth::OAuthApp;
use api::Api;
use errors::CallError;
use listing::{apply, classify, node_from, ListState, Root};

/// The most one request may carry.
pub const MAX_REQUEST: u64 = 150 * 1024 * 1024;
/// Upload session chunks are multiples of this.
pub const CHUNK_UNIT: usize = 4 * 1024 * 1024;
/// Entries per listing page.
const PAGE: u64 = 2000;

/// Transfer sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropboxOptions {
    /// Files up to this size go in one request.
    pub single_upload_max: u64,
    /// Upload session chunk size (a multiple of 4 MiB).
    pub chunk: usize,
}

impl Default for DropboxOptions {
    fn default() -> Self {
        DropboxOptions {
            single_upload_max: 16 * 1024 * 1024,
            chunk: 2 * CHUNK_UNIT,
        }
    }
}

/// A Dropbox folder used as the remote.
pub struct Dropbox {
    api: Api,
    root: Root,
    options: DropboxOptions,
    state: Mutex<Option<ListState>>,
    /// Where upload sessions are kept across restarts (given by the engine).
    sessions: std::sync::OnceLock<Arc<dyn UploadSessions>>,
    /// Longpoll asked to back off until then.
    backoff_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// The listing state kept across restarts.
    feed: crate::feed::FeedKeeper,
}

impl std::fmt::Debug for Dropbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dropbox")
            .field("api", &self.api)
            .field("root", &self.root)
            .field("options", &self.options)
            .finish()
    }
}

impl Dropbox {
    /// A backend for the folder `root` on `hosts`, with tokens from `tokens`.
    ///
    /// # Errors
    /// Bad options, or the HTTP client cannot be built.
    pub fn new(
        hosts: Hosts,
        tokens: Arc<dyn TokenSource>,
        root: &str,
        options: DropboxOptions,
    ) -> Result<Dropbox, RemoteError> {
        if options.chunk == 0
            || !options.chunk.is_multiple_of(CHUNK_UNIT)
            || options.chunk as u64 > MAX_REQUEST
        {
            return Err(RemoteError::Other(format!(
                "dropbox chunk_size must be a multiple of 4 MiB up to 150 MiB, not {}",
                options.chunk
            )));
        }
        if options.single_upload_max > MAX_REQUEST {
            return Err(RemoteError::Other(
                "dropbox single_upload_max cannot exceed 150 MiB".into(),
            ));
        }
        Ok(Dropbox {
            api: Api::new(hosts, tokens)?,
            root: Root::new(root),
            options,
            state: Mutex::new(None),
            sessions: std::sync::OnceLock::new(),
            backoff_until: std::sync::Mutex::new(None),
            feed: crate::feed::FeedKeeper::default(),
        })
    }

    /// Builds from the JSON config described in the module documentation.
    ///
    /// # Errors
    /// [`RemoteError::Other`] for a config without a usable token or with bad sizes;
    /// [`RemoteError::Auth`] when the secret cannot be read.
    pub fn from_config(config: &serde_json::Value) -> Result<Dropbox, RemoteError> {
        let s = |k: &str| config.get(k).and_then(Value::as_str);
        let hosts = match s("api_base") {
            Some(base) => Hosts::single(base),
            None => Hosts::dropbox(),
        };
        let app = OAuthApp::dropbox(s("api_base"), s("app_key").unwrap_or_default());
        let tokens = token_source_from_config(config, app)?;
        let size = |k: &str| config.get(k).and_then(Value::as_u64);
        let defaults = DropboxOptions::default();
        let options = DropboxOptions {
            single_upload_max: size("single_upload_max").unwrap_or(defaults.single_upload_max),
            chunk: size("chunk_size")
                .map(|c| usize::try_from(c).unwrap_or(usize::MAX))
                .unwrap_or(defaults.chunk),
        };
        Dropbox::new(hosts, tokens, s("root").unwrap_or("/CloudSync"), options)
    }

    async fn metadata(&self, path: &str) -> Result<Option<Value>, RemoteError> {
        match self
            .api
            .rpc("files/get_metadata", &json!({"path": path}))
            .await
        {
            Ok(m) => Ok(Some(m)),
            Err(e) if e.is(&["path", "not_found"]) => Ok(None),
            Err(e) => Err(e.into_remote(&format!("get_metadata {path}"))),
        }
    }

    /// Lists the root from scratch.
    async fn full_list(&self) -> Result<ListState, RemoteError> {
        let first = self
            .api
            .rpc(
                "files/list_folder",
                &json!({"path": self.root.display, "recursive": true, "limit": PAGE}),
            )
            .await
            .map_err(|e| e.into_remote(&format!("list_folder {}", self.root.display)))?;
        let mut state = ListState::default();
        self.apply_pages(&mut state, first)
            .await
            .map_err(|e| e.into_remote("list_folder/continue"))?;
        Ok(state)
    }

    /// Applies a `ListFolderResult` and the pages after it; returns how many entries came.
    async fn apply_pages(
        &self,
        state: &mut ListState,
        mut page: Value,
    ) -> Result<usize, CallError> {
        let mut entries = 0;
        loop {
            for entry in page
                .get("entries")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                entries += 1;
                let change = classify(&self.root, entry, state);
                if apply(state, change).is_err() {
                    return Err(CallError::Remote(RemoteError::NotFound(format!(
                        "the remote root {} was deleted",
                        self.root.display
                    ))));
                }
            }
            state.cursor = cursor_of(&page)?;
            match self.next_page(&page).await? {
                Some(next) => page = next,
                None => return Ok(entries),
            }
        }
    }

    /// The page after `page` (`list_folder/continue` with its cursor), or `None` when it
    /// was the last.
    async fn next_page(&self, page: &Value) -> Result<Option<Value>, CallError> {
        if page.get("has_more").and_then(Value::as_bool) != Some(true) {
            return Ok(None);
        }
        let cursor = cursor_of(page)?;
        let next = self
            .api
            .rpc("files/list_folder/continue", &json!({"cursor": cursor}))
            .await?;
        Ok(Some(next))
    }

    /// The folders directly inside `dir`: a `list_folder` that is not recursive, paged.
    async fn folders_in(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        let path = dir.map_or_else(|| self.root.display.clone(), |d| self.root.path_of(d));
        let fail = |e: CallError| e.into_remote(&format!("list_folder {path}"));
        let mut page = self
            .api
            .rpc(
                "files/list_folder",
                &json!({"path": path, "recursive": false, "limit": PAGE}),
            )
            .await
            .map_err(fail)?;
        let mut names = Vec::new();
        loop {
            let entries = page.get("entries").and_then(Value::as_array);
            for entry in entries.into_iter().flatten() {
                if entry.get(".tag").and_then(Value::as_str) == Some("folder") {
                    if let Some(name) = entry.get("name").and_then(Value::as_str) {
                        names.push(name.to_string());
                    }
                }
            }
            match self.next_page(&page).await.map_err(fail)? {
                Some(next) => page = next,
                None => return Ok(names),
            }
        }
    }

    /// Moves with `move_v2`; the answer's metadata.
    async fn relocate(&self, from: &str, to: &str) -> Result<Value, RemoteError> {
        let m = self
            .api
            .rpc(
                "files/move_v2",
                &json!({"from_path": from, "to_path": to, "autorename": false}),
            )
            .await
            .map_err(|e| e.into_remote(&format!("move {from} -> {to}")))?;
        m.get("metadata")
            .cloned()
            .ok_or_else(|| RemoteError::Unavailable("move_v2 answered without metadata".into()))
    }
}

/// The cursor a `ListFolderResult` ends with.
fn cursor_of(page: &Value) -> Result<String, RemoteError> {
    page.get("cursor")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| RemoteError::Unavailable("a listing without a cursor".into()))
}

#[async_trait]
impl Remote for Dropbox {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hash_kind: Some("dropbox".into()),
            keeps_revisions: true,
            case_insensitive: true,
            change_feed: true,
            rules: ProviderRules::Dropbox,
        }
    }

    fn attach_upload_sessions(&self, sessions: Arc<dyn UploadSessions>) {
        // Attached once, when the engine opens the remote.
        let _ = self.sessions.set(sessions);
    }

    fn attach_feed_states(&self, feed: Arc<dyn cloudsync_engine::feed::FeedStates>) {
        self.feed.attach(feed);
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        if !self.root.display.is_empty() {
            match self.metadata(&self.root.display).await? {
                Some(m) if m.get(".tag").and_then(Value::as_str) == Some("folder") => {}
                Some(_) => {
                    return Err(RemoteError::NotFound(format!(
                        "{} is not a folder",
                        self.root.display
                    )))
                }
                None => {
                    return Err(RemoteError::NotFound(format!(
                        "remote root {} (missing)",
                        self.root.display
                    )))
                }
            }
        }
        let marker = format!("{}/{ROOT_MARKER}", self.root.display);
        match self.metadata(&marker).await? {
            Some(m) if m.get(".tag").and_then(Value::as_str) == Some("file") => Ok(()),
            _ => Err(RemoteError::NotFound(format!(
                "{} has no {ROOT_MARKER} marker (wrong folder, or not set up)",
                self.root.display
            ))),
        }
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        if !self.root.display.is_empty() {
            self.mkdir_path(&self.root.display).await?;
        }
        let marker = format!("{}/{ROOT_MARKER}", self.root.display);
        if self.metadata(&marker).await?.is_none() {
            let body: &[u8] = b"CloudSync remote root. Do not delete.\n";
            let arg = json!({"path": marker, "mode": "add", "autorename": false, "mute": true});
            match self
                .api
                .upload("files/upload", &arg, bytes::Bytes::from_static(body))
                .await
            {
                Ok(_) => {}
                Err(e) if e.is(&["path", "conflict"]) => {}
                Err(e) => return Err(e.into_remote(&format!("upload {marker}"))),
            }
        }
        Ok(())
    }

    async fn child_folders(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        self.folders_in(dir).await
    }

    async fn list(&self, _previous: &Tree) -> Result<Listing, RemoteError> {
        let mut guard = self.state.lock().await;
        // After a restart, the saved position stands in for the one in memory.
        let known = guard.take().or_else(|| self.feed.load(&self.root.lower));
        let (state, changed) = match known {
            None => (self.full_list().await?, true),
            Some(mut state) => {
                let page = self
                    .api
                    .rpc(
                        "files/list_folder/continue",
                        &json!({"cursor": state.cursor}),
                    )
                    .await;
                let applied = match page {
                    Ok(page) => self.apply_pages(&mut state, page).await,
                    Err(e) => Err(e),
                };
                match applied {
                    Ok(entries) => (state, entries > 0),
                    Err(e) if e.is(&["reset"]) => {
                        // The cursor is no longer valid: list again, never read it as deletes.
                        tracing::info!(
                            root = self.root.display,
                            "Dropbox cursor reset; listing again"
                        );
                        (self.full_list().await?, true)
                    }
                    Err(e) => {
                        // A half-applied page leaves the state unknown: start again from the
                        // saved position (or a full listing) next time.
                        return Err(e.into_remote("list_folder/continue"));
                    }
                }
            }
        };
        self.feed.listed(&self.root.lower, &state, changed);
        let listing = Listing {
            nodes: state.nodes.values().cloned().collect(),
            skipped: state.skipped.values().cloned().collect(),
        };
        *guard = Some(state);
        Ok(listing)
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.download_file(node, sink).await
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
        let meta = self.mkdir_path(&self.root.path_of(path)).await?;
        upload::same_name(path, &meta)?;
        node_from(path.clone(), &meta)
            .ok_or_else(|| RemoteError::Other(format!("{path}: not a folder")))
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        let from = self.root.path_of(&node.path);
        let dest = self.root.path_of(to);
        let now = self
            .metadata(&from)
            .await?
            .ok_or_else(|| RemoteError::NotFound(from.clone()))?;
        let same_kind = matches!(
            (now.get(".tag").and_then(Value::as_str), node.kind),
            (Some("file"), Kind::File) | (Some("folder"), Kind::Dir)
        );
        let same_rev = node.kind == Kind::Dir
            || node.rev.is_none()
            || now.get("rev").and_then(Value::as_str) == node.rev.as_deref();
        if !same_kind || !same_rev {
            return Err(RemoteError::Changed(format!(
                "{from} changed since it was listed"
            )));
        }
        let meta = if listing::lower(&from) == listing::lower(&dest) {
            // Dropbox does not do case-only renames: go through a temporary name.
            let tmp = format!(
                "{}/{}{:016x}",
                self.root
                    .path_of(to)
                    .rsplit_once('/')
                    .map(|(p, _)| p)
                    .unwrap_or(""),
                cloudsync_engine::scan::TEMP_PREFIX,
                rand::random::<u64>()
            );
            self.relocate(&from, &tmp).await?;
            match self.relocate(&tmp, &dest).await {
                Ok(m) => m,
                Err(e) => {
                    // Put it back under its old name rather than leave the temporary one.
                    let _ = self.relocate(&tmp, &from).await;
                    return Err(e);
                }
            }
        } else {
            self.relocate(&from, &dest).await?
        };
        node_from(to.clone(), &meta)
            .ok_or_else(|| RemoteError::Other(format!("{dest}: unexpected move answer")))
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        let path = self.root.path_of(&node.path);
        let mut arg = json!({"path": path});
        if node.kind == Kind::File {
            if let Some(rev) = &node.rev {
                arg["parent_rev"] = json!(rev);
            }
        }
        match self.api.rpc("files/delete_v2", &arg).await {
            Ok(_) => Ok(()),
            Err(e) if e.is(&["path_lookup", "not_found"]) => Ok(()),
            Err(e) => Err(e.into_remote(&format!("delete {path}"))),
        }
    }

    async fn wait_for_change(&self, timeout: Duration) -> Result<bool, RemoteError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let backoff = *self
            .backoff_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(until) = backoff {
            tokio::time::sleep_until(until.min(deadline)).await;
        }
        let cursor = self.state.lock().await.as_ref().map(|s| s.cursor.clone());
        let Some(cursor) = cursor else {
            // Nothing listed yet: there is no cursor to wait on.
            tokio::time::sleep_until(deadline).await;
            return Ok(false);
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let secs = left.as_secs().clamp(30, 480);
        match tokio::time::timeout(left, self.api.longpoll(&cursor, secs)).await {
            Err(_) => Ok(false),
            Ok(Ok(answer)) => {
                if let Some(b) = answer.get("backoff").and_then(Value::as_u64) {
                    *self
                        .backoff_until
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(tokio::time::Instant::now() + Duration::from_secs(b));
                }
                Ok(answer
                    .get("changes")
                    .and_then(Value::as_bool)
                    .unwrap_or(false))
            }
            // A reset cursor: the next listing starts over, so report a change.
            Ok(Err(e)) if e.is(&["reset"]) => Ok(true),
            Ok(Err(e)) => Err(e.into_remote("list_folder/longpoll")),
        }
    }

    async fn account_id(&self) -> Result<Option<String>, RemoteError> {
        let me = self
            .api
            .rpc("users/get_current_account", &Value::Null)
            .await
            .map_err(|e| e.into_remote("users/get_current_account"))?;
        Ok(me
            .get("account_id")
            .and_then(Value::as_str)
            .map(str::to_string))
    }
}

impl Dropbox {
    /// `create_folder_v2`, accepting a folder that is already there.
    async fn mkdir_path(&self, path: &str) -> Result<Value, RemoteError> {
        match self
            .api
            .rpc(
                "files/create_folder_v2",
                &json!({"path": path, "autorename": false}),
            )
            .await
        {
            Ok(m) => m.get("metadata").cloned().ok_or_else(|| {
                RemoteError::Unavailable("create_folder_v2 without metadata".into())
            }),
            Err(e) if e.is(&["path", "conflict", "folder"]) => self
                .metadata(path)
                .await?
                .filter(|m| m.get(".tag").and_then(Value::as_str) == Some("folder"))
                .ok_or_else(|| RemoteError::Changed(format!("{path} vanished"))),
            Err(e) => Err(e.into_remote(&format!("create_folder {path}"))),
        }
    }
}
