//! The Baidu Netdisk backend (the "xpan" open platform).
//!
//! - **Root**: `/apps/<app name>` (the only folder an app may write to), or a folder
//!   below it.
//! - **Listing**: `listall` below the root, diffed by the engine (Baidu has no change
//!   feed), paced to `listall_per_minute` calls (`listing.rs`). Node id = `fs_id`;
//!   revision = `fs_id:server_mtime:size`; mtime = the `local_mtime` given at upload.
//! - **Hashes**: none. Baidu's listed `md5` is often obfuscated and not the content's MD5
//!   (reference 3.4), so it is not offered as a content hash; the engine falls back to size
//!   and mtime, and its own hashes of local files.
//! - **Uploads**: precreate with 4 MB block MD5s (16/32 MB for VIP/SVIP) -> superfile2 per
//!   needed block -> create; resumable; `rtype=0` for new files and a version check right
//!   before `rtype=3` for replacements (`upload.rs`).
//! - **Downloads**: the filemetas `dlink` with `User-Agent: pan.baidu.com`, resumed with
//!   Range (`download.rs`).
//! - **Move/rename/delete**: `filemanager` (`ondup=fail`, `manage.rs`); deletes go to
//!   Baidu's recycle bin, which the app cannot empty, so `delete_permanently` is the same
//!   delete.
//! - **Errors**: `errno`/`error_code` one by one (`errors.rs`); 111/-6/31045 renew the
//!   token once and retry (`api.rs`).
//! - **Case**: names are treated as case-sensitive (Baidu's behaviour is unverified;
//!   the emulator is case-sensitive).
//! - **Limits**: empty files are skipped by the Baidu rules of `cloudsync_core::rules`;
//!   files over the account's cap (4 GB normal, 10 GB VIP, 20 GB SVIP, from `uinfo`'s
//!   `vip_type`, asked in `check_root`) are skipped through [`Remote::max_file_size`]. Upload
//!   still refuses both with an explanation, for callers that bypass the rules.
//!
//! Config (`from_config`): `app_name` (required: the folder below `/apps`), `root`
//! (optional: a folder below the app folder to sync instead of all of it), `api_base`
//! (one URL in place of pan.baidu.com, d.pcs.baidu.com and openapi.baidu.com; for the
//! emulator), `app_key` and `app_secret` (the app's AppKey and SecretKey, for renewing
//! tokens; the SecretKey may instead come from `CLOUDSYNC_BAIDU_APP_SECRET`),
//! `token_secret` (a `SecretRef` to the stored tokens, renewed through
//! [`crate::oauth::stored::StoredTokenSource`]) or `access_token` (inline and never
//! renewed, for tests and scripts), and `listall_per_minute` (default 8; 0 turns pacing
//! off).

mod api;
mod download;
mod errors;
mod listing;
mod manage;
mod upload;

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::capabilities::ProviderRules;
use cloudsync_core::{Capabilities, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::secrets::SecretRef;
use cloudsync_engine::sessions::UploadSessions;
use serde_json::Value;

use crate::auth::{StaticToken, TokenSource};
use crate::oauth::stored::StoredTokenSource;
use crate::oauth::OAuthApp;

/// Baidu's hosts.
const PAN: &str = "https://pan.baidu.com";
const PCS: &str = "https://d.pcs.baidu.com";

/// Where the app's SecretKey is read from when the config has none.
pub const APP_SECRET_ENV: &str = "CLOUDSYNC_BAIDU_APP_SECRET";

/// The User-Agent Baidu requires on downloads (its samples send it on every call).
pub const USER_AGENT: &str = "pan.baidu.com";

/// The signed-in account, as `nas?method=uinfo` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Baidu's user number.
    pub uk: u64,
    /// 0 normal, 1 VIP, 2 SVIP.
    pub vip_type: u8,
}

impl Account {
    /// The block size uploads use.
    pub fn block_size(&self) -> usize {
        match self.vip_type {
            0 => 4 << 20,
            1 => 16 << 20,
            _ => 32 << 20,
        }
    }

