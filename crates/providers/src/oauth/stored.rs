//! A connection's OAuth tokens, kept where its secrets go (the OS keyring, or the
//! owner-only secrets file), and the [`TokenSource`] that renews them.
//!
//! The secret holds JSON `{"access_token", "refresh_token", "expires_at"}`; a bare string is
//! an access token given directly (`--token-env`), used until it is refused. Renewals are
//! written back at once, because Baidu replaces the refresh token on every renewal.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use cloudsync_engine::remote::RemoteError;
use cloudsync_engine::secrets::SecretRef;
use serde::{Deserialize, Serialize};

use super::{OAuthApp, OAuthError, TokenResponse};
use crate::auth::TokenSource;

/// Renew this long before the stated expiry, so a request never leaves with a token that
/// expires on the way.
const EARLY_SECS: i64 = 60;

/// The tokens of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The bearer token, if one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The refresh token, if the sign-in gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Unix seconds at which the access token expires, if stated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The app secret renewals need (Google Desktop clients, Baidu), kept with the tokens
    /// so it is as protected as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl StoredTokens {
    /// The tokens of a token answer; `previous_refresh` stays when the answer has none
    /// (Dropbox and Google keep the refresh token across renewals).
    pub fn from_answer(answer: &TokenResponse, previous_refresh: Option<&str>) -> StoredTokens {
        StoredTokens {
            access_token: Some(answer.access_token.clone()),
            refresh_token: answer
                .refresh_token
                .clone()
                .or_else(|| previous_refresh.map(str::to_string)),
            expires_at: answer.expires_in.map(|s| now_secs() + s as i64),
            client_secret: None,
        }
    }

    /// Reads the secret's text: JSON, or a bare access token.
    pub fn parse(text: &str) -> StoredTokens {
        let trimmed = text.trim();
        if trimmed.starts_with('{') {
            if let Ok(t) = serde_json::from_str(trimmed) {
                return t;
            }
        }
        StoredTokens {
            access_token: Some(trimmed.to_string()),
            ..StoredTokens::default()
        }
    }

    /// The secret's text.
    pub fn to_secret(&self) -> String {
        // Serialising plain strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The access token if it is still good for a while.
    fn usable_access(&self) -> Option<&str> {
        let fresh = self.expires_at.is_none_or(|t| t > now_secs() + EARLY_SECS);
        self.access_token.as_deref().filter(|_| fresh)
    }
}

/// Tokens kept in a secret and renewed with the provider's token endpoint.
pub struct StoredTokenSource {
    app: OAuthApp,
    http: reqwest::Client,
    secret: SecretRef,
    current: tokio::sync::Mutex<StoredTokens>,
}

impl StoredTokenSource {
    /// Reads the tokens from `secret`.
    ///
    /// # Errors
    /// The secret cannot be read or is missing ([`RemoteError::Auth`]).
    pub fn open(app: OAuthApp, secret: SecretRef) -> Result<StoredTokenSource, RemoteError> {
        let text = secret
            .resolve()
            .map_err(|e| RemoteError::Auth(e.to_string()))?;
        Ok(StoredTokenSource {
            app,
            http: reqwest::Client::new(),
            secret,
            current: tokio::sync::Mutex::new(StoredTokens::parse(&text)),
        })
    }

    /// Renews with the refresh token and stores the result.
    async fn renew_locked(&self, tokens: &mut StoredTokens) -> Result<String, RemoteError> {
        let Some(refresh) = tokens.refresh_token.clone() else {
            return Err(RemoteError::Auth(format!(
                "{} refused the access token and there is no refresh token to renew it \
                 (it was given directly): give a new one or run `cloudsync relink`",
                self.app.provider
            )));
        };
        let answer = self
            .app
            .refresh(&self.http, &refresh)
            .await
            .map_err(|e| self.to_remote(e))?;
        let renewed = StoredTokens {
            client_secret: tokens.client_secret.clone(),
            ..StoredTokens::from_answer(&answer, Some(&refresh))
        };
        let secret = self.secret.clone();
        let text = renewed.to_secret();
        let saved = tokio::task::spawn_blocking(move || secret.set(&text)).await;
        match saved {
            Ok(Ok(())) => {}
            // The new tokens still work for this run; only a restart would need them.
            Ok(Err(e)) => tracing::error!(
                "could not store the renewed {} tokens ({e}); a restart will need `cloudsync relink`",
                self.app.provider
            ),
            Err(e) => tracing::error!("storing renewed tokens: {e}"),
        }
        *tokens = renewed;
        Ok(answer.access_token)
    }

