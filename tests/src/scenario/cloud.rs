//! The remote side of a scenario on an emulated cloud provider (Dropbox, Google Drive,
//! Baidu). The engine syncs with the emulator through the real client; the scenario acts
//! on the remote through another client of the same account, as a second device would,
//! and reads the remote tree back through a fresh client (a full listing, no change feed).

use std::sync::Arc;

use cloudsync_core::{Kind, Node, RelPath, Tree};
use cloudsync_emulator::{Emulator, Options, Provider};
use cloudsync_engine::remote::{Remote, RemoteFactory};

use super::script::{Command, Content, Script, Where};
use super::tree::{pattern_byte, Found, INTERNAL_TOP, READ_LIMIT, TEMP_PREFIX};

/// The bearer token the emulator takes without a sign-in.
const TOKEN: &str = "scenario-token";

/// Remote files the cloud side writes are built in memory; larger ones are not supported.
const WRITE_LIMIT: u64 = 256 << 20;

/// An emulated provider and the config of a connection to it.
pub struct CloudSide {
    /// Which provider.
    pub provider: Provider,
    emulator: Option<Emulator>,
    config: serde_json::Value,
}

impl CloudSide {
    /// Starts the emulator (on the caller's runtime).
    ///
    /// # Errors
    /// The emulator did not start.
    pub async fn start(provider: Provider) -> Result<CloudSide, String> {
        let options = Options {
            accept_token: Some(TOKEN.into()),
            ..Options::default()
        };
        let addr = "127.0.0.1:0".parse().map_err(|e| format!("address: {e}"))?;
        let emulator = cloudsync_emulator::spawn(provider, addr, options)
            .await
            .map_err(|e| format!("starting the {} emulator: {e}", provider.name()))?;
        if provider == Provider::Baidu {
            // Real Baidu allows about 10 listall calls a minute; scenarios list after every
            // step, so the emulator's limit is lifted here (it is tested in baidu.rs).
            let r = reqwest::Client::new()
                .post(format!("{}/__emulator/baidu/settings", emulator.base_url))
                .json(&serde_json::json!({"listall_per_minute": 0}))
                .send()
                .await
                .map_err(|e| format!("emulator settings: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("emulator settings: HTTP {}", r.status()));
            }
        }
        let config = serde_json::json!({
            "api_base": emulator.base_url,
            "access_token": TOKEN,
            "app_key": "scenario-app",
            "app_name": "CloudSync",
            "root": "/scenario",
            "listall_per_minute": 0,
        });
        Ok(CloudSide {
            provider,
            emulator: Some(emulator),
            config,
        })
    }

    /// The provider id the engine's connection uses.
    pub fn provider_id(&self) -> &'static str {
        self.provider.name()
    }

    /// The connection's remote config.
    pub fn config(&self) -> serde_json::Value {
        self.config.clone()
    }

    /// Identifies the account and root, for the engine's one-connection-per-credential rule.
    pub fn credential(&self) -> String {
        format!("{}:scenario", self.provider.name())
    }

    /// Stops the emulator.
    pub async fn stop(&mut self) {
        if let Some(e) = self.emulator.take() {
            e.stop().await;
        }
    }

    /// A client with no history (its first listing is a full one).
    fn client(&self) -> Result<Arc<dyn Remote>, String> {
        cloudsync_providers::Factory
            .open(self.provider.name(), &self.config)
            .map_err(|e| format!("opening a {} client: {e}", self.provider.name()))
    }

    async fn listing(&self) -> Result<Vec<Node>, String> {
        let client = self.client()?;
        let listing = client
            .list(&Tree::new())
            .await
            .map_err(|e| format!("listing the remote: {e}"))?;
        Ok(listing.nodes)
    }

    async fn find(&self, path: &RelPath) -> Result<Option<Node>, String> {
        Ok(self.listing().await?.into_iter().find(|n| n.path == *path))
    }

    /// Creates the folders above `path` that are missing.
    async fn parents(&self, client: &dyn Remote, path: &RelPath) -> Result<(), String> {
        let nodes = self.listing().await?;
        let mut missing = Vec::new();
        let mut at = path.parent();
        while let Some(p) = at {
            if nodes.iter().any(|n| n.path == p && n.kind == Kind::Dir) {
                break;
            }
            at = p.parent();
            missing.push(p);
        }
        for p in missing.into_iter().rev() {
            client
                .mkdir(&p)
                .await
                .map_err(|e| format!("mkdir {p}: {e}"))?;
        }
        Ok(())
    }

    /// Writes a file (parents are created), replacing what is there.
    ///
    /// # Errors
    /// What went wrong, as text.
    pub async fn write(&self, rel: &[u8], content: &Content) -> Result<(), String> {
        let path = rel_path(rel)?;
        let data = content_bytes(content)?;
        let client = self.client()?;
        self.parents(client.as_ref(), &path).await?;
        let there = self.find(&path).await?;
        let mut src: &[u8] = &data;
        client
            .upload(&path, &mut src, data.len() as u64, now_ns(), there.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| format!("remote write {path}: {e}"))
    }

