//! Multipart uploads left behind below the prefix: a process killed mid-upload (or a cut
//! connection that also lost the abort) leaves parts that the bucket keeps, and bills,
//! until someone aborts them. The hourly trash upkeep lists them (`ListMultipartUploads`)
//! and aborts those older than [`STALE_AFTER_SECS`]. Keys this process is uploading right
//! now are always left alone ([`InProgress`]): a server may report a wrong start date
//! (moto reports the same day in 2010 for every upload).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cloudsync_engine::remote::RemoteError;
use percent_encoding::percent_decode_str;
use reqwest::{Method, StatusCode};

use super::{map_status, xml, S3};

/// A week, as AWS suggests for its own abort-incomplete-uploads lifecycle rule; an upload
/// that old is not going to be completed.
pub(super) const STALE_AFTER_SECS: i64 = 7 * 24 * 3600;

/// Marks a key as having a multipart upload of ours in progress while it lives.
pub(super) struct InProgress {
    keys: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl InProgress {
    pub(super) fn new(keys: &Arc<Mutex<HashMap<String, usize>>>, key: String) -> InProgress {
        *lock(keys).entry(key.clone()).or_default() += 1;
        InProgress {
            keys: keys.clone(),
            key,
        }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let mut keys = lock(&self.keys);
        if let Some(n) = keys.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                keys.remove(&self.key);
            }
        }
    }
}

fn lock(keys: &Mutex<HashMap<String, usize>>) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
    // The map is only counted up and down; a panic elsewhere cannot leave it half-changed.
    keys.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl S3 {
    /// Aborts the multipart uploads below the prefix that were started more than
    /// [`STALE_AFTER_SECS`] before `now_secs`; returns how many. A server that does not
    /// list multipart uploads (some S3 stand-ins) has none to abort.
    pub(super) async fn abort_stale_uploads(&self, now_secs: i64) -> Result<usize, RemoteError> {
        let mut stale = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut q: Vec<(&str, &str)> = vec![
                ("uploads", ""),
                ("prefix", &self.prefix),
                ("encoding-type", "url"),
            ];
            if let Some((key, id)) = &markers {
                q.push(("key-marker", key));
                q.push(("upload-id-marker", id));
            }
            let a = self
                .raw
                .send(Method::GET, None, &q, &[], Vec::new())
                .await?;
            if matches!(
                a.status,
                StatusCode::NOT_IMPLEMENTED | StatusCode::METHOD_NOT_ALLOWED
            ) {
                return Ok(0);
            }
            if !a.status.is_success() {
                return Err(map_status(&a, "ListMultipartUploads"));
            }
            let page = xml::parse_uploads(&a.body).map_err(RemoteError::Other)?;
            let encoded = page.encoding.as_deref() == Some("url");
            for mut u in page.uploads {
                if encoded {
                    if let Ok(k) = percent_decode_str(&u.key).decode_utf8() {
                        u.key = k.into_owned();
                    }
                }
                // Only below our prefix, whatever the server's prefix filter did.
                if u.key.starts_with(&self.prefix)
                    && !lock(&self.uploading).contains_key(&u.key)
                    && u.initiated_secs > 0
                    && now_secs.saturating_sub(u.initiated_secs) > STALE_AFTER_SECS
                {
                    stale.push(u);
                }
            }
            match (
                page.truncated,
                page.next_key_marker,
                page.next_upload_id_marker,
            ) {
                (true, Some(key), Some(id)) => markers = Some((key, id)),
                _ => break,
            }
        }
        for u in &stale {
            let a = self
                .raw
                .send(
                    Method::DELETE,
                    Some(&u.key),
                    &[("uploadId", &u.upload_id)],
                    &[],
                    Vec::new(),
                )
                .await?;
            // Gone already (completed or aborted meanwhile) is as good as aborted.
            if !(a.status.is_success() || a.status == StatusCode::NOT_FOUND) {
                return Err(map_status(&a, &format!("AbortMultipartUpload {}", u.key)));
            }
        }
        Ok(stale.len())
    }
}
