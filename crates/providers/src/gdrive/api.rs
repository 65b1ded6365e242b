//! The HTTP side of the Drive client: one keep-alive client, the bearer token on every
//! request (renewed once when Drive answers 401), Drive's error bodies mapped to the
//! engine's retry classes, and the File resource as this client reads it.

use std::collections::HashMap;
use std::sync::Arc;

use cloudsync_engine::remote::RemoteError;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::auth::TokenSource;

/// The File fields every call asks for (Drive returns only `kind,id,name,mimeType`
/// without a `fields` selector).
pub const FILE_FIELDS: &str = "id,name,mimeType,parents,size,md5Checksum,sha256Checksum,\
                               modifiedTime,createdTime,version,headRevisionId,trashed,appProperties";

/// Google's folder type.
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";

/// A File resource, as far as syncing needs it (serialised as Drive spells it, for the
/// listing state kept across restarts).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DriveFile {
    /// The opaque id.
    pub id: String,
    /// The name (not unique in a folder).
    #[serde(default)]
    pub name: String,
    /// The MIME type.
    #[serde(default)]
    pub mime_type: String,
    /// The parent ids (one at most, since 2020).
    #[serde(default)]
    pub parents: Vec<String>,
    /// Bytes, as a string (`int64` in the discovery document); a number is accepted too.
    #[serde(default)]
    pub size: Option<serde_json::Value>,
    /// Hex MD5 of the content (binary files only).
    #[serde(default)]
    pub md5_checksum: Option<String>,
    /// Hex SHA-256 of the content, where Drive has it.
    #[serde(default)]
    pub sha256_checksum: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub modified_time: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_time: Option<String>,
    /// Bumped on every change, as a string.
    #[serde(default)]
    pub version: Option<serde_json::Value>,
    /// The content revision (binary files only).
    #[serde(default)]
    pub head_revision_id: Option<String>,
    /// In the trash (itself or a folder above it).
    #[serde(default)]
    pub trashed: bool,
    /// Private properties of this app.
    #[serde(default)]
    pub app_properties: HashMap<String, String>,
}

impl DriveFile {
    /// True for a folder.
    pub fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }

    /// The size in bytes (0 when absent).
    pub fn bytes(&self) -> u64 {
        match &self.size {
            Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
            Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
            _ => 0,
        }
    }

    /// The modification time in nanoseconds since the epoch (0 when unknown).
    pub fn mtime_ns(&self) -> i64 {
        self.modified_time
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .and_then(|t| t.timestamp_nanos_opt())
            .unwrap_or(0)
    }

    /// The content hash as `md5:hex` (the kind the engine computes for Drive), else
    /// `sha256:hex` where Drive gave only that.
    pub fn hash(&self) -> Option<String> {
        if let Some(h) = self.md5_checksum.as_deref().filter(|h| !h.is_empty()) {
            return Some(format!("md5:{}", h.to_ascii_lowercase()));
        }
        self.sha256_checksum
            .as_deref()
            .filter(|h| !h.is_empty())
            .map(|h| format!("sha256:{}", h.to_ascii_lowercase()))
    }

    /// What identifies this content version: the head revision, else the MD5, else the
    /// metadata version.
    pub fn rev(&self) -> Option<String> {
        self.head_revision_id
            .clone()
            .or_else(|| self.md5_checksum.clone())
            .or_else(|| {
                self.version.as_ref().map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            })
    }
}

/// One Drive API endpoint set with its credentials.
#[derive(Clone)]
pub struct Api {
    /// The HTTP client (no redirects: 308 is Drive's "resume incomplete").
    pub client: Client,
    /// `https://www.googleapis.com` or the emulator's URL, without a trailing slash.
    pub base: String,
    tokens: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("base", &self.base).finish()
    }
}

