//! `revisions.list`, `revisions.get` (metadata and `alt=media`) and `revisions.update`
//! (`keepForever`) of binary files.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use serde_json::{json, Value};

use super::errors::DriveError;
use super::files::{media, metadata};
use super::store::{self, Account, File};
use super::{json, partial, Gdrive};

const LIST_DEFAULT: &str = "kind,nextPageToken,revisions(kind,id,mimeType,modifiedTime)";
const REVISION_DEFAULT: &str = "kind,id,mimeType,modifiedTime";
/// Drive's limit of pinned revisions per file.
const MAX_KEEP_FOREVER: usize = 200;

fn binary<'a>(acc: &'a Account, id: &str) -> Result<&'a File, DriveError> {
    let f = acc.get(id)?;
    if !f.is_binary() {
        return Err(DriveError {
            reason: "revisionsNotSupported",
            ..DriveError::bad_request("The file does not support revisions.")
        });
    }
    Ok(f)
}

/// `GET /drive/v3/files/{fileId}/revisions`.
pub async fn list(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let size = super::files::page_size(&params, 200)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let f = binary(acc, &file_id)?;
    let start = match params.get("pageToken") {
        None => 0,
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| DriveError::invalid_parameter("pageToken"))?,
    };
    let page: Vec<Value> = f
        .revisions
        .iter()
        .skip(start)
        .take(size)
        .map(|r| Account::revision_resource(f, r))
        .collect();
    let mut value = json!({"kind": "drive#revisionList", "revisions": page});
    if start + size < f.revisions.len() {
        value["nextPageToken"] = json!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode((start + size).to_string())
        );
    }
    Ok(json(partial(&value, params.get("fields"), LIST_DEFAULT)?))
}

/// `GET /drive/v3/files/{fileId}/revisions/{revisionId}` (`alt=media` for the bytes).
pub async fn get(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Path((file_id, revision_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let f = binary(acc, &file_id)?;
    let r = f
        .revisions
        .iter()
        .find(|r| r.id == revision_id)
        .ok_or_else(|| DriveError::revision_not_found(&revision_id))?;
    if params.get("alt").map(String::as_str) == Some("media") {
        return Ok(media(&r.content, &r.mime_type, &headers));
    }
    let value = Account::revision_resource(f, r);
    Ok(json(partial(
        &value,
        params.get("fields"),
        REVISION_DEFAULT,
    )?))
}

/// `PATCH /drive/v3/files/{fileId}/revisions/{revisionId}` with `{"keepForever": bool}`.
pub async fn update(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Path((file_id, revision_id)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let meta = metadata(&body)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let id = binary(acc, &file_id)?.id.clone();
    let keep = match meta.get("keepForever") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| DriveError::invalid_parameter("keepForever"))?,
        ),
    };
    let f = acc
        .files
        .get_mut(&id)
        .ok_or_else(|| DriveError::file_not_found(&file_id))?;
    let pinned = f.revisions.iter().filter(|r| r.keep_forever).count();
    let head_id = f.head().map(|h| h.id.clone());
    let r = f
        .revisions
        .iter_mut()
        .find(|r| r.id == revision_id)
        .ok_or_else(|| DriveError::revision_not_found(&revision_id))?;
    match keep {
        // The head revision is never purged, so unpinning it is refused (the reference's
        // verbatim error).
        Some(false) if r.keep_forever && head_id.as_deref() == Some(r.id.as_str()) => {
            return Err(DriveError {
                reason: "illegalKeepForeverModification",
                ..DriveError::bad_request(
                    "Bad Request. Cannot update a revision to false that is marked as keepForever.",
                )
            });
        }
        Some(true) if !r.keep_forever && pinned >= MAX_KEEP_FOREVER => {
            return Err(DriveError::forbidden(
                "keepForeverLimitExceeded",
                "This file has the maximum number of revisions marked keepForever.",
            ));
        }
        Some(k) => r.keep_forever = k,
        None => {}
    }
    let r = r.clone();
    f.version += 1;
    let f = f.clone();
    acc.record(std::slice::from_ref(&id));
    g.persist(&accounts);
    let value = Account::revision_resource(&f, &r);
    Ok(json(partial(
        &value,
        params.get("fields"),
        REVISION_DEFAULT,
    )?))
}
