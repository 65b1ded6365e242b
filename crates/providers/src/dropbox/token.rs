//! Access tokens from a Dropbox refresh token: `POST /oauth2/token` with
//! `grant_type=refresh_token` and the app key (no secret: the sign-in used PKCE). Dropbox
//! keeps the refresh token, so only the short-lived access token changes.

use std::time::Duration;

use async_trait::async_trait;
use cloudsync_engine::remote::RemoteError;
use serde_json::Value;
use tokio::sync::Mutex;

use super::api::{error_chain, map_reqwest};
use crate::auth::TokenSource;

/// A [`TokenSource`] that refreshes with a Dropbox refresh token.
pub struct RefreshToken {
    http: reqwest::Client,
    token_url: String,
    app_key: String,
    refresh_token: String,
    current: Mutex<Option<String>>,
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("RefreshToken")
            .field("token_url", &self.token_url)
            .field("app_key", &self.app_key)
            .finish()
    }
}

impl RefreshToken {
    /// A source refreshing at `api_base` + `/oauth2/token` for the app `app_key`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(
        api_base: &str,
        app_key: &str,
        refresh_token: &str,
    ) -> Result<RefreshToken, RemoteError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                RemoteError::Other(format!(
                    "cannot set up the HTTP client: {}",
                    error_chain(&e)
                ))
            })?;
        Ok(RefreshToken {
            http,
            token_url: format!("{}/oauth2/token", api_base.trim_end_matches('/')),
            app_key: app_key.to_string(),
            refresh_token: refresh_token.to_string(),
            current: Mutex::new(None),
        })
    }

    async fn refresh(&self) -> Result<String, RemoteError> {
        let form = format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}",
            form_encode(&self.refresh_token),
            form_encode(&self.app_key)
        );
        let resp = self
            .http
            .post(&self.token_url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(map_reqwest)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(map_reqwest)?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if status.is_success() {
            return json
                .as_ref()
                .and_then(|v| v.get("access_token")?.as_str())
                .map(str::to_string)
                .ok_or_else(|| {
                    RemoteError::Unavailable("the token answer has no access_token".into())
                });
        }
        let code = json
            .as_ref()
            .and_then(|v| v.get("error")?.as_str())
            .unwrap_or("")
            .to_string();
        Err(match (status.as_u16(), code.as_str()) {
            (_, "invalid_grant") | (_, "invalid_client") | (401, _) => RemoteError::Auth(format!(
                "Dropbox refused the refresh token ({code}); sign in again with `cloudsync relink`"
            )),
            (429, _) => RemoteError::RateLimited(None),
            (500..=599, _) => RemoteError::Unavailable(format!("token refresh: HTTP {status}")),
            _ => RemoteError::Other(format!("token refresh: HTTP {status} {code}")),
        })
    }
}

#[async_trait]
impl TokenSource for RefreshToken {
    async fn access_token(&self) -> Result<String, RemoteError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref() {
            return Ok(t.clone());
        }
        let t = self.refresh().await?;
        *current = Some(t.clone());
        Ok(t)
    }

    async fn renew(&self, rejected: &str) -> Result<String, RemoteError> {
        let mut current = self.current.lock().await;
        // Another request may have renewed it meanwhile.
        if let Some(t) = current.as_ref().filter(|t| t.as_str() != rejected) {
            return Ok(t.clone());
        }
        let t = self.refresh().await?;
        *current = Some(t.clone());
        Ok(t)
    }
}

fn form_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
