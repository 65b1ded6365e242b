//! Downloads: `files/download` by path, refused before any byte is written when the file's
//! `rev` is no longer the listed one; the bytes are hashed as they stream and checked
//! against the `content_hash`; a broken body resumes with `Range` from where it stopped
//! (at most a few times), as long as the rev stays the same.

use std::io::Write;

use cloudsync_core::Node;
use cloudsync_engine::remote::RemoteError;
use serde_json::{json, Value};

use super::api::map_reqwest;
use super::content_hash::ContentHasher;
use super::Dropbox;

/// Attempts per download (the first and the resumes).
const ATTEMPTS: u32 = 4;

impl Dropbox {
    /// Streams `node` into `sink`.
    pub(super) async fn download_file(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let path = self.root.path_of(&node.path);
        let arg = json!({"path": path});
        let mut hasher = ContentHasher::new();
        let mut written = 0u64;
        let mut expected: Option<(u64, String)> = None;
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let (meta, resp) = self
                .api
                .download(&arg, written)
                .await
                .map_err(|e| e.into_remote(&format!("download {path}")))?;
            let rev = meta.get("rev").and_then(Value::as_str).unwrap_or("");
            if node.rev.as_deref().is_some_and(|want| want != rev) {
                return Err(RemoteError::Changed(format!(
                    "{path} changed since it was listed (rev {rev})"
                )));
            }
            let size = meta.get("size").and_then(Value::as_u64).unwrap_or(0);
            let hash = meta
                .get("content_hash")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_lowercase();
            match &expected {
                None => expected = Some((size, hash)),
                Some((s, h)) if (*s, h.as_str()) != (size, hash.as_str()) => {
                    return Err(RemoteError::Changed(format!(
                        "{path} changed during the download"
                    )))
                }
                Some(_) => {}
            }
            if written > 0 && resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
                return Err(RemoteError::Unavailable(format!(
                    "{path}: the resumed download did not answer the range"
                )));
            }
            let mut resp = resp;
            let outcome: Result<(), RemoteError> = async {
                while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
                    hasher.update(&chunk);
                    sink.write_all(&chunk)?;
                    written += chunk.len() as u64;
                }
                Ok(())
            }
            .await;
            match outcome {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e @ RemoteError::Unavailable(_)) => {
                    tracing::info!(path, written, error = %e, "download broke off; resuming");
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
        let (size, hash) = expected.unwrap_or_default();
        if written != size {
            return Err(RemoteError::Unavailable(format!(
                "{path}: got {written} of {size} bytes"
            )));
        }
        let got = hasher.finish();
        let listed = node
            .hash
            .as_deref()
            .and_then(|h| h.strip_prefix("dropbox:"));
        if got != hash || listed.is_some_and(|l| l != got) {
            return Err(RemoteError::Unavailable(format!(
                "{path}: the downloaded bytes do not match the content_hash (got {got}, want {hash})"
            )));
        }
        Ok(written)
    }
}
