//! Signing in to Dropbox, Google Drive and Baidu from the wizard: the system browser with
//! a loopback redirect (or Baidu's device code), run by the providers crate's sign-in
//! driver. The wizard sees the page address or the device code through the
//! `sign-in-progress` event; the tokens stay in this process (never in the page) under a
//! session id until the wizard adds the connection, which moves them to the secret store.
//! A connection whose sign-in the provider refused signs in again the same way from the
//! main window (`relink`), and its new tokens replace the old in the secret store.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use cloudsync_engine::store::Connection;
use cloudsync_providers::oauth::device::DeviceCode;
use cloudsync_providers::oauth::signin::{self, SignInUi};
use cloudsync_providers::oauth::stored::StoredTokens;
use cloudsync_providers::oauth::OAuthError;
use cloudsync_providers::setup::cloud::{self as setup, AppKeys, Cloud};
use cloudsync_providers::setup::relink::Relink;
use cloudsync_providers::setup::SetupError;
use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::error::AppError;

/// A finished sign-in, waiting for the wizard to add its connection.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The provider.
    pub cloud: Cloud,
    /// The app keys used.
    pub keys: AppKeys,
    /// The tokens.
    pub tokens: StoredTokens,
    /// The account they belong to.
    pub account: String,
}

impl SignedIn {
    /// The stored config for a connection syncing `remote_root` (the provider's default
    /// when `None`).
    pub fn config(&self, remote_root: Option<&str>) -> serde_json::Value {
        setup::config(&self.keys, remote_root)
    }

    /// The config with the access token written in, for browsing before anything is
    /// stored.
    pub fn probe_config(&self, remote_root: Option<&str>) -> serde_json::Value {
        let mut c = self.config(remote_root);
        if let (Some(map), Some(token)) = (c.as_object_mut(), &self.tokens.access_token) {
            map.insert("access_token".into(), serde_json::json!(token));
        }
        c
    }
}

/// Finished sign-ins by session id.
#[derive(Default)]
pub struct SignIns {
    done: Mutex<HashMap<String, SignedIn>>,
    running: Mutex<Option<tokio::task::AbortHandle>>,
}

impl SignIns {
    /// The sign-in of `session`.
    pub fn get(&self, session: &str) -> Option<SignedIn> {
        self.done.lock().ok()?.get(session).cloned()
    }

    /// Forgets a used sign-in.
    pub fn forget(&self, session: &str) {
        if let Ok(mut d) = self.done.lock() {
            d.remove(session);
        }
    }

    /// Stops a sign-in that is waiting for the browser.
    pub fn cancel(&self) {
        if let Some(h) = self.running.lock().ok().and_then(|mut r| r.take()) {
            h.abort();
        }
    }
}

/// What the wizard is told while the user signs in.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// The provider id.
    pub provider: &'static str,
    /// The page to sign in on (browser sign-in).
    pub url: Option<String>,
    /// The code to type and where (device sign-in).
    pub device: Option<DeviceView>,
}

/// A device code as the wizard shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    /// The code.
    pub user_code: String,
    /// Where to type it.
    pub verification_url: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// Shows a sign-in's progress in one window: the wizard's, or the main window's for a
/// connection signing in again.
struct WindowUi {
    app: AppHandle,
    window: &'static str,
    provider: &'static str,
}

impl WindowUi {
    fn tell(&self, progress: Progress) {
        let _ = self.app.emit_to(self.window, "sign-in-progress", progress);
    }
}

#[async_trait]
impl SignInUi for WindowUi {
    fn show_url(&self, url: &str) {
        if std::env::var_os("CLOUDSYNC_NO_BROWSER").is_none() {
            if let Err(e) = open::that_detached(url) {
                tracing::warn!("cannot open a browser: {e}");
            }
        }
        self.tell(Progress {
            provider: self.provider,
            url: Some(url.into()),
            device: None,
        });
    }

    fn show_device_code(&self, code: &DeviceCode) {
        self.tell(Progress {
            provider: self.provider,
            url: None,
            device: Some(DeviceView {
                user_code: code.user_code.clone(),
                verification_url: code.verification_url.clone(),
                expires_in: code.expires_in,
            }),
        });
    }

    async fn ask_code(&self) -> Result<String, OAuthError> {
        Err(OAuthError::NotCompleted(
            "the app signs in through the browser or a device code".into(),
        ))
    }
}

