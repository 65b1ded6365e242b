//! `files.list`, `files.get` (metadata and `alt=media` with `Range`), metadata-only
//! `files.create`, `files.update` (PATCH: rename, `addParents`/`removeParents`, `trashed`,
//! `modifiedTime`, `appProperties`), `files.delete` and `about.get`; plus the metadata rules
//! the upload endpoints share.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::errors::DriveError;
use super::query::Query as Q;
use super::store::{self, Account, File};
use super::{hostile, json, partial, Gdrive};

/// The fields a File answer has when the request names none.
pub const FILE_DEFAULT: &str = "kind,id,name,mimeType";
const LIST_DEFAULT: &str = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)";
const ORDER_KEYS: &[&str] = &[
    "createdTime",
    "folder",
    "modifiedByMeTime",
    "modifiedTime",
    "name",
    "name_natural",
    "quotaBytesUsed",
    "recency",
    "sharedWithMeTime",
    "starred",
    "viewedByMeTime",
];

type Params = Query<HashMap<String, String>>;

/// A page size parameter within `1..=max`, or `default`.
///
/// # Errors
/// 400 `invalid` on `name`.
pub fn page_size(params: &HashMap<String, String>, default: usize) -> Result<usize, DriveError> {
    match params.get("pageSize") {
        None => Ok(default),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| DriveError::invalid_parameter("pageSize")),
    }
}

/// Checks `spaces`; false when only spaces this emulator keeps empty were asked for.
///
/// # Errors
/// 400 `invalid` for an unknown space.
pub fn drive_space(params: &HashMap<String, String>) -> Result<bool, DriveError> {
    let Some(spaces) = params.get("spaces") else {
        return Ok(true);
    };
    let mut drive = false;
    for s in spaces.split(',').map(str::trim) {
        match s {
            "drive" => drive = true,
            "appDataFolder" | "photos" => {}
            _ => return Err(DriveError::invalid_parameter("spaces")),
        }
    }
    Ok(drive)
}

fn encode_token(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_token(token: &str) -> Result<String, DriveError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| DriveError::invalid_parameter("pageToken"))
}

/// Where a file sorts in an unordered listing, and what a page token points after.
fn cursor_key(f: &File) -> (i64, &str) {
    (f.created.timestamp_nanos_opt().unwrap_or(i64::MAX), &f.id)
}

fn order(files: &mut [&File], order_by: Option<&str>) -> Result<(), DriveError> {
    let Some(spec) = order_by else {
        files.sort_by(|a, b| cursor_key(a).cmp(&cursor_key(b)));
        return Ok(());
    };
    let mut keys = Vec::new();
    for part in spec.split(',') {
        let mut words = part.split_whitespace();
        let key = words.next().unwrap_or_default();
        let desc = match words.next() {
            None => false,
            Some("desc") => true,
            Some(_) => return Err(DriveError::invalid_parameter("orderBy")),
        };
        if !ORDER_KEYS.contains(&key) {
            return Err(DriveError::invalid_parameter("orderBy"));
        }
        keys.push((key.to_string(), desc));
    }
    files.sort_by(|a, b| {
        for (key, desc) in &keys {
            let o = match key.as_str() {
                "createdTime" => a.created.cmp(&b.created),
                "modifiedTime" | "modifiedByMeTime" | "recency" => a.modified.cmp(&b.modified),
                "folder" => b.is_folder().cmp(&a.is_folder()),
                "name" | "name_natural" => a.name.cmp(&b.name),
                _ => std::cmp::Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.id.cmp(&b.id)
    });
    Ok(())
}

/// `GET /drive/v3/files`.
pub async fn list(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let size = page_size(&params, 100)?;
    let in_drive = drive_space(&params)?;
    let q = params.get("q").map(|q| Q::parse(q)).transpose()?;
    if params.contains_key("orderBy") && q.as_ref().is_some_and(Q::has_full_text) {
        let message = "Sorting is not supported for queries with fullText terms. Results are \
                       always in descending relevance order.";
        return Err(DriveError::bad_request(message).at("orderBy", "parameter"));
    }
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    if g.hostile() {
        hostile::seed(acc);
    }
    let mut files: Vec<&File> = acc
        .files
        .values()
        .filter(|f| in_drive && f.id != acc.root_id)
        .filter(|f| q.as_ref().is_none_or(|q| q.matches(acc, f)))
        .collect();
    let order_by = params.get("orderBy").map(String::as_str);
    order(&mut files, order_by)?;
    let start = match params.get("pageToken") {
        None => 0,
        Some(t) => {
            let t = decode_token(t)?;
            if order_by.is_some() {
                t.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| DriveError::invalid_parameter("pageToken"))?
            } else {
                // After the (createdTime, id) of the last file of the previous page, so files
                // created or deleted meanwhile never shift the next page.
                let (ms, id) = t
                    .strip_prefix("after:")
                    .and_then(|r| r.split_once(':'))
                    .and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_string())))
                    .ok_or_else(|| DriveError::invalid_parameter("pageToken"))?;
                files
                    .iter()
                    .position(|f| cursor_key(f) > (ms, id.as_str()))
                    .unwrap_or(files.len())
            }
        }
    };
    let page: Vec<&File> = files.iter().skip(start).take(size).copied().collect();
    let mut body = json!({
        "kind": "drive#fileList",
        "incompleteSearch": false,
        "files": page.iter().map(|f| acc.resource(f)).collect::<Vec<_>>(),
    });
    if start + page.len() < files.len() {
        let token = match (order_by, page.last()) {
            (None, Some(last)) => {
                format!("after:{}:{}", cursor_key(last).0, last.id)
            }
            _ => format!("offset:{}", start + page.len()),
        };
        body["nextPageToken"] = json!(encode_token(&token));
    }
    Ok(json(partial(&body, params.get("fields"), LIST_DEFAULT)?))
}

