//! `users/get_current_account` and `auth/token/revoke`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::wire::{self, ApiError};
use super::Shared;

/// The `dbid:` account id of an emulated account (stable for a name).
pub fn account_id(account: &str) -> String {
    let digest = Sha256::digest(account.as_bytes());
    format!(
        "dbid:AA{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..24])
    )
}

/// The numeric `uid` the token endpoint reports.
pub fn uid(account: &str) -> String {
    let digest = Sha256::digest(account.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    (n % 1_000_000_000).to_string()
}

/// `users/get_current_account`: a `FullAccount`.
pub async fn current_account(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (_, account, _) = wire::rpc_call(&shared.context.tokens, req, true).await?;
        Ok::<_, ApiError>(wire::ok(json!({
            "account_id": account_id(&account),
            "name": {
                "given_name": account,
                "surname": "",
                "familiar_name": account,
                "display_name": account,
                "abbreviated_name": account.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
            },
            "email": format!("{account}@example.invalid"),
            "email_verified": true,
            "disabled": false,
            "locale": "en",
            "referral_link": "https://db.tt/emulated",
            "is_paired": false,
            "account_type": {".tag": "basic"},
            "root_info": {
                ".tag": "user",
                "root_namespace_id": uid(&account),
                "home_namespace_id": uid(&account),
            },
            "country": "US",
        })))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `auth/token/revoke`: the access token and its refresh token stop working.
pub async fn revoke(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let result = async {
        wire::rpc_call(&shared.context.tokens, req, true).await?;
        if let Some(t) = token {
            shared.context.tokens.revoke(&t);
        }
        Ok::<_, ApiError>(wire::ok(Value::Null))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
