//! Baidu's OAuth 2.0 endpoints (openapi.baidu.com): the authorize page
//! (`response_type=code`, `redirect_uri` or `oob` for a code shown on a page), the token
//! endpoint as a GET with query parameters (`authorization_code` and `refresh_token` with
//! the client secret, `device_token` polls), `device/code`, and the verification page
//! `/device` where the user types the code and presses Allow.
//!
//! No PKCE. Refresh tokens rotate: each refresh hands out a new one and retires the old.
//! Token answers carry `expires_in` (the emulator's access-token lifetime; Baidu's is
//! 2592000 s, so start the emulator with that `access_ttl` for exact answers),
//! `refresh_token`, `access_token`, `session_secret`, `session_key` and
//! `scope: "basic netdisk"`. Any non-empty `client_secret` is accepted (the emulator keeps no
//! app registry); a missing one is `invalid_client`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use serde_json::json;

use super::{Baidu, Params};
use crate::oauth::{self as shared, html_escape, Grant, TokenError};

const NAME: &str = "Baidu Netdisk";

fn param<'a>(p: &'a Params, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

fn bad_request(what: &str) -> Response {
    TokenError::InvalidRequest(what.to_string()).into_standard_response()
}

/// `GET /oauth/2.0/authorize?response_type=code&client_id&redirect_uri&scope&state`.
pub async fn authorize_page(Query(q): Query<Params>) -> Response {
    if param(&q, "response_type") != Some("code") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "unsupported_response_type",
                "error_description": "The response type must be code",
            })),
        )
            .into_response();
    }
    let (Some(client_id), Some(redirect_uri)) = (param(&q, "client_id"), param(&q, "redirect_uri"))
    else {
        return bad_request("client_id and redirect_uri are required");
    };
    let hidden = [
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", param(&q, "scope").unwrap_or("basic")),
        ("state", param(&q, "state").unwrap_or_default()),
    ];
    shared::authorize_page(NAME, "/oauth/2.0/authorize", &hidden).into_response()
}

/// The sign-in form's answer: a code (to the redirect URI, or shown for `oob`), or
/// `error=access_denied`.
pub async fn authorize_decision(State(b): State<Arc<Baidu>>, Form(f): Form<Params>) -> Response {
    let (Some(client_id), Some(redirect_uri)) = (param(&f, "client_id"), param(&f, "redirect_uri"))
    else {
        return bad_request("client_id and redirect_uri are required");
    };
    let state = param(&f, "state");
    let oob = redirect_uri == "oob";
    if param(&f, "decision") != Some("allow") {
        if oob {
            return (
                StatusCode::FORBIDDEN,
                Html("<p>Access denied.</p>".to_string()),
            )
                .into_response();
        }
        let mut back = vec![("error", "access_denied")];
        back.extend(state.map(|s| ("state", s)));
        return shared::redirect_back(redirect_uri, &back);
    }
    let account = param(&f, "account").unwrap_or(shared::DEFAULT_ACCOUNT);
    let code = b
        .ctx
        .tokens
        .issue_code(client_id, Some(redirect_uri), None, account);
    if oob {
        return shared::code_page(NAME, &code).into_response();
    }
    let mut back = vec![("code", code.as_str())];
    back.extend(state.map(|s| ("state", s)));
    shared::redirect_back(redirect_uri, &back)
}

/// Baidu's token answer.
fn token_body(g: &Grant) -> Response {
    let session = |p| shared::random_token(p).replace(['.', '-', '_'], "");
    Json(json!({
        "expires_in": g.expires_in,
        "refresh_token": g.refresh_token,
        "access_token": g.access_token,
        "session_secret": session("secret"),
        "session_key": session("key"),
        "scope": "basic netdisk",
    }))
    .into_response()
}

