//! Engine errors, each with a retry class and a hint a user can act on.

use std::path::PathBuf;

use crate::remote::RemoteError;
use crate::store::StoreError;

/// How a failed operation should be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Retrying soon may work (network blip, busy server).
    Temporary,
    /// Retrying will not help until something changes (full disk or quota, bad
    /// credentials): the connection pauses with the reason.
    Persistent,
    /// The request itself is wrong; do not retry.
    Permanent,
}

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The remote failed.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// A local file operation failed.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// On which path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The local sync root is missing or lacks its marker (an unmounted disk).
    #[error("local folder {0} is missing or not mounted (no .cloudsync-root marker); nothing was changed")]
    LocalRootMissing(PathBuf),
    /// The remote root is missing.
    #[error("remote folder is missing or unreachable: {0}; nothing was changed")]
    RemoteRootMissing(String),
    /// The connection does not exist.
    #[error("no connection named {0:?} (see `cloudsync connection list`)")]
    NoSuchConnection(String),
    /// The user's input is wrong.
    #[error("{0}")]
    Invalid(String),
    /// The plan needs the user's approval first.
    #[error("connection {0:?} is waiting for approval: it would delete {1}; see `cloudsync plan {0}`, then `cloudsync approve {0}`")]
    NeedsApproval(String, String),
    /// Syncing did not converge within the allowed number of rounds; the last field is
    /// the first failure of the last round, if any (`PATH: reason`).
    #[error(
        "connection {0:?} did not converge after {1} rounds; last plan still had {2} operations{failing}",
        failing = .3.as_ref().map(|f| format!("; failing: {f}")).unwrap_or_default()
    )]
    NotConverged(String, usize, usize, Option<String>),
    /// Another engine holds this config dir.
    #[error("another CloudSync engine is running for {0}")]
    Locked(PathBuf),
    /// The connection is paused.
    #[error("connection {0:?} is paused (`cloudsync resume {0}`)")]
    Paused(String),
}

impl EngineError {
    /// The provider refused the stored credentials: only signing in again mends it.
    pub fn is_credentials_refused(&self) -> bool {
        matches!(self, EngineError::Remote(RemoteError::Auth(_)))
    }

    /// How to retry after this error.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            EngineError::Remote(e) => e.retry_class(),
            EngineError::Io { source, .. } => io_retry_class(source),
            EngineError::Store(_) => RetryClass::Temporary,
            EngineError::LocalRootMissing(_) | EngineError::RemoteRootMissing(_) => {
                RetryClass::Persistent
            }
            _ => RetryClass::Permanent,
        }
    }

    pub(crate) fn io(
        context: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        EngineError::Io {
            context,
            path: path.into(),
            source,
        }
    }
}

/// Full disks and quota errors do not go away by retrying.
pub fn io_retry_class(e: &std::io::Error) -> RetryClass {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem => {
            RetryClass::Persistent
        }
        ErrorKind::PermissionDenied => RetryClass::Persistent,
        _ => RetryClass::Temporary,
    }
}
