//! The Demo cloud: the Dropbox emulator from `cloudsync-emulator`, run inside the app on
//! 127.0.0.1 with its state under the config dir, so anyone can try CloudSync with no
//! account and no network. A Demo connection is an ordinary Dropbox connection whose API
//! base is this server; its config carries `"demo": true` so the windows can say so.
//!
//! The port is chosen once and remembered (the connection stores its URL), and the first
//! start puts a few sample files in the cloud so a new connection has something to sync.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cloudsync_emulator::{spawn, Emulator, Options, Provider};
use cloudsync_engine::paths::ConfigDir;

use crate::error::AppError;

/// The bearer token the demo server accepts without a sign-in. Not a secret: the server
/// only listens on 127.0.0.1 and holds sample files.
pub const DEMO_TOKEN: &str = "cloudsync-demo-token";
/// The app key the demo connection presents.
const DEMO_APP_KEY: &str = "cloudsync-demo";

/// Sample files put in a new demo cloud (under the connection's root `/CloudSync`).
const SAMPLES: &[(&str, &str)] = &[
    (
        "Welcome to CloudSync.txt",
        "This file lives in the Demo cloud, a server running inside CloudSync on your own \
         computer. Edit it, delete it, or drop your own files next to it: CloudSync keeps \
         this folder and the Demo cloud in step, just as it would with Dropbox.\n",
    ),
    (
        "Documents/Getting started.md",
        "# Getting started\n\n1. Add a connection from the main window.\n2. Pick an empty \
         folder.\n3. Watch the tray: it shows what is syncing.\n",
    ),
    (
        "Documents/Ideas.txt",
        "- sync the holiday photos\n- try pausing from the tray\n",
    ),
    (
        "Photos/Holiday notes.txt",
        "Day 1: rain. Day 2: sun. Day 3: more sun.\n",
    ),
];

/// Whether a stored connection config is the Demo cloud.
pub fn is_demo(config: &serde_json::Value) -> bool {
    config.get("demo").and_then(|v| v.as_bool()) == Some(true)
}

/// The running demo server.
pub struct DemoCloud {
    emulator: Emulator,
}

impl DemoCloud {
    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.emulator.base_url
    }

    /// The connection config for a demo connection.
    pub fn connection_config(&self) -> serde_json::Value {
        serde_json::json!({
            "app_key": DEMO_APP_KEY,
            "api_base": self.base_url(),
            "access_token": DEMO_TOKEN,
            "demo": true,
        })
    }

    /// Stops the server.
    #[cfg(test)]
    pub async fn stop(self) {
        self.emulator.stop().await;
    }
}

fn data_dir(dir: &ConfigDir) -> PathBuf {
    dir.root().join("demo-cloud")
}

fn port_file(dir: &ConfigDir) -> PathBuf {
    data_dir(dir).join("port")
}

/// Whether this config dir has a demo cloud from an earlier run.
pub fn exists(dir: &ConfigDir) -> bool {
    port_file(dir).exists()
}

/// Starts the demo server on its remembered port (a free one the first time, then
/// seeded with the sample files).
///
/// # Errors
/// The remembered port is taken, or the state folder cannot be written.
pub async fn start(dir: &ConfigDir) -> Result<DemoCloud, AppError> {
    let data = data_dir(dir);
    std::fs::create_dir_all(&data)
        .map_err(|e| AppError::Engine(format!("cannot create {}: {e}", data.display())))?;
    let remembered = read_port(&port_file(dir));
    let addr = SocketAddr::from(([127, 0, 0, 1], remembered.unwrap_or(0)));
    let options = Options {
        data: Some(data.join("state")),
        accept_token: Some(DEMO_TOKEN.into()),
        ..Options::default()
    };
    let emulator = spawn(Provider::Dropbox, addr, options)
        .await
        .map_err(|e| AppError::Engine(format!("cannot start the Demo cloud on {addr}: {e}")))?;
    let cloud = DemoCloud { emulator };
    if remembered.is_none() {
        seed(cloud.base_url()).await?;
        let port = cloud
            .base_url()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_string();
        std::fs::write(port_file(dir), port)
            .map_err(|e| AppError::Engine(format!("cannot remember the Demo cloud's port: {e}")))?;
    }
    Ok(cloud)
}

fn read_port(path: &Path) -> Option<u16> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Uploads the sample files through the server's own upload endpoint.
async fn seed(base_url: &str) -> Result<(), AppError> {
    let client = reqwest::Client::new();
    for (path, text) in SAMPLES {
        let arg = serde_json::json!({ "path": format!("/CloudSync/{path}"), "mode": "add" });
        let resp = client
            .post(format!("{base_url}/2/files/upload"))
            .bearer_auth(DEMO_TOKEN)
            .header("Dropbox-API-Arg", arg.to_string())
            .header("Content-Type", "application/octet-stream")
            .body(*text)
            .send()
            .await
            .map_err(|e| AppError::Engine(format!("cannot fill the Demo cloud: {e}")))?;
        if !resp.status().is_success() {
            return Err(AppError::Engine(format!(
                "cannot fill the Demo cloud: {} answered {}",
                path,
                resp.status()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudsync_engine::remote::RemoteFactory;

    #[tokio::test]
    async fn a_new_demo_cloud_holds_the_samples_and_keeps_its_port_and_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = ConfigDir::resolve(Some(tmp.path().to_path_buf()));
        assert!(!exists(&dir));
        let cloud = start(&dir).await.expect("start");
        let url = cloud.base_url().to_string();
        let remote = cloudsync_providers::Factory
            .open("dropbox", &cloud.connection_config())
            .expect("open");
        let listing = remote.list(&Default::default()).await.expect("list");
        let mut files: Vec<String> = listing
            .nodes
            .iter()
            .filter(|n| n.kind == cloudsync_core::tree::Kind::File)
            .map(|n| n.path.to_string())
            .collect();
        files.sort();
        assert_eq!(
            files,
            vec![
                "Documents/Getting started.md",
                "Documents/Ideas.txt",
                "Photos/Holiday notes.txt",
                "Welcome to CloudSync.txt"
            ]
        );
        cloud.stop().await;
        assert!(exists(&dir));
        let again = start(&dir).await.expect("restart");
        assert_eq!(again.base_url(), url, "the port is remembered");
        let remote = cloudsync_providers::Factory
            .open("dropbox", &again.connection_config())
            .expect("open");
        let count = remote
            .list(&Default::default())
            .await
            .expect("list")
            .nodes
            .iter()
            .filter(|n| n.kind == cloudsync_core::tree::Kind::File)
            .count();
        assert_eq!(count, 4, "state survives a restart and is not seeded twice");
        again.stop().await;
    }
}
