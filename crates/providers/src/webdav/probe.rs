//! One-time probes of what a WebDAV server supports, and the conditional replace that
//! uses the `If-Match` probe's answer.
//!
//! Servers differ: rclone 1.60 ignores `If-Match`, WsgiDAV honours it. The probe sends a
//! wrong `If-Match` with both requests that rely on it, a `PUT` (the direct upload) and a
//! `MOVE` of the source (the conditional replace), to a temp file at the root, and cleans
//! up after itself. (`If-Match` on a `MOVE` is about its source, not its destination, so
//! the replace moves the old version aside conditionally rather than conditioning the
//! `MOVE` of the new one.)

use std::sync::OnceLock;

use cloudsync_core::RelPath;
use cloudsync_engine::remote::RemoteError;

use reqwest::header::{HeaderMap, HeaderValue, IF_MATCH};

use super::{other, temp_name, WebDav};

/// What the probes found, shared by the clones of one backend.
#[derive(Debug, Default)]
pub struct Probes {
    /// Set once the authentication scheme is known (or none is needed).
    pub(super) auth: tokio::sync::OnceCell<()>,
    /// Whether `PROPFIND Depth: infinity` on the root worked.
    pub(super) infinity: OnceLock<bool>,
    /// Whether `If-Match` is honoured.
    if_match: tokio::sync::OnceCell<IfMatch>,
    /// Whether a `MOVE` to a name with ';' lands there.
    semicolon: tokio::sync::OnceCell<bool>,
    /// Whether a file keeps the `ETag` its `PUT` answered with when moved into place
    /// (learnt from the first upload, which reads it back).
    pub(super) etag_survives_move: OnceLock<bool>,
}

/// Which requests a server refuses (412) when their `If-Match` does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch {
    /// `PUT` of the request URI.
    pub put: bool,
    /// `MOVE` of the source.
    pub move_source: bool,
}

/// An entity tag no server hands out.
const WRONG_ETAG: &str = "\"cloudsync-probe-never-matches\"";

impl WebDav {
    /// Which requests the server refuses when their `If-Match` does not match (probed
    /// once).
    ///
    /// # Errors
    /// When the probe file cannot be written.
    pub async fn if_match_honoured(&self) -> Result<IfMatch, RemoteError> {
        self.probes
            .if_match
            .get_or_try_init(|| self.probe_if_match())
            .await
            .copied()
    }

    async fn probe_if_match(&self) -> Result<IfMatch, RemoteError> {
        let a = RelPath::from_name(&format!("{}-probe", temp_name())).map_err(other)?;
        let b = RelPath::from_name(&format!("{}-probe", temp_name())).map_err(other)?;
        let (ua, ub) = (self.url(Some(&a), false), self.url(Some(&b), false));
        let body: &[u8] = b"CloudSync If-Match probe\n";
        let mut src = body;
        self.put_stream(ua.clone(), &mut src, body.len() as u64, HeaderMap::new())
            .await?;
        let result = self.probe_if_match_on(&ua, &ub, body).await;
        let _ = self.delete_url(ua).await;
        let _ = self.delete_url(ub).await;
        tracing::debug!("WebDAV server honours If-Match: {result:?}");
        result
    }

    async fn probe_if_match_on(
        &self,
        ua: &reqwest::Url,
        ub: &reqwest::Url,
        body: &[u8],
    ) -> Result<IfMatch, RemoteError> {
        let mut wrong = HeaderMap::new();
        wrong.insert(IF_MATCH, HeaderValue::from_static(WRONG_ETAG));
        let mut src = body;
        let put = match self
            .put_stream(ua.clone(), &mut src, body.len() as u64, wrong)
            .await
        {
            Err(RemoteError::Changed(_)) => true,
            Ok(_) => false,
            Err(e) => return Err(e),
        };
        let move_source = match self
            .move_if(ua.clone(), ub.clone(), false, Some(WRONG_ETAG))
            .await
        {
            Err(RemoteError::Changed(_)) => true,
            Ok(()) => false,
            Err(e) => return Err(e),
        };
        Ok(IfMatch { put, move_source })
    }

    /// Whether a `MOVE` to `dest` lands there: always, unless its name has a ';' and the
    /// server cuts Destinations there (probed once, on the first such name).
    ///
    /// # Errors
    /// When the probe files cannot be written.
    pub async fn can_move_to(&self, dest: &RelPath) -> Result<bool, RemoteError> {
        if !dest.name().contains(';') {
            return Ok(true);
        }
        self.probes
            .semicolon
            .get_or_try_init(|| self.probe_semicolon())
            .await
            .copied()
    }

    async fn probe_semicolon(&self) -> Result<bool, RemoteError> {
        let stem = temp_name();
        let a = RelPath::from_name(&format!("{stem}-a")).map_err(other)?;
        let b = RelPath::from_name(&format!("{stem};b")).map_err(other)?;
        // Where a server cutting at ';' puts it.
        let cut = RelPath::from_name(&stem).map_err(other)?;
        let ua = self.url(Some(&a), false);
        let body: &[u8] = b"CloudSync MOVE probe\n";
        let mut src = body;
        self.put_stream(ua.clone(), &mut src, body.len() as u64, HeaderMap::new())
            .await?;
        let moved = self
            .move_to(ua.clone(), self.url(Some(&b), false), false)
            .await;
        let landed = match moved {
            Ok(()) => self.stat(&b, false).await.map(|n| n.is_some()),
            Err(e) => Err(e),
        };
        for p in [&a, &b, &cut] {
            let _ = self.delete_url(self.url(Some(p), false)).await;
        }
        let landed = landed?;
        tracing::debug!("WebDAV server moves to names with ';': {landed}");
        Ok(landed)
    }

    /// Replaces `path` (listed with ETag `tag`) by the uploaded `temp`: the old version is
    /// moved aside with `If-Match: tag` (the server refuses if it changed), the new one
    /// moved in with `Overwrite: F`, then the old one deleted. On failure the old version
    /// is put back.
    pub(super) async fn replace_conditionally(
        &self,
        temp: reqwest::Url,
        path: &RelPath,
        tag: &str,
    ) -> Result<(), RemoteError> {
        let target = self.url(Some(path), false);
        let aside_rel = path.with_name(&temp_name()).map_err(other)?;
        let aside = self.url(Some(&aside_rel), false);
        self.move_if(target.clone(), aside.clone(), false, Some(tag))
            .await
            .map_err(|e| match e {
                RemoteError::Changed(_) | RemoteError::NotFound(_) => {
                    RemoteError::Changed(format!("{path} changed since it was listed"))
                }
                e => e,
            })?;
        match self.move_to(temp, target.clone(), false).await {
            Ok(()) => {
                // A leftover is a hidden temp name, so a failed delete only costs space.
                let _ = self.delete_url(aside).await;
                Ok(())
            }
            Err(e) => {
                let _ = self.move_to(aside, target, false).await;
                Err(e)
            }
        }
    }
}
