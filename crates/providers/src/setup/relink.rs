//! Signing an existing Dropbox, Google Drive or Baidu connection in again: what the new
//! sign-in needs from the stored connection (provider, app keys, token store, account),
//! and the check before new tokens replace the old. Shared by `cloudsync relink` and the
//! app's "Sign in again", so both refuse another account the same way.

use cloudsync_engine::secrets::SecretRef;
use cloudsync_engine::store::Connection;

use super::cloud::{self, AppKeys, Cloud};
use super::SetupError;
use crate::oauth::stored::StoredTokens;

/// A connection about to be signed in again.
#[derive(Debug)]
pub struct Relink {
    /// The connection's name.
    pub name: String,
    /// Its provider.
    pub cloud: Cloud,
    /// The app keys it was added with (the stored app key and API base; the secret from
    /// the caller or the stored tokens).
    pub keys: AppKeys,
    config: serde_json::Value,
    secret: SecretRef,
    account: String,
}

impl Relink {
    /// What relinking `conn` needs; `app_secret` overrides the secret kept with its tokens.
    ///
    /// # Errors
    /// Not an OAuth provider, or a damaged config (no app key, no token store).
    pub fn of(conn: &Connection, app_secret: Option<String>) -> Result<Relink, SetupError> {
        let cloud = Cloud::from_id(&conn.provider).ok_or_else(|| {
            SetupError(format!(
                "{} is a {} connection; signing in again is for Dropbox, Google Drive and \
                 Baidu Netdisk",
                conn.name, conn.provider
            ))
        })?;
        let config = conn.remote.clone();
        let secret: SecretRef = config
            .get("token_secret")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| SetupError(format!("the connection's token reference is damaged: {e}")))?
            .ok_or_else(|| SetupError("the connection names no token store".into()))?;
        // The secret kept with the old tokens, when the caller has none; the old tokens
        // themselves may be unreadable (that is often why a relink is needed).
        let stored_secret = || {
            secret
                .get()
                .ok()
                .flatten()
                .and_then(|t| StoredTokens::parse(&t).client_secret)
        };
        let key = config
            .get("app_key")
            .and_then(|v| v.as_str())
            .ok_or_else(|| SetupError("the connection names no app key".into()))?;
        let keys = AppKeys {
            key: key.to_string(),
            secret: app_secret.or_else(stored_secret),
            name: None,
            api_base: config
                .get("api_base")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            redirect_port: None,
        };
        let account = conn
            .credential
            .strip_prefix(&format!("{}:", cloud.id()))
            .unwrap_or_default()
            .to_string();
        Ok(Relink {
            name: conn.name.clone(),
            cloud,
            keys,
            config,
            secret,
            account,
        })
    }

    /// Asks the provider whose `tokens` these are and, when they belong to the account the
    /// connection syncs, stores them in place of the old ones.
    ///
    /// # Errors
    /// The provider's answer, another account (nothing is changed), or the secret store.
    pub async fn store(&self, tokens: &StoredTokens) -> Result<(), SetupError> {
        let account = cloud::account_of(self.cloud, &self.config, tokens).await?;
        if account != self.account {
            return Err(SetupError(format!(
                "signed in as {account}, but {} syncs the account {}; sign in with that \
                 account (nothing was changed)",
                self.name, self.account
            )));
        }
        self.secret.set(&tokens.to_secret()).map_err(|e| {
            SetupError(format!(
                "storing the new sign-in in {}: {e}",
                self.secret.describe()
            ))
        })
    }
}
