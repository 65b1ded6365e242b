//! Where the OAuth providers get their bearer tokens: [`TokenSource`], asked before each
//! request and told once when the provider answers that the token expired.

use async_trait::async_trait;
use cloudsync_engine::remote::RemoteError;

/// Supplies access tokens to a provider client.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The token to send now.
    async fn access_token(&self) -> Result<String, RemoteError>;

    /// The provider refused `rejected` as expired or invalid: renew it (once) and return
    /// the new token; [`RemoteError::Auth`] when it cannot be renewed (the user must sign
    /// in again with `cloudsync relink`).
    async fn renew(&self, rejected: &str) -> Result<String, RemoteError>;
}

/// A token given directly (`--token-env`, or a token generated in a provider's console):
/// used as it is, never renewed.
#[derive(Debug, Clone)]
pub struct StaticToken(String);

impl StaticToken {
    /// Wraps `token`.
    pub fn new(token: impl Into<String>) -> StaticToken {
        StaticToken(token.into())
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> Result<String, RemoteError> {
        Ok(self.0.clone())
    }

    async fn renew(&self, _rejected: &str) -> Result<String, RemoteError> {
        Err(RemoteError::Auth(
            "the access token was refused and cannot be renewed (it was given directly); \
             give a new one or sign in with `cloudsync relink`"
                .into(),
        ))
    }
}
