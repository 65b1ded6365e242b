//! The app's errors. Every command fails with one of these, and it crosses IPC as its
//! message alone: the one line the page shows next to what caused it.

use serde::{Serialize, Serializer};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The engine refused or failed (its own one-line reason).
    #[error("{0}")]
    Engine(String),
    /// The page sent something unusable.
    #[error("{0}")]
    Invalid(String),
    /// No engine answers on the config dir's control socket.
    #[error("the CloudSync engine is not answering ({0}); restart CloudSync")]
    Unreachable(String),
    /// A window or dialog could not be shown.
    #[error("{0}")]
    Window(String),
}

impl Serialize for AppError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl From<tauri::Error> for AppError {
    fn from(e: tauri::Error) -> Self {
        AppError::Window(e.to_string())
    }
}

impl From<cloudsync_engine::EngineError> for AppError {
    fn from(e: cloudsync_engine::EngineError) -> Self {
        AppError::Engine(e.to_string())
    }
}

impl From<cloudsync_engine::RemoteError> for AppError {
    fn from(e: cloudsync_engine::RemoteError) -> Self {
        AppError::Engine(e.to_string())
    }
}
