//! Downloads: filemetas with `dlink=1` gives a link bound to the listed fs_id; it is
//! fetched with `&access_token=` and `User-Agent: pan.baidu.com`, following Baidu's 302 to
//! its CDN. A body cut short is resumed on the CDN URL with `Range: bytes=N-` (the URL
//! names that very version, so the rest cannot come from another one).

use std::io::Write;
use std::time::Duration;

use cloudsync_core::Node;
use cloudsync_engine::remote::RemoteError;
use reqwest::header::{CONTENT_RANGE, RANGE};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::api::{answer_code, map_reqwest, map_status};
use super::errors::map_errno;
use super::Baidu;

/// How many times one download is resumed.
const MAX_RESUMES: u32 = 3;

fn range_start(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let v = v.trim().strip_prefix("bytes")?.trim_start();
    v.split('-').next()?.trim().parse().ok()
}

impl Baidu {
    /// The dlink of `fs_id`, with its listed size.
    async fn dlink(&self, node: &Node, fs_id: &str) -> Result<(String, u64), RemoteError> {
        let ids = format!("[{fs_id}]");
        let v = self
            .pan_get(
                "/rest/2.0/xpan/multimedia",
                &[("method", "filemetas"), ("fsids", &ids), ("dlink", "1")],
                &format!("getting a download link for {}", node.path),
            )
            .await?;
        let item = v
            .get("list")
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .ok_or_else(|| {
                RemoteError::NotFound(format!(
                    "{} is no longer on Baidu (fs_id {fs_id})",
                    node.path
                ))
            })?;
        let link = item
            .get("dlink")
            .and_then(Value::as_str)
            .ok_or_else(|| RemoteError::Other(format!("Baidu gave no dlink for {}", node.path)))?;
        let size = item
            .get("size")
            .and_then(Value::as_u64)
            .unwrap_or(node.size);
        Ok((link.to_string(), size))
    }

    /// GETs `url` (Range from `from` when non-zero); a download error as the engine's.
    async fn fetch(
        &self,
        url: Url,
        from: u64,
        what: &str,
    ) -> Result<reqwest::Response, RemoteError> {
        let mut rb = self.http.get(url);
        if from > 0 {
            rb = rb.header(RANGE, format!("bytes={from}-"));
        }
        let resp = rb.send().await.map_err(map_reqwest)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        // Download errors carry a PCS body with a 4xx status.
        let text = resp.text().await.unwrap_or_default();
        let body: Option<Value> = serde_json::from_str(&text).ok();
        match body.as_ref().and_then(answer_code) {
            Some((code, msg)) if status != StatusCode::NOT_FOUND => {
                Err(map_errno(code, what, &msg))
            }
            _ => Err(map_status(status, what)),
        }
    }

    /// Streams `node` into `sink`.
    pub(super) async fn download_file(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let fs_id = node
            .id
            .clone()
            .ok_or_else(|| RemoteError::NotFound(format!("{} has no fs_id", node.path)))?;
        let what = format!("downloading {}", node.path);
        let (link, size) = self.dlink(node, &fs_id).await?;
        if size != node.size {
            return Err(RemoteError::Changed(format!(
                "{} changed on Baidu since it was listed ({size} bytes, listed {})",
                node.path, node.size
            )));
        }
        let mut token = self.tokens.access_token().await?;
        let with_token = |token: &str| -> Result<Url, RemoteError> {
            let mut u = Url::parse(&link)
                .map_err(|e| RemoteError::Other(format!("Baidu's dlink is no URL: {e}")))?;
            u.query_pairs_mut().append_pair("access_token", token);
            Ok(u)
        };
        let mut resp = match self.fetch(with_token(&token)?, 0, &what).await {
            Err(RemoteError::Auth(_)) => {
                token = self.tokens.renew(&token).await?;
                self.fetch(with_token(&token)?, 0, &what).await?
            }
            other => other?,
        };
        // Resumes go to where the redirect led: the CDN URL of this version.
        let cdn = resp.url().clone();
        let mut written = 0u64;
        let mut resumes = 0u32;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) if written < node.size && resumes < MAX_RESUMES => {
                    resumes += 1;
                    resp = self.resume(&cdn, written, &what, node).await?;
                    continue;
                }
                Ok(None) => break,
                Err(e) if resumes < MAX_RESUMES => {
                    resumes += 1;
                    tracing::debug!(
                        "{what}: body broke after {written} bytes ({}); resuming",
                        e.without_url()
                    );
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(resumes))).await;
                    resp = self.resume(&cdn, written, &what, node).await?;
                    continue;
                }
                Err(e) => return Err(map_reqwest(e)),
            };
            if written + chunk.len() as u64 > node.size {
                return Err(RemoteError::Changed(format!(
                    "{} is longer than the {} bytes listed",
                    node.path, node.size
                )));
            }
            sink.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        if written != node.size {
            return Err(RemoteError::Unavailable(format!(
                "{}: got {written} of {} bytes",
                node.path, node.size
            )));
        }
        Ok(written)
    }

    async fn resume(
        &self,
        cdn: &Url,
        written: u64,
        what: &str,
        node: &Node,
    ) -> Result<reqwest::Response, RemoteError> {
        let resp = self.fetch(cdn.clone(), written, what).await?;
        if resp.status() != StatusCode::PARTIAL_CONTENT || range_start(&resp) != Some(written) {
            return Err(RemoteError::Unavailable(format!(
                "resuming {} at byte {written}: Baidu did not answer with that range",
                node.path
            )));
        }
        Ok(resp)
    }
}
