//! Setting up the OAuth providers (Dropbox, Google Drive, Baidu) for the CLI and the app:
//! where the app key comes from, the stored config, how the user signs in by default, and
//! which account the new tokens belong to.
//!
//! App keys are configuration, looked up in this order: what the caller passes (`--app-key`),
//! the environment (`CLOUDSYNC_DROPBOX_APP_KEY`, `CLOUDSYNC_GDRIVE_APP_KEY`,
//! `CLOUDSYNC_BAIDU_APP_KEY`, and `..._APP_SECRET`, `..._APP_NAME`, `..._API_BASE`,
//! `..._REDIRECT_PORT`), then
//! `config.json` in the config dir: `{"dropbox": {"app_key": "..."}, "gdrive": {"app_key":
//! "...", "app_secret": "..."}, "baidu": {"app_key": "...", "app_secret": "...",
//! "app_name": "..."}}` (each may also carry `api_base` and `redirect_port`).

use std::path::Path;

use cloudsync_engine::remote::RemoteFactory;

use super::{SetupError, Target};
use crate::oauth::signin::Method;
use crate::oauth::stored::StoredTokens;
use crate::oauth::OAuthApp;

/// The providers signed in to with OAuth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// Dropbox.
    Dropbox,
    /// Google Drive.
    Gdrive,
    /// Baidu Netdisk.
    Baidu,
}

/// Dropbox needs a registered redirect URI, so its port is fixed (rclone's, which users
/// may have registered already).
pub const DROPBOX_REDIRECT_PORT: u16 = 53682;

impl Cloud {
    /// The provider id.
    pub fn id(self) -> &'static str {
        match self {
            Cloud::Dropbox => "dropbox",
            Cloud::Gdrive => "gdrive",
            Cloud::Baidu => "baidu",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Cloud::Dropbox => "Dropbox",
            Cloud::Gdrive => "Google Drive",
            Cloud::Baidu => "Baidu Netdisk",
        }
    }

    /// The provider with this id.
    pub fn from_id(id: &str) -> Option<Cloud> {
        match id {
            "dropbox" => Some(Cloud::Dropbox),
            "gdrive" => Some(Cloud::Gdrive),
            "baidu" => Some(Cloud::Baidu),
            _ => None,
        }
    }

    /// The prefix of its environment variables.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Cloud::Dropbox => "CLOUDSYNC_DROPBOX",
            Cloud::Gdrive => "CLOUDSYNC_GDRIVE",
            Cloud::Baidu => "CLOUDSYNC_BAIDU",
        }
    }

    /// The OAuth client for these keys.
    pub fn app(self, keys: &AppKeys) -> OAuthApp {
        let base = keys.api_base.as_deref();
        match self {
            Cloud::Dropbox => OAuthApp::dropbox(base, &keys.key),
            Cloud::Gdrive => OAuthApp::gdrive(base, &keys.key, keys.secret.as_deref()),
            Cloud::Baidu => OAuthApp::baidu(base, &keys.key, keys.secret.as_deref()),
        }
    }

    /// How the user signs in unless asked otherwise: the browser with a loopback redirect
    /// (Dropbox on its registered port, the configured one or 53682; Google on any), or
    /// Baidu's device code.
    pub fn default_method(self, keys: &AppKeys) -> Method {
        match self {
            Cloud::Dropbox => Method::Loopback {
                port: keys.redirect_port.unwrap_or(DROPBOX_REDIRECT_PORT),
            },
            Cloud::Gdrive => Method::Loopback {
                port: keys.redirect_port.unwrap_or(0),
            },
            Cloud::Baidu => Method::DeviceCode,
        }
    }
}

/// A provider's app credentials (and where its API is, when not at the provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeys {
    /// The app key (client id).
    pub key: String,
    /// The app secret, where the provider needs one.
    pub secret: Option<String>,
    /// Baidu's app name (its folder under `/apps`).
    pub name: Option<String>,
    /// Every host of the provider replaced by this base URL (the emulator, a proxy).
    pub api_base: Option<String>,
    /// The loopback port registered as the redirect URI (Dropbox needs one).
    pub redirect_port: Option<u16>,
}