    /// Creates a folder and its parents.
    ///
    /// # Errors
    /// What went wrong, as text.
    pub async fn mkdir(&self, rel: &[u8]) -> Result<(), String> {
        let path = rel_path(rel)?;
        let client = self.client()?;
        self.parents(client.as_ref(), &path).await?;
        client
            .mkdir(&path)
            .await
            .map(|_| ())
            .map_err(|e| format!("remote mkdir {path}: {e}"))
    }

    /// Deletes a file or a folder with its contents.
    ///
    /// # Errors
    /// Nothing there, or the delete failed.
    pub async fn delete(&self, rel: &[u8]) -> Result<(), String> {
        let path = rel_path(rel)?;
        let node = self
            .find(&path)
            .await?
            .ok_or_else(|| format!("remote delete {path}: nothing there"))?;
        self.client()?
            .delete_permanently(&node)
            .await
            .map_err(|e| format!("remote delete {path}: {e}"))
    }

    /// Renames or moves (parents of the target are created).
    ///
    /// # Errors
    /// Nothing there, or the move failed.
    pub async fn rename(&self, from: &[u8], to: &[u8]) -> Result<(), String> {
        let (from, to) = (rel_path(from)?, rel_path(to)?);
        let node = self
            .find(&from)
            .await?
            .ok_or_else(|| format!("remote move {from}: nothing there"))?;
        let client = self.client()?;
        self.parents(client.as_ref(), &to).await?;
        client
            .rename(&node, &to)
            .await
            .map(|_| ())
            .map_err(|e| format!("remote move {from} -> {to}: {e}"))
    }

    /// The remote tree as a scenario compares it, and the count of engine temp files.
    ///
    /// # Errors
    /// Listing or reading failed.
    pub async fn snapshot(&self) -> Result<(Vec<Found>, usize), String> {
        let client = self.client()?;
        let nodes = client
            .list(&Tree::new())
            .await
            .map_err(|e| format!("listing the remote: {e}"))?
            .nodes;
        let mut out = Vec::new();
        let mut temps = 0;
        for node in nodes {
            let path = node.path.as_str().to_string();
            let top = path.split('/').next().unwrap_or_default();
            if INTERNAL_TOP.contains(&top) {
                continue;
            }
            if node.path.name().starts_with(TEMP_PREFIX) {
                temps += 1;
                continue;
            }
            let file = match node.kind {
                Kind::Dir => None,
                Kind::File if node.size <= READ_LIMIT => {
                    let mut data = Vec::new();
                    client
                        .download(&node, &mut data)
                        .await
                        .map_err(|e| format!("reading {path}: {e}"))?;
                    Some((node.size, Some(data)))
                }
                Kind::File => Some((node.size, None)),
            };
            out.push(Found { path, file });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((out, temps))
    }
}

fn rel_path(rel: &[u8]) -> Result<RelPath, String> {
    let text = std::str::from_utf8(rel).map_err(|_| {
        "remote names must be UTF-8 on a cloud provider (this scenario is folder-only)".to_string()
    })?;
    RelPath::new(text).map_err(|e| format!("remote path {text:?}: {e}"))
}

fn content_bytes(content: &Content) -> Result<Vec<u8>, String> {
    let n = match content {
        Content::Bytes(b) => return Ok(b.clone()),
        Content::Pattern(n) | Content::Sparse(n) => *n,
    };
    if n > WRITE_LIMIT {
        return Err(format!(
            "a {n}-byte remote file is too large for the cloud side of a scenario"
        ));
    }
    Ok(match content {
        Content::Pattern(_) => (0..n).map(pattern_byte).collect(),
        _ => vec![0u8; usize::try_from(n).unwrap_or(0)],
    })
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Why a scenario cannot run with a cloud remote, if it cannot: it acts on the remote in
/// ways only a folder allows (setting mtimes, unmounting, looking into our trash folder),
/// or writes remote files too large to build in memory, or non-UTF-8 remote names.
pub fn unsupported(script: &Script) -> Option<String> {
    for step in &script.steps {
        let why = match &step.command {
            Command::Mtime(Where::Remote, ..) => Some("sets a remote mtime"),
            Command::Unmount(Where::Remote, _) | Command::Mount(Where::Remote) => {
                Some("unmounts the remote")
            }
            Command::ExpectTrash(Where::Remote, ..) => Some("looks into the remote trash folder"),
            Command::Write(Where::Remote, p, c) => {
                if std::str::from_utf8(p).is_err() {
                    Some("writes a non-UTF-8 remote name")
                } else if content_bytes(c).is_err() {
                    Some("writes a remote file too large to build in memory")
                } else {
                    None
                }
            }
            Command::Mkdir(Where::Remote, p)
            | Command::Delete(Where::Remote, p)
            | Command::Move(Where::Remote, p, _)
                if std::str::from_utf8(p).is_err() =>
            {
                Some("uses a non-UTF-8 remote name")
            }
            _ => None,
        };
        if let Some(why) = why {
            return Some(format!("line {}: {why}", step.line));
        }
    }
    None
}
