//! The tokens of a connection whose secret holds Google's token answer: an access token
//! renewed with the refresh token at `{api_base}/token` (grant `refresh_token`; Google
//! keeps the refresh token the same). A secret holding a bare string is used as an access
//! token that cannot be renewed ([`crate::auth::StaticToken`]).
//!
//! The secret's JSON: `{"refresh_token": "...", "access_token": "..."?, "client_secret": "..."?}`.

use async_trait::async_trait;
use cloudsync_engine::remote::RemoteError;
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::auth::TokenSource;

/// Access tokens renewed with a refresh token.
pub struct RefreshingToken {
    client: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: Option<String>,
    refresh_token: String,
    current: Mutex<Option<String>>,
}

impl std::fmt::Debug for RefreshingToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens.
        f.debug_struct("RefreshingToken")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
}

#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: String,
}

impl RefreshingToken {
    /// Tokens for `client_id` renewed at `token_url`, starting from `access` if known.
    pub fn new(
        token_url: &str,
        client_id: &str,
        client_secret: Option<String>,
        refresh_token: &str,
        access: Option<String>,
    ) -> RefreshingToken {
        RefreshingToken {
            client: reqwest::Client::new(),
            token_url: token_url.to_string(),
            client_id: client_id.to_string(),
            client_secret,
            refresh_token: refresh_token.to_string(),
            current: Mutex::new(access),
        }
    }

    async fn refresh(&self) -> Result<String, RemoteError> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("client_id", self.client_id.as_str()),
        ];
        if let Some(s) = &self.client_secret {
            form.push(("client_secret", s.as_str()));
        }
        let r = self
            .client
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| RemoteError::Unavailable(format!("token refresh: {e}")))?;
        let status = r.status();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| RemoteError::Unavailable(format!("token refresh: {e}")))?;
        if status.is_success() {
            let answer: TokenAnswer = serde_json::from_slice(&bytes).map_err(|e| {
                RemoteError::Unavailable(format!("token refresh: unexpected answer: {e}"))
            })?;
            return Ok(answer.access_token);
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(RemoteError::Unavailable(format!(
                "token refresh: HTTP {status}"
            )));
        }
        let refusal: TokenRefusal = serde_json::from_slice(&bytes).unwrap_or(TokenRefusal {
            error: String::new(),
        });
        Err(RemoteError::Auth(format!(
            "Google refused to renew the sign-in ({} {}); sign in again with `cloudsync relink`",
            status, refusal.error
        )))
    }
}

#[async_trait]
impl TokenSource for RefreshingToken {
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
        // Another request renewed it meanwhile.
        if let Some(t) = current.as_ref().filter(|t| t.as_str() != rejected) {
            return Ok(t.clone());
        }
        let t = self.refresh().await?;
        *current = Some(t.clone());
        Ok(t)
    }
}
