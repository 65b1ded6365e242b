//! Upload sessions: `upload_session/start`, `append_v2` and `finish` (sequential sessions).
//! An offset that is not the session's length is refused with `incorrect_offset` and the
//! `correct_offset`, so a client that lost an answer resumes where the data ends.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::content::{check_hash, commit_info, octet_stream, MAX_REQUEST};
use super::time::now;
use super::wire::{self, route_error, ApiError};
use super::{Shared, State as DbxState};

/// The most a session may hold: 2^41 - 2^22 bytes.
const MAX_SESSION: u64 = (1 << 41) - (1 << 22);

/// An open upload session.
#[derive(Debug)]
pub struct Session {
    account: String,
    data: Vec<u8>,
    closed: bool,
}

impl Session {
    /// Opens a session holding `data`; returns its id.
    pub fn open(state: &mut DbxState, account: &str, data: Vec<u8>, closed: bool) -> String {
        let id = crate::oauth::random_token("pid_upload_session:").replace(":.", ":");
        state.sessions.insert(
            id.clone(),
            Session {
                account: account.to_string(),
                data,
                closed,
            },
        );
        id
    }
}

/// The session id when the cursor fits, else an `UploadSessionLookupError`. A closed
/// session takes no more data but can still be finished (with an empty body).
fn lookup(
    state: &DbxState,
    account: &str,
    cursor: &Value,
    finishing_with: Option<usize>,
) -> Result<String, Value> {
    let id = cursor
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let offset = cursor
        .get("offset")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let s = state
        .sessions
        .get(id)
        .filter(|s| s.account == account)
        .ok_or_else(|| json!({".tag": "not_found"}))?;
    if s.closed && finishing_with != Some(0) {
        return Err(json!({".tag": "closed"}));
    }
    if offset != s.data.len() as u64 {
        return Err(json!({".tag": "incorrect_offset", "correct_offset": s.data.len()}));
    }
    Ok(id.to_string())
}

struct Upload {
    route: String,
    account: String,
    arg: Value,
    data: Vec<u8>,
}

async fn read(shared: &Shared, req: Request) -> Result<Upload, ApiError> {
    let (parts, body) = req.into_parts();
    let route = wire::route_name(parts.uri.path()).to_string();
    let account = wire::authorize(&shared.context.tokens, &route, &parts.headers)?;
    let arg = wire::content_arg(&route, &parts)?;
    octet_stream(&route, &parts.headers)?;
    let data = wire::read_body(body, MAX_REQUEST)
        .await?
        .ok_or_else(|| route_error(json!({".tag": "payload_too_large"})))?;
    Ok(Upload {
        route,
        account,
        arg,
        data: data.to_vec(),
    })
}

/// `files/upload_session/start`.
pub async fn start(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let up = read(&shared, req).await?;
        if let Some(t) = up
            .arg
            .get("session_type")
            .and_then(|v| v.as_str().or_else(|| v.get(".tag").and_then(Value::as_str)))
        {
            if t != "sequential" {
                return Err(ApiError::bad(
                    &up.route,
                    "the emulator only has sequential upload sessions",
                ));
            }
        }
        check_hash(&up.arg, &up.data)?;
        let close = up
            .arg
            .get("close")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let id = Session::open(&mut shared.lock(), &up.account, up.data, close);
        Ok::<_, ApiError>(wire::ok(json!({"session_id": id})))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `files/upload_session/append_v2`.
pub async fn append(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let up = read(&shared, req).await?;
        let cursor = up.arg.get("cursor").cloned().unwrap_or(Value::Null);
        check_hash(&up.arg, &up.data)?;
        let mut state = shared.lock();
        let id = lookup(&state, &up.account, &cursor, None).map_err(route_error)?;
        let s = state
            .sessions
            .get_mut(&id)
            .ok_or_else(|| route_error(json!({".tag": "not_found"})))?;
        if s.data.len() as u64 + up.data.len() as u64 > MAX_SESSION {
            return Err(route_error(json!({".tag": "too_large"})));
        }
        s.data.extend_from_slice(&up.data);
        s.closed = up
            .arg
            .get("close")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok::<_, ApiError>(wire::ok(Value::Null))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `files/upload_session/finish`.
pub async fn finish(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let up = read(&shared, req).await?;
        let cursor = up.arg.get("cursor").cloned().unwrap_or(Value::Null);
        let (path, commit) = commit_info(&up.route, up.arg.get("commit").unwrap_or(&Value::Null))?;
        // The hash covers the bytes of this call.
        check_hash(&up.arg, &up.data)?;
        let written = {
            let mut state = shared.lock();
            let id = lookup(&state, &up.account, &cursor, Some(up.data.len()))
                .map_err(|e| route_error(json!({".tag": "lookup_failed", "lookup_failed": e})))?;
            let data = {
                let s = state.sessions.get_mut(&id).ok_or_else(|| {
                    route_error(
                        json!({".tag": "lookup_failed", "lookup_failed": {".tag": "not_found"}}),
                    )
                })?;
                s.data.extend_from_slice(&up.data);
                s.data.clone()
            };
            let r = state
                .namespace(&up.account)
                .write_file(&path, data.into(), &commit, now());
            match r {
                Ok(m) => {
                    state.sessions.remove(&id);
                    m
                }
                // The data stays: the client may retry with an empty body and the new offset.
                Err(e) => return Err(route_error(json!({".tag": "path", "path": e.to_json()}))),
            }
        };
        shared.notify();
        Ok::<_, ApiError>(wire::ok(written))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
