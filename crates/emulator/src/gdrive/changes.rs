//! `changes.getStartPageToken` and `changes.list`: the account's change log, one entry per
//! changed file in a page (the newest state; `removed: true` once the file is gone),
//! `nextPageToken` while more changes wait and `newStartPageToken` at the end.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::errors::DriveError;
use super::files::{drive_space, page_size};
use super::store::{self, rfc3339};
use super::{hostile, json, partial, Gdrive};

const START_DEFAULT: &str = "kind,startPageToken";
const LIST_DEFAULT: &str = "kind,nextPageToken,newStartPageToken,\
    changes(kind,changeType,type,removed,fileId,time,file(kind,id,name,mimeType))";

/// `GET /drive/v3/changes/startPageToken`.
pub async fn start_token(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    let value = json!({
        "kind": "drive#startPageToken",
        "startPageToken": acc.start_page_token().to_string(),
    });
    Ok(json(partial(&value, params.get("fields"), START_DEFAULT)?))
}

/// `GET /drive/v3/changes?pageToken=N`.
pub async fn list(
    State(g): State<Arc<Gdrive>>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, DriveError> {
    let name = g.account(&headers)?;
    let size = page_size(&params, 100)?;
    let in_drive = drive_space(&params)?;
    let include_removed = params.get("includeRemoved").map(String::as_str) != Some("false");
    let Some(token) = params.get("pageToken") else {
        return Err(DriveError::required(
            "pageToken",
            "Required parameter: pageToken",
        ));
    };
    let mut accounts = g.drive.lock();
    let acc = store::account(&mut accounts, &name);
    if g.hostile() {
        hostile::seed(acc);
    }
    let end = acc.start_page_token();
    let start = token
        .parse::<u64>()
        .ok()
        .filter(|t| (1..=end).contains(t))
        .ok_or_else(|| DriveError::invalid_parameter("pageToken"))?;
    // One entry per file: its latest change from `start` on.
    let window = &acc.changes[(start - 1) as usize..];
    let mut seen = HashSet::new();
    let mut kept: Vec<(u64, &store::ChangeEntry)> = Vec::new();
    for (i, entry) in window.iter().enumerate().rev() {
        if seen.insert(entry.file_id.as_str()) {
            kept.push((start + i as u64, entry));
        }
    }
    kept.reverse();
    let mut changes = Vec::new();
    let mut next = None;
    for (seq, entry) in kept {
        let file = acc.files.get(&entry.file_id);
        if file.is_none() && !include_removed {
            continue;
        }
        if !in_drive {
            continue;
        }
        if changes.len() == size {
            next = Some(seq);
            break;
        }
        let mut change = json!({
            "kind": "drive#change",
            "changeType": "file",
            "type": "file",
            "fileId": entry.file_id,
            "time": rfc3339(entry.time),
            "removed": file.is_none(),
        });
        if let Some(f) = file {
            change["file"] = acc.resource(f);
        }
        changes.push(change);
    }
    let mut value = json!({"kind": "drive#changeList", "changes": changes});
    match next {
        Some(seq) => value["nextPageToken"] = json!(seq.to_string()),
        None => value["newStartPageToken"] = json!(end.to_string()),
    }
    Ok(json(partial(&value, params.get("fields"), LIST_DEFAULT)?))
}
