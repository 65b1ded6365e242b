//! The Google Drive backend (Drive API v3).
//!
//! - Identity is the file id: Drive names are not unique in a folder, so same-named
//!   entries get stable local names (`names.rs`); uploads, renames and deletes address ids.
//! - Listing: a full walk once, then the change feed (`listing.rs`).
//! - Uploads: `multipart` up to [`MULTIPART_MAX`], else resumable sessions in chunks of a
//!   multiple of 256 KiB, resumed after a cut (or a wait after a rate limit) from what Drive
//!   says it holds (`upload.rs`). With the engine's upload-session store attached, a session is saved per file version
//!   and resumed by the next run after a crash.
//!   A replacement first re-reads the file and compares its head revision with the one
//!   the engine saw (Drive has no conditional write: a change landing between that check
//!   and the upload is the race window). When the revision being replaced was not written
//!   by this client (its MD5 differs from the `cloudsyncMd5` app property set on each
//!   upload), it is pinned with `keepForever` first, so a keep-local conflict leaves the
//!   remote change as a kept revision, as the spec asks.
//! - Hashes: `md5Checksum` as `md5:hex` (the kind the engine computes for Drive); the
//!   revision is `headRevisionId`. Downloads stream with `alt=media`, resume a cut body with
//!   `Range`, and are checked against that MD5 (`download.rs`).
//! - `wait_for_change` polls the change feed every [`DEFAULT_CHANGE_POLL`] and reports
//!   changes below the root only.
//! - Deletes move to Drive's trash (`trashed: true`); [`Remote::delete_permanently`] deletes.
//! - Google-native documents (Docs, Sheets, ...) are not synced: they are listed as skipped.
//! - Errors: 403 `userRateLimitExceeded`/`rateLimitExceeded` and 429 are
//!   [`RemoteError::RateLimited`], 5xx and cuts [`RemoteError::Unavailable`]; a 401 renews
//!   the token once and retries.
//!
//! Config (`from_config`): `{"api_base"?: "https://www.googleapis.com", "client_id"
//! (or "app_key", as `cloudsync connection add gdrive` writes it): "...",
//! "client_secret"?: "...", "token_secret": SecretRef, "root": "CloudSync",
//! "chunk_size"?: bytes}`. `api_base` replaces www.googleapis.com and Google's OAuth hosts
//! (tokens are renewed at `{api_base}/token`). The tokens live in the secret as
//! [`crate::oauth::stored`] keeps them (renewed by its token source); an inline
//! `access_token` instead is used as it is (the account check before a connection is
//! saved). `root` is a folder path below My Drive ("" for My Drive itself):
//! `prepare_root` creates it and its `.cloudsync-root` marker for a new connection,
//! `check_root` requires both and never creates anything.

mod api;
mod download;
mod listing;
mod names;
mod ops;
mod upload;

