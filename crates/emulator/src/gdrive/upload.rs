//! Media uploads on `/upload/drive/v3/files[/{fileId}]` (and `/resumable/upload/...`):
//! `uploadType=media` (bytes only), `multipart` (`multipart/related`: JSON metadata, then
//! the bytes) and `resumable` (a session URI in `Location`; `PUT`s of chunks with
//! `Content-Range`, each a multiple of 256 KiB except the last, answered with
//! `308 Resume Incomplete` and `Range: bytes=0-N`; `Content-Range: bytes */TOTAL` asks how
//! much arrived). POST creates (201 when a resumable upload finishes), PATCH updates the
//! file's content as a new revision (200).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::{Map, Value};

use super::errors::DriveError;
use super::files::{apply_update, metadata, new_file, FILE_DEFAULT};
use super::store::{self, new_id, Account, Session};
use super::{json, partial, Gdrive};

/// Chunks other than the last must be multiples of this.
pub const CHUNK_GRANULARITY: u64 = 256 * 1024;

/// `POST` (create) or `PATCH` (update) with an `uploadType`; a `PUT` with `upload_id` goes
/// to [`session_put`].
pub async fn start(
    State(g): State<Arc<Gdrive>>,
    method: Method,
    headers: HeaderMap,
    target: Option<Path<String>>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let target = target.map(|Path(id)| id);
    if method == Method::PATCH && target.is_none() {
        return Err(DriveError::required("fileId", "Required parameter: fileId"));
    }
    if method == Method::POST && target.is_some() {
        return Err(DriveError::bad_request(
            "Creating a file with an id in the path is not supported; use PATCH to update.",
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match params.get("uploadType").map(String::as_str) {
        Some("media") => {
            let mut accounts = g.drive.lock();
            let acc = store::account(&mut accounts, &name);
            let (_, value) = finish(
                acc,
                target.as_deref(),
                &Map::new(),
                body,
                content_type.as_deref(),
                &params,
            )?;
            g.persist(&accounts);
            Ok(json(partial(&value, params.get("fields"), FILE_DEFAULT)?))
        }
        Some("multipart") => {
            let (meta, media, media_type) = multipart(content_type.as_deref(), &body)?;
            let mut accounts = g.drive.lock();
            let acc = store::account(&mut accounts, &name);
            let (_, value) = finish(
                acc,
                target.as_deref(),
                &meta,
                media,
                media_type.as_deref(),
                &params,
            )?;
            g.persist(&accounts);
            Ok(json(partial(&value, params.get("fields"), FILE_DEFAULT)?))
        }
        Some("resumable") => {
            let meta = metadata(&body)?;
            {
                // Refuse an unknown target now rather than after the bytes arrived.
                let mut accounts = g.drive.lock();
                let acc = store::account(&mut accounts, &name);
                if let Some(t) = &target {
                    acc.get(t)?;
                }
            }
            let total = match headers.get("x-upload-content-length") {
                None => None,
                Some(v) => Some(
                    v.to_str()
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .ok_or_else(|| {
                            DriveError::bad_request("Invalid X-Upload-Content-Length header")
                        })?,
                ),
            };
            let upload_id = format!("ABg5-{}", new_id());
            let mut query: Vec<String> = vec!["uploadType=resumable".into()];
            query.push(format!("upload_id={upload_id}"));
            let path = match &target {
                Some(id) => format!("/upload/drive/v3/files/{id}"),
                None => "/upload/drive/v3/files".to_string(),
            };
            // Built from the Host the client used (a proxy in between stays in between).
            let origin = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| format!("http://{h}"))
                .unwrap_or_else(|| g.ctx.base_url.clone());
            let location = format!("{origin}{path}?{}", query.join("&"));
            g.drive.sessions().insert(
                upload_id.clone(),
                Session {
                    account: name,
                    target,
                    metadata: meta,
                    content_type: headers
                        .get("x-upload-content-type")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string),
                    total,
                    received: Vec::new(),
                    fields: params.get("fields").cloned(),
                    keep_forever: params.get("keepRevisionForever").map(String::as_str)
                        == Some("true"),
                    params: params.clone(),
                    done: None,
                },
            );
            let mut r = StatusCode::OK.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&upload_id) {
                r.headers_mut().insert("x-guploader-uploadid", v);
            }
            Ok(r)
        }
        Some(_) => Err(DriveError::invalid_parameter("uploadType")),
        None => Err(DriveError::required(
            "uploadType",
            "Media upload requires the uploadType parameter (media, multipart or resumable).",
        )),
    }
}

