//! The emulated Baidu Netdisk open platform ("xpan"), every host on one port:
//!
//! | Real host | Paths here | Module |
//! |---|---|---|
//! | `pan.baidu.com` | `/rest/2.0/xpan/file?method=list\|precreate\|create\|filemanager` | [`file`], [`upload`], [`filemanager`] |
//! | `pan.baidu.com` | `/rest/2.0/xpan/multimedia?method=listall\|filemetas` | [`multimedia`] |
//! | `pan.baidu.com` | `/rest/2.0/xpan/nas?method=uinfo`, `/api/quota` | [`account`] |
//! | `d.pcs.baidu.com` | `/rest/2.0/pcs/superfile2?method=upload`, `/rest/2.0/pcs/file?method=locateupload` | [`pcs`] |
//! | `d.pcs.baidu.com` + CDN | `/file/<token>?fid=...` (the `dlink`), then `/cdn/<ticket>` | [`download`] |
//! | `openapi.baidu.com` | `/oauth/2.0/authorize`, `/oauth/2.0/token`, `/oauth/2.0/device/code`, `/device` | [`oauth`] |
//!
//! Every call carries `access_token` as a query parameter. Errors are HTTP 200 bodies with
//! `errno` (xpan) or `error_code` (PCS), numbered as in the reference's table ([`errno`]).
//!
//! **The app folder.** Writes are allowed only below `/apps/<app name>` (errno 31064
//! elsewhere); reads work anywhere. Real Baidu takes the name from the app's registration,
//! which a token does not reveal, so the emulator either is told the name
//! (`CLOUDSYNC_EMULATOR_BAIDU_APP_NAME`, or `app_name` on the settings endpoint) or, by
//! default, learns it per account: the first `/apps/<name>` an account writes below
//! becomes that account's app folder, and writes anywhere else are refused from then on
//! (one account used by one app, as with a real registration).
//!
//! **Settings** (`POST /__emulator/baidu/settings`, JSON, every field optional):
//! `listall_per_minute` (default 10, from `CLOUDSYNC_EMULATOR_BAIDU_LISTALL_PER_MINUTE` when
//! set; 0 = unlimited), `vip_type` (0 normal, 1 VIP, 2 SVIP: block and file size caps),
//! `quota` (bytes), `device_interval` (seconds, default 5), `app_name` (empty: learn it).
//! The request passes
//! the fault layer and counts in the stats like any other.
//!
//! Choices where the reference is silent or unverified: empty files are refused at
//! precreate with errno 2; a file over the account's cap (4 GB / 10 GB / 20 GB) with errno
//! 31365 at precreate and create; `list`/`listall` spell the MD5 obfuscated (as real Baidu
//! often does; see [`entries::obfuscated_md5`]) while `filemetas` and `create` give it
//! plain; unknown fs_ids are left out of a filemetas answer; a partly
//! failed filemanager batch answers errno 12 with each item's own errno in `info`;
//! `async=2` is performed at once and answers a `taskid`; rapid upload (`return_type 2`)
//! is offered when `content-md5` and `slice-md5` match a file of the same account and size.
//!
//! State is in memory, or with `--data DIR` also in `DIR/baidu/` ([`persist`]), written
//! after every call that touches a drive.

pub mod account;
pub mod download;
pub mod entries;
pub mod errno;
pub mod file;
pub mod filemanager;
pub mod multimedia;
pub mod oauth;
pub mod pcs;
pub mod persist;
pub mod store;
#[cfg(test)]
mod tests;
pub mod upload;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::oauth::BearerError;
use crate::server::{Context, ErrorStyle, ProviderApp};
use store::Drive;

/// The environment variable that fixes the app folder's name.
pub const APP_NAME_ENV: &str = "CLOUDSYNC_EMULATOR_BAIDU_APP_NAME";

/// The environment variable that sets the listall limit per account and minute.
pub const LISTALL_LIMIT_ENV: &str = "CLOUDSYNC_EMULATOR_BAIDU_LISTALL_PER_MINUTE";

/// Query or form parameters.
pub type Params = HashMap<String, String>;

/// Knobs tests turn.
#[derive(Debug, Clone)]
pub struct Settings {
    /// listall calls allowed per account in any 60 s (0: unlimited).
    pub listall_per_minute: u32,
    /// 0 normal, 1 VIP, 2 SVIP.
    pub vip_type: u8,
    /// Bytes each account may store.
    pub quota: u64,
    /// Seconds between device-flow polls.
    pub device_interval: u64,
    /// The folder below `/apps` the app may write to; `None`: learned per account.
    pub app_name: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listall_per_minute: std::env::var(LISTALL_LIMIT_ENV)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(10),
            vip_type: 0,
            quota: store::DEFAULT_QUOTA,
            device_interval: 5,
            app_name: std::env::var(APP_NAME_ENV)
                .ok()
                .filter(|n| !n.is_empty() && !n.contains('/')),
        }
    }
}