    /// The largest file this account may upload.
    pub fn max_file(&self) -> u64 {
        match self.vip_type {
            0 => 4 << 30,
            1 => 10 << 30,
            _ => 20 << 30,
        }
    }
}

/// The Baidu Netdisk app folder used as the remote.
pub struct Baidu {
    http: reqwest::Client,
    pan: String,
    pcs: String,
    app_key: Option<String>,
    /// `/apps/<app name>`, or a folder below it.
    root: String,
    tokens: Arc<dyn TokenSource>,
    listall_per_minute: u32,
    listall_calls: tokio::sync::Mutex<VecDeque<tokio::time::Instant>>,
    account: tokio::sync::OnceCell<Account>,
    uploads: Mutex<HashMap<String, upload::Pending>>,
    /// The engine's saved upload sessions, once attached.
    sessions: std::sync::OnceLock<Arc<dyn UploadSessions>>,
}

impl std::fmt::Debug for Baidu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baidu")
            .field("pan", &self.pan)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

fn other(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::Other(e.to_string())
}

impl Baidu {
    /// A backend for the app folder `/apps/<app_name>`, with tokens from `tokens`.
    /// `api_base` replaces all of Baidu's hosts (for the emulator); `None` uses the real
    /// ones.
    ///
    /// # Errors
    /// [`RemoteError::Other`] for an empty or nested app name, or a client that cannot be
    /// built.
    pub fn new(
        app_name: &str,
        api_base: Option<&str>,
        tokens: Arc<dyn TokenSource>,
    ) -> Result<Baidu, RemoteError> {
        if app_name.is_empty() || app_name.contains('/') || app_name == "." || app_name == ".." {
            return Err(RemoteError::Other(format!(
                "the Baidu app name {app_name:?} must be one folder name"
            )));
        }
        let (pan, pcs) = match api_base {
            Some(b) => {
                let b = b.trim_end_matches('/').to_string();
                (b.clone(), b)
            }
            None => (PAN.to_string(), PCS.to_string()),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| other(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Baidu {
            http,
            pan,
            pcs,
            app_key: None,
            root: format!("/apps/{app_name}"),
            tokens,
            listall_per_minute: 8,
            listall_calls: tokio::sync::Mutex::new(VecDeque::new()),
            account: tokio::sync::OnceCell::new(),
            uploads: Mutex::new(HashMap::new()),
            sessions: std::sync::OnceLock::new(),
        })
    }

    /// Puts the sync root at `folder` below the app folder (`/apps/<app name>/<folder>`).
    ///
    /// # Errors
    /// [`RemoteError::Other`] for a folder that is no valid relative path.
    pub fn with_folder(mut self, folder: &str) -> Result<Baidu, RemoteError> {
        let rel = RelPath::new(folder.trim_matches('/'))
            .map_err(|e| other(format!("bad Baidu root folder {folder:?}: {e}")))?;
        self.root = format!("{}/{}", self.root, rel.as_str());
        Ok(self)
    }

    /// Paces listall to `per_minute` calls (0: no pacing; the server still answers 31034
    /// past its own limit).
    pub fn with_listall_per_minute(mut self, per_minute: u32) -> Baidu {
        self.listall_per_minute = per_minute;
        self
    }

    /// Builds from the JSON config described in the module doc.
    ///
    /// # Errors
    /// [`RemoteError::Other`] for a config without `app_name` or a token;
    /// [`RemoteError::Auth`] when the token secret cannot be read.
    pub fn from_config(config: &Value) -> Result<Baidu, RemoteError> {
        let s = |k: &str| config.get(k).and_then(Value::as_str);
        let app_name =
            s("app_name").ok_or_else(|| other("baidu backend config needs an \"app_name\""))?;
        let app_key = s("app_key");
        let tokens: Arc<dyn TokenSource> = match config.get("token_secret") {
            Some(r) => {
                let r: SecretRef = serde_json::from_value(r.clone())
                    .map_err(|e| other(format!("baidu config has a bad token reference: {e}")))?;
                let app =
                    OAuthApp::baidu(s("api_base"), app_key.unwrap_or_default(), s("secret_key"));
                Arc::new(StoredTokenSource::open(app, r)?)
            }
            None => {
                Arc::new(StaticToken::new(s("access_token").ok_or_else(|| {
                    other("baidu backend config needs a \"token_secret\"")
                })?))
            }
        };
        let mut b = Baidu::new(app_name, s("api_base"), tokens)?;
        if let Some(folder) = s("root").filter(|r| !r.trim_matches('/').is_empty()) {
            b = b.with_folder(folder)?;
        }
        b.app_key = s("app_key").map(str::to_string);
        if let Some(n) = config.get("listall_per_minute").and_then(Value::as_u64) {
            b.listall_per_minute = u32::try_from(n).unwrap_or(u32::MAX);
        }
        Ok(b)
    }

    /// The AppKey from the config (for the sign-in flows).
    pub fn app_key(&self) -> Option<&str> {
        self.app_key.as_deref()
    }

    /// The sync root's absolute path: `/apps/<app name>`, or a folder below it.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The absolute Baidu path of `path`.
    fn remote_path(&self, path: &RelPath) -> String {
        format!("{}/{}", self.root, path.as_str())
    }

    /// The signed-in account (asked once).
    ///
    /// # Errors
    /// The uinfo call failed.
    pub async fn account(&self) -> Result<Account, RemoteError> {
        self.account
            .get_or_try_init(|| async {
                let v = self
                    .pan_get(
                        "/rest/2.0/xpan/nas",
                        &[("method", "uinfo")],
                        "asking Baidu who is signed in",
                    )
                    .await?;
                let uk = v
                    .get("uk")
                    .and_then(|x| {
                        x.as_u64()
                            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                    })
                    .ok_or_else(|| other("Baidu's uinfo has no uk"))?;
                let vip_type = v.get("vip_type").and_then(Value::as_u64).unwrap_or(0);
                Ok(Account {
                    uk,
                    vip_type: u8::try_from(vip_type).unwrap_or(2),
                })
            })
            .await
            .copied()
    }
}

#[async_trait]
impl Remote for Baidu {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hash_kind: None,
            keeps_revisions: false,
            case_insensitive: false,
            change_feed: false,
            rules: ProviderRules::Baidu,
        }
    }

    fn max_file_size(&self) -> Option<u64> {
        self.account.get().map(Account::max_file)
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        // The account's membership sets its per-file cap, which the engine reads right
        // after this check to skip larger files up front.
        self.account().await?;
        let v = self
            .pan_get(
                "/rest/2.0/xpan/file",
                &[("method", "list"), ("dir", &self.root), ("limit", "1")],
                "checking the app folder",
            )
            .await;
        match v {
            Ok(_) => Ok(()),
            Err(RemoteError::NotFound(_)) => Err(RemoteError::NotFound(format!(
                "the app folder {} is missing on Baidu",
                self.root
            ))),
            Err(e) => Err(e),
        }
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        let made = self
            .file_post(
                "create",
                &[],
                vec![
                    ("path".into(), self.root.clone()),
                    ("size".into(), "0".into()),
                    ("isdir".into(), "1".into()),
                    ("rtype".into(), "0".into()),
                ],
                "creating the app folder",
            )
            .await;
        match made {
            Ok(_) | Err(RemoteError::Changed(_)) => self.check_root().await,
            Err(e) => Err(e),
        }
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
        self.make_folder(path).await
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.move_node(node, to).await
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.delete_node(node).await
    }

    fn attach_upload_sessions(&self, sessions: Arc<dyn UploadSessions>) {
        let _ = self.sessions.set(sessions);
    }

    async fn account_id(&self) -> Result<Option<String>, RemoteError> {
        Ok(Some(self.account().await?.uk.to_string()))
    }
}