/// `GET /drive/v3/files/{fileId}`: metadata, or the content with `alt=media`.
pub async fn get(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
    Query(params): Params,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let f = acc.get(&file_id)?;
    if params.get("alt").map(String::as_str) == Some("media") {
        let Some(head) = f.head().filter(|_| f.is_binary()) else {
            return Err(DriveError::forbidden(
                "fileNotDownloadable",
                "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
            )
            .at("alt", "parameter"));
        };
        return Ok(media(&head.content, &head.mime_type, &headers));
    }
    let value = acc.resource(f);
    Ok(json(partial(&value, params.get("fields"), FILE_DEFAULT)?))
}

/// The bytes of a download, honouring a single `Range: bytes=...`.
pub fn media(content: &Bytes, mime: &str, headers: &HeaderMap) -> Response {
    let len = content.len() as u64;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
        .filter(|r| !r.contains(','));
    let Some(range) = range else {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, mime.to_string())],
            content.clone(),
        )
            .into_response();
    };
    let parsed = match range.split_once('-') {
        Some(("", n)) => n
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| (len.saturating_sub(n), len.saturating_sub(1))),
        Some((a, "")) => a.parse::<u64>().ok().map(|a| (a, len.saturating_sub(1))),
        Some((a, b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => Some((a, b.min(len.saturating_sub(1)))),
            _ => None,
        },
        None => None,
    };
    match parsed {
        Some((a, b)) if a < len && a <= b => (
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, mime.to_string()),
                (header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}")),
            ],
            content.slice(a as usize..=b as usize),
        )
            .into_response(),
        _ => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}

fn parse_time(v: &Value, field: &str) -> Result<DateTime<Utc>, DriveError> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| DriveError {
            message: format!("Invalid value for: {field}"),
            ..DriveError::invalid_parameter(field)
        })
}

fn not_writable() -> DriveError {
    DriveError::forbidden(
        "fieldNotWritable",
        "The resource body includes fields which are not directly writable.",
    )
}

/// The folder `id` for a new child.
fn parent_folder(acc: &Account, id: &str) -> Result<String, DriveError> {
    let f = acc.get(id)?;
    if !f.is_folder() {
        return Err(DriveError::bad_request(format!(
            "The specified parent is not a folder: {id}."
        )));
    }
    Ok(f.id.clone())
}

