//! The `Remote` trait every backend implements, and its errors.
//!
//! A remote is addressed by [`RelPath`]s below its root. Listing returns the whole tree
//! (backends with a change feed may still answer from it); transfers stream through
//! `std::io` readers and writers owned by the engine, so the engine controls temp files,
//! hashing and durability on the local side.

use std::io::{Read, Write};

use async_trait::async_trait;
use cloudsync_core::rules::SkipRule;
use cloudsync_core::{Capabilities, Node, RelPath, Tree};

use crate::error::RetryClass;

/// Errors a backend reports.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The entry is not there.
    #[error("not found on the remote: {0}")]
    NotFound(String),
    /// The remote changed since it was listed (conditional write failed, target exists).
    #[error("remote changed meanwhile: {0}")]
    Changed(String),
    /// Credentials are wrong or expired.
    #[error("remote refused the credentials: {0}")]
    Auth(String),
    /// The remote is full.
    #[error("remote storage is full: {0}")]
    QuotaFull(String),
    /// Too many requests; retry after the given seconds.
    #[error("remote asks to slow down{}", .0.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    RateLimited(Option<u64>),
    /// Network or server trouble that may pass.
    #[error("remote temporarily unavailable: {0}")]
    Unavailable(String),
    /// Anything else, not worth retrying.
    #[error("remote error: {0}")]
    Other(String),
    /// A local I/O error while streaming.
    #[error("I/O error during transfer: {0}")]
    Io(#[from] std::io::Error),
}

impl RemoteError {
    /// How to retry after this error.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            RemoteError::RateLimited(_) | RemoteError::Unavailable(_) => RetryClass::Temporary,
            RemoteError::Changed(_) | RemoteError::NotFound(_) => RetryClass::Temporary,
            RemoteError::Auth(_) | RemoteError::QuotaFull(_) => RetryClass::Persistent,
            RemoteError::Io(e) => crate::error::io_retry_class(e),
            RemoteError::Other(_) => RetryClass::Permanent,
        }
    }
}

/// The result of listing a remote.
#[derive(Debug, Default)]
pub struct Listing {
    /// Every entry the engine may sync.
    pub nodes: Vec<Node>,
    /// Entries left out, with the rule that left them out.
    pub skipped: Vec<(RelPath, SkipRule)>,
}

/// A storage backend.
#[async_trait]
pub trait Remote: Send + Sync {
    /// What the backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Checks that the remote root is there (and, where the backend has one, carries its
    /// marker), so an unmounted share is never read as "everything deleted".
    async fn check_root(&self) -> Result<(), RemoteError>;

    /// Lists everything below the root. `previous` is the last listing, which backends
    /// that hash locally use to skip unchanged files.
    async fn list(&self, previous: &Tree) -> Result<Listing, RemoteError>;

    /// The names of the folders directly inside `dir` (the root for `None`), for a folder
    /// browser. This default lists the whole remote and keeps one level (folder names
    /// compared ignoring ASCII case); backends that can list one level override it, so
    /// browsing a large account stays quick.
    async fn child_folders(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        let want = dir.map(RelPath::as_str).unwrap_or_default();
        let listing = self.list(&Tree::new()).await?;
        Ok(listing
            .nodes
            .iter()
            .filter(|n| n.kind == cloudsync_core::Kind::Dir)
            .filter_map(|n| {
                let full = n.path.as_str();
                let (parent, name) = full.rsplit_once('/').unwrap_or(("", full));
                parent.eq_ignore_ascii_case(want).then(|| name.to_string())
            })
            .collect())
    }

    /// Streams the file `node` into `sink`; returns the bytes written.
    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError>;

    /// Stores `size` bytes from `source` at `path`. With `replaces`, the write only
    /// succeeds if the remote still has that version; without, only if nothing is there.
    /// Returns the new node.
    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError>;

    /// Creates a folder (succeeds if it already exists as a folder).
    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError>;

    /// Moves `node` (with its subtree) to `to`; fails with [`RemoteError::Changed`] if
    /// something is at `to` or `node` changed.
    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError>;

    /// Deletes `node` (a folder with its subtree). Backends whose deletes are permanent
    /// move it to their trash folder instead.
    async fn delete(&self, node: &Node) -> Result<(), RemoteError>;

    /// Deletes `node` for good, bypassing the backend's own trash folder (the user turned
    /// the remote trash off). Backends without a trash folder of ours just delete.
    async fn delete_permanently(&self, node: &Node) -> Result<(), RemoteError> {
        self.delete(node).await
    }

    /// Removes the day folders of the backend's trash folder that are older than
    /// [`crate::trash::KEEP_DAYS`] at `now_secs`; returns how many went.
    async fn purge_trash(&self, now_secs: i64) -> Result<usize, RemoteError> {
        let _ = now_secs;
        Ok(0)
    }

    /// Waits until the backend's push channel (Dropbox's longpoll) reports a change below
    /// the root, returning `Ok(true)`, or `Ok(false)` once `timeout` passed without one.
    /// Backends without a push channel just wait out the timeout.
    async fn wait_for_change(&self, timeout: std::time::Duration) -> Result<bool, RemoteError> {
        tokio::time::sleep(timeout).await;
        Ok(false)
    }

    /// The largest file the signed-in account may store, where the provider's cap is
    /// below the spec's 10 GiB and depends on the account (Baidu: by membership). Read
    /// after [`Remote::check_root`], which is where such a backend learns it; files over it
    /// are skipped with their reason instead of failing every sync.
    fn max_file_size(&self) -> Option<u64> {
        None
    }

    /// The account the credentials belong to (one connection per account), where the
    /// backend signs in to one.
    async fn account_id(&self) -> Result<Option<String>, RemoteError> {
        Ok(None)
    }

    /// Gives the backend a place to keep its resumable upload sessions across restarts
    /// (called once, after the engine opened it). Backends without sessions ignore it.
    fn attach_upload_sessions(
        &self,
        sessions: std::sync::Arc<dyn crate::sessions::UploadSessions>,
    ) {
        let _ = sessions;
    }

    /// Gives the backend a place to keep its change-feed position across restarts (called
    /// once, after the engine opened it). Backends without a cursor ignore it.
    fn attach_feed_states(&self, feed: std::sync::Arc<dyn crate::feed::FeedStates>) {
        let _ = feed;
    }

    /// Prepares a new connection's root (for example writes its marker).
    async fn prepare_root(&self) -> Result<(), RemoteError> {
        Ok(())
    }

    /// Makes completed writes durable (called once per batch).
    async fn flush(&self) -> Result<(), RemoteError> {
        Ok(())
    }
}

/// Builds the remote of a stored connection (implemented by the providers crate).
pub trait RemoteFactory: Send + Sync {
    /// Opens the remote described by `provider` and its JSON `config`.
    ///
    /// # Errors
    /// A config that does not describe a usable remote.
    fn open(
        &self,
        provider: &str,
        config: &serde_json::Value,
    ) -> Result<std::sync::Arc<dyn Remote>, RemoteError>;
}
