//! `/rest/2.0/xpan/file`: `list` (one folder, `start`/`limit` paging), `precreate`,
//! `create` (files from uploaded blocks, and folders) and `filemanager`
//! (copy/move/rename/delete).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Form;
use bytes::{Bytes, BytesMut};
use serde_json::{json, Value};

use super::entries::{hostile_items, list_item};
use super::errno;
use super::store::{
    check_write_path, is_within, join, md5_hex, now_secs, parent_of, Entry, OnExisting, Upload,
    BLOCK, MAX_BLOCKS,
};
use super::{int, Baidu, Params};

/// GET: `method=list`.
pub async fn get_method(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    match q.get("method").map(String::as_str) {
        Some("list") => list(&b, &q),
        _ => errno::xpan(errno::BAD_PARAM),
    }
}

/// POST: `method=precreate|create|filemanager` with a form body.
pub async fn post_method(
    State(b): State<Arc<Baidu>>,
    Query(q): Query<Params>,
    Form(f): Form<Params>,
) -> Response {
    match q.get("method").map(String::as_str) {
        Some("precreate") => precreate(&b, &q, &f),
        Some("create") => create(&b, &q, &f),
        Some("filemanager") => filemanager(&b, &q, &f),
        Some("list") => list(&b, &q),
        _ => errno::xpan(errno::BAD_PARAM),
    }
}

fn list(b: &Baidu, q: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let dir = q.get("dir").cloned().unwrap_or_else(|| "/".into());
    let start = int(q, "start").unwrap_or(0).max(0) as usize;
    let limit = int(q, "limit").unwrap_or(1000).clamp(1, 1000) as usize;
    let desc = int(q, "desc") == Some(1);
    let folders_only = int(q, "folder") == Some(1);
    let order = q.get("order").cloned().unwrap_or_else(|| "name".into());
    let items = b.with_drive(&account, |d| {
        if !d.is_dir(&dir) {
            return Err(errno::NOT_FOUND);
        }
        let mut children: Vec<&Entry> = d
            .children(&dir)
            .into_iter()
            .filter(|e| !folders_only || e.isdir)
            .collect();
        match order.as_str() {
            "time" => children.sort_by_key(|e| e.server_mtime),
            "size" => children.sort_by_key(|e| e.size()),
            _ => {
                // Baidu lists folders first, then by name.
                children.sort_by(|a, b| b.isdir.cmp(&a.isdir).then(a.name().cmp(b.name())));
            }
        }
        if desc {
            children.reverse();
        }
        Ok(children
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|e| list_item(e, Some(d.children(&e.path).is_empty())))
            .collect::<Vec<Value>>())
    });
    let mut items = match items {
        Ok(i) => i,
        Err(n) => return errno::xpan(n),
    };
    if start == 0 && b.ctx.hostile_names.load(Ordering::Relaxed) {
        items.extend(hostile_items(&dir));
    }
    errno::ok(json!({ "guid": 0, "guid_info": "", "list": items }))
}

/// The block MD5 list parameter: a JSON array of 32-digit lowercase hex strings.
fn block_list(f: &Params) -> Option<Vec<String>> {
    let list: Vec<String> = serde_json::from_str(f.get("block_list")?).ok()?;
    let good = |s: &String| s.len() == 32 && s.bytes().all(|c| c.is_ascii_hexdigit());
    (!list.is_empty() && list.iter().all(good))
        .then(|| list.into_iter().map(|s| s.to_ascii_lowercase()).collect())
}

/// Checks a path to write: inside the app folder (31064), a valid name (-7).
fn writable(b: &Baidu, path: &str) -> Result<(), i64> {
    if !is_within(path, &b.settings().app_dir()) {
        return Err(errno::NOT_APP_DIR);
    }
    check_write_path(path)
}

fn precreate(b: &Baidu, q: &Params, f: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let settings = b.settings();
    let Some(path) = f.get("path").cloned() else {
        return errno::xpan(errno::BAD_PARAM);
    };
    if let Err(n) = writable(b, &path) {
        return errno::xpan(n);
    }
    if int(f, "isdir").unwrap_or(0) != 0 || int(f, "autoinit") != Some(1) {
        return errno::xpan(errno::BAD_PARAM);
    }
    let (Some(size), Some(blocks)) = (int(f, "size"), block_list(f)) else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let size = size.max(0) as u64;
    if size == 0 {
        // Baidu does not store empty files [UNVERIFIED errno].
        return errno::xpan(errno::BAD_PARAM);
    }
    if size > settings.max_file() {
        return errno::xpan(errno::FILE_TOO_BIG);
    }
    let max_block = settings.max_block();
    if blocks.len() > MAX_BLOCKS || (blocks.len() as u64) * max_block < size {
        return errno::xpan(errno::BAD_PARAM);
    }
    let given = f.get("uploadid").cloned();
    let answer = b.with_drive(&account, |d| {
        if d.used() + size > settings.quota {
            return Err(errno::QUOTA_FULL);
        }
        // The same upload again (a resume): answer what is still missing.
        if let Some(id) = given.filter(|id| {
            d.uploads
                .get(id)
                .is_some_and(|u| u.path == path && u.block_list == blocks && u.size == size)
        }) {
            let missing = d.uploads.get(&id).map(Upload::missing).unwrap_or_default();
            return Ok((id, missing));
        }
        let id = format!(
            "N1-{}",
            crate::oauth::random_token("up").replace(['.', '-', '_'], "")
        );
        let upload = Upload {
            path: path.clone(),
            size,
            block_list: blocks.clone(),
            received: Default::default(),
        };
        let missing = upload.missing();
        d.uploads.insert(id.clone(), upload);
        Ok((id, missing))
    });
    match answer {
        Ok((uploadid, missing)) => errno::ok(json!({
            "path": path,
            "uploadid": uploadid,
            "return_type": 1,
            "block_list": missing,
        })),
        Err(n) => errno::xpan(n),
    }
}

