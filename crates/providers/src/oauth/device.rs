//! Device-code sign-in as Baidu runs it: the app shows a short code and a URL, the user
//! types the code on that page (on any device), and the app polls the token endpoint.
//!
//! Baidu's shape predates RFC 8628: the start is a GET with `response_type=device_code`,
//! the answer names `verification_url` (not `_uri`), and polls use
//! `grant_type=device_token&code=DEVICE_CODE`.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{OAuthApp, OAuthError, TokenResponse};

/// What the user is shown.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    /// What the app polls with (never shown).
    pub device_code: String,
    /// What the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_url: String,
    /// A QR code of the same page, where the provider gives one.
    #[serde(default)]
    pub qrcode_url: Option<String>,
    /// Seconds the codes live.
    pub expires_in: u64,
    /// Seconds between polls.
    pub interval: u64,
}

/// Starts a device sign-in.
///
/// # Errors
/// The provider has no device flow, refused, or could not be reached.
pub async fn start(app: &OAuthApp, http: &reqwest::Client) -> Result<DeviceCode, OAuthError> {
    let url = app.device_url.as_deref().ok_or_else(|| {
        OAuthError::Protocol(
            app.provider,
            "this provider has no device-code sign-in".into(),
        )
    })?;
    let mut params = vec![
        ("response_type", "device_code"),
        ("client_id", app.client_id.as_str()),
    ];
    if let Some(s) = &app.scope {
        params.push(("scope", s));
    }
    let response = http
        .get(format!("{url}?{}", super::encode_pairs(&params)))
        .send()
        .await
        .map_err(|e| OAuthError::Network(app.provider, e.to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| OAuthError::Network(app.provider, e.to_string()))?;
    if let Ok(code) = serde_json::from_slice::<DeviceCode>(&body) {
        return Ok(code);
    }
    // Not a device code: the standard error body, or something else entirely.
    match super::parse_token_answer(app.provider, status, &body) {
        Err(e) => Err(e),
        Ok(_) => Err(OAuthError::Protocol(
            app.provider,
            "device answer without a code".into(),
        )),
    }
}

/// Polls until the user approved (the tokens), denied, or the code expired.
///
/// # Errors
/// Denied, expired, or a failure of the token endpoint.
pub async fn poll(
    app: &OAuthApp,
    http: &reqwest::Client,
    device: &DeviceCode,
) -> Result<TokenResponse, OAuthError> {
    let deadline = Instant::now() + Duration::from_secs(device.expires_in);
    let mut interval = Duration::from_secs(device.interval.max(1));
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(OAuthError::NotCompleted(
                "the code expired before it was entered".into(),
            ));
        }
        let answer = app
            .token_request(
                http,
                vec![
                    ("grant_type", "device_token"),
                    ("code", &device.device_code),
                ],
            )
            .await;
        match answer {
            Ok(tokens) => return Ok(tokens),
            Err(OAuthError::Refused { code, .. }) if code == "authorization_pending" => {}
            // RFC 8628 3.5: back off by 5 seconds for every slow_down.
            Err(OAuthError::Refused { code, .. }) if code == "slow_down" => {
                interval += Duration::from_secs(5);
            }
            Err(OAuthError::Refused {
                code, description, ..
            }) if code == "expired_token" || code == "access_denied" => {
                return Err(OAuthError::NotCompleted(description.unwrap_or(code)));
            }
            Err(e) => return Err(e),
        }
    }
}