impl Settings {
    /// The largest block this account may send.
    pub fn max_block(&self) -> u64 {
        match self.vip_type {
            0 => store::BLOCK,
            1 => 4 * store::BLOCK,
            _ => 8 * store::BLOCK,
        }
    }

    /// The largest file this account may store ("普通用户单个上传文件大小上限为4GB,
    /// 会员用户10GB, 超级会员用户20GB").
    pub fn max_file(&self) -> u64 {
        const GB: u64 = 1024 * 1024 * 1024;
        match self.vip_type {
            0 => 4 * GB,
            1 => 10 * GB,
            _ => 20 * GB,
        }
    }
}

/// The emulator's state.
pub struct Baidu {
    /// Shared emulator parts.
    pub ctx: Arc<Context>,
    drives: Mutex<HashMap<String, Drive>>,
    next_id: AtomicU64,
    settings: Mutex<Settings>,
    listall_calls: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Download tickets (the CDN URLs a dlink redirects to): ticket -> (account, fs_id).
    tickets: Mutex<HashMap<String, (String, u64)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Handlers never leave a drive half-changed across a panic point.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Baidu {
    fn new(ctx: Arc<Context>, kept: persist::Loaded) -> Baidu {
        // Real fs_ids are large numbers; start somewhere that looks like one.
        let first_id = kept.next_id.max(300_000_000_000_000);
        Baidu {
            ctx,
            drives: Mutex::new(kept.drives),
            next_id: AtomicU64::new(first_id),
            settings: Mutex::new(Settings::default()),
            listall_calls: Mutex::new(HashMap::new()),
            tickets: Mutex::new(HashMap::new()),
        }
    }

    /// The current settings.
    pub fn settings(&self) -> Settings {
        lock(&self.settings).clone()
    }

    /// A fresh fs_id.
    pub fn new_id(&self) -> u64 {
        self.next_id
            .fetch_add(1 + rand::random::<u64>() % 7, Ordering::Relaxed)
    }

    /// Runs `f` on `account`'s drive (then saves every drive, with `--data`).
    pub fn with_drive<R>(&self, account: &str, f: impl FnOnce(&mut Drive) -> R) -> R {
        let mut drives = lock(&self.drives);
        let out = f(drives.entry(account.to_string()).or_default());
        if let Some(dir) = &self.ctx.options.data {
            let next_id = self.next_id.load(Ordering::Relaxed);
            if let Err(e) = persist::save(dir, &drives, next_id) {
                tracing::error!("saving the Baidu state in {}: {e}", dir.display());
            }
        }
        out
    }

    /// The account of the `access_token` parameter, or the xpan errno (`-6` for a missing
    /// or unknown token, `111` for an expired one).
    pub fn xpan_account(&self, q: &Params) -> Result<String, i64> {
        self.ctx
            .tokens
            .check_bearer(q.get("access_token").map(String::as_str))
            .map_err(|e| match e {
                BearerError::Expired => errno::TOKEN_EXPIRED,
                BearerError::Missing | BearerError::Invalid => errno::AUTH_FAILED,
            })
    }

    /// The account of the `access_token` parameter, or the PCS error code (31045).
    pub fn pcs_account(&self, q: &Params) -> Result<String, i64> {
        self.ctx
            .tokens
            .check_bearer(q.get("access_token").map(String::as_str))
            .map_err(|_| errno::PCS_TOKEN)
    }

    /// The app folder (`/apps/<name>`) of `account`, for a write to `path` (a folder made
    /// there with `folder`): the configured one, else the one the account first wrote
    /// below, learned now when this is the account's first write below `/apps/<name>`.
    ///
    /// # Errors
    /// `31064` for a first write outside `/apps/<name>`.
    pub fn app_dir(&self, account: &str, path: &str, folder: bool) -> Result<String, i64> {
        if let Some(name) = self.settings().app_name {
            return Ok(format!("/apps/{name}"));
        }
        self.with_drive(account, |d| {
            if let Some(dir) = &d.app_dir {
                return Ok(dir.clone());
            }
            let name = path
                .strip_prefix("/apps/")
                .and_then(|rest| rest.split('/').next())
                .filter(|n| !n.is_empty())
                .ok_or(errno::NOT_APP_DIR)?;
            let dir = format!("/apps/{name}");
            store::check_write_path(&dir)?;
            // Learned only from a write below it, or from making the folder itself.
            if !(path.starts_with(&format!("{dir}/")) || (path == dir && folder)) {
                return Err(errno::NOT_APP_DIR);
            }
            d.app_dir = Some(dir.clone());
            Ok(dir)
        })
    }

    /// Counts a listall call; false when the account went over its limit.
    pub fn listall_allowed(&self, account: &str) -> bool {
        let limit = self.settings().listall_per_minute;
        if limit == 0 {
            return true;
        }
        let now = Instant::now();
        let mut calls = lock(&self.listall_calls);
        let window = calls.entry(account.to_string()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t).as_secs() >= 60)
        {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            return false;
        }
        window.push_back(now);
        true
    }