/// A request that failed before any answer (connect, reset, timeout).
pub fn network(e: reqwest::Error) -> RemoteError {
    // A session URI's upload_id lets anyone write to the upload: kept out of messages.
    let secret_url = e
        .url()
        .is_some_and(|u| u.query().is_some_and(|q| q.contains("upload_id")));
    let e = if secret_url { e.without_url() } else { e };
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_builder() {
        RemoteError::Other(text)
    } else {
        RemoteError::Unavailable(text)
    }
}

/// The parts of Drive's error body that decide the retry class.
#[derive(Debug, Default)]
pub struct ErrorBody {
    /// `error.errors[0].reason`.
    pub reason: String,
    /// `error.errors[0].location`.
    pub location: String,
    /// `error.message`.
    pub message: String,
}

fn parse_error(text: &str) -> ErrorBody {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let first = &v["error"]["errors"][0];
    let s = |x: &serde_json::Value| x.as_str().unwrap_or_default().to_string();
    ErrorBody {
        reason: s(&first["reason"]),
        location: s(&first["location"]),
        message: s(&v["error"]["message"]),
    }
}

/// Maps an error answer to the engine's error.
pub fn classify(
    status: StatusCode,
    retry_after: Option<u64>,
    body: &ErrorBody,
    what: &str,
) -> RemoteError {
    let msg = format!(
        "{what}: HTTP {status} {} {}",
        body.reason,
        body.message.chars().take(300).collect::<String>()
    );
    match (status.as_u16(), body.reason.as_str()) {
        (401, _) => RemoteError::Auth(msg),
        (
            403,
            "userRateLimitExceeded"
            | "rateLimitExceeded"
            | "dailyLimitExceeded"
            | "sharingRateLimitExceeded",
        ) => RemoteError::RateLimited(retry_after),
        (403, "storageQuotaExceeded" | "quotaExceeded") => RemoteError::QuotaFull(msg),
        (429, _) => RemoteError::RateLimited(retry_after),
        (404, _) => RemoteError::NotFound(msg),
        (408 | 500..=599, _) => RemoteError::Unavailable(msg),
        _ => RemoteError::Other(msg),
    }
}

/// Turns an error answer into the engine's error (consuming the body).
pub async fn error_of(r: Response, what: &str) -> RemoteError {
    let status = r.status();
    let retry_after = r
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let body = r.text().await.unwrap_or_default();
    classify(status, retry_after, &parse_error(&body), what)
}

/// Reads an error answer's body without classifying it.
pub async fn error_body(r: Response) -> ErrorBody {
    parse_error(&r.text().await.unwrap_or_default())
}

impl Api {
    /// An API at `base` (no trailing slash) using `tokens`.
    ///
    /// # Errors
    /// [`RemoteError::Other`] when the HTTP client cannot be built.
    pub fn new(base: &str, tokens: Arc<dyn TokenSource>) -> Result<Api, RemoteError> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(20))
            .read_timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| RemoteError::Other(format!("HTTP client: {e}")))?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_string(),
            tokens,
        })
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the request `build` makes, with the bearer token; on 401 renews the token once
    /// and sends it again. Any answer comes back (callers decide what is an error).
    ///
    /// # Errors
    /// Network failures; a token source that cannot give or renew a token.
    pub async fn send_raw<F>(&self, build: F) -> Result<Response, RemoteError>
    where
        F: Fn(&Client) -> RequestBuilder,
    {
        let token = self.tokens.access_token().await?;
        let r = build(&self.client)
            .bearer_auth(&token)
            .send()
            .await
            .map_err(network)?;
        if r.status() != StatusCode::UNAUTHORIZED {
            return Ok(r);
        }
        let renewed = self.tokens.renew(&token).await?;
        build(&self.client)
            .bearer_auth(&renewed)
            .send()
            .await
            .map_err(network)
    }

    /// Like [`Api::send_raw`], mapping every non-2xx answer to an error.
    ///
    /// # Errors
    /// As [`Api::send_raw`], and every error answer.
    pub async fn send<F>(&self, what: &str, build: F) -> Result<Response, RemoteError>
    where
        F: Fn(&Client) -> RequestBuilder,
    {
        let r = self.send_raw(build).await?;
        if r.status().is_success() {
            Ok(r)
        } else {
            Err(error_of(r, what).await)
        }
    }

    /// Sends and parses a JSON answer.
    ///
    /// # Errors
    /// As [`Api::send`]; [`RemoteError::Unavailable`] for a body that is not the expected
    /// JSON (a cut connection looks like that).
    pub async fn json<T, F>(&self, what: &str, build: F) -> Result<T, RemoteError>
    where
        T: serde::de::DeserializeOwned,
        F: Fn(&Client) -> RequestBuilder,
    {
        let r = self.send(what, build).await?;
        let bytes = r.bytes().await.map_err(network)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| RemoteError::Unavailable(format!("{what}: unexpected answer: {e}")))
    }

    /// `files.get` with [`FILE_FIELDS`].
    ///
    /// # Errors
    /// [`RemoteError::NotFound`] when the id is unknown; as [`Api::json`].
    pub async fn get_file(&self, id: &str) -> Result<DriveFile, RemoteError> {
        let url = self.url(&format!("/drive/v3/files/{}", enc(id)));
        self.json("files.get", |c| {
            c.get(&url).query(&[("fields", FILE_FIELDS)])
        })
        .await
    }
}