pub use names::duplicate_name;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use cloudsync_core::capabilities::ProviderRules;
use cloudsync_core::{Capabilities, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::sessions::UploadSessions;

use crate::auth::TokenSource;
use crate::oauth::stored::token_source_from_config;
use crate::oauth::OAuthApp;
use api::{Api, DriveFile};

/// Google's API host.
pub const DEFAULT_API_BASE: &str = "https://www.googleapis.com";
/// Files up to this size go up in one `multipart` request.
pub const MULTIPART_MAX: u64 = 5 * 1024 * 1024;
/// Resumable uploads send chunks of this size (a multiple of 256 KiB).
pub const DEFAULT_CHUNK: usize = 8 * 1024 * 1024;
/// `wait_for_change` polls the change feed this often.
pub const DEFAULT_CHANGE_POLL: std::time::Duration = std::time::Duration::from_secs(20);
/// Chunks must be multiples of this.
pub const CHUNK_GRANULARITY: usize = 256 * 1024;

/// What the client knows about the remote between calls.
#[derive(Debug, Default)]
struct State {
    /// Every entry below the root, by id.
    entries: HashMap<String, DriveFile>,
    /// The change feed's next token.
    page_token: Option<String>,
    /// The local path of each listed id.
    paths: HashMap<String, RelPath>,
    /// Path keys → ids.
    ids: HashMap<RelPath, String>,
    /// How far `wait_for_change` has read past `page_token` (changes outside the root).
    peek_token: Option<String>,
}

/// A folder in Google Drive used as the remote.
pub struct GoogleDrive {
    api: Api,
    root_path: Vec<String>,
    root: tokio::sync::Mutex<Option<String>>,
    state: Mutex<State>,
    chunk_size: usize,
    change_poll: std::time::Duration,
    /// Where resumable sessions are kept across restarts (the engine attaches it).
    sessions: Mutex<Option<Arc<dyn UploadSessions>>>,
    /// The listing state kept across restarts.
    feed: crate::feed::FeedKeeper,
}

impl std::fmt::Debug for GoogleDrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleDrive")
            .field("api", &self.api)
            .field("root_path", &self.root_path)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl GoogleDrive {
    /// A backend for the folder `root` ("a/b"; "" for My Drive) at `api_base`, with tokens
    /// from `tokens`.
    ///
    /// # Errors
    /// [`RemoteError::Other`] when the HTTP client cannot be built.
    pub fn new(
        api_base: &str,
        root: &str,
        tokens: Arc<dyn TokenSource>,
    ) -> Result<GoogleDrive, RemoteError> {
        Ok(GoogleDrive {
            api: Api::new(api_base, tokens)?,
            root_path: root
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            root: tokio::sync::Mutex::new(None),
            state: Mutex::new(State::default()),
            chunk_size: DEFAULT_CHUNK,
            change_poll: DEFAULT_CHANGE_POLL,
            sessions: Mutex::new(None),
            feed: crate::feed::FeedKeeper::default(),
        })
    }

    /// Sets the resumable chunk size (rounded down to a multiple of 256 KiB, at least one).
    pub fn with_chunk_size(mut self, bytes: usize) -> GoogleDrive {
        self.chunk_size = (bytes / CHUNK_GRANULARITY).max(1) * CHUNK_GRANULARITY;
        self
    }

    /// Sets how often `wait_for_change` polls the change feed.
    pub fn with_change_poll(mut self, every: std::time::Duration) -> GoogleDrive {
        self.change_poll = every.max(std::time::Duration::from_millis(10));
        self
    }

    /// Builds from the connection config (keys in the module doc).
    ///
    /// # Errors
    /// [`RemoteError::Other`] for a config without a client id, or a bad secret
    /// reference; [`RemoteError::Auth`] when no tokens are stored or they cannot be read.
    pub fn from_config(config: &serde_json::Value) -> Result<GoogleDrive, RemoteError> {
        let s = |k: &str| config.get(k).and_then(|v| v.as_str());
        let client_id = s("client_id").or(s("app_key")).ok_or_else(|| {
            RemoteError::Other("gdrive config needs a \"client_id\" (or \"app_key\")".into())
        })?;
        let api_base = s("api_base").map(|b| b.trim_end_matches('/'));
        let app = OAuthApp::gdrive(api_base, client_id, s("client_secret"));
        let tokens = token_source_from_config(config, app)?;
        let drive = GoogleDrive::new(
            api_base.unwrap_or(DEFAULT_API_BASE),
            s("root").unwrap_or_default(),
            tokens,
        )?;
        Ok(match config.get("chunk_size").and_then(|v| v.as_u64()) {
            Some(n) => drive.with_chunk_size(usize::try_from(n).unwrap_or(DEFAULT_CHUNK)),
            None => drive,
        })
    }

    /// The change feed's saved token (none before the first listing).
    pub fn change_token(&self) -> Option<String> {
        self.state().page_token.clone()
    }

    /// Replaces the change feed's saved token (tools and tests: a token Drive refuses
    /// must lead to a full listing).
    pub fn set_change_token(&self, token: Option<String>) {
        self.state().page_token = token;
    }

    fn upload_sessions(&self) -> Option<Arc<dyn UploadSessions>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Remote for GoogleDrive {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // md5Checksum: documented for every binary file (SHA-256 only "if available").
            hash_kind: Some("md5".into()),
            keeps_revisions: true,
            case_insensitive: false,
            change_feed: true,
            rules: ProviderRules::GoogleDrive,
        }
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        self.check_root_and_marker().await
    }

    async fn list(&self, previous: &Tree) -> Result<Listing, RemoteError> {
        self.list_tree(previous).await
    }

    async fn child_folders(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        let id = self.folder_id(dir).await?;
        let only_folders = format!("mimeType = '{}'", api::FOLDER_MIME);
        let found = self.children(&id, Some(&only_folders)).await?;
        Ok(found.into_iter().map(|f| f.name).collect())
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.download_to(node, sink).await
    }

    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        self.upload_from(path, source, size, mtime_ns, replaces)
            .await
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        self.make_folder(path).await
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.move_to(node, to).await
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.trash(node).await
    }

    async fn delete_permanently(&self, node: &Node) -> Result<(), RemoteError> {
        self.delete_for_good(node).await
    }

    async fn wait_for_change(&self, timeout: std::time::Duration) -> Result<bool, RemoteError> {
        self.poll_for_change(timeout).await
    }

    async fn account_id(&self) -> Result<Option<String>, RemoteError> {
        self.about_user().await
    }

    fn attach_upload_sessions(&self, sessions: Arc<dyn UploadSessions>) {
        *self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sessions);
    }

    fn attach_feed_states(&self, feed: Arc<dyn cloudsync_engine::feed::FeedStates>) {
        self.feed.attach(feed);
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        self.create_root_and_marker().await
    }
}
