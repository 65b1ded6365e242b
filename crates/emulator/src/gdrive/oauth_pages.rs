//! Google's OAuth 2.0 endpoints for installed apps: the consent page
//! `/o/oauth2/v2/auth` (code flow with PKCE S256 and a loopback redirect on any port) and
//! the token endpoint `/token` (form POST; `authorization_code` with `code_verifier`,
//! `refresh_token` keeping the same refresh token). `client_secret` is accepted and not
//! checked: Google treats a Desktop client's secret as public.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

use super::Gdrive;
use crate::oauth::{authorize_page, html_escape, redirect_back, TokenError};

/// The scopes granted with each code and refresh token.
#[derive(Debug, Default)]
pub struct Scopes(Mutex<HashMap<String, String>>);

impl Scopes {
    fn set(&self, key: &str, scope: &str) {
        self.lock().insert(key.to_string(), scope.to_string());
    }

    fn get(&self, key: &str) -> Option<String> {
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The scope granted when the request names none.
const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/drive.file";

/// True for `http://127.0.0.1:PORT/...`, `http://[::1]:PORT/...` and `http://localhost:PORT/...`.
fn loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default().to_string()
    };
    matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost")
}

/// Google's error page for a request that cannot be sent back to the app.
fn error_page(code: &str, detail: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Error 400: {c}</title></head>\
             <body><h1>Access blocked: authorization error</h1><p id=\"error\">Error 400: {c}</p>\
             <p>{d}</p></body></html>",
            c = html_escape(code),
            d = html_escape(detail),
        )),
    )
        .into_response()
}

/// Checks the authorization request; the redirect URI when it may be used.
fn check(params: &HashMap<String, String>) -> Result<String, Box<Response>> {
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if p("client_id").is_empty() {
        return Err(Box::new(error_page(
            "invalid_request",
            "Missing required parameter: client_id",
        )));
    }
    let redirect = p("redirect_uri");
    if redirect.is_empty() {
        return Err(Box::new(error_page(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        )));
    }
    if !loopback(redirect) {
        return Err(Box::new(error_page(
            "redirect_uri_mismatch",
            "Installed apps must use a loopback redirect URI (http://127.0.0.1:PORT).",
        )));
    }
    if p("response_type") != "code" {
        return Err(Box::new(error_page(
            "unsupported_response_type",
            "Only response_type=code is supported for installed apps.",
        )));
    }
    if !p("code_challenge").is_empty() && p("code_challenge_method") != "S256" {
        return Err(Box::new(error_page(
            "invalid_request",
            "code_challenge_method must be S256.",
        )));
    }
    Ok(redirect.to_string())
}

/// `GET /o/oauth2/v2/auth`: the consent page.
pub async fn authorize(Query(params): Query<HashMap<String, String>>) -> Response {
    if let Err(page) = check(&params) {
        return *page;
    }
    let keep = [
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "access_type",
    ];
    let hidden: Vec<(&str, &str)> = keep
        .iter()
        .filter_map(|k| params.get(*k).map(|v| (*k, v.as_str())))
        .collect();
    authorize_page("Google", "/o/oauth2/v2/auth", &hidden).into_response()
}

/// `POST /o/oauth2/v2/auth`: the user's decision; back to the app with `code` or `error`.
pub async fn decide(
    State(g): State<Arc<Gdrive>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let redirect = match check(&params) {
        Ok(r) => r,
        Err(page) => return *page,
    };
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    let state = p("state");
    if p("decision") != "allow" {
        return redirect_back(&redirect, &[("error", "access_denied"), ("state", state)]);
    }
    let account = match p("account").trim() {
        "" => crate::oauth::DEFAULT_ACCOUNT,
        a => a,
    };
    let challenge = Some(p("code_challenge")).filter(|c| !c.is_empty());
    let code = g
        .ctx
        .tokens
        .issue_code(p("client_id"), Some(&redirect), challenge, account);
    let scope = match p("scope") {
        "" => DEFAULT_SCOPE,
        s => s,
    };
    g.scopes.set(&code, scope);
    redirect_back(
        &redirect,
        &[("code", &code), ("scope", scope), ("state", state)],
    )
}

/// `POST /token`.
pub async fn token(
    State(g): State<Arc<Gdrive>>,
    Form(params): Form<HashMap<String, String>>,
) -> Response {
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    let client_id = p("client_id");
    if client_id.is_empty() {
        return TokenError::InvalidRequest("Missing required parameter: client_id".into())
            .into_standard_response();
    }
    let result = match p("grant_type") {
        "authorization_code" => {
            let code = p("code");
            let scope = g.scopes.get(code).unwrap_or_else(|| DEFAULT_SCOPE.into());
            g.ctx
                .tokens
                .redeem_code(
                    code,
                    client_id,
                    Some(p("redirect_uri")),
                    Some(p("code_verifier")).filter(|v| !v.is_empty()),
                )
                .map(|grant| {
                    g.scopes.set(&grant.refresh_token, &scope);
                    json!({
                        "access_token": grant.access_token,
                        "expires_in": grant.expires_in,
                        "token_type": "Bearer",
                        "scope": scope,
                        "refresh_token": grant.refresh_token,
                    })
                })
        }
        "refresh_token" => {
            let refresh = p("refresh_token");
            g.ctx
                .tokens
                .refresh(refresh, client_id, false)
                .map(|grant| {
                    // Google leaves the refresh token out of a refresh answer: the old one
                    // stays valid.
                    json!({
                        "access_token": grant.access_token,
                        "expires_in": grant.expires_in,
                        "token_type": "Bearer",
                        "scope": g.scopes.get(refresh).unwrap_or_else(|| DEFAULT_SCOPE.into()),
                    })
                })
        }
        "" => Err(TokenError::InvalidRequest(
            "Missing required parameter: grant_type".into(),
        )),
        other => Err(TokenError::UnsupportedGrantType(format!(
            "Invalid grant_type: {other}"
        ))),
    };
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(e) => e.into_standard_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::loopback;

    #[test]
    fn only_loopback_redirects_on_any_port_pass() {
        assert!(loopback("http://127.0.0.1:53682/"));
        assert!(loopback("http://localhost:8080/cb?x=1"));
        assert!(loopback("http://[::1]:9/"));
        assert!(!loopback("https://127.0.0.1:1/"));
        assert!(!loopback("http://127.0.0.1.evil.example/"));
        assert!(!loopback("http://example.com/"));
    }
}