/// Percent-encodes a path segment (ids are URL-safe already; this is for safety).
pub fn enc(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Quotes `text` as a `q` string literal (`\` and `'` escaped).
pub fn q_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(reason: &str) -> ErrorBody {
        ErrorBody {
            reason: reason.into(),
            ..ErrorBody::default()
        }
    }

    #[test]
    fn drive_signals_map_to_retry_classes() {
        let c = |s: u16, r: &str| {
            classify(
                StatusCode::from_u16(s).expect("status"),
                Some(3),
                &body(r),
                "x",
            )
        };
        assert!(matches!(
            c(403, "userRateLimitExceeded"),
            RemoteError::RateLimited(Some(3))
        ));
        assert!(matches!(
            c(403, "rateLimitExceeded"),
            RemoteError::RateLimited(_)
        ));
        assert!(matches!(c(429, ""), RemoteError::RateLimited(Some(3))));
        assert!(matches!(
            c(403, "storageQuotaExceeded"),
            RemoteError::QuotaFull(_)
        ));
        assert!(matches!(
            c(403, "insufficientFilePermissions"),
            RemoteError::Other(_)
        ));
        assert!(matches!(
            c(503, "backendError"),
            RemoteError::Unavailable(_)
        ));
        assert!(matches!(c(500, ""), RemoteError::Unavailable(_)));
        assert!(matches!(c(404, "notFound"), RemoteError::NotFound(_)));
        assert!(matches!(c(401, "authError"), RemoteError::Auth(_)));
    }

    #[test]
    fn q_strings_escape_quotes_and_backslashes() {
        assert_eq!(q_string(r"quinn's paper\essay"), r"'quinn\'s paper\\essay'");
    }

    #[test]
    fn sizes_and_hashes_read_both_spellings() {
        let f: DriveFile = serde_json::from_str(
            r#"{"id":"a","size":"12","md5Checksum":"AB","version":"7","headRevisionId":"r1"}"#,
        )
        .expect("parse");
        assert_eq!(f.bytes(), 12);
        assert_eq!(f.hash().as_deref(), Some("md5:ab"));
        assert_eq!(f.rev().as_deref(), Some("r1"));
        let g: DriveFile =
            serde_json::from_str(r#"{"id":"a","size":12,"sha256Checksum":"CD","version":7}"#)
                .expect("parse");
        assert_eq!(g.bytes(), 12);
        assert_eq!(g.hash().as_deref(), Some("sha256:cd"));
        assert_eq!(g.rev().as_deref(), Some("7"));
    }
}
