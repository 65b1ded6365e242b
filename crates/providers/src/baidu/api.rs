//! One call to Baidu: the URL with `access_token`, the form or multipart body, the answer's
//! `errno` / `error_code`, and one token renewal when Baidu says the token is no good.
//!
//! Every body here is in memory (forms, one block), so a call can be sent again after a
//! renewal. reqwest's errors name the URL, which holds the token: they are reported
//! without it.

use bytes::Bytes;
use cloudsync_engine::remote::RemoteError;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::errors::{is_token_error, map_errno};
use super::Baidu;

/// Which of Baidu's hosts a call goes to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Host {
    /// pan.baidu.com: xpan and `/api/quota`.
    Pan,
    /// d.pcs.baidu.com: superfile2.
    Pcs,
}

/// A request body.
#[derive(Debug, Clone)]
pub(super) enum Body {
    /// No body.
    None,
    /// `application/x-www-form-urlencoded` pairs.
    Form(Vec<(String, String)>),
    /// One `file` field of `multipart/form-data`.
    File(Bytes),
}

/// An `application/x-www-form-urlencoded` body (serialised by `url`'s encoder through a
/// throwaway URL, so no second encoder is needed).
pub(super) fn form_body(pairs: &[(String, String)]) -> Result<String, RemoteError> {
    let mut u =
        Url::parse("http://form.invalid/").map_err(|e| RemoteError::Other(e.to_string()))?;
    u.query_pairs_mut().extend_pairs(pairs);
    Ok(u.query().unwrap_or_default().to_string())
}

/// A reqwest error as the engine's, without the URL (it carries the access token).
pub(super) fn map_reqwest(e: reqwest::Error) -> RemoteError {
    let e = e.without_url();
    if e.is_builder() {
        RemoteError::Other(e.to_string())
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        RemoteError::Unavailable(text)
    }
}

/// An unexpected HTTP status.
pub(super) fn map_status(status: StatusCode, what: &str) -> RemoteError {
    let msg = format!("{what}: HTTP {status}");
    match status.as_u16() {
        401 | 403 => RemoteError::Auth(msg),
        404 | 410 => RemoteError::NotFound(msg),
        429 => RemoteError::RateLimited(None),
        408 | 500..=599 => RemoteError::Unavailable(msg),
        _ => RemoteError::Other(msg),
    }
}

/// The error number of an answer: `errno` when non-zero, else `error_code` (PCS), with the
/// message; `None` for success.
pub(super) fn answer_code(v: &Value) -> Option<(i64, String)> {
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_i64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let code = num("errno")
        .filter(|c| *c != 0)
        .or_else(|| num("error_code").filter(|c| *c != 0))?;
    let msg = ["errmsg", "error_msg", "show_msg"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
        .to_string();
    Some((code, msg))
}

const BOUNDARY: &str = "----CloudSyncBaiduBlock5f1c9a0e";

fn multipart(data: &Bytes) -> Vec<u8> {
    let mut body = Vec::with_capacity(data.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Baidu {
    /// Calls `path` on `host` with `query` (plus the token) and `body`; the answer when
    /// its errno is 0. A token error is answered by one renewal and one more try.
    pub(super) async fn call(
        &self,
        method: Method,
        host: Host,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
        what: &str,
    ) -> Result<Value, RemoteError> {
        self.call_passing(method, host, path, query, body, what, &[])
            .await
    }

    /// Like [`Baidu::call`], but answers with errno in `pass` come back as `Ok` for the
    /// caller to read (a failed filemanager batch names each item's errno).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn call_passing(
        &self,
        method: Method,
        host: Host,
        path: &str,
        query: &[(&str, &str)],
        body: Body,
        what: &str,
        pass: &[i64],
    ) -> Result<Value, RemoteError> {
        let mut token = self.tokens.access_token().await?;
        let mut renewed = false;
        loop {
            let base = match host {
                Host::Pan => &self.pan,
                Host::Pcs => &self.pcs,
            };
            let mut url = Url::parse(&format!("{base}{path}"))
                .map_err(|e| RemoteError::Other(format!("bad Baidu URL: {e}")))?;
            url.query_pairs_mut()
                .extend_pairs(query)
                .append_pair("access_token", &token);
            let mut rb = self.http.request(method.clone(), url);
            rb = match &body {
                Body::None => rb,
                Body::Form(pairs) => rb
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form_body(pairs)?),
                Body::File(data) => rb
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        format!("multipart/form-data; boundary={BOUNDARY}"),
                    )
                    .body(multipart(data)),
            };
            let resp = rb.send().await.map_err(map_reqwest)?;
            let status = resp.status();
            let text = resp.text().await.map_err(map_reqwest)?;
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            let code = parsed.as_ref().and_then(answer_code);
            if let Some((code, msg)) = code.filter(|(c, _)| !pass.contains(c)) {
                if is_token_error(code) && !renewed {
                    renewed = true;
                    tracing::debug!("{what}: Baidu refused the token (errno {code}); renewing");
                    token = self.tokens.renew(&token).await?;
                    continue;
                }
                return Err(map_errno(code, what, &msg));
            }
            if !status.is_success() {
                return Err(map_status(status, what));
            }
            return parsed.ok_or_else(|| {
                RemoteError::Unavailable(format!("{what}: the answer is not JSON"))
            });
        }
    }

    /// A GET on pan.baidu.com.
    pub(super) async fn pan_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<Value, RemoteError> {
        self.call(Method::GET, Host::Pan, path, query, Body::None, what)
            .await
    }

    /// A filemanager call (`opera`, one `filelist`, `ondup=fail`, synchronous); a failed
    /// batch (errno 12) comes back as `Ok` with the items' errnos.
    pub(super) async fn filemanager_call(
        &self,
        opera: &str,
        filelist: String,
        what: &str,
    ) -> Result<Value, RemoteError> {
        self.call_passing(
            Method::POST,
            Host::Pan,
            "/rest/2.0/xpan/file",
            &[("method", "filemanager"), ("opera", opera)],
            Body::Form(vec![
                ("async".into(), "0".into()),
                ("filelist".into(), filelist),
                ("ondup".into(), "fail".into()),
            ]),
            what,
            &[super::errors::BATCH_FAILED],
        )
        .await
    }

    /// A form POST to `/rest/2.0/xpan/file?method=<method>`.
    pub(super) async fn file_post(
        &self,
        method: &str,
        extra_query: &[(&str, &str)],
        form: Vec<(String, String)>,
        what: &str,
    ) -> Result<Value, RemoteError> {
        let mut query = vec![("method", method)];
        query.extend_from_slice(extra_query);
        self.call(
            Method::POST,
            Host::Pan,
            "/rest/2.0/xpan/file",
            &query,
            Body::Form(form),
            what,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errno_or_error_code_whichever_is_set() {
        assert_eq!(answer_code(&json!({"errno": 0, "list": []})), None);
        assert_eq!(
            answer_code(&json!({"errno": -9, "errmsg": "x"})),
            Some((-9, "x".into()))
        );
        assert_eq!(
            answer_code(&json!({"error_code": 31045, "error_msg": "y"})),
            Some((31045, "y".into()))
        );
        assert_eq!(answer_code(&json!({"md5": "abc", "request_id": 1})), None);
        assert_eq!(
            answer_code(&json!({"errno": "111"})),
            Some((111, String::new()))
        );
    }

    #[test]
    fn forms_are_url_encoded() {
        let body = form_body(&[("path".into(), "/apps/x/a b&c.txt".into())]).expect("form");
        assert_eq!(body, "path=%2Fapps%2Fx%2Fa+b%26c.txt");
    }
}
