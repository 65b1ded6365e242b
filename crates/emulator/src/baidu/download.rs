//! Downloads: a `dlink` from filemetas, fetched with `&access_token=` and the header
//! `User-Agent: pan.baidu.com`, answers 302 to a CDN URL (`/cdn/<ticket>`), which serves
//! the bytes with `Range` support. The ticket is bound to the fs_id, so a file replaced
//! since the dlink was issued answers 404 rather than other content.
//!
//! Errors here cannot be 200 bodies (they would read as file content): a missing or wrong
//! User-Agent is 403 (error_code 31326 [UNVERIFIED]), a bad token 403 with 31045, a
//! vanished file 404 with 31066.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errno;
use super::{Baidu, Params};

/// The User-Agent Baidu requires on downloads.
pub const DOWNLOAD_AGENT: &str = "pan.baidu.com";
/// Refused: wrong User-Agent ("user is not authorized, hitcode:119").
const UA_REFUSED: i64 = 31326;

fn agent_ok(headers: &HeaderMap) -> bool {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains(DOWNLOAD_AGENT))
}

/// `GET /file/<token>?fid=<uk>-250528-<fs_id>&...&access_token=...`.
pub async fn dlink(
    State(b): State<Arc<Baidu>>,
    Path(_token): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    if !agent_ok(&headers) {
        return errno::download(StatusCode::FORBIDDEN, UA_REFUSED);
    }
    let account = match b
        .ctx
        .tokens
        .check_bearer(q.get("access_token").map(String::as_str))
    {
        Ok(a) => a,
        Err(_) => return errno::download(StatusCode::FORBIDDEN, errno::PCS_TOKEN),
    };
    let Some(fs_id) = q
        .get("fid")
        .and_then(|f| f.rsplit('-').next())
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return errno::download(StatusCode::BAD_REQUEST, errno::PCS_BAD_PARAM);
    };
    if b.with_drive(&account, |d| d.by_id(fs_id).is_none()) {
        return errno::download(StatusCode::NOT_FOUND, errno::NO_SUCH_FILE);
    }
    let ticket = b.issue_ticket(&account, fs_id);
    let location = format!("{}/cdn/{ticket}?fid={fs_id}", b.ctx.base_url);
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// What a `Range` header asks for, as `start..end` (end exclusive) within `len`; `None`
/// without a (usable) header; `Err` when unsatisfiable.
fn range(headers: &HeaderMap, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = spec.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges: serve the whole file, as many CDNs do
    }
    let (a, z) = spec.split_once('-')?;
    let (a, z) = (a.trim(), z.trim());
    let r = if a.is_empty() {
        let n: u64 = z.parse().ok()?;
        Ok((len.saturating_sub(n), len))
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if z.is_empty() {
            len
        } else {
            z.parse::<u64>().ok()?.saturating_add(1).min(len)
        };
        if start >= len || start >= end {
            Err(())
        } else {
            Ok((start, end))
        }
    };
    Some(r)
}

/// `GET /cdn/<ticket>`: the bytes.
pub async fn cdn(
    State(b): State<Arc<Baidu>>,
    Path(ticket): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !agent_ok(&headers) {
        return errno::download(StatusCode::FORBIDDEN, UA_REFUSED);
    }
    let Some((account, fs_id)) = b.ticket(&ticket) else {
        return errno::download(StatusCode::FORBIDDEN, errno::PCS_BAD_PARAM);
    };
    let Some(content) = b.with_drive(&account, |d| d.by_id(fs_id).map(|e| e.content.clone()))
    else {
        return errno::download(StatusCode::NOT_FOUND, errno::NO_SUCH_FILE);
    };
    let len = content.len() as u64;
    match range(&headers, len) {
        None => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::ACCEPT_RANGES, "bytes".to_string()),
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            Body::from(content),
        )
            .into_response(),
        Some(Ok((start, end))) => (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (header::ACCEPT_RANGES, "bytes".to_string()),
                (
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{len}", end - 1),
                ),
                (header::CONTENT_LENGTH, (end - start).to_string()),
            ],
            Body::from(content.slice(start as usize..end as usize)),
        )
            .into_response(),
        Some(Err(())) => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(v: &'static str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::RANGE, HeaderValue::from_static(v));
        m
    }

    #[test]
    fn ranges() {
        assert_eq!(range(&HeaderMap::new(), 10), None);
        assert_eq!(range(&h("bytes=2-"), 10), Some(Ok((2, 10))));
        assert_eq!(range(&h("bytes=2-4"), 10), Some(Ok((2, 5))));
        assert_eq!(range(&h("bytes=-3"), 10), Some(Ok((7, 10))));
        assert_eq!(range(&h("bytes=2-99"), 10), Some(Ok((2, 10))));
        assert_eq!(range(&h("bytes=10-"), 10), Some(Err(())));
    }
}