/// A new file from create metadata (not yet stored). Binary types get an empty first
/// revision, or `content` when given.
///
/// # Errors
/// Bad parents, times or output-only fields.
pub fn new_file(
    acc: &Account,
    meta: &Map<String, Value>,
    content: Option<Bytes>,
    content_type: Option<&str>,
) -> Result<File, DriveError> {
    for field in [
        "size",
        "md5Checksum",
        "version",
        "headRevisionId",
        "kind",
        "trashedTime",
    ] {
        if meta.contains_key(field) {
            return Err(not_writable());
        }
    }
    let now = Utc::now();
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("Untitled")
        .to_string();
    let mime_type = meta
        .get("mimeType")
        .and_then(Value::as_str)
        .or(content_type)
        .unwrap_or("application/octet-stream")
        .to_string();
    let parents = match meta.get("parents") {
        None | Some(Value::Null) => vec![acc.root_id.clone()],
        Some(Value::Array(ps)) => {
            if ps.len() > 1 {
                return Err(DriveError::forbidden(
                    "cannotAddParent",
                    "Increasing the number of parents is not allowed.",
                ));
            }
            match ps.first().and_then(Value::as_str) {
                Some(p) => vec![parent_folder(acc, p)?],
                None => vec![acc.root_id.clone()],
            }
        }
        Some(_) => return Err(DriveError::invalid_parameter("parents")),
    };
    let modified = match meta.get("modifiedTime") {
        Some(v) => parse_time(v, "modifiedTime")?,
        None => now,
    };
    let created = match meta.get("createdTime") {
        Some(v) => parse_time(v, "createdTime")?,
        None => now,
    };
    let app_properties = meta
        .get("appProperties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut file = File {
        id: store::new_id(),
        name,
        mime_type,
        parents,
        explicitly_trashed: meta.get("trashed").and_then(Value::as_bool) == Some(true),
        created,
        modified,
        version: 1,
        revisions: Vec::new(),
        app_properties,
    };
    if file.is_binary() {
        let rev = store::new_revision(
            content.unwrap_or_default(),
            &file.mime_type,
            &file.name,
            modified,
        );
        file.revisions.push(rev);
    }
    Ok(file)
}

/// Applies update metadata and `addParents`/`removeParents` to `id`; returns the ids whose
/// state changed (the file, and its subtree when trashing or untrashing).
///
/// # Errors
/// 404 for unknown ids, 403/400 for what Drive refuses.
pub fn apply_update(
    acc: &mut Account,
    id: &str,
    meta: &Map<String, Value>,
    params: &HashMap<String, String>,
) -> Result<Vec<String>, DriveError> {
    let id = acc.get(id)?.id.clone();
    if id == acc.root_id {
        return Err(DriveError::forbidden(
            "insufficientFilePermissions",
            "The user does not have sufficient permissions for this file.",
        ));
    }
    for field in [
        "parents",
        "size",
        "md5Checksum",
        "version",
        "headRevisionId",
        "kind",
        "id",
        "createdTime",
    ] {
        if meta.contains_key(field) {
            return Err(not_writable());
        }
    }
    let split = |k: &str| -> Vec<String> {
        params
            .get(k)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| acc.resolve(s))
                    .collect()
            })
            .unwrap_or_default()
    };
    let add = split("addParents");
    let remove = split("removeParents");
    let mut parents = acc.get(&id)?.parents.clone();
    for r in &remove {
        parents.retain(|p| p != r);
    }
    for a in &add {
        let folder = parent_folder(acc, a)?;
        if acc.is_within(&folder, &id) {
            return Err(DriveError::bad_request(
                "The parent you tried to add would create a cycle.",
            ));
        }
        if parents.contains(&folder) {
            return Err(DriveError::bad_request(
                "You tried to add a duplicate parent to a Drive file.",
            ));
        }
        parents.push(folder);
    }
    if parents.len() != 1 {
        return Err(DriveError::forbidden(
            "cannotAddParent",
            "A file must have exactly one parent folder; increasing the number of parents is not allowed.",
        ));
    }
    let modified = meta
        .get("modifiedTime")
        .map(|v| parse_time(v, "modifiedTime"))
        .transpose()?;
    let trashed = match meta.get("trashed") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| DriveError::invalid_parameter("trashed"))?,
        ),
    };
    let name = match meta.get("name") {
        None => None,
        Some(v) => Some(
            v.as_str()
                .ok_or_else(|| DriveError::invalid_parameter("name"))?
                .to_string(),
        ),
    };
    let moved_or_trash = trashed.is_some();
    let f = acc
        .files
        .get_mut(&id)
        .ok_or_else(|| DriveError::file_not_found(&id))?;
    if let Some(name) = name {
        f.name = name;
    }
    if let Some(m) = modified {
        f.modified = m;
    }
    if let Some(t) = trashed {
        f.explicitly_trashed = t;
    }
    if let Some(Value::Object(props)) = meta.get("appProperties") {
        for (k, v) in props {
            if v.is_null() {
                f.app_properties.remove(k);
            } else {
                f.app_properties.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(Value::String(mime)) = meta.get("mimeType") {
        f.mime_type = mime.clone();
    }
    f.parents = parents;
    f.version += 1;
    Ok(if moved_or_trash {
        acc.subtree(&id)
    } else {
        vec![id]
    })
}

/// The JSON object of a request body (an empty body counts as `{}`).
///
/// # Errors
/// 400 `parseError` for a body that is not a JSON object.
pub fn metadata(body: &[u8]) -> Result<Map<String, Value>, DriveError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(DriveError {
            reason: "parseError",
            ..DriveError::bad_request("Parse Error")
        }),
    }
}