/// Stores one block for a pending upload (superfile2); returns its MD5.
///
/// # Errors
/// The PCS error code.
pub fn put_block(
    b: &Baidu,
    account: &str,
    uploadid: &str,
    path: &str,
    partseq: usize,
    data: Bytes,
) -> Result<String, i64> {
    let settings = b.settings();
    if data.len() as u64 > settings.max_block() {
        return Err(errno::BLOCK_TOO_BIG);
    }
    b.with_drive(account, |d| {
        let upload = d
            .uploads
            .get_mut(uploadid)
            .filter(|u| u.path == path)
            .ok_or(errno::PCS_BAD_PARAM)?;
        if partseq >= upload.block_list.len() {
            return Err(errno::PCS_BAD_PARAM);
        }
        if partseq == 0 && upload.block_list.len() > 1 && (data.len() as u64) < BLOCK {
            return Err(errno::FIRST_BLOCK_SMALL);
        }
        let md5 = md5_hex(&data);
        upload.received.insert(partseq, data);
        Ok(md5)
    })
}

fn create(b: &Baidu, q: &Params, f: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let settings = b.settings();
    let Some(path) = f.get("path").cloned() else {
        return errno::xpan(errno::BAD_PARAM);
    };
    if let Err(n) = writable(b, &path) {
        return errno::xpan(n);
    }
    let Some(on_existing) = OnExisting::from_rtype(int(f, "rtype").unwrap_or(0)) else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let now = now_secs();
    let local_mtime = int(f, "local_mtime").unwrap_or(now);
    let local_ctime = int(f, "local_ctime").unwrap_or(local_mtime);
    let isdir = int(f, "isdir").unwrap_or(0) == 1;
    let result = b.with_drive(&account, |d| {
        let content = if isdir {
            Bytes::new()
        } else {
            let uploadid = f.get("uploadid").ok_or(errno::BAD_PARAM)?;
            let blocks = block_list(f).ok_or(errno::BAD_PARAM)?;
            let size = int(f, "size").ok_or(errno::BAD_PARAM)?.max(0) as u64;
            let upload = d.uploads.get(uploadid).ok_or(errno::BAD_PARAM)?;
            if upload.path != path || upload.block_list != blocks {
                return Err(errno::PARAM_ABNORMAL);
            }
            if !upload.missing().is_empty() {
                return Err(errno::BLOCK_MISSING);
            }
            let parts: Vec<&Bytes> = upload.received.values().collect();
            let first = parts.first().map_or(0, |p| p.len());
            if parts.iter().rev().skip(1).any(|p| p.len() != first) {
                return Err(errno::PARAM_ABNORMAL);
            }
            let mut all = BytesMut::with_capacity(size as usize);
            for p in parts {
                all.extend_from_slice(p);
            }
            if all.len() as u64 != size || size != upload.size {
                return Err(errno::PARAM_ABNORMAL);
            }
            if size > settings.max_file() {
                return Err(errno::FILE_TOO_BIG);
            }
            let replaced = d.get(&path).map_or(0, |e| e.size());
            if on_existing == OnExisting::Overwrite {
                if d.used() - replaced + size > settings.quota {
                    return Err(errno::QUOTA_FULL);
                }
            } else if d.used() + size > settings.quota {
                return Err(errno::QUOTA_FULL);
            }
            all.freeze()
        };
        let entry = Entry {
            fs_id: b.new_id(),
            path: path.clone(),
            isdir,
            md5: if isdir {
                String::new()
            } else {
                md5_hex(&content)
            },
            content,
            server_ctime: now,
            server_mtime: now,
            local_ctime,
            local_mtime,
        };
        let stored = d.put(entry, on_existing, &mut || b.new_id())?;
        if let Some(id) = f.get("uploadid") {
            d.uploads.remove(id);
        }
        Ok(stored)
    });
    match result {
        Ok(e) => {
            let mut v = json!({
                "fs_id": e.fs_id,
                "path": e.path,
                "name": e.path,
                "server_filename": e.name(),
                "size": e.size(),
                "category": super::entries::category(&e),
                "isdir": u8::from(e.isdir),
                "ctime": e.server_ctime,
                "mtime": e.server_mtime,
                "from_type": 1,
            });
            if !e.isdir {
                v["md5"] = json!(e.md5);
            }
            errno::ok(v)
        }
        Err(n) => errno::xpan(n),
    }
}

