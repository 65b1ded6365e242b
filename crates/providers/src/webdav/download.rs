//! Downloads that survive a broken connection: the rest is fetched with
//! `Range: bytes=N-` (plus `If-Range` with a strong ETag) and appended to the sink.
//!
//! The sink belongs to the engine and cannot be rewound, so a resume only ever appends.
//! A server answering `200` instead of `206` is read from the start and the bytes already
//! written are skipped, provided its ETag still names the listed version; a changed ETag
//! is [`RemoteError::Changed`], and a download that cannot be resumed safely (no ETag to
//! check) fails as [`RemoteError::Unavailable`] so the engine retries it whole into a
//! fresh temp file.

use std::io::Write;
use std::time::Duration;

use cloudsync_core::Node;
use cloudsync_engine::remote::RemoteError;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use reqwest::{Method, StatusCode};

use super::propfind::{normalize_etag, same_etag};
use super::{map_reqwest, map_status, WebDav};

/// How many times one download is resumed (or restarted before its first byte).
pub(super) const MAX_RESUMES: u32 = 3;

/// Where a resumed answer starts: the `A` of `Content-Range: bytes A-B/T`.
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let v = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let v = v.trim().strip_prefix("bytes")?.trim_start();
    v.split('-').next()?.trim().parse().ok()
}

impl WebDav {
    /// GETs `node` into `sink`, resuming after broken connections.
    pub(super) async fn download_resuming(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let url = self.url(Some(&node.path), false);
        let mut written = 0u64;
        // The version being fetched: the listed one, else the first answer's.
        let mut etag = node.rev.clone();
        let mut resumes = 0u32;
        'attempt: loop {
            let mut headers = HeaderMap::new();
            if written > 0 {
                let Some(tag) = etag.as_deref() else {
                    return Err(RemoteError::Unavailable(format!(
                        "download of {} broke after {written} bytes and cannot be resumed \
                         safely (the server sends no ETag)",
                        node.path
                    )));
                };
                headers.insert(
                    RANGE,
                    HeaderValue::from_str(&format!("bytes={written}-"))
                        .map_err(|e| RemoteError::Other(e.to_string()))?,
                );
                // If-Range takes strong validators only; a weak one is checked below.
                if !tag.starts_with("W/") {
                    if let Ok(v) = HeaderValue::from_str(tag) {
                        headers.insert(IF_RANGE, v);
                    }
                }
            }
            let resp = self.send(Method::GET, url.clone(), headers, None).await;
            let mut resp = match resp {
                Ok(r) => r,
                Err(RemoteError::Unavailable(why)) if resumes < MAX_RESUMES && written > 0 => {
                    resumes += 1;
                    tracing::debug!("resuming {} failed to start ({why}); again", node.path);
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(resumes))).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            if !status.is_success() {
                return Err(map_status(
                    status,
                    resp.headers(),
                    &format!("GET {}", node.path),
                ));
            }
            let got = resp
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .and_then(normalize_etag);
            match (&etag, &got) {
                (Some(want), Some(got)) if !same_etag(want, got) => {
                    return Err(RemoteError::Changed(format!(
                        "{} changed since it was listed (ETag {got}, listed {want})",
                        node.path
                    )));
                }
                (None, Some(_)) => etag.clone_from(&got),
                _ => {}
            }
            // Bytes of this answer that the sink already has.
            let mut skip = 0u64;
            if written > 0 {
                if status == StatusCode::PARTIAL_CONTENT {
                    match range_start(resp.headers()) {
                        Some(start) if start <= written => skip = written - start,
                        other => {
                            return Err(RemoteError::Unavailable(format!(
                                "resuming {} at byte {written}: the server sent the range \
                                 starting at {other:?}",
                                node.path
                            )));
                        }
                    }
                } else if got.is_some() {
                    // The whole file again (Range ignored), same version: skip what is
                    // written.
                    skip = written;
                } else {
                    return Err(RemoteError::Unavailable(format!(
                        "resuming {}: the server sent the whole file without an ETag",
                        node.path
                    )));
                }
            }
            loop {
                let chunk = match resp.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) if resumes < MAX_RESUMES => {
                        resumes += 1;
                        tracing::debug!(
                            "download of {} broke after {written} bytes ({e}); resuming",
                            node.path
                        );
                        continue 'attempt;
                    }
                    Err(e) => return Err(map_reqwest(e)),
                };
                let mut data = &chunk[..];
                if skip > 0 {
                    let k = usize::try_from(skip).unwrap_or(usize::MAX).min(data.len());
                    data = &data[k..];
                    skip -= k as u64;
                }
                if written + data.len() as u64 > node.size {
                    return Err(RemoteError::Changed(format!(
                        "{} is longer than the {} bytes listed",
                        node.path, node.size
                    )));
                }
                sink.write_all(data)?;
                written += data.len() as u64;
            }
            if written != node.size {
                return Err(RemoteError::Changed(format!(
                    "{}: got {written} bytes, listed {}",
                    node.path, node.size
                )));
            }
            return Ok(written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_start() {
        let mut h = HeaderMap::new();
        assert_eq!(range_start(&h), None);
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 100-199/200"));
        assert_eq!(range_start(&h), Some(100));
        h.insert(CONTENT_RANGE, HeaderValue::from_static("bytes */200"));
        assert_eq!(range_start(&h), None);
    }
}