/// What `sign_in` answers.
#[derive(Debug, Clone, Serialize)]
pub struct SignInDone {
    /// Names the sign-in for `add_connection` (`fields.session`).
    pub session: String,
    /// The account signed in to.
    pub account: String,
}

/// The app keys for `cloud`, or why the wizard cannot offer it.
pub fn keys_for(cloud: Cloud, config_dir: &std::path::Path) -> Result<AppKeys, AppError> {
    setup::app_keys(cloud, config_dir, None, None, None)
        .map_err(|e| AppError::Invalid(e.to_string()))
}

/// Runs a sign-in to `provider` until the user finishes it in the browser (or cancels).
///
/// # Errors
/// No app key, denied, timed out, cancelled, or the provider refused.
pub async fn run(
    app: AppHandle,
    sign_ins: &SignIns,
    config_dir: &std::path::Path,
    provider: &str,
) -> Result<SignInDone, AppError> {
    let cloud = Cloud::from_id(provider)
        .ok_or_else(|| AppError::Invalid(format!("{provider} does not sign in with OAuth")))?;
    let keys = keys_for(cloud, config_dir)?;
    let ui = WindowUi {
        app,
        window: "wizard",
        provider: cloud.id(),
    };
    let tokens = drive(sign_ins, cloud, &keys, ui).await?;
    let account = setup::account_of(cloud, &setup::config(&keys, None), &tokens)
        .await
        .map_err(|e| AppError::Engine(e.to_string()))?;
    let session = format!("{}-{}", cloud.id(), random_id());
    if let Ok(mut d) = sign_ins.done.lock() {
        d.insert(
            session.clone(),
            SignedIn {
                cloud,
                keys,
                tokens,
                account: account.clone(),
            },
        );
    }
    Ok(SignInDone { session, account })
}

/// Signs the connection `conn` in again from the main window (its provider refused the
/// stored sign-in): the same account must come back, whose new tokens then replace the old.
///
/// # Errors
/// Not an OAuth connection, cancelled, denied, another account, or the secret store.
pub async fn relink(
    app: AppHandle,
    sign_ins: &SignIns,
    config_dir: &std::path::Path,
    conn: &Connection,
) -> Result<(), AppError> {
    let invalid = |e: SetupError| AppError::Invalid(e.to_string());
    let mut relink = Relink::of(conn, None).map_err(invalid)?;
    // A redirect port registered for this app, and the secret when the old tokens cannot
    // be read, live in the environment or config.json.
    if let Ok(configured) = keys_for(relink.cloud, config_dir) {
        relink.keys.redirect_port = configured.redirect_port;
        if relink.keys.secret.is_none() {
            relink.keys.secret = configured.secret;
        }
    }
    let ui = WindowUi {
        app,
        window: "main",
        provider: relink.cloud.id(),
    };
    let tokens = drive(sign_ins, relink.cloud, &relink.keys, ui).await?;
    relink
        .store(&tokens)
        .await
        .map_err(|e| AppError::Engine(e.to_string()))
}

/// Runs one sign-in (cancelling any other) until the user finishes it, and returns the
/// tokens with the app secret they renew with.
async fn drive(
    sign_ins: &SignIns,
    cloud: Cloud,
    keys: &AppKeys,
    ui: WindowUi,
) -> Result<StoredTokens, AppError> {
    if cloud == Cloud::Baidu && keys.secret.is_none() {
        return Err(AppError::Invalid(
            "Baidu sign-in needs the app's secret key: set CLOUDSYNC_BAIDU_APP_SECRET or put app_secret in config.json".into(),
        ));
    }
    sign_ins.cancel();
    let oauth = cloud.app(keys);
    let method = cloud.default_method(keys);
    let task = tokio::spawn(async move {
        signin::sign_in(&oauth, method, &ui, signin::SIGN_IN_TIMEOUT)
            .await
            .map(|answer| (answer, oauth.client_secret.clone()))
    });
    if let Ok(mut r) = sign_ins.running.lock() {
        *r = Some(task.abort_handle());
    }
    let (answer, client_secret) = match task.await {
        Ok(r) => r.map_err(|e| AppError::Engine(format!("signing in: {e}")))?,
        Err(e) if e.is_cancelled() => return Err(AppError::Invalid("sign-in cancelled".into())),
        Err(e) => return Err(AppError::Engine(format!("signing in: {e}"))),
    };
    Ok(StoredTokens {
        client_secret,
        ..StoredTokens::from_answer(&answer, None)
    })
}

fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    // Unique within this process is all a session id needs; it is no secret.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", h.finish())
}
