//! `/rest/2.0/xpan/multimedia`: `listall` (recursive, `start`/`limit` with `cursor` and
//! `has_more`, rate-limited per account: errno 31034 beyond the limit) and `filemetas`
//! (by fs_id, with `dlink` download links on request).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::entries::{hostile_items, list_item, meta_item};
use super::errno;
use super::{int, Baidu, Params};

/// GET: `method=listall|filemetas`.
pub async fn dispatch(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    match q.get("method").map(String::as_str) {
        Some("listall") => listall(&b, &q),
        Some("filemetas") => filemetas(&b, &q),
        _ => errno::xpan(errno::BAD_PARAM),
    }
}

fn listall(b: &Baidu, q: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    if !b.listall_allowed(&account) {
        return errno::xpan(errno::RATE_LIMITED);
    }
    let Some(path) = q.get("path").cloned() else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let start = int(q, "start").unwrap_or(0).max(0) as usize;
    let limit = int(q, "limit").unwrap_or(1000).clamp(1, 1000) as usize;
    let recursion = int(q, "recursion") == Some(1);
    let desc = int(q, "desc") == Some(1);
    let page = b.with_drive(&account, |d| {
        if !d.is_dir(&path) {
            return Err(errno::NO_SUCH_FILE);
        }
        let mut all = if recursion {
            d.descendants(&path)
        } else {
            d.children(&path)
        };
        if desc {
            all.reverse();
        }
        let total = all.len();
        let items: Vec<Value> = all
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|e| list_item(e, d.children(&e.path).is_empty()))
            .collect();
        let next = (start + items.len()).min(total);
        Ok((items, next, next < total))
    });
    let (mut items, cursor, has_more) = match page {
        Ok(p) => p,
        Err(n) => return errno::xpan(n),
    };
    if start == 0 && b.ctx.hostile_names.load(Ordering::Relaxed) {
        items.extend(hostile_items(&path));
    }
    errno::ok(json!({
        "cursor": cursor,
        "has_more": u8::from(has_more),
        "list": items,
        "errmsg": "succ",
    }))
}

fn filemetas(b: &Baidu, q: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let Some(ids) = q
        .get("fsids")
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
    else {
        return errno::xpan(errno::BAD_PARAM);
    };
    // Ids come as numbers or numeric strings.
    let ids: Option<Vec<u64>> = ids
        .iter()
        .map(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .collect();
    let Some(ids) = ids.filter(|i| !i.is_empty() && i.len() <= 100) else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let want_dlink = int(q, "dlink") == Some(1);
    let base = b.ctx.base_url.clone();
    let list: Vec<Value> = b.with_drive(&account, |d| {
        ids.iter()
            .filter_map(|id| d.by_id(*id))
            .map(|e| {
                let dlink = (want_dlink && !e.isdir).then(|| {
                    format!(
                        "{base}/file/{}?bkt=en-emulated&fid=0-250528-{}&dstime={}&rt=pr&sign=FDtAER-emulated&expires=8h&chkbd=0&chkv=0&dp-logid=0&dp-callid=0&r=0",
                        e.md5, e.fs_id, super::store::now_secs()
                    )
                });
                meta_item(e, dlink)
            })
            .collect()
    });
    errno::ok(json!({ "errmsg": "succ", "list": list, "names": {} }))
}
