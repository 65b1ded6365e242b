//! CloudSync's backends, each behind the engine's [`Remote`] trait.
//!
//! - [`local`]: another folder on this machine (a mounted NAS share, a USB disk), with
//!   listing-based change detection. It needs no network and is the default.
//! - [`webdav`]: a WebDAV server (PROPFIND listing, PUT to a temp name then MOVE, deletes
//!   moved into the remote's `.cloudsync-trash/`).
//! - [`baidu`]: Baidu Netdisk's app folder `/apps/<app name>` (xpan open platform).
//! - [`dropbox`]: Dropbox API v2 (the list_folder change feed with longpoll, conditional
//!   uploads with upload sessions, content_hash checks).
//! - [`gdrive`]: a folder in Google Drive (API v3; ids, change feed, resumable uploads).
//! - [`s3`]: an S3-compatible bucket and key prefix (`object_store`, path-style requests).
//!
//! [`feed`] keeps the change-feed position of Dropbox and Drive across restarts.
//!
//! [`setup`] builds a new connection's target (config, credential, secret field) the same
//! way for the CLI and the app; [`Factory`] builds a backend from a stored connection's provider id and JSON config.

pub mod auth;
pub mod baidu;
pub mod dropbox;
pub mod feed;
pub mod gdrive;
pub mod local;
pub mod oauth;
pub mod s3;
pub mod setup;
pub mod webdav;
mod xml_text;

use std::sync::Arc;

use cloudsync_engine::remote::{Remote, RemoteError, RemoteFactory};

/// Builds backends from stored connection configs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Factory;

impl RemoteFactory for Factory {
    fn open(
        &self,
        provider: &str,
        config: &serde_json::Value,
    ) -> Result<Arc<dyn Remote>, RemoteError> {
        match provider {
            "baidu" => Ok(Arc::new(baidu::Baidu::from_config(config)?)),
            "dropbox" => Ok(Arc::new(dropbox::Dropbox::from_config(config)?)),
            "local" => Ok(Arc::new(local::LocalFolder::from_config(config)?)),
            "gdrive" => Ok(Arc::new(gdrive::GoogleDrive::from_config(config)?)),
            "s3" => Ok(Arc::new(s3::S3::from_config(config)?)),
            "webdav" => Ok(Arc::new(webdav::WebDav::from_config(config)?)),
            other => Err(RemoteError::Other(format!("unknown provider {other:?}"))),
        }
    }
}
