//! The PCS upload host: `superfile2?method=upload` (one block per request, as a
//! `multipart/form-data` field `file`, or a raw body as some clients send it) and
//! `file?method=locateupload` (the list of upload servers: here, this emulator).
//!
//! PCS words errors as `{"error_code", "error_msg"}` in an HTTP 200.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::errno;
use super::{int, Baidu, Params};

/// `POST /rest/2.0/pcs/superfile2?method=upload&type=tmpfile&path&uploadid&partseq`.
pub async fn superfile2(
    State(b): State<Arc<Baidu>>,
    Query(q): Query<Params>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let account = match b.pcs_account(&q) {
        Ok(a) => a,
        Err(n) => return errno::pcs(n),
    };
    if q.get("method").map(String::as_str) != Some("upload")
        || q.get("type").map(String::as_str) != Some("tmpfile")
    {
        return errno::pcs(errno::PCS_BAD_PARAM);
    }
    let (Some(path), Some(uploadid), Some(partseq)) =
        (q.get("path"), q.get("uploadid"), int(&q, "partseq"))
    else {
        return errno::pcs(errno::PCS_BAD_PARAM);
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let data = if content_type.starts_with("multipart/form-data") {
        match multipart_field(content_type, &body, "file") {
            Some(d) => d,
            None => return errno::pcs(errno::PCS_BAD_PARAM),
        }
    } else {
        body
    };
    let Ok(partseq) = usize::try_from(partseq) else {
        return errno::pcs(errno::PCS_BAD_PARAM);
    };
    match super::upload::put_block(&b, &account, uploadid, path, partseq, data) {
        Ok(md5) => {
            axum::Json(json!({ "md5": md5, "request_id": errno::request_id() })).into_response()
        }
        Err(code) => errno::pcs(code),
    }
}

/// `GET /rest/2.0/pcs/file?method=locateupload&appid=250528&upload_version=2.0&path&uploadid`.
pub async fn pcs_file(State(b): State<Arc<Baidu>>, Query(q): Query<Params>) -> Response {
    if let Err(n) = b.pcs_account(&q) {
        return errno::pcs(n);
    }
    if q.get("method").map(String::as_str) != Some("locateupload") {
        return errno::pcs(errno::PCS_BAD_PARAM);
    }
    let me = json!({ "server": b.ctx.base_url });
    axum::Json(json!({
        "error_code": 0,
        "error_msg": "",
        "host": b.ctx.base_url.trim_start_matches("http://"),
        "servers": [me],
        "bak_servers": [me],
        "quic_servers": [],
        "client_ip": "127.0.0.1",
        "expire": 60,
        "server_time": super::store::now_secs(),
        "request_id": errno::request_id(),
    }))
    .into_response()
}

/// The content of the form field `name` in a `multipart/form-data` body.
pub fn multipart_field(content_type: &str, body: &[u8], name: &str) -> Option<Bytes> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut at = find(body, d, 0)?;
    loop {
        let part_start = at + d.len();
        if body.get(part_start..part_start + 2) == Some(b"--") {
            return None; // the closing delimiter: no such field
        }
        let headers_end = find(body, b"\r\n\r\n", part_start)?;
        let head = std::str::from_utf8(&body[part_start..headers_end]).ok()?;
        let content_start = headers_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)?;
        let wanted = head.lines().any(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("content-disposition:")
                && (l.contains(&format!("name=\"{name}\"")) || l.contains(&format!("name={name};")))
        });
        if wanted {
            return Some(Bytes::copy_from_slice(&body[content_start..next]));
        }
        at = next + 2;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_field_is_found_among_others() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nnope\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\nA\r\nB--\r\n--XyZ--\r\n";
        let got = multipart_field("multipart/form-data; boundary=XyZ", body, "file");
        assert_eq!(got.as_deref(), Some(&b"A\r\nB--"[..]));
        assert_eq!(
            multipart_field("multipart/form-data; boundary=XyZ", body, "missing"),
            None
        );
    }
}
