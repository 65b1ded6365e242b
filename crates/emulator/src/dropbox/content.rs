//! The content host's single-request routes: `files/download` (the metadata in the
//! `Dropbox-API-Result` header, `Range` requests, GET with `If-None-Match`) and `files/upload` (at most 150 MiB,
//! `WriteMode`, `autorename`, `client_modified`, `strict_conflict`, `content_hash`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::content_hash::content_hash;
use super::sessions::Session;
use super::store::{Commit, Item, LookupError, WriteError, WriteMode};
use super::time::{now, parse_timestamp};
use super::wire::{self, route_error, ApiError};
use super::Shared;

/// The most one request may carry: 150 MiB.
pub const MAX_REQUEST: usize = 150 * 1024 * 1024;

/// Reads a `CommitInfo` object: the path and how to commit there.
///
/// # Errors
/// Missing path, unknown mode, bad timestamp (400).
pub fn commit_info(route: &str, arg: &Value) -> Result<(String, Commit), ApiError> {
    let path = arg
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad(
                route,
                "HTTP header \"Dropbox-API-Arg\": missing required field 'path'",
            )
        })?
        .to_string();
    let mode = match arg.get("mode") {
        None | Some(Value::Null) => WriteMode::Add,
        Some(v) => {
            let tag = v.as_str().or_else(|| v.get(".tag").and_then(Value::as_str));
            match tag {
                Some("add") => WriteMode::Add,
                Some("overwrite") => WriteMode::Overwrite,
                Some("update") => match v.get("update").and_then(Value::as_str) {
                    Some(rev) if rev.len() >= 9 => WriteMode::Update(rev.to_string()),
                    _ => {
                        return Err(ApiError::bad(
                            route,
                            "HTTP header \"Dropbox-API-Arg\": mode: update: not a valid rev",
                        ))
                    }
                },
                _ => {
                    return Err(ApiError::bad(
                        route,
                        "HTTP header \"Dropbox-API-Arg\": mode: unknown tag",
                    ))
                }
            }
        }
    };
    let client_modified = match arg.get("client_modified") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(parse_timestamp).ok_or_else(|| {
            ApiError::bad(route, "HTTP header \"Dropbox-API-Arg\": client_modified: not a timestamp (%Y-%m-%dT%H:%M:%SZ)")
        })?),
    };
    let flag = |k: &str| arg.get(k).and_then(Value::as_bool).unwrap_or(false);
    Ok((
        path,
        Commit {
            mode,
            autorename: flag("autorename"),
            client_modified,
            strict_conflict: flag("strict_conflict"),
        },
    ))
}

/// Checks the `Content-Type` of an upload.
///
/// # Errors
/// Anything but `application/octet-stream` (400).
pub fn octet_stream(route: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/octet-stream")
        || ct == "text/plain; charset=dropbox-cors-hack"
    {
        Ok(())
    } else {
        Err(ApiError::bad(
            route,
            format!(
                "Bad HTTP \"Content-Type\" header: \"{ct}\".  Expecting one of \
                 \"application/octet-stream\", \"text/plain; charset=dropbox-cors-hack\"."
            ),
        ))
    }
}

/// Checks an optional `content_hash` argument against `data`.
///
/// # Errors
/// `content_hash_mismatch` (409).
pub fn check_hash(arg: &Value, data: &[u8]) -> Result<(), ApiError> {
    match arg.get("content_hash").and_then(Value::as_str) {
        Some(h) if !h.eq_ignore_ascii_case(&content_hash(data)) => {
            Err(route_error(json!({".tag": "content_hash_mismatch"})))
        }
        _ => Ok(()),
    }
}

