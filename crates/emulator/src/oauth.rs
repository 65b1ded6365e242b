//! OAuth 2.0 state shared by the emulated providers: authorization codes bound to a PKCE
//! challenge, device codes, access tokens with an expiry, refresh tokens, and the HTML of
//! the sign-in page (an account field and an Allow button).
//!
//! Providers differ in how requests arrive (Dropbox and Google: form POST; Baidu: GET with
//! query parameters) and in how errors are worded; they parse and word, this module decides.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use rand::Rng;
use sha2::{Digest, Sha256};

/// The account a grant belongs to when the sign-in page's field is left as it is.
pub const DEFAULT_ACCOUNT: &str = "emulated-user";

/// Why a token request was refused, as the standard OAuth error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Unknown, used or expired code or refresh token, wrong verifier or redirect URI.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client id does not match the grant.
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    /// A required parameter is missing.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// The grant type is not one the endpoint knows.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// Device flow: the user has not approved yet.
    #[error("authorization_pending")]
    AuthorizationPending,
    /// Device flow: polled faster than the interval.
    #[error("slow_down")]
    SlowDown,
    /// Device flow: the device code expired.
    #[error("expired_token")]
    ExpiredToken,
    /// The user pressed Deny.
    #[error("access_denied")]
    AccessDenied,
}

impl TokenError {
    /// The `error` field of the OAuth error body.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::InvalidClient(_) => "invalid_client",
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::UnsupportedGrantType(_) => "unsupported_grant_type",
            TokenError::AuthorizationPending => "authorization_pending",
            TokenError::SlowDown => "slow_down",
            TokenError::ExpiredToken => "expired_token",
            TokenError::AccessDenied => "access_denied",
        }
    }

    /// The standard JSON error body (`{"error", "error_description"}`) with status 400
    /// (401 for a bad client).
    pub fn into_standard_response(self) -> Response {
        let status = match self {
            TokenError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = serde_json::json!({
            "error": self.code(),
            "error_description": self.to_string(),
        });
        (status, axum::Json(body)).into_response()
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// No token was sent.
    Missing,
    /// The token was never issued or was revoked.
    Invalid,
    /// The token was issued but has expired.
    Expired,
}

/// Tokens handed out by a successful exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The bearer token.
    pub access_token: String,
    /// The refresh token (the same one again on a refresh, unless the provider rotates).
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The account signed in.
    pub account: String,
}

/// A device-flow start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStart {
    /// What the client polls with.
    pub device_code: String,
    /// What the user types on the verification page.
    pub user_code: String,
    /// Seconds until the device code expires.
    pub expires_in: u64,
    /// Seconds the client must wait between polls.
    pub interval: u64,
}

#[derive(Debug)]
struct PendingCode {
    client_id: String,
    redirect_uri: Option<String>,
    challenge: Option<String>,
    account: String,
    created: Instant,
}

#[derive(Debug)]
struct AccessGrant {
    account: String,
    expires: Instant,
}

#[derive(Debug)]
struct RefreshGrant {
    account: String,
    client_id: String,
}

#[derive(Debug)]
struct DeviceGrant {
    client_id: String,
    user_code: String,
    approved: Option<String>,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    codes: HashMap<String, PendingCode>,
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
    device: HashMap<String, DeviceGrant>,
}

/// Every grant of one emulator.
#[derive(Debug)]
pub struct Tokens {
    state: Mutex<State>,
    accept_token: Option<String>,
    access_ttl: Duration,
}

/// Codes are single-use and live this long.
const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// Device codes live this long.
const DEVICE_LIFETIME: Duration = Duration::from_secs(1800);

impl Tokens {
    /// A store whose access tokens live `access_ttl`; `accept_token` is a bearer token taken
    /// without a sign-in (for scripts), belonging to [`DEFAULT_ACCOUNT`].
    pub fn new(accept_token: Option<String>, access_ttl: Duration) -> Tokens {
        Tokens {
            state: Mutex::new(State::default()),
            accept_token,
            access_ttl,
        }
    }

    /// Issues an authorization code after the user pressed Allow. `challenge` is the S256
    /// PKCE challenge, when the client sent one.
    pub fn issue_code(
        &self,
        client_id: &str,
        redirect_uri: Option<&str>,
        challenge: Option<&str>,
        account: &str,
    ) -> String {
        let code = random_token("code");
        self.lock().codes.insert(
            code.clone(),
            PendingCode {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.map(str::to_string),
                challenge: challenge.map(str::to_string),
                account: account.to_string(),
                created: Instant::now(),
            },
        );
        code
    }