/// `POST /drive/v3/files`: a folder, a Google-native document or an empty file.
pub async fn create(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let meta = metadata(&body)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let mut file = new_file(acc, &meta, None, None)?;
    if params.get("keepRevisionForever").map(String::as_str) == Some("true") {
        if let Some(r) = file.revisions.last_mut() {
            r.keep_forever = true;
        }
    }
    let value = acc.resource(&file);
    acc.insert(file);
    g.persist(&accounts);
    Ok(json(partial(&value, params.get("fields"), FILE_DEFAULT)?))
}

/// `PATCH /drive/v3/files/{fileId}`: metadata only.
pub async fn update(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let meta = metadata(&body)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let changed = apply_update(acc, &file_id, &meta, &params)?;
    acc.record(&changed);
    let f = acc.get(&file_id)?;
    let value = acc.resource(f);
    g.persist(&accounts);
    Ok(json(partial(&value, params.get("fields"), FILE_DEFAULT)?))
}

/// `DELETE /drive/v3/files/{fileId}`: permanent, with the folder's subtree.
pub async fn delete(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Path(file_id): Path<String>,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let id = acc.get(&file_id)?.id.clone();
    if id == acc.root_id {
        return Err(DriveError::forbidden(
            "insufficientFilePermissions",
            "The user does not have sufficient permissions for this file.",
        ));
    }
    let gone = acc.subtree(&id);
    for g in &gone {
        acc.files.remove(g);
    }
    acc.record(&gone);
    g.persist(&accounts);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /drive/v3/about` (`fields` is required, as on Drive).
pub async fn about(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Query(params): Params,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let Some(fields) = params.get("fields") else {
        return Err(DriveError::required(
            "fields",
            "The 'fields' parameter is required for this method.",
        ));
    };
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let usage: u64 = acc
        .files
        .values()
        .filter_map(|f| f.head().map(|h| h.content.len() as u64))
        .sum();
    let permission_id: String = Sha256::digest(name.as_bytes())
        .iter()
        .take(10)
        .map(|b| format!("{:02}", b % 100))
        .collect();
    let value = json!({
        "kind": "drive#about",
        "user": {
            "kind": "drive#user",
            "displayName": name,
            "me": true,
            "permissionId": permission_id,
            "emailAddress": format!("{name}@example.com"),
        },
        "storageQuota": {
            "limit": (15u64 << 30).to_string(),
            "usage": usage.to_string(),
            "usageInDrive": usage.to_string(),
            "usageInDriveTrash": "0",
        },
        "folderColorPalette": [],
        "maxUploadSize": "5497558138880",
    });
    Ok(json(partial(&value, Some(fields), "")?))
}
