//! Signing in to the OAuth providers (Dropbox, Google Drive, Baidu) and keeping their tokens.
//!
//! - [`OAuthApp`]: one provider's endpoints and app credentials; builds the authorization
//!   URL and makes the token requests (code exchange, refresh);
//! - [`pkce`]: the S256 verifier and challenge, and the `state` value;
//! - [`loopback`]: the one-shot redirect listener on 127.0.0.1;
//! - [`device`]: Baidu's device-code sign-in (show a code, poll);
//! - [`signin`]: a whole sign-in for a front end (browser + loopback, pasted code, device);
//! - [`stored`]: the tokens kept in the OS keyring (or the owner-only secrets file) and the
//!   [`crate::auth::TokenSource`] that renews them.
//!
//! The token requests are written here rather than with the `oauth2` crate: Baidu's token
//! endpoint takes GET with query parameters, Dropbox's answers carry the account id, and
//! both are outside what that crate's typed client expresses; the rest is a form POST.

pub mod device;
pub mod loopback;
pub mod pkce;
pub mod signin;
pub mod stored;

use serde::Deserialize;

pub use pkce::Pkce;

/// Why signing in or renewing a token failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider answered with an OAuth error (`invalid_grant`, `access_denied`, ...).
    #[error("{provider} refused: {code}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// Which provider.
        provider: &'static str,
        /// The `error` field.
        code: String,
        /// The `error_description` field.
        description: Option<String>,
    },
    /// The sign-in server could not be reached or answered 5xx.
    #[error("could not reach {0}'s sign-in server: {1}")]
    Network(&'static str, String),
    /// The answer was not what the protocol says.
    #[error("unexpected answer from {0}'s sign-in server: {1}")]
    Protocol(&'static str, String),
    /// The user pressed Deny, or the sign-in took too long.
    #[error("sign-in did not complete: {0}")]
    NotCompleted(String),
    /// The redirect listener could not run.
    #[error("redirect listener: {0}")]
    Io(#[from] std::io::Error),
    /// The tokens could not be stored or read.
    #[error(transparent)]
    Secret(#[from] cloudsync_engine::secrets::SecretError),
}

impl OAuthError {
    /// True when the grant itself is dead (revoked, expired): only a new sign-in helps.
    pub fn needs_new_sign_in(&self) -> bool {
        matches!(self, OAuthError::Refused { code, .. }
            if code == "invalid_grant" || code == "invalid_client" || code == "unauthorized_client")
    }
}

/// How the token endpoint takes its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenMethod {
    /// `POST` with an `application/x-www-form-urlencoded` body (RFC 6749).
    PostForm,
    /// `GET` with query parameters (Baidu).
    GetQuery,
}

/// One provider's OAuth endpoints and this app's credentials.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    /// The provider's name, for messages.
    pub provider: &'static str,
    /// The browser page.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The device-code endpoint, where the provider has one.
    pub device_url: Option<String>,
    /// The app key / client id.
    pub client_id: String,
    /// The app secret, where the provider needs one (Google Desktop clients, Baidu).
    pub client_secret: Option<String>,
    /// The `scope` value, already in the provider's format.
    pub scope: Option<String>,
    /// Further authorization parameters (`token_access_type=offline`, ...).
    pub extra_authorize: Vec<(&'static str, &'static str)>,
    /// How the token endpoint is called.
    pub token_method: TokenMethod,
    /// The provider supports PKCE (sent with every code flow where it does).
    pub pkce: bool,
}

/// Joins a base URL and a path.
fn at(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

impl OAuthApp {
    /// Dropbox: code flow with PKCE and no secret, offline access (a refresh token).
    /// `api_base` replaces both `www.dropbox.com` and `api.dropboxapi.com`.
    pub fn dropbox(api_base: Option<&str>, app_key: &str) -> OAuthApp {
        let (www, api) = match api_base {
            Some(b) => (b, b),
            None => ("https://www.dropbox.com", "https://api.dropboxapi.com"),
        };
        OAuthApp {
            provider: "Dropbox",
            authorize_url: at(www, "/oauth2/authorize"),
            token_url: at(api, "/oauth2/token"),
            device_url: None,
            client_id: app_key.to_string(),
            client_secret: None,
            scope: None,
            extra_authorize: vec![("token_access_type", "offline")],
            token_method: TokenMethod::PostForm,
            pkce: true,
        }
    }

    /// Google Drive: installed-app code flow with PKCE and a loopback redirect, full
    /// `drive` scope so files that are already there sync too. `api_base` replaces
    /// `accounts.google.com` and `oauth2.googleapis.com`.
    pub fn gdrive(
        api_base: Option<&str>,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> OAuthApp {
        let (accounts, oauth) = match api_base {
            Some(b) => (b, b),
            None => (
                "https://accounts.google.com",
                "https://oauth2.googleapis.com",
            ),
        };
        OAuthApp {
            provider: "Google Drive",
            authorize_url: at(accounts, "/o/oauth2/v2/auth"),
            token_url: at(oauth, "/token"),
            device_url: None,
            client_id: client_id.to_string(),
            client_secret: client_secret.map(str::to_string),
            scope: Some("https://www.googleapis.com/auth/drive".into()),
            extra_authorize: vec![("access_type", "offline"), ("prompt", "consent")],
            token_method: TokenMethod::PostForm,
            pkce: true,
        }
    }

    /// Baidu: code flow (no PKCE) or device code, `basic,netdisk` scope, token requests
    /// by GET. `api_base` replaces `openapi.baidu.com`.
    pub fn baidu(api_base: Option<&str>, app_key: &str, secret_key: Option<&str>) -> OAuthApp {
        let base = api_base.unwrap_or("https://openapi.baidu.com");
        OAuthApp {
            provider: "Baidu",
            authorize_url: at(base, "/oauth/2.0/authorize"),
            token_url: at(base, "/oauth/2.0/token"),
            device_url: Some(at(base, "/oauth/2.0/device/code")),
            client_id: app_key.to_string(),
            client_secret: secret_key.map(str::to_string),
            scope: Some("basic,netdisk".into()),
            extra_authorize: Vec::new(),
            token_method: TokenMethod::GetQuery,
            pkce: false,
        }
    }

    /// The browser URL of a code-flow sign-in. Without `redirect_uri` the provider shows
    /// the code for the user to paste (Dropbox; Baidu with `oob`).
    pub fn authorize_url(
        &self,
        redirect_uri: Option<&str>,
        state: &str,
        pkce: Option<&Pkce>,
    ) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &self.client_id),
            ("response_type", "code"),
            ("state", state),
        ];
        if let Some(r) = redirect_uri {
            params.push(("redirect_uri", r));
        }
        if let Some(s) = &self.scope {
            params.push(("scope", s));
        }
        if let Some(p) = pkce.filter(|_| self.pkce) {
            params.push(("code_challenge", &p.challenge));
            params.push(("code_challenge_method", "S256"));
        }
        params.extend(self.extra_authorize.iter().copied());
        format!("{}?{}", self.authorize_url, encode_pairs(&params))
    }

    /// Exchanges an authorization code.
    ///
    /// # Errors
    /// The provider's refusal, or a network or protocol failure.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let mut params = vec![("grant_type", "authorization_code"), ("code", code)];
        if let Some(r) = redirect_uri {
            params.push(("redirect_uri", r));
        }
        if let Some(v) = verifier.filter(|_| self.pkce) {
            params.push(("code_verifier", v));
        }
        self.token_request(http, params).await
    }

    /// Renews the access token with a refresh token.
    ///
    /// # Errors
    /// The provider's refusal (a revoked grant: [`OAuthError::needs_new_sign_in`]), or a
    /// network or protocol failure.
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<TokenResponse, OAuthError> {
        self.token_request(
            http,
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// Calls the token endpoint with `params` plus the client credentials.
    pub(crate) async fn token_request(
        &self,
        http: &reqwest::Client,
        mut params: Vec<(&str, &str)>,
    ) -> Result<TokenResponse, OAuthError> {
        params.push(("client_id", &self.client_id));
        if let Some(s) = &self.client_secret {
            params.push(("client_secret", s));
        }
        let request = match self.token_method {
            TokenMethod::PostForm => http
                .post(&self.token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encode_pairs(&params)),
            TokenMethod::GetQuery => {
                http.get(format!("{}?{}", self.token_url, encode_pairs(&params)))
            }
        };
        let response = request
            .send()
            .await
            .map_err(|e| OAuthError::Network(self.provider, e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Network(self.provider, e.to_string()))?;
        parse_token_answer(self.provider, status.as_u16(), &body)
    }
}

/// A token endpoint's success answer (fields beyond RFC 6749's are the providers' own).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// The refresh token (absent on most refreshes: the old one stays valid).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds the access token lives.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Dropbox: the account signed in.
    #[serde(default)]
    pub account_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Reads a token endpoint's answer: the tokens, the OAuth error, or a protocol failure.
fn parse_token_answer(
    provider: &'static str,
    status: u16,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    if status >= 500 {
        return Err(OAuthError::Network(provider, format!("HTTP {status}")));
    }
    // Baidu answers errors with 400 or 401, Dropbox with 400, Google with 400 or 401; all
    // as {"error", "error_description"}.
    if let Ok(e) = serde_json::from_slice::<ErrorAnswer>(body) {
        return Err(OAuthError::Refused {
            provider,
            code: e.error,
            description: e.error_description,
        });
    }
    if !(200..300).contains(&status) {
        let text = String::from_utf8_lossy(body);
        return Err(OAuthError::Protocol(
            provider,
            format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| OAuthError::Protocol(provider, format!("token answer is not valid: {e}")))
}

/// `application/x-www-form-urlencoded` encoding of name-value pairs (for query strings
/// and form bodies alike).
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropbox_authorize_url_carries_pkce_and_offline_access() {
        let app = OAuthApp::dropbox(Some("http://127.0.0.1:9/"), "key 1");
        let p = Pkce::from_verifier("v".repeat(43));
        let url = app.authorize_url(Some("http://127.0.0.1:53682/callback"), "st&te", Some(&p));
        assert!(
            url.starts_with("http://127.0.0.1:9/oauth2/authorize?"),
            "{url}"
        );
        for part in [
            "client_id=key+1",
            "response_type=code",
            "state=st%26te",
            "redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback",
            &format!("code_challenge={}", p.challenge),
            "code_challenge_method=S256",
            "token_access_type=offline",
        ] {
            assert!(url.contains(part), "{part} missing from {url}");
        }
    }

    #[test]
    fn baidu_sends_no_pkce() {
        let app = OAuthApp::baidu(None, "k", Some("s"));
        let url = app.authorize_url(Some("oob"), "x", Some(&Pkce::new()));
        assert!(url.starts_with("https://openapi.baidu.com/oauth/2.0/authorize?"));
        assert!(url.contains("scope=basic%2Cnetdisk"));
        assert!(!url.contains("code_challenge"));
    }

    #[test]
    fn token_answers_are_read_the_way_each_provider_words_them() {
        // Baidu's device-flow token answer, as transcribed in the reference.
        let ok = parse_token_answer(
            "Baidu",
            200,
            br#"{"expires_in":2592000,"refresh_token":"27.4ce9","access_token":"26.773c","session_secret":"5d7d","session_key":"9m7Y","scope":"basic netdisk"}"#,
        )
        .expect("tokens");
        assert_eq!(ok.access_token, "26.773c");
        assert_eq!(ok.refresh_token.as_deref(), Some("27.4ce9"));
        assert_eq!(ok.expires_in, Some(2_592_000));

        let refused = parse_token_answer(
            "Dropbox",
            400,
            br#"{"error": "invalid_grant", "error_description": "refresh token is invalid or revoked"}"#,
        )
        .expect_err("refused");
        assert!(refused.needs_new_sign_in());
        assert!(refused.to_string().contains("invalid_grant"));

        let pending = parse_token_answer("Baidu", 400, br#"{"error":"authorization_pending","error_description":"User has not yet completed the authorization"}"#)
            .expect_err("pending");
        assert!(
            matches!(&pending, OAuthError::Refused { code, .. } if code == "authorization_pending")
        );
        assert!(!pending.needs_new_sign_in());

        assert!(matches!(
            parse_token_answer("Google Drive", 503, b"busy"),
            Err(OAuthError::Network(..))
        ));
        assert!(matches!(
            parse_token_answer("Google Drive", 200, b"<html>"),
            Err(OAuthError::Protocol(..))
        ));
    }
}