    /// True when the code was issued with a PKCE challenge (so no client secret is needed).
    pub fn code_has_challenge(&self, code: &str) -> bool {
        self.lock()
            .codes
            .get(code)
            .is_some_and(|c| c.challenge.is_some())
    }

    /// Exchanges a code: single use, same client and redirect URI, and the verifier must
    /// hash to the challenge when one was given.
    ///
    /// # Errors
    /// The standard OAuth refusals.
    pub fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<Grant, TokenError> {
        let mut state = self.lock();
        let pending = state
            .codes
            .remove(code)
            .ok_or_else(|| TokenError::InvalidGrant("code doesn't exist or has expired".into()))?;
        if pending.created.elapsed() > CODE_LIFETIME {
            return Err(TokenError::InvalidGrant("code has expired".into()));
        }
        if pending.client_id != client_id {
            return Err(TokenError::InvalidClient(
                "the code was issued to another client".into(),
            ));
        }
        if pending.redirect_uri.is_some() && pending.redirect_uri.as_deref() != redirect_uri {
            return Err(TokenError::InvalidGrant("redirect_uri mismatch".into()));
        }
        if let Some(challenge) = &pending.challenge {
            let verifier = verifier
                .ok_or_else(|| TokenError::InvalidRequest("code_verifier is required".into()))?;
            if pkce_s256(verifier) != *challenge {
                return Err(TokenError::InvalidGrant(
                    "invalid code verifier (PKCE check failed)".into(),
                ));
            }
        }
        Ok(self.grant(&mut state, &pending.account, client_id, None))
    }

    /// Exchanges a refresh token for a new access token. With `rotate`, the refresh token
    /// is replaced (Baidu); without, the same one stays valid (Dropbox, Google).
    ///
    /// # Errors
    /// Unknown or revoked refresh token, or another client's.
    pub fn refresh(
        &self,
        refresh_token: &str,
        client_id: &str,
        rotate: bool,
    ) -> Result<Grant, TokenError> {
        let mut state = self.lock();
        let grant = state
            .refresh
            .get(refresh_token)
            .ok_or_else(|| TokenError::InvalidGrant("refresh token is invalid".into()))?;
        if grant.client_id != client_id {
            return Err(TokenError::InvalidClient(
                "the refresh token belongs to another client".into(),
            ));
        }
        let account = grant.account.clone();
        let keep = if rotate {
            state.refresh.remove(refresh_token);
            None
        } else {
            Some(refresh_token.to_string())
        };
        Ok(self.grant(&mut state, &account, client_id, keep))
    }

    /// Starts a device flow.
    pub fn start_device(&self, client_id: &str, interval_secs: u64) -> DeviceStart {
        let device_code = random_token("device");
        let user_code = random_user_code();
        self.lock().device.insert(
            device_code.clone(),
            DeviceGrant {
                client_id: client_id.to_string(),
                user_code: user_code.clone(),
                approved: None,
                expires: Instant::now() + DEVICE_LIFETIME,
                interval: Duration::from_secs(interval_secs),
                last_poll: None,
            },
        );
        DeviceStart {
            device_code,
            user_code,
            expires_in: DEVICE_LIFETIME.as_secs(),
            interval: interval_secs,
        }
    }

