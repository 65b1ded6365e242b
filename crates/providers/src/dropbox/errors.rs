//! Dropbox's error answers, read: the tag chain of a 409's error union, `Retry-After` and
//! `RateLimitError.retry_after` of a 429, `AuthError` of a 401, and how each maps to the
//! engine's [`RemoteError`] (and so to its retry class).

use cloudsync_engine::remote::RemoteError;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A failed call: the route's own error (409), or any other failure already mapped.
#[derive(Debug)]
pub enum CallError {
    /// A 409 with the route's error union.
    Route {
        /// The tag chain, outermost first (`["path", "conflict", "file"]`).
        tags: Vec<String>,
        /// The `error` value.
        error: Value,
    },
    /// Anything else.
    Remote(RemoteError),
}

impl From<RemoteError> for CallError {
    fn from(e: RemoteError) -> Self {
        CallError::Remote(e)
    }
}

impl CallError {
    /// True when the tag chain starts with `prefix`.
    pub fn is(&self, prefix: &[&str]) -> bool {
        match self {
            CallError::Route { tags, .. } => {
                tags.len() >= prefix.len() && tags.iter().zip(prefix).all(|(a, b)| a == b)
            }
            CallError::Remote(_) => false,
        }
    }

    /// The engine's error for `what` (a route and path, for the message).
    pub fn into_remote(self, what: &str) -> RemoteError {
        match self {
            CallError::Remote(e) => e,
            CallError::Route { tags, .. } => route_to_remote(&tags, what),
        }
    }
}

/// The chain of tags of an error union: a union member nests under its tag's name; a struct
/// member (`UploadWriteFailed`) carries the next union in `reason`; an older spelling nests
/// that struct under the tag (`{"path": {"reason": ...}}`). All are read.
pub fn tags(error: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut node = error;
    loop {
        if let Some(tag) = node.get(".tag").and_then(Value::as_str) {
            out.push(tag.to_string());
            match node.get(tag).or_else(|| node.get("reason")) {
                Some(next) if next.is_object() => node = next,
                _ => break,
            }
        } else if let Some(next) = node.get("reason").filter(|v| v.is_object()) {
            node = next;
        } else {
            break;
        }
    }
    out
}

/// Seconds from `Retry-After`, else from a JSON `RateLimitError` body.
pub fn retry_after(headers: &HeaderMap, body: &[u8]) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("error")?.get("retry_after")?.as_u64())
        })
}

/// Maps a route error's tags to the engine's error.
pub fn route_to_remote(tags: &[String], what: &str) -> RemoteError {
    let has = |t: &str| tags.iter().any(|x| x == t);
    let msg = format!("{what}: {}", tags.join("/"));
    if has("too_many_write_operations") {
        // Namespace lock contention: a retry soon succeeds.
        RemoteError::RateLimited(None)
    } else if has("conflict") || has("cant_move_folder_into_itself") {
        RemoteError::Changed(msg)
    } else if has("not_found") || has("not_file") || has("not_folder") {
        RemoteError::NotFound(msg)
    } else if has("insufficient_space") || has("insufficient_quota") {
        RemoteError::QuotaFull(msg)
    } else if has("reset") || has("incorrect_offset") || has("content_hash_mismatch") {
        RemoteError::Unavailable(msg)
    } else if has("disallowed_name") || has("malformed_path") {
        RemoteError::Other(format!("{msg} (Dropbox refuses this name)"))
    } else {
        RemoteError::Other(msg)
    }
}

/// Maps a non-success answer other than 409.
pub fn status_to_remote(status: u16, headers: &HeaderMap, body: &[u8], what: &str) -> RemoteError {
    let text = String::from_utf8_lossy(body);
    let text = text.chars().take(300).collect::<String>();
    match status {
        400 => RemoteError::Other(format!("{what}: bad request: {text}")),
        401 => RemoteError::Auth(format!("{what}: {text}")),
        403 => RemoteError::Other(format!("{what}: access denied: {text}")),
        // The body may be JSON (`too_many_requests` or `too_many_write_operations`) or
        // plain text (treated as too_many_requests); both carry Retry-After.
        429 => RemoteError::RateLimited(retry_after(headers, body)),
        500..=599 => RemoteError::Unavailable(format!("{what}: HTTP {status}")),
        _ => RemoteError::Other(format!("{what}: HTTP {status}: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    #[test]
    fn tag_chains_in_every_spelling() {
        let flat = json!({".tag": "path", "reason": {".tag": "conflict", "conflict": {".tag": "file"}}, "upload_session_id": "x"});
        let nested = json!({".tag": "path", "path": {"reason": {".tag": "conflict", "conflict": {".tag": "file"}}, "upload_session_id": "x"}});
        let write =
            json!({".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "file"}}});
        for e in [flat, nested, write] {
            assert_eq!(tags(&e), ["path", "conflict", "file"], "{e}");
        }
        let offset = json!({".tag": "lookup_failed", "lookup_failed": {".tag": "incorrect_offset", "correct_offset": 6}});
        assert_eq!(tags(&offset), ["lookup_failed", "incorrect_offset"]);
    }

    #[test]
    fn rate_limits_in_header_json_or_text() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert!(matches!(
            status_to_remote(429, &h, b"too many", "x"),
            RemoteError::RateLimited(Some(3))
        ));
        let body = br#"{"error_summary": "too_many_requests/..", "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 9}}"#;
        assert!(matches!(
            status_to_remote(429, &HeaderMap::new(), body, "x"),
            RemoteError::RateLimited(Some(9))
        ));
        let body = br#"{"error_summary": "too_many_write_operations/", "error": {"reason": {".tag": "too_many_write_operations"}}}"#;
        assert!(matches!(
            status_to_remote(429, &HeaderMap::new(), body, "x"),
            RemoteError::RateLimited(None)
        ));
        assert!(matches!(
            route_to_remote(&["path".into(), "too_many_write_operations".into()], "x"),
            RemoteError::RateLimited(None)
        ));
        assert!(matches!(
            status_to_remote(503, &HeaderMap::new(), b"", "x"),
            RemoteError::Unavailable(_)
        ));
    }
}
