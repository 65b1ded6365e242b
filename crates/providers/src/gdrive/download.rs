//! Downloads with `alt=media`: the body streams into the engine's sink; a cut or short
//! body is resumed with `Range: bytes=N-`; the result is checked against the SHA-256 or
//! MD5 of the listing (a mismatch means the file changed meanwhile).

use std::io::Write;

use cloudsync_core::Node;
use cloudsync_engine::remote::RemoteError;
use md5::Md5;
use reqwest::header::RANGE;
use sha2::{Digest, Sha256};

use super::api::{enc, error_of};
use super::GoogleDrive;

/// Resumes tried within one download.
const MAX_RESUMES: u32 = 5;

enum Hasher {
    Md5(Md5, String),
    Sha256(Sha256, String),
    None,
}

impl Hasher {
    fn for_node(node: &Node) -> Hasher {
        match node.hash.as_deref() {
            Some(h) if h.starts_with("md5:") => Hasher::Md5(Md5::new(), h[4..].to_string()),
            Some(h) if h.starts_with("sha256:") => {
                Hasher::Sha256(Sha256::new(), h[7..].to_string())
            }
            _ => Hasher::None,
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h, _) => h.update(data),
            Hasher::Sha256(h, _) => h.update(data),
            Hasher::None => {}
        }
    }

    /// True when the content matches (or nothing is known to compare with).
    fn matches(self) -> bool {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match self {
            Hasher::Md5(h, want) => hex(&h.finalize()) == want,
            Hasher::Sha256(h, want) => hex(&h.finalize()) == want,
            Hasher::None => true,
        }
    }
}

impl GoogleDrive {
    pub(super) async fn download_to(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let id = node
            .id
            .as_deref()
            .ok_or_else(|| RemoteError::Other(format!("{} has no Drive id", node.path)))?;
        let url = self.api.url(&format!("/drive/v3/files/{}", enc(id)));
        let mut hasher = Hasher::for_node(node);
        let mut got: u64 = 0;
        let mut resumes = 0;
        loop {
            let from = got;
            let answer = self
                .api
                .send_raw(|c| {
                    let r = c.get(&url).query(&[("alt", "media")]);
                    if from > 0 {
                        r.header(RANGE, format!("bytes={from}-"))
                    } else {
                        r
                    }
                })
                .await;
            let mut cut = false;
            match answer {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    match (from, status) {
                        (0, 200) | (1.., 206) => {}
                        (1.., 416) => {
                            return Err(RemoteError::Changed(format!(
                                "{} got shorter on Drive while downloading",
                                node.path
                            )))
                        }
                        (1.., 200) => {
                            return Err(RemoteError::Unavailable(
                                "Drive ignored the Range of a resumed download".into(),
                            ))
                        }
                        _ => return Err(error_of(r, "download").await),
                    }
                    loop {
                        match r.chunk().await {
                            Ok(Some(bytes)) => {
                                sink.write_all(&bytes)?;
                                hasher.update(&bytes);
                                got += bytes.len() as u64;
                            }
                            Ok(None) => break,
                            Err(e) => {
                                tracing::debug!(error = %e, got, "download cut");
                                cut = true;
                                break;
                            }
                        }
                    }
                }
                Err(RemoteError::Unavailable(e)) => {
                    tracing::debug!(error = %e, got, "download request failed");
                    cut = true;
                }
                Err(e) => return Err(e),
            }
            if got > node.size {
                return Err(RemoteError::Changed(format!(
                    "{} grew on Drive while downloading",
                    node.path
                )));
            }
            if !cut && got == node.size {
                break;
            }
            resumes += 1;
            if resumes > MAX_RESUMES {
                return Err(RemoteError::Unavailable(format!(
                    "download of {} cut after {got} of {} bytes",
                    node.path, node.size
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(resumes))).await;
        }
        if !hasher.matches() {
            return Err(RemoteError::Changed(format!(
                "{} on Drive differs from its listing (changed meanwhile)",
                node.path
            )));
        }
        Ok(got)
    }
}