/// One filemanager item, parsed.
struct Item {
    path: String,
    dest: Option<String>,
    newname: Option<String>,
    ondup: Option<String>,
}

fn items(opera: &str, filelist: &str) -> Option<Vec<Item>> {
    let v: Value = serde_json::from_str(filelist).ok()?;
    let arr = v.as_array()?;
    arr.iter()
        .map(|x| {
            if opera == "delete" {
                // Plain paths; objects with a path are taken too.
                let path = x
                    .as_str()
                    .or_else(|| x.get("path").and_then(Value::as_str))?;
                return Some(Item {
                    path: path.to_string(),
                    dest: None,
                    newname: None,
                    ondup: None,
                });
            }
            let s = |k: &str| x.get(k).and_then(Value::as_str).map(str::to_string);
            Some(Item {
                path: s("path")?,
                dest: s("dest"),
                newname: s("newname"),
                ondup: s("ondup"),
            })
        })
        .collect()
}

fn filemanager(b: &Baidu, q: &Params, f: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let Some(opera) = q.get("opera").or_else(|| f.get("opera")).cloned() else {
        return errno::xpan(errno::BAD_PARAM);
    };
    if !matches!(opera.as_str(), "copy" | "move" | "rename" | "delete") {
        return errno::xpan(errno::BAD_PARAM);
    }
    let Some(list) = f.get("filelist").and_then(|l| items(&opera, l)) else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let mode = int(f, "async").unwrap_or(0);
    let default_ondup = f.get("ondup").cloned().unwrap_or_else(|| "fail".into());
    let mut info = Vec::new();
    let mut failed = false;
    for item in &list {
        let n = apply(b, &account, &opera, item, &default_ondup);
        failed |= n != 0;
        info.push(json!({ "errno": n, "path": item.path }));
    }
    let mut body = json!({ "info": info });
    if mode == 2 {
        body["taskid"] = json!(errno::request_id());
        body["info"] = json!([]);
    }
    if failed && mode != 2 {
        body["errno"] = json!(errno::BATCH_FAILED);
        body["errmsg"] = json!(errno::message(errno::BATCH_FAILED));
        body["request_id"] = json!(errno::request_id());
        return axum::Json(body).into_response();
    }
    errno::ok(body)
}

/// Applies one item; its errno.
fn apply(b: &Baidu, account: &str, opera: &str, item: &Item, default_ondup: &str) -> i64 {
    let app = b.settings().app_dir();
    if !is_within(&item.path, &app) || item.path == app {
        return errno::NOT_APP_DIR;
    }
    b.with_drive(account, |d| {
        let Some(src) = d.get(&item.path).cloned() else {
            return errno::NOT_FOUND;
        };
        if opera == "delete" {
            // Into the recycle bin, which the open API does not show.
            d.remove(&item.path);
            return 0;
        }
        let (dir, name) = match opera {
            "rename" => (
                parent_of(&item.path).to_string(),
                match &item.newname {
                    Some(n) => n.clone(),
                    None => return errno::BAD_PARAM,
                },
            ),
            _ => match &item.dest {
                Some(dest) => (
                    dest.clone(),
                    item.newname
                        .clone()
                        .unwrap_or_else(|| src.name().to_string()),
                ),
                None => return errno::BAD_PARAM,
            },
        };
        if name.contains('/') {
            return errno::BAD_NAME;
        }
        let mut to = join(&dir, &name);
        if !is_within(&to, &app) {
            return errno::NOT_APP_DIR;
        }
        if let Err(n) = check_write_path(&to) {
            return n;
        }
        if src.isdir && is_within(&to, &src.path) {
            return errno::BAD_NAME;
        }
        if to == src.path {
            return 0;
        }
        if d.get(&to).is_some() {
            match item.ondup.as_deref().unwrap_or(default_ondup) {
                "overwrite" => {
                    let taken = d.get(&to).map(|e| e.isdir).unwrap_or(false);
                    if taken != src.isdir {
                        return errno::EXISTS;
                    }
                    d.remove(&to);
                }
                "newcopy" => to = d.free_name(&to, src.isdir),
                "skip" => return 0,
                _ => return errno::EXISTS,
            }
        }
        if let Err(n) = d.ensure_parents(&to, &mut || b.new_id()) {
            return n;
        }
        if opera == "copy" {
            d.duplicate(&src.path, &to, &mut || b.new_id());
        } else {
            d.relocate(&src.path, &to);
        }
        0
    })
}