/// `GET /oauth/2.0/token?grant_type=...`.
pub async fn token(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    let Some(client_id) = param(&q, "client_id") else {
        return TokenError::InvalidClient("unknown client id".into()).into_standard_response();
    };
    let tokens = &b.ctx.tokens;
    let grant_type = param(&q, "grant_type").unwrap_or_default();
    // Device polls are taken without the secret, which some clients leave out
    // [UNVERIFIED whether Baidu insists].
    if matches!(grant_type, "authorization_code" | "refresh_token")
        && param(&q, "client_secret").is_none()
    {
        return TokenError::InvalidClient("client_secret is required".into())
            .into_standard_response();
    }
    let result = match grant_type {
        "authorization_code" => match param(&q, "code") {
            Some(code) => tokens.redeem_code(code, client_id, param(&q, "redirect_uri"), None),
            None => Err(TokenError::InvalidRequest("code is required".into())),
        },
        "refresh_token" => match param(&q, "refresh_token") {
            Some(rt) => tokens.refresh(rt, client_id, true),
            None => Err(TokenError::InvalidRequest(
                "refresh_token is required".into(),
            )),
        },
        "device_token" => match param(&q, "code") {
            Some(code) => tokens.poll_device(code, client_id),
            None => Err(TokenError::InvalidRequest("code is required".into())),
        },
        other => Err(TokenError::UnsupportedGrantType(format!(
            "the grant type {other:?} is not supported"
        ))),
    };
    match result {
        Ok(g) => token_body(&g),
        Err(e) => e.into_standard_response(),
    }
}

/// `GET /oauth/2.0/device/code?response_type=device_code&client_id&scope`.
pub async fn device_code(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    if param(&q, "response_type") != Some("device_code") {
        return bad_request("response_type must be device_code");
    }
    let Some(client_id) = param(&q, "client_id") else {
        return TokenError::InvalidClient("unknown client id".into()).into_standard_response();
    };
    let start = b
        .ctx
        .tokens
        .start_device(client_id, b.settings().device_interval);
    let base = &b.ctx.base_url;
    let hash = super::store::md5_hex(start.device_code.as_bytes());
    Json(json!({
        "device_code": start.device_code,
        "user_code": start.user_code,
        "verification_url": format!("{base}/device"),
        "qrcode_url": format!("{base}/device/qrcode/{hash}/{}", start.user_code),
        "expires_in": start.expires_in,
        "interval": start.interval,
    }))
    .into_response()
}

fn device_form(code: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>{NAME} (emulated): connect a device</title></head>
<body><h1>{NAME} (emulated)</h1><p>Type the code the app shows.</p>
<form method="post" action="/device">
<label>Code <input name="user_code" id="user_code" value="{c}"></label>
<label>Account <input name="account" id="account" value="{d}"></label>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></body></html>"#,
        c = html_escape(code),
        d = shared::DEFAULT_ACCOUNT,
    ))
}

/// `GET /device`: the verification page.
pub async fn device_page(Query(q): Query<Params>) -> Html<String> {
    device_form(param(&q, "code").unwrap_or_default())
}

/// `GET /device/qrcode/<hash>/<user code>`: where the QR code leads, the code filled in.
pub async fn device_qrcode(Path((_hash, code)): Path<(String, String)>) -> Html<String> {
    device_form(&code)
}

/// The verification page's answer.
pub async fn device_decision(State(b): State<Arc<Baidu>>, Form(f): Form<Params>) -> Response {
    let code = param(&f, "user_code").unwrap_or_default();
    if param(&f, "decision") != Some("allow") {
        return Html("<p>Access denied.</p>".to_string()).into_response();
    }
    let account = param(&f, "account").unwrap_or(shared::DEFAULT_ACCOUNT);
    if b.ctx.tokens.approve_device(code, account) {
        Html(
            "<p id=\"done\">Done: the device is connected. You can close this page.</p>"
                .to_string(),
        )
        .into_response()
    } else {
        (
            StatusCode::BAD_REQUEST,
            Html("<p id=\"bad-code\">That code is unknown or expired.</p>".to_string()),
        )
            .into_response()
    }
}