/// Stores uploaded bytes: a new file (`target` none) or a new revision of `target`.
/// Returns the status the upload answers with and the full File resource.
fn finish(
    acc: &mut Account,
    target: Option<&str>,
    meta: &Map<String, Value>,
    content: Bytes,
    content_type: Option<&str>,
    params: &HashMap<String, String>,
) -> Result<(StatusCode, Value), DriveError> {
    let keep = params.get("keepRevisionForever").map(String::as_str) == Some("true");
    match target {
        None => {
            let mut file = new_file(acc, meta, Some(content), content_type)?;
            if !file.is_binary() && !file.is_folder() {
                // A Google-native type with bytes would be an import (conversion): the
                // document keeps no bytes of its own.
                file.revisions.clear();
            } else if file.is_folder() {
                return Err(DriveError::bad_request("A folder cannot have content."));
            }
            if keep {
                if let Some(r) = file.revisions.last_mut() {
                    r.keep_forever = true;
                }
            }
            let value = acc.resource(&file);
            acc.insert(file);
            Ok((StatusCode::CREATED, value))
        }
        Some(id) => {
            let current = acc.get(id)?;
            if !current.is_binary() {
                return Err(DriveError::forbidden(
                    "fileNotDownloadable",
                    "Only files with binary content can have their content updated.",
                ));
            }
            let id = current.id.clone();
            let changed = apply_update(acc, &id, meta, params)?;
            let f = acc
                .files
                .get_mut(&id)
                .ok_or_else(|| DriveError::file_not_found(&id))?;
            let modified = if meta.contains_key("modifiedTime") {
                f.modified
            } else {
                Utc::now()
            };
            f.modified = modified;
            let mime = content_type
                .map(str::to_string)
                .unwrap_or_else(|| f.mime_type.clone());
            let mut rev = store::new_revision(content, &mime, &f.name, modified);
            rev.keep_forever = keep;
            f.revisions.push(rev);
            acc.record(&changed);
            let f = acc.get(&id)?;
            Ok((StatusCode::OK, acc.resource(f)))
        }
    }
}

/// A multipart upload's metadata, media and media type.
type Multipart = (Map<String, Value>, Bytes, Option<String>);

/// Splits a `multipart/related` body into the metadata, the media and its type.
fn multipart(content_type: Option<&str>, body: &[u8]) -> Result<Multipart, DriveError> {
    let bad = |m: &str| DriveError::bad_request(format!("Malformed multipart body: {m}."));
    let ct = content_type.ok_or_else(|| bad("no Content-Type"))?;
    if !ct.to_ascii_lowercase().starts_with("multipart/related") {
        return Err(bad("the Content-Type is not multipart/related"));
    }
    let boundary = ct
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
        .ok_or_else(|| bad("no boundary"))?;
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let first = find(rest, delimiter.as_bytes()).ok_or_else(|| bad("no first boundary"))?;
    rest = &rest[first + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or_else(|| bad("boundary line"))?;
        let end = find(rest, format!("\r\n{delimiter}").as_bytes())
            .ok_or_else(|| bad("unterminated part"))?;
        parts.push(&rest[..end]);
        rest = &rest[end + 2 + delimiter.len()..];
    }
    if parts.len() != 2 {
        return Err(bad("expected two parts (metadata, media)"));
    }
    let (_, meta) = split_part(parts[0]).ok_or_else(|| bad("part headers"))?;
    let (media_type, media) = split_part(parts[1]).ok_or_else(|| bad("part headers"))?;
    Ok((metadata(meta)?, Bytes::copy_from_slice(media), media_type))
}

/// A part's `Content-Type` and body.
fn split_part(part: &[u8]) -> Option<(Option<String>, &[u8])> {
    if let Some(body) = part.strip_prefix(b"\r\n") {
        return Some((None, body));
    }
    let head_end = find(part, b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&part[..head_end]);
    let ty = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-type")
            .then(|| v.trim().to_string())
    });
    Some((ty, &part[head_end + 4..]))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `Content-Range` of a session PUT.
enum ContentRange {
    /// `bytes */TOTAL` or `bytes */*`: how much arrived?
    Query(Option<u64>),
    /// `bytes A-B/TOTAL` or `bytes A-B/*`.
    Chunk(u64, u64, Option<u64>),
}

