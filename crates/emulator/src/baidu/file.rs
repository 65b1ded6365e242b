//! `/rest/2.0/xpan/file`: the `method` dispatch and `list` (one folder, `start`/`limit`
//! paging, folders first). Uploads are in [`super::upload`], filemanager in
//! [`super::filemanager`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Form;
use serde_json::{json, Value};

use super::entries::{hostile_items, list_item};
use super::errno;
use super::filemanager::filemanager;
use super::store::Entry;
use super::upload::{create, precreate};
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
            .map(|e| list_item(e, d.children(&e.path).is_empty()))
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
