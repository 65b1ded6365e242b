//! How Dropbox requests arrive and how its errors leave.
//!
//! - RPC routes take a JSON body (`Content-Type: application/json`); content routes take
//!   their argument in the `Dropbox-API-Arg` header (which must be ASCII: everything else
//!   is escaped as `\uXXXX`, surrogate pairs beyond the BMP) or in the `arg` URL parameter.
//! - The bearer token is checked by [`crate::oauth::Tokens::check_bearer`]: a missing header
//!   is a 400 in plain text, a bad or expired token a 401 with an `AuthError` body.
//! - Bad input is a 400 in plain text; a route's own error is a 409 with
//!   `{"error_summary", "error"}` where `error` is the route's error union.

use axum::body::{Body, Bytes};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::oauth::{BearerError, Tokens};

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with a plain-text message.
    BadRequest(String),
    /// 401 with an `AuthError` whose tag is given.
    Auth(&'static str),
    /// 409 with the route's error union.
    Route(Value),
}

impl ApiError {
    /// A 400 worded the way Dropbox words them.
    pub fn bad(route: &str, what: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("Error in call to API function \"{route}\": {what}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(text) => (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                text,
            )
                .into_response(),
            ApiError::Auth(tag) => (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"error_summary": format!("{tag}/"), "error": {".tag": tag}})),
            )
                .into_response(),
            ApiError::Route(error) => (
                StatusCode::CONFLICT,
                axum::Json(json!({"error_summary": summary(&error), "error": error})),
            )
                .into_response(),
        }
    }
}

/// The chain of tags of an error union, outermost first: a member whose value is a union
/// nests it under the tag's name; a struct member (`UploadWriteFailed`) carries it in
/// `reason`.
pub fn tags(error: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut node = error;
    while let Some(tag) = node.get(".tag").and_then(Value::as_str) {
        out.push(tag.to_string());
        node = match node.get(tag).or_else(|| node.get("reason")) {
            Some(next) if next.is_object() => next,
            _ => break,
        };
    }
    out
}

/// `error_summary`: the tags joined by `/`, then `/..` (the summary is for people; clients
/// match on the tags).
pub fn summary(error: &Value) -> String {
    format!("{}/..", tags(error).join("/"))
}

/// A 409 with the route's error union.
pub fn route_error(error: Value) -> ApiError {
    ApiError::Route(error)
}

/// The account a request's bearer token belongs to.
///
/// # Errors
/// No token (400), unknown or expired token (401).
pub fn authorize(tokens: &Tokens, route: &str, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    match tokens.check_bearer(token) {
        Ok(account) => Ok(account),
        Err(BearerError::Missing) => Err(ApiError::bad(
            route,
            "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
        )),
        Err(BearerError::Invalid) => Err(ApiError::Auth("invalid_access_token")),
        Err(BearerError::Expired) => Err(ApiError::Auth("expired_access_token")),
    }
}

/// The route name of a request path (`/2/files/upload` -> `files/upload`).
pub fn route_name(path: &str) -> &str {
    path.strip_prefix("/2/").unwrap_or(path)
}

/// Reads a request body up to `limit` bytes; `Ok(None)` when it is longer.
///
/// # Errors
/// The body could not be read (the connection broke).
pub async fn read_body(body: Body, limit: usize) -> Result<Option<Bytes>, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf.freeze()))
}

/// The JSON argument of an RPC request. `null_arg` routes take no argument (an empty body
/// or `null`).
///
/// # Errors
/// A wrong `Content-Type` or a body that is not JSON (400).
pub fn rpc_arg(
    route: &str,
    headers: &HeaderMap,
    body: &[u8],
    null_arg: bool,
) -> Result<Value, ApiError> {
    if null_arg && body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::bad(
            route,
            format!(
                "Bad HTTP \"Content-Type\" header: \"{content_type}\".  Expecting one of \
                 \"application/json\", \"application/json; charset=utf-8\", \
                 \"text/plain; charset=dropbox-cors-hack\"."
            ),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|_| ApiError::bad(route, "request body: could not decode input as JSON"))
}