/// The app keys for `cloud`: `key`, `secret` and `api_base` when given, else the
/// environment, else `config.json` in `config_dir`.
///
/// # Errors
/// No app key anywhere (the message says how to register one), an unreadable
/// `config.json`, or an API base that is not an http(s) URL.
pub fn app_keys(
    cloud: Cloud,
    config_dir: &Path,
    key: Option<&str>,
    secret: Option<String>,
    api_base: Option<&str>,
) -> Result<AppKeys, SetupError> {
    let file = config_dir.join("config.json");
    let config: serde_json::Value = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| SetupError(format!("{} is not valid JSON: {e}", file.display())))?,
        Err(_) => serde_json::Value::Null,
    };
    let from_file = |field: &str| {
        config
            .get(cloud.id())
            .and_then(|p| p.get(field))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let env = |suffix: &str| {
        std::env::var(format!("{}_{suffix}", cloud.env_prefix()))
            .ok()
            .filter(|v| !v.is_empty())
    };
    let key = key
        .map(str::to_string)
        .or_else(|| env("APP_KEY"))
        .or_else(|| from_file("app_key"))
        .ok_or_else(|| {
            // Worded for both the CLI and the app, which shows it on the provider's card.
            SetupError(format!(
                "{} needs an app key: register one (README, \"Registering your own app\"), \
                 then set {}_APP_KEY or add it to {} (the CLI also takes --app-key)",
                cloud.label(),
                cloud.env_prefix(),
                file.display()
            ))
        })?;
    let api_base = api_base
        .map(str::to_string)
        .or_else(|| env("API_BASE"))
        .or_else(|| from_file("api_base"))
        .map(|b| b.trim_end_matches('/').to_string());
    if let Some(b) = &api_base {
        if !(b.starts_with("http://") || b.starts_with("https://")) {
            return Err(SetupError(format!(
                "the API base must start with http:// or https:// (got {b:?})"
            )));
        }
    }
    let redirect_port = match env("REDIRECT_PORT").or_else(|| {
        config
            .get(cloud.id())
            .and_then(|p| p.get("redirect_port"))
            .map(|v| v.to_string().trim_matches('"').to_string())
    }) {
        Some(p) => Some(p.parse::<u16>().map_err(|_| {
            SetupError(format!(
                "the redirect port must be a number from 0 to 65535 (got {p:?})"
            ))
        })?),
        None => None,
    };
    Ok(AppKeys {
        key,
        redirect_port,
        secret: secret
            .or_else(|| env("APP_SECRET"))
            .or_else(|| from_file("app_secret")),
        name: env("APP_NAME").or_else(|| from_file("app_name")),
        api_base,
    })
}

/// The stored config of a connection to `cloud` with `keys`, syncing `remote_root` (the
/// provider's default folder when `None`).
pub fn config(keys: &AppKeys, remote_root: Option<&str>) -> serde_json::Value {
    let mut config = serde_json::json!({ "app_key": keys.key });
    if let Some(map) = config.as_object_mut() {
        if let Some(b) = &keys.api_base {
            map.insert("api_base".into(), serde_json::json!(b));
        }
        if let Some(r) = remote_root {
            map.insert("root".into(), serde_json::json!(r));
        }
        if let Some(n) = &keys.name {
            map.insert("app_name".into(), serde_json::json!(n));
        }
    }
    config
}

/// The account `tokens` belong to, asked of the provider itself.
///
/// # Errors
/// The provider refuses the tokens or names no account.
pub async fn account_of(
    cloud: Cloud,
    config: &serde_json::Value,
    tokens: &StoredTokens,
) -> Result<String, SetupError> {
    let mut probe = config.clone();
    if let Some(map) = probe.as_object_mut() {
        // The new tokens, not the ones stored for a connection (relink).
        map.remove("token_secret");
        if let Some(t) = &tokens.access_token {
            map.insert("access_token".into(), serde_json::json!(t));
        }
    }
    let remote = crate::Factory
        .open(cloud.id(), &probe)
        .map_err(|e| SetupError(format!("opening the account: {e}")))?;
    remote
        .account_id()
        .await
        .map_err(|e| SetupError(format!("asking the provider which account this is: {e}")))?
        .ok_or_else(|| SetupError(format!("{} did not name the account", cloud.id())))
}

/// The target for a signed-in `account`: its tokens go under `token_secret`.
pub fn target(cloud: Cloud, config: serde_json::Value, account: &str) -> Target {
    Target {
        provider: cloud.id(),
        config,
        credential: format!("{}:{account}", cloud.id()),
        remote_local_dir: None,
        secret_field: Some("token_secret"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_caller_else_the_config_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // No variable of this test's provider is set in the test environment.
        std::fs::write(
            tmp.path().join("config.json"),
            r#"{"baidu": {"app_key": "fk", "app_secret": "fs", "app_name": "App", "api_base": "http://127.0.0.1:9/", "redirect_port": 8080}}"#,
        )
        .expect("write");
        let k = app_keys(Cloud::Baidu, tmp.path(), None, None, None).expect("keys");
        assert_eq!(
            k,
            AppKeys {
                key: "fk".into(),
                secret: Some("fs".into()),
                name: Some("App".into()),
                api_base: Some("http://127.0.0.1:9".into()),
                redirect_port: Some(8080),
            }
        );
        let k = app_keys(
            Cloud::Baidu,
            tmp.path(),
            Some("ck"),
            Some("cs".into()),
            None,
        )
        .expect("keys");
        assert_eq!((k.key.as_str(), k.secret.as_deref()), ("ck", Some("cs")));
        let c = config(&k, Some("/Work"));
        assert_eq!(c["app_key"], "ck");
        assert_eq!(c["root"], "/Work");
        assert_eq!(c["app_name"], "App");
        let bad = app_keys(Cloud::Baidu, tmp.path(), None, None, Some("ftp://x"));
        assert!(bad.is_err());
        let none = tempfile::tempdir().expect("tempdir");
        let e = app_keys(Cloud::Gdrive, none.path(), None, None, None);
        if std::env::var_os("CLOUDSYNC_GDRIVE_APP_KEY").is_none() {
            let e = e.expect_err("no key anywhere");
            let e = e.to_string();
            assert!(e.starts_with("Google Drive needs an app key"), "{e}");
            assert!(e.contains("CLOUDSYNC_GDRIVE_APP_KEY"), "{e}");
        }
    }
}
