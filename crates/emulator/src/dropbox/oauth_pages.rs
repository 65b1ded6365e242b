//! Dropbox's OAuth 2.0 endpoints: the authorization page (`/oauth2/authorize`, code flow
//! only, PKCE with S256, `token_access_type=offline` for a refresh token, the code shown on
//! a page when there is no `redirect_uri`) and the token endpoint (`/oauth2/token`,
//! form-encoded: `authorization_code` (no secret needed when PKCE was used) and
//! `refresh_token`, which keeps the same refresh token).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use base64::Engine as _;
use serde_json::json;

use crate::oauth::{authorize_page as sign_in_page, code_page, redirect_back, TokenError};

use super::account::{account_id, uid};
use super::Shared;

fn error_page(text: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><html><body><h1>Error (400)</h1><p>{}</p></body></html>",
            crate::oauth::html_escape(text)
        )),
    )
        .into_response()
}

/// The parameters the page carries through its form.
const CARRIED: [&str; 6] = [
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "token_access_type",
];

fn check(q: &HashMap<String, String>) -> Result<(), &'static str> {
    if q.get("client_id").is_none_or(|c| c.is_empty()) {
        return Err("Invalid client_id: missing");
    }
    match q.get("response_type").map(String::as_str) {
        Some("code") => {}
        Some("token") => return Err("The emulator supports the code flow only"),
        _ => return Err("Invalid response_type: expected \"code\""),
    }
    if q.contains_key("code_challenge")
        && q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return Err("code_challenge_method must be S256");
    }
    if let Some(t) = q.get("token_access_type") {
        if !matches!(t.as_str(), "online" | "offline" | "legacy") {
            return Err("Invalid token_access_type");
        }
    }
    Ok(())
}

/// `GET /oauth2/authorize`: the sign-in page.
pub async fn authorize_page(Query(q): Query<HashMap<String, String>>) -> Response {
    if let Err(why) = check(&q) {
        return error_page(why);
    }
    let mut hidden: Vec<(&str, &str)> = vec![("response_type", "code")];
    for k in CARRIED {
        if let Some(v) = q.get(k) {
            hidden.push((k, v.as_str()));
        }
    }
    sign_in_page("Dropbox", "/oauth2/authorize", &hidden).into_response()
}

/// `POST /oauth2/authorize`: Allow or Deny pressed.
pub async fn authorize_decision(
    State(shared): State<Arc<Shared>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(why) = check(&f) {
        return error_page(why);
    }
    let get = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let redirect = get("redirect_uri");
    let state = get("state");
    if get("decision") != Some("allow") {
        let mut params = vec![
            ("error", "access_denied"),
            (
                "error_description",
                "The user chose not to give your app access to their Dropbox account.",
            ),
        ];
        if let Some(s) = state {
            params.push(("state", s));
        }
        return match redirect {
            Some(uri) => redirect_back(uri, &params),
            None => error_page("Access was denied."),
        };
    }
    let account = get("account").unwrap_or(crate::oauth::DEFAULT_ACCOUNT);
    let code = shared.context.tokens.issue_code(
        get("client_id").unwrap_or_default(),
        redirect,
        get("code_challenge"),
        account,
    );
    shared
        .lock()
        .offline_codes
        .insert(code.clone(), get("token_access_type") == Some("offline"));
    match redirect {
        Some(uri) => {
            let mut params = vec![("code", code.as_str())];
            if let Some(s) = state {
                params.push(("state", s));
            }
            redirect_back(uri, &params)
        }
        None => code_page("Dropbox", &code).into_response(),
    }
}

/// The client id and secret: form fields, or HTTP Basic `app_key:app_secret`.
fn client(headers: &HeaderMap, f: &HashMap<String, String>) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            f.get("client_id").cloned(),
            f.get("client_secret").cloned().filter(|s| !s.is_empty()),
        ),
    }
}

/// `POST /oauth2/token`.
pub async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let tokens = &shared.context.tokens;
    let (client_id, secret) = client(&headers, &f);
    let Some(client_id) = client_id else {
        return TokenError::InvalidRequest("No auth function available for given request".into())
            .into_standard_response();
    };
    let get = |k: &str| f.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("grant_type") {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return TokenError::InvalidRequest("Missing code".into()).into_standard_response();
            };
            if !tokens.code_has_challenge(code) && secret.is_none() {
                return TokenError::InvalidClient(
                    "a client_secret is required when PKCE was not used".into(),
                )
                .into_standard_response();
            }
            let offline = shared.lock().offline_codes.remove(code).unwrap_or(false);
            match tokens.redeem_code(code, &client_id, get("redirect_uri"), get("code_verifier")) {
                Ok(g) => {
                    let mut body = json!({
                        "access_token": g.access_token,
                        "token_type": "bearer",
                        "expires_in": g.expires_in,
                        "scope": "account_info.read files.content.read files.content.write files.metadata.read",
                        "uid": uid(&g.account),
                        "account_id": account_id(&g.account),
                    });
                    if offline {
                        body["refresh_token"] = json!(g.refresh_token);
                    }
                    (StatusCode::OK, axum::Json(body)).into_response()
                }
                Err(e) => e.into_standard_response(),
            }
        }
        Some("refresh_token") => {
            let Some(rt) = get("refresh_token") else {
                return TokenError::InvalidRequest("Missing refresh_token".into())
                    .into_standard_response();
            };
            // Dropbox keeps the refresh token: the answer carries no new one.
            match tokens.refresh(rt, &client_id, false) {
                Ok(g) => (
                    StatusCode::OK,
                    axum::Json(json!({
                        "access_token": g.access_token,
                        "token_type": "bearer",
                        "expires_in": g.expires_in,
                    })),
                )
                    .into_response(),
                Err(e) => e.into_standard_response(),
            }
        }
        other => TokenError::UnsupportedGrantType(other.unwrap_or("").to_string())
            .into_standard_response(),
    }
}