    /// Remembers a download ticket.
    pub fn issue_ticket(&self, account: &str, fs_id: u64) -> String {
        let ticket = crate::oauth::random_token("cdn").replace('.', "");
        lock(&self.tickets).insert(ticket.clone(), (account.to_string(), fs_id));
        ticket
    }

    /// What a ticket stands for.
    pub fn ticket(&self, ticket: &str) -> Option<(String, u64)> {
        lock(&self.tickets).get(ticket).cloned()
    }
}

/// A parameter as an integer (absent or malformed: `None`).
pub fn int(p: &Params, key: &str) -> Option<i64> {
    p.get(key).and_then(|v| v.trim().parse().ok())
}

struct Errors;

impl ErrorStyle for Errors {
    fn rate_limited(&self, path: &str, _retry_after: u64) -> Response {
        // Baidu has no 429 and no Retry-After: frequency control is errno 31034 in a 200.
        if path.starts_with("/rest/2.0/pcs/") || path.starts_with("/file/") {
            errno::pcs(errno::RATE_LIMITED)
        } else {
            errno::xpan(errno::RATE_LIMITED)
        }
    }

    fn server_error(&self, _path: &str, status: StatusCode) -> Response {
        status.into_response()
    }
}

#[derive(Deserialize)]
struct SettingsChange {
    listall_per_minute: Option<u32>,
    vip_type: Option<u8>,
    quota: Option<u64>,
    device_interval: Option<u64>,
    app_name: Option<String>,
}

async fn change_settings(State(b): State<Arc<Baidu>>, Json(c): Json<SettingsChange>) -> StatusCode {
    let mut s = lock(&b.settings);
    if let Some(v) = c.listall_per_minute {
        s.listall_per_minute = v;
    }
    if let Some(v) = c.vip_type {
        s.vip_type = v;
    }
    if let Some(v) = c.quota {
        s.quota = v;
    }
    if let Some(v) = c.device_interval {
        s.device_interval = v;
    }
    if let Some(v) = c.app_name {
        s.app_name = Some(v).filter(|n| !n.is_empty());
    }
    StatusCode::NO_CONTENT
}

/// The provider's endpoints.
///
/// # Errors
/// The state kept in `--data` cannot be read.
pub fn app(context: Arc<Context>) -> std::io::Result<ProviderApp> {
    let kept = match &context.options.data {
        Some(dir) => persist::load(dir)?,
        None => persist::Loaded::default(),
    };
    let state = Arc::new(Baidu::new(context, kept));
    let router = Router::new()
        .route(
            "/rest/2.0/xpan/file",
            get(file::get_method).post(file::post_method),
        )
        .route("/rest/2.0/xpan/multimedia", get(multimedia::dispatch))
        .route("/rest/2.0/xpan/nas", get(account::nas))
        .route("/api/quota", get(account::quota))
        .route(
            "/rest/2.0/pcs/superfile2",
            post(pcs::superfile2).put(pcs::superfile2),
        )
        .route("/rest/2.0/pcs/file", get(pcs::pcs_file))
        .route("/file/{token}", get(download::dlink))
        .route("/cdn/{ticket}", get(download::cdn))
        .route(
            "/oauth/2.0/authorize",
            get(oauth::authorize_page).post(oauth::authorize_decision),
        )
        .route("/oauth/2.0/token", get(oauth::token))
        .route("/oauth/2.0/device/code", get(oauth::device_code))
        .route(
            "/device",
            get(oauth::device_page).post(oauth::device_decision),
        )
        .route("/device/qrcode/{hash}/{code}", get(oauth::device_qrcode))
        .route("/__emulator/baidu/settings", post(change_settings))
        // An SVIP block is 32 MB, plus the multipart framing.
        .layer(DefaultBodyLimit::max(40 * 1024 * 1024))
        .with_state(state);
    Ok(ProviderApp {
        router,
        errors: Arc::new(Errors),
    })
}