/// `files/download`.
pub async fn download(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (parts, _body) = req.into_parts();
        let route = wire::route_name(parts.uri.path()).to_string();
        let account = wire::authorize(&shared.context.tokens, &route, &parts.headers)?;
        let arg = wire::content_arg(&route, &parts)?;
        let path = arg.get("path").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad(
                &route,
                "HTTP header \"Dropbox-API-Arg\": missing required field 'path'",
            )
        })?;
        let not = |e: LookupError| route_error(json!({".tag": "path", "path": e.to_json()}));
        let (metadata, data, rev) = {
            let mut state = shared.lock();
            let ns = state.namespace(&account);
            if let Some(rev) = path.strip_prefix("rev:") {
                let (m, v) = ns.by_rev(rev).ok_or_else(|| not(LookupError::NotFound))?;
                (m, v.data, v.rev)
            } else {
                let l = ns.resolve(path).map_err(not)?;
                let e = ns.get(&l).ok_or_else(|| not(LookupError::NotFound))?;
                match &e.item {
                    Item::Folder => return Err(not(LookupError::NotFile)),
                    Item::File(v) => (
                        ns.metadata_of(&l).unwrap_or_default(),
                        v.data.clone(),
                        v.rev.clone(),
                    ),
                }
            }
        };
        Ok::<_, ApiError>(ranged(&parts.headers, metadata, data, &rev))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The download answer, whole or the `Range` asked for.
fn ranged(headers: &HeaderMap, metadata: Value, data: Bytes, rev: &str) -> Response {
    let len = data.len() as u64;
    let mut h = HeaderMap::new();
    h.insert("dropbox-api-result", wire::result_header(&metadata));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let etag = format!("W/\"{rev}\"");
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // "Content-download endpoints also support HTTP GET along with ETag-based caching".
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if cached {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let Some(range) = range else {
        return (StatusCode::OK, h, data).into_response();
    };
    match parse_range(range, len) {
        Some((start, end)) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            let body = data.slice(start as usize..=end as usize);
            (StatusCode::PARTIAL_CONTENT, h, body).into_response()
        }
        None => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                h.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::RANGE_NOT_SATISFIABLE, h).into_response()
        }
    }
}

/// One `bytes=` range as inclusive offsets; `None` when it cannot be satisfied.
fn parse_range(range: &str, len: u64) -> Option<(u64, u64)> {
    let spec = range.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), len - 1));
    }
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() {
        len.checked_sub(1)?
    } else {
        b.parse::<u64>().ok()?.min(len.checked_sub(1)?)
    };
    (start <= end && start < len).then_some((start, end))
}

/// `files/upload`.
pub async fn upload(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (parts, body) = req.into_parts();
        let route = wire::route_name(parts.uri.path()).to_string();
        let account = wire::authorize(&shared.context.tokens, &route, &parts.headers)?;
        let arg = wire::content_arg(&route, &parts)?;
        let (path, commit) = commit_info(&route, &arg)?;
        octet_stream(&route, &parts.headers)?;
        let data = wire::read_body(body, MAX_REQUEST)
            .await?
            .ok_or_else(|| route_error(json!({".tag": "payload_too_large"})))?;
        check_hash(&arg, &data)?;
        let written = {
            let mut state = shared.lock();
            let r = state
                .namespace(&account)
                .write_file(&path, data.clone(), &commit, now());
            match r {
                Ok(m) => Ok(m),
                Err(e) => {
                    // The data stays in an upload session, so the commit can be retried
                    // with upload_session/finish (UploadWriteFailed.upload_session_id).
                    let id = Session::open(&mut state, &account, data.to_vec(), false);
                    Err(write_failed(e, &id))
                }
            }
        }?;
        shared.notify();
        Ok::<_, ApiError>(wire::ok(written))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `UploadError.path`: `UploadWriteFailed` (a struct member: its fields sit beside the tag).
fn write_failed(e: WriteError, session_id: &str) -> ApiError {
    route_error(json!({".tag": "path", "reason": e.to_json(), "upload_session_id": session_id}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-0", 10), Some((0, 0)));
        assert_eq!(parse_range("bytes=5-", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=8-100", 10), Some((8, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=0-", 0), None);
    }
}