    /// The user typed `user_code` on the verification page and pressed Allow; false when no
    /// live device flow has that code.
    pub fn approve_device(&self, user_code: &str, account: &str) -> bool {
        let mut state = self.lock();
        let now = Instant::now();
        match state
            .device
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim()) && d.expires > now)
        {
            Some(d) => {
                d.approved = Some(account.to_string());
                true
            }
            None => false,
        }
    }

    /// A client polls for its device code.
    ///
    /// # Errors
    /// Pending, too fast, expired, unknown, or another client's.
    pub fn poll_device(&self, device_code: &str, client_id: &str) -> Result<Grant, TokenError> {
        let mut state = self.lock();
        let now = Instant::now();
        let device = state
            .device
            .get_mut(device_code)
            .ok_or_else(|| TokenError::InvalidGrant("unknown device code".into()))?;
        if device.client_id != client_id {
            return Err(TokenError::InvalidClient(
                "the device code belongs to another client".into(),
            ));
        }
        if device.expires <= now {
            state.device.remove(device_code);
            return Err(TokenError::ExpiredToken);
        }
        let too_soon = device
            .last_poll
            .is_some_and(|last| now.duration_since(last) < device.interval);
        device.last_poll = Some(now);
        let Some(account) = device.approved.clone() else {
            return Err(if too_soon {
                TokenError::SlowDown
            } else {
                TokenError::AuthorizationPending
            });
        };
        state.device.remove(device_code);
        Ok(self.grant(&mut state, &account, client_id, None))
    }

    /// The account of a bearer token.
    ///
    /// # Errors
    /// Missing, unknown or expired token.
    pub fn check_bearer(&self, token: Option<&str>) -> Result<String, BearerError> {
        let token = token.ok_or(BearerError::Missing)?;
        if self.accept_token.as_deref() == Some(token) {
            return Ok(DEFAULT_ACCOUNT.to_string());
        }
        let state = self.lock();
        let grant = state.access.get(token).ok_or(BearerError::Invalid)?;
        if grant.expires <= Instant::now() {
            return Err(BearerError::Expired);
        }
        Ok(grant.account.clone())
    }

    /// Makes every access token issued so far expire now (a fault for tests); refresh
    /// tokens stay valid.
    pub fn expire_all(&self) {
        let now = Instant::now();
        for grant in self.lock().access.values_mut() {
            grant.expires = now;
        }
    }

    /// Revokes every access and refresh token of `account`.
    pub fn revoke_account(&self, account: &str) {
        let mut state = self.lock();
        state.access.retain(|_, g| g.account != account);
        state.refresh.retain(|_, r| r.account != account);
    }

    /// Revokes an access token and the refresh tokens of its account and client.
    pub fn revoke(&self, access_token: &str) {
        let mut state = self.lock();
        if let Some(grant) = state.access.remove(access_token) {
            state.refresh.retain(|_, r| r.account != grant.account);
        }
    }

    fn grant(
        &self,
        state: &mut State,
        account: &str,
        client_id: &str,
        keep_refresh: Option<String>,
    ) -> Grant {
        let access_token = random_token("access");
        state.access.insert(
            access_token.clone(),
            AccessGrant {
                account: account.to_string(),
                expires: Instant::now() + self.access_ttl,
            },
        );
        let refresh_token = keep_refresh.unwrap_or_else(|| {
            let t = random_token("refresh");
            state.refresh.insert(
                t.clone(),
                RefreshGrant {
                    account: account.to_string(),
                    client_id: client_id.to_string(),
                },
            );
            t
        });
        Grant {
            access_token,
            refresh_token,
            expires_in: self.access_ttl.as_secs(),
            account: account.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The S256 PKCE challenge of a verifier: base64url(sha256(verifier)) without padding.
pub fn pkce_s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A fresh random token with a readable prefix.
pub fn random_token(prefix: &str) -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    format!(
        "{prefix}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn random_user_code() -> String {
    const LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| LETTERS[rng.gen_range(0..LETTERS.len())] as char)
        .collect()
}

/// Escapes text for HTML.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The sign-in page: who asks, an account field, Allow and Deny. The form posts `hidden`
/// back to `action` with `account` and `decision=allow|deny`.
pub fn authorize_page(provider: &str, action: &str, hidden: &[(&str, &str)]) -> Html<String> {
    let fields: String = hidden
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{p} (emulated): sign in</title></head>
<body><h1>{p} (emulated)</h1><p>An app asks for access to your files.</p>
<form method="post" action="{a}">{fields}
<label>Account <input name="account" id="account" value="{d}"></label>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>"#,
        p = html_escape(provider),
        a = html_escape(action),
        d = DEFAULT_ACCOUNT,
    ))
}

/// The page that shows a code for the user to paste into the app (no redirect URI).
pub fn code_page(provider: &str, code: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{p} (emulated): code</title></head>
<body><p>Enter this code into the app:</p><code id="code">{c}</code></body></html>"#,
        p = html_escape(provider),
        c = html_escape(code),
    ))
}

