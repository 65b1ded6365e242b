//! Who is signed in and how much room they have: `/rest/2.0/xpan/nas?method=uinfo`
//! (`uk`, `baidu_name`, `netdisk_name`, `vip_type`) and `/api/quota`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use md5::{Digest, Md5};
use serde_json::json;

use super::errno;
use super::{Baidu, Params};

/// A stable user number for an account name (Baidu's `uk`).
pub fn uk(account: &str) -> u64 {
    let d = Md5::digest(account.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&d[..8]);
    // Real uks are 10-digit numbers.
    1_000_000_000 + u64::from_be_bytes(n) % 9_000_000_000
}

/// `GET /rest/2.0/xpan/nas?method=uinfo`.
pub async fn nas(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    let account = match b.xpan_account(&q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    if q.get("method").map(String::as_str) != Some("uinfo") {
        return errno::xpan(errno::BAD_PARAM);
    }
    errno::ok(json!({
        "avatar_url": format!("{}/avatar/{}.jpg", b.ctx.base_url, uk(&account)),
        "baidu_name": account,
        "netdisk_name": account,
        "errmsg": "succ",
        "uk": uk(&account),
        "vip_type": b.settings().vip_type,
        "request_id": errno::request_id().to_string(),
    }))
}

/// `GET /api/quota?checkfree=1&checkexpire=1`.
pub async fn quota(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    let account = match b.xpan_account(&q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let total = b.settings().quota;
    let used = b.with_drive(&account, |d| d.used());
    errno::ok(json!({
        "total": total,
        "used": used,
        "free": total.saturating_sub(used),
        "expire": false,
    }))
}