fn content_range(headers: &HeaderMap, len: u64) -> Result<ContentRange, DriveError> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        // The whole content in one request.
        return Ok(if len == 0 {
            ContentRange::Query(None)
        } else {
            ContentRange::Chunk(0, len - 1, Some(len))
        });
    };
    let bad = || DriveError::bad_request("Failed to parse Content-Range header.");
    let v = v.to_str().map_err(|_| bad())?;
    let spec = v.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = spec.split_once('/').ok_or_else(bad)?;
    let total = match total {
        "*" => None,
        t => Some(t.parse::<u64>().map_err(|_| bad())?),
    };
    if range == "*" {
        return Ok(ContentRange::Query(total));
    }
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let a = a.parse::<u64>().map_err(|_| bad())?;
    let b = b.parse::<u64>().map_err(|_| bad())?;
    if b < a {
        return Err(bad());
    }
    Ok(ContentRange::Chunk(a, b, total))
}

/// `308 Resume Incomplete` with the `Range` received so far (none when nothing arrived).
fn incomplete(received: u64) -> Response {
    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
    if received > 0 {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", received - 1)) {
            r.headers_mut().insert(header::RANGE, v);
        }
    }
    r
}

/// `PUT` on a session URI.
pub async fn session_put(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, DriveError> {
    let Some(upload_id) = params.get("upload_id") else {
        return Err(DriveError::required(
            "upload_id",
            "A PUT needs the session URI's upload_id.",
        ));
    };
    let range = content_range(&headers, body.len() as u64)?;
    let mut sessions = g.drive.sessions();
    let session = sessions.get_mut(upload_id).ok_or_else(|| DriveError {
        status: StatusCode::NOT_FOUND,
        domain: "global",
        reason: "notFound",
        message: "The upload session was not found or has expired; start the upload again.".into(),
        location: None,
    })?;
    if let Some(done) = &session.done {
        let status = if session.target.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        return Ok((status, axum::Json(done.clone())).into_response());
    }
    let received = session.received.len() as u64;
    let (a, b, total) = match range {
        ContentRange::Query(total) => {
            if !body.is_empty() {
                return Err(DriveError::bad_request(
                    "A status query (Content-Range: bytes */TOTAL) must have an empty body.",
                ));
            }
            if let Some(t) = total {
                session.total = Some(t);
            }
            if session.total != Some(received) {
                return Ok(incomplete(received));
            }
            (received, received, session.total)
        }
        ContentRange::Chunk(a, b, total) => {
            if b - a + 1 != body.len() as u64 {
                return Err(DriveError::bad_request(format!(
                    "The Content-Range header says {} byte(s) but the request carried {}.",
                    b - a + 1,
                    body.len()
                )));
            }
            (a, b + 1, total)
        }
    };
    if let Some(t) = total {
        if session.total.is_some_and(|s| s != t) || b > t {
            return Err(DriveError::bad_request(
                "The Content-Range total does not match the upload's size.",
            ));
        }
        session.total = Some(t);
    }
    if a > received {
        return Err(DriveError::bad_request(format!(
            "Invalid request. According to the Content-Range header, the upload offset is {a} \
             byte(s), which exceeds already uploaded size of {received} byte(s)."
        )));
    }
    let last = session.total == Some(b);
    let len = b - a;
    if !last && len % CHUNK_GRANULARITY != 0 {
        return Err(DriveError::bad_request(format!(
            "Invalid request. The number of bytes uploaded is required to be equal or greater \
             than {CHUNK_GRANULARITY}, except for the final request (it's recommended to be the \
             exact multiple of {CHUNK_GRANULARITY}). The received request contained {len} \
             bytes, which does not meet this requirement."
        )));
    }
    // Bytes already held (a retried chunk) are skipped.
    let skip = (received - a) as usize;
    if skip < body.len() {
        session.received.extend_from_slice(&body[skip..]);
    }
    let received = session.received.len() as u64;
    if session.total != Some(received) {
        return Ok(incomplete(received));
    }
    let content = Bytes::from(std::mem::take(&mut session.received));
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &session.account);
    let mut finish_params = session.params.clone();
    if session.keep_forever {
        finish_params.insert("keepRevisionForever".into(), "true".into());
    }
    let outcome = finish(
        acc,
        session.target.as_deref(),
        &session.metadata,
        content.clone(),
        session.content_type.as_deref(),
        &finish_params,
    );
    let (status, value) = match outcome {
        Ok(v) => v,
        Err(e) => {
            // Keep the bytes so a status query still sees them.
            session.received = content.to_vec();
            return Err(e);
        }
    };
    g.persist(&accounts);
    let answer = partial(&value, session.fields.as_ref(), FILE_DEFAULT)?;
    session.done = Some(answer.clone());
    Ok((status, axum::Json(answer)).into_response())
}