    fn to_remote(&self, e: OAuthError) -> RemoteError {
        if e.needs_new_sign_in() {
            RemoteError::Auth(format!(
                "the {} sign-in has expired or was revoked ({e}): run `cloudsync relink`",
                self.app.provider
            ))
        } else {
            match e {
                OAuthError::Network(..) | OAuthError::Protocol(..) => {
                    RemoteError::Unavailable(e.to_string())
                }
                other => RemoteError::Auth(other.to_string()),
            }
        }
    }
}

#[async_trait]
impl TokenSource for StoredTokenSource {
    async fn access_token(&self) -> Result<String, RemoteError> {
        let mut tokens = self.current.lock().await;
        if let Some(t) = tokens.usable_access() {
            return Ok(t.to_string());
        }
        if tokens.refresh_token.is_none() {
            // A token given directly: try it even if its stated expiry passed.
            if let Some(t) = &tokens.access_token {
                return Ok(t.clone());
            }
        }
        self.renew_locked(&mut tokens).await
    }

    async fn renew(&self, rejected: &str) -> Result<String, RemoteError> {
        let mut tokens = self.current.lock().await;
        // Another request renewed it meanwhile.
        if let Some(t) = tokens.usable_access().filter(|t| *t != rejected) {
            return Ok(t.to_string());
        }
        self.renew_locked(&mut tokens).await
    }
}

/// The token source a provider's stored config names: `token_secret` (where the tokens are
/// kept), else an inline `access_token` (scripts, and the account check made before a new
/// connection is saved).
///
/// # Errors
/// Neither is there, or the secret cannot be read.
pub fn token_source_from_config(
    config: &serde_json::Value,
    app: OAuthApp,
) -> Result<std::sync::Arc<dyn TokenSource>, RemoteError> {
    if let Some(r) = config.get("token_secret") {
        let secret: SecretRef = serde_json::from_value(r.clone()).map_err(|e| {
            RemoteError::Other(format!(
                "{} config has a bad token reference: {e}",
                app.provider
            ))
        })?;
        return Ok(std::sync::Arc::new(StoredTokenSource::open(app, secret)?));
    }
    match config.get("access_token").and_then(|v| v.as_str()) {
        Some(t) => Ok(std::sync::Arc::new(crate::auth::StaticToken::new(t))),
        None => Err(RemoteError::Auth(format!(
            "no {} sign-in is stored for this connection: run `cloudsync relink`",
            app.provider
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_token_is_an_access_token_and_json_round_trips() {
        let bare = StoredTokens::parse(" sl.abc \n");
        assert_eq!(bare.access_token.as_deref(), Some("sl.abc"));
        assert_eq!(bare.refresh_token, None);
        let full = StoredTokens {
            access_token: Some("a".into()),
            refresh_token: Some("r".into()),
            expires_at: Some(42),
            client_secret: Some("s".into()),
        };
        assert_eq!(StoredTokens::parse(&full.to_secret()), full);
    }

    #[test]
    fn a_renewal_without_a_refresh_token_keeps_the_old_one() {
        let answer = TokenResponse {
            access_token: "new".into(),
            refresh_token: None,
            expires_in: Some(14_400),
            account_id: None,
        };
        let t = StoredTokens::from_answer(&answer, Some("keep"));
        assert_eq!(t.refresh_token.as_deref(), Some("keep"));
        assert!(t.usable_access().is_some());
        let rotated = TokenResponse {
            refresh_token: Some("rotated".into()),
            ..answer
        };
        assert_eq!(
            StoredTokens::from_answer(&rotated, Some("keep"))
                .refresh_token
                .as_deref(),
            Some("rotated")
        );
    }

    #[test]
    fn a_token_about_to_expire_is_not_used() {
        let t = StoredTokens {
            access_token: Some("a".into()),
            refresh_token: Some("r".into()),
            expires_at: Some(now_secs() + 10),
            client_secret: None,
        };
        assert_eq!(t.usable_access(), None);
    }
}
