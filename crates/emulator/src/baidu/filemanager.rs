//! `method=filemanager`: copy, move, rename and delete, item by item, with `ondup`
//! (`fail`, `overwrite`, `newcopy`, `skip`) and `async` (0 and 1 answer per item; 2 answers
//! a `taskid`, the work being done at once). Deletes go to the recycle bin, which the open
//! API does not show.

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::errno;
use super::store::{check_write_path, is_within, join, parent_of};
use super::{int, Baidu, Params};

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

/// `method=filemanager`.
pub fn filemanager(b: &Baidu, q: &Params, f: &Params) -> Response {
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
    let app = match b.app_dir(account, &item.path, false) {
        Ok(dir) => dir,
        Err(n) => return n,
    };
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