/// The argument of a content request: the `Dropbox-API-Arg` header (ASCII only) or the
/// `arg` URL parameter.
///
/// # Errors
/// Missing, not ASCII, or not JSON (400).
pub fn content_arg(route: &str, parts: &Parts) -> Result<Value, ApiError> {
    if let Some(v) = parts.headers.get("dropbox-api-arg") {
        let raw = v.as_bytes();
        // Dropbox wants the header "HTTP header safe": a raw non-ASCII byte is refused
        // rather than guessed at (clients that sent raw UTF-8 saw names corrupted).
        if raw.iter().any(|b| *b >= 0x7f) {
            return Err(ApiError::bad(
                route,
                "HTTP header \"Dropbox-API-Arg\": could not decode input as JSON",
            ));
        }
        return serde_json::from_slice(raw).map_err(|_| {
            ApiError::bad(
                route,
                "HTTP header \"Dropbox-API-Arg\": could not decode input as JSON",
            )
        });
    }
    let query = parts.uri.query().unwrap_or("");
    let arg = form_urlencoded_get(query, "arg");
    match arg {
        Some(text) => serde_json::from_str(&text).map_err(|_| {
            ApiError::bad(
                route,
                "URL parameter \"arg\": could not decode input as JSON",
            )
        }),
        None => Err(ApiError::bad(
            route,
            "Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".",
        )),
    }
}

/// The decoded value of `key` in an `application/x-www-form-urlencoded` query.
pub fn form_urlencoded_get(query: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// An authorized RPC request: its route name, account and argument.
///
/// # Errors
/// Auth, content type or argument errors.
pub async fn rpc_call(
    tokens: &Tokens,
    req: axum::extract::Request,
    null_arg: bool,
) -> Result<(String, String, Value), ApiError> {
    let (parts, body) = req.into_parts();
    let route = route_name(parts.uri.path()).to_string();
    let account = authorize(tokens, &route, &parts.headers)?;
    let body = read_body(body, 1 << 20)
        .await?
        .ok_or_else(|| ApiError::bad(&route, "request body is too large"))?;
    let arg = rpc_arg(&route, &parts.headers, &body, null_arg)?;
    Ok((route, account, arg))
}

/// Reads a typed argument.
///
/// # Errors
/// Missing or mistyped fields (400).
pub fn parse<T: DeserializeOwned>(route: &str, arg: Value) -> Result<T, ApiError> {
    serde_json::from_value(arg).map_err(|e| ApiError::bad(route, format!("request body: {e}")))
}

/// JSON made "HTTP header safe": 0x7F and every non-ASCII character as `\uXXXX`
/// (UTF-16 surrogate pairs beyond the BMP).
pub fn header_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// A header value holding `value` as header-safe JSON.
pub fn result_header(value: &Value) -> HeaderValue {
    HeaderValue::from_str(&header_safe_json(value))
        .unwrap_or_else(|_| HeaderValue::from_static("{}"))
}

/// A 200 with a JSON body.
pub fn ok(value: Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_encoding_page_example_is_escaped_exactly() {
        // dropbox.com/developers/reference/json-encoding.
        let v = json!({"field": "some_üñîcødé_and_\u{7f}"});
        assert_eq!(
            header_safe_json(&v),
            r#"{"field":"some_\u00fc\u00f1\u00eec\u00f8d\u00e9_and_\u007f"}"#
        );
        let astral = json!("\u{1F600}");
        assert_eq!(header_safe_json(&astral), r#""\ud83d\ude00""#);
    }

    #[test]
    fn tags_follow_unions_and_reasons() {
        let e = json!({".tag": "path", "reason": {".tag": "conflict", "conflict": {".tag": "file"}}, "upload_session_id": "x"});
        assert_eq!(summary(&e), "path/conflict/file/..");
        let e = json!({".tag": "incorrect_offset", "correct_offset": 5});
        assert_eq!(summary(&e), "incorrect_offset/..");
    }

    #[test]
    fn bodies_longer_than_the_limit_are_told_apart() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let fits = read_body(Body::from(vec![1u8; 10]), 10)
                .await
                .expect("read");
            assert_eq!(fits.map(|b| b.len()), Some(10));
            let over = read_body(Body::from(vec![1u8; 11]), 10)
                .await
                .expect("read");
            assert!(over.is_none());
        });
    }

    #[test]
    fn query_values_are_form_decoded() {
        assert_eq!(
            form_urlencoded_get("a=1&arg=%7B%22path%22%3A+%22%2Fx%C3%BC%22%7D", "arg").as_deref(),
            Some("{\"path\": \"/xü\"}")
        );
    }
}
