//! Baidu's error numbers (the reference's table 3.8, Chinese originals kept) and the two
//! body shapes errors come in: xpan's `{"errno", "errmsg", "request_id"}` and PCS's
//! `{"error_code", "error_msg", "request_id"}` (superfile2, locateupload, downloads).
//!
//! Every xpan and PCS error is an HTTP 200 body; only downloads (whose 200 body would be
//! file content) answer errors with a 4xx status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::{json, Value};

/// 参数错误.
pub const BAD_PARAM: i64 = 2;
/// 参数错误 (PCS spelling).
pub const PCS_BAD_PARAM: i64 = 31023;
/// access token 失效.
pub const TOKEN_EXPIRED: i64 = 111;
/// 身份验证失败.
pub const AUTH_FAILED: i64 = -6;
/// access_token验证未通过 (PCS).
pub const PCS_TOKEN: i64 = 31045;
/// 命中接口频控.
pub const RATE_LIMITED: i64 = 31034;
/// 文件或目录名错误或无权访问.
pub const BAD_NAME: i64 = -7;
/// 文件或目录已存在.
pub const EXISTS: i64 = -8;
/// 文件或目录不存在.
pub const NOT_FOUND: i64 = -9;
/// 云端容量已满.
pub const QUOTA_FULL: i64 = -10;
/// 文件不存在 (listall, PCS).
pub const NO_SUCH_FILE: i64 = 31066;
/// 没有上传文件到该目录的权限.
pub const NOT_APP_DIR: i64 = 31064;
/// 第一个分片的大小小于4MB.
pub const FIRST_BLOCK_SMALL: i64 = 31299;
/// 分片缺失.
pub const BLOCK_MISSING: i64 = 31363;
/// 超出分片大小限制.
pub const BLOCK_TOO_BIG: i64 = 31364;
/// 参数异常.
pub const PARAM_ABNORMAL: i64 = 31355;
/// 文件总大小超限.
pub const FILE_TOO_BIG: i64 = 31365;
/// A batch (filemanager) where an item failed; the items carry their own errno
/// [UNVERIFIED: the number real Baidu uses for a partly failed batch].
pub const BATCH_FAILED: i64 = 12;

/// The message Baidu words an errno with.
pub fn message(errno: i64) -> &'static str {
    match errno {
        0 => "succ",
        2 | 31023 => "参数错误",
        111 => "access token 失效",
        -6 => "身份验证失败",
        6 => "不允许接入用户数据",
        31034 => "命中接口频控",
        -1 => "权益已过期",
        -3 | -9 | 31066 | -31066 => "文件或目录不存在",
        -7 => "文件或目录名错误或无权访问",
        -8 => "文件或目录已存在",
        -10 => "云端容量已满",
        10 => "创建文件失败",
        12 => "批量操作失败",
        31024 => "没有申请上传权限",
        31045 => "access_token验证未通过",
        31064 => "没有上传文件到该目录的权限",
        31299 => "第一个分片的大小小于4MB",
        31363 => "分片缺失",
        31364 => "超出分片大小限制",
        31355 => "参数异常",
        31365 => "文件总大小超限",
        _ => "未知错误",
    }
}

/// A request id (Baidu sends numbers here; some endpoints strings).
pub fn request_id() -> u64 {
    rand::thread_rng().gen_range(1_000_000_000_000_000u64..9_000_000_000_000_000)
}

/// `{"errno": N, "errmsg": "...", "request_id": ...}` with HTTP 200.
pub fn xpan(errno: i64) -> Response {
    Json(json!({
        "errno": errno,
        "errmsg": message(errno),
        "request_id": request_id(),
    }))
    .into_response()
}

/// `{"error_code": N, "error_msg": "...", "request_id": ...}` with HTTP 200.
pub fn pcs(code: i64) -> Response {
    Json(pcs_body(code)).into_response()
}

/// The PCS error body.
pub fn pcs_body(code: i64) -> Value {
    json!({
        "error_code": code,
        "error_msg": message(code),
        "request_id": request_id(),
    })
}

/// A PCS error on a download, with a status (the body cannot be a 200 there).
pub fn download(status: StatusCode, code: i64) -> Response {
    (status, Json(pcs_body(code))).into_response()
}

/// A success body: `fields` plus `errno: 0` and a `request_id`.
pub fn ok(mut fields: Value) -> Response {
    if let Some(map) = fields.as_object_mut() {
        map.insert("errno".into(), json!(0));
        map.entry("request_id").or_insert(json!(request_id()));
    }
    Json(fields).into_response()
}