/// A 302 to the client's redirect URI with `code` (or `error`) and `state`.
pub fn redirect_back(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let url = format!("{redirect_uri}{sep}{query}");
    (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(Some("script-token".into()), Duration::from_secs(3600))
    }

    #[test]
    fn rfc7636_appendix_b_challenge() {
        // RFC 7636 Appendix B's verifier and its S256 challenge.
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_code_needs_its_verifier_and_works_once() {
        let t = tokens();
        let challenge = pkce_s256("the-verifier");
        let code = t.issue_code(
            "app",
            Some("http://127.0.0.1:1/cb"),
            Some(&challenge),
            "ann",
        );
        let wrong = t.redeem_code(&code, "app", Some("http://127.0.0.1:1/cb"), Some("other"));
        assert!(matches!(wrong, Err(TokenError::InvalidGrant(_))));
        // A failed attempt uses the code up, as the providers do.
        let code = t.issue_code(
            "app",
            Some("http://127.0.0.1:1/cb"),
            Some(&challenge),
            "ann",
        );
        let grant = t
            .redeem_code(
                &code,
                "app",
                Some("http://127.0.0.1:1/cb"),
                Some("the-verifier"),
            )
            .expect("redeem");
        assert_eq!(grant.account, "ann");
        assert_eq!(t.check_bearer(Some(&grant.access_token)), Ok("ann".into()));
        let again = t.redeem_code(
            &code,
            "app",
            Some("http://127.0.0.1:1/cb"),
            Some("the-verifier"),
        );
        assert!(matches!(again, Err(TokenError::InvalidGrant(_))));
    }

    #[test]
    fn another_client_or_redirect_is_refused() {
        let t = tokens();
        let code = t.issue_code("app", Some("http://127.0.0.1:1/cb"), None, "ann");
        assert!(matches!(
            t.redeem_code(&code, "intruder", Some("http://127.0.0.1:1/cb"), None),
            Err(TokenError::InvalidClient(_))
        ));
        let code = t.issue_code("app", Some("http://127.0.0.1:1/cb"), None, "ann");
        assert!(matches!(
            t.redeem_code(&code, "app", Some("http://127.0.0.1:2/cb"), None),
            Err(TokenError::InvalidGrant(_))
        ));
    }

    #[test]
    fn expired_tokens_are_told_apart_and_a_refresh_renews_them() {
        let t = tokens();
        let code = t.issue_code("app", None, None, "ann");
        let grant = t.redeem_code(&code, "app", None, None).expect("redeem");
        t.expire_all();
        assert_eq!(
            t.check_bearer(Some(&grant.access_token)),
            Err(BearerError::Expired)
        );
        assert_eq!(t.check_bearer(Some("made-up")), Err(BearerError::Invalid));
        assert_eq!(t.check_bearer(None), Err(BearerError::Missing));
        let renewed = t
            .refresh(&grant.refresh_token, "app", false)
            .expect("refresh");
        assert_eq!(renewed.refresh_token, grant.refresh_token);
        assert_eq!(
            t.check_bearer(Some(&renewed.access_token)),
            Ok("ann".into())
        );
        let rotated = t
            .refresh(&grant.refresh_token, "app", true)
            .expect("rotate");
        assert_ne!(rotated.refresh_token, grant.refresh_token);
        assert!(t.refresh(&grant.refresh_token, "app", false).is_err());
        assert_eq!(
            t.check_bearer(Some("script-token")),
            Ok(DEFAULT_ACCOUNT.into())
        );
    }

    #[test]
    fn device_flow_is_pending_until_approved() {
        let t = tokens();
        let start = t.start_device("app", 0);
        assert_eq!(
            t.poll_device(&start.device_code, "app"),
            Err(TokenError::AuthorizationPending)
        );
        assert!(!t.approve_device("wrong-code", "ann"));
        assert!(t.approve_device(&start.user_code.to_uppercase(), "ann"));
        let grant = t.poll_device(&start.device_code, "app").expect("granted");
        assert_eq!(grant.account, "ann");
        assert!(t.poll_device(&start.device_code, "app").is_err());
    }

    #[test]
    fn polling_faster_than_the_interval_is_told_to_slow_down() {
        let t = tokens();
        let start = t.start_device("app", 60);
        assert_eq!(
            t.poll_device(&start.device_code, "app"),
            Err(TokenError::AuthorizationPending)
        );
        assert_eq!(
            t.poll_device(&start.device_code, "app"),
            Err(TokenError::SlowDown)
        );
    }

    #[test]
    fn the_sign_in_page_escapes_what_it_echoes() {
        let page = authorize_page("Dropbox", "/oauth2/authorize", &[("state", "\"><script>")]);
        assert!(page.0.contains("&quot;&gt;&lt;script&gt;"));
        assert!(!page.0.contains("\"><script>"));
    }
}
