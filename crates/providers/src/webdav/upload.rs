//! Uploads: a streamed `PUT` of a temp file beside the target, then a `MOVE` into place
//! (see the module doc of `webdav` for the checks on a replacement).
//!
//! A server that cuts a `MOVE` Destination at ';' (WsgiDAV 4.4 parses it as URL
//! parameters, so `semi;colon.txt` would land as `semi`) gets a direct, conditional `PUT`
//! for names with ';' instead: not atomic, but it lands where it should.

use std::io::Read;

use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use reqwest::header::{HeaderMap, HeaderValue, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, StatusCode, Url};

use super::auth::Next;
use super::propfind::{normalize_etag, same_etag};
use super::{map_reqwest, map_status, other, temp_name, WebDav, CHUNK};

impl WebDav {
    /// Uploads `size` bytes from `source` to `path`, which must be absent (`replaces`
    /// `None`) or still the listed version.
    pub(super) async fn upload_file(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        if !self.can_move_to(path).await? {
            return self.put_direct(path, source, size, replaces).await;
        }
        let temp_rel = path.with_name(&temp_name()).map_err(other)?;
        let temp = self.url(Some(&temp_rel), false);
        let result = match self
            .put_stream(temp.clone(), source, size, HeaderMap::new())
            .await
        {
            Ok(etag) => {
                self.place(temp.clone(), path, replaces, etag, size, mtime_ns)
                    .await
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.remove_temp(temp).await;
        }
        result
    }

    /// Deletes an upload's temp file after a failure. The server may still be busy with
    /// the broken request for a moment: rclone refuses the delete meanwhile, and a server
    /// can finish writing the file after it was deleted. So the delete is checked after a
    /// pause and repeated until the temp file stays gone.
    async fn remove_temp(&self, temp: Url) {
        let mut pause = std::time::Duration::from_millis(100);
        for _ in 0..5 {
            let deleted = self.delete_url(temp.clone()).await.is_ok();
            tokio::time::sleep(pause).await;
            if deleted && matches!(self.propfind(temp.clone(), "0").await, Ok(None)) {
                return;
            }
            pause *= 2;
        }
        tracing::warn!(temp = %temp.path(), "cannot remove an interrupted upload's temp file");
    }

    /// Checks that `path` is absent (`replaces` `None`) or still the listed file.
    async fn check_target(
        &self,
        path: &RelPath,
        replaces: Option<&Node>,
    ) -> Result<(), RemoteError> {
        let now = self.stat(path, false).await?;
        match (replaces, now) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(RemoteError::Changed(format!("{path} exists already"))),
            (Some(_), None) => Err(RemoteError::Changed(format!(
                "{path} was removed since it was listed"
            ))),
            (Some(old), Some(now)) if now.kind == Kind::File && now.rev == old.rev => Ok(()),
            (Some(_), Some(_)) => Err(RemoteError::Changed(format!(
                "{path} changed since it was listed"
            ))),
        }
    }

    /// PUTs straight to `path`, with `If-None-Match: *` for a new file and `If-Match`
    /// for a replacement where the server honours it.
    async fn put_direct(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        self.check_target(path, replaces).await?;
        let mut headers = HeaderMap::new();
        match replaces.and_then(|n| n.rev.as_deref()) {
            None if replaces.is_none() => {
                headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
            }
            Some(tag) if self.if_match_honoured().await?.put => {
                headers.insert(IF_MATCH, HeaderValue::from_str(tag).map_err(other)?);
            }
            _ => {}
        }
        self.put_stream(self.url(Some(path), false), source, size, headers)
            .await?;
        self.stat(path, false)
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("{path} vanished after upload")))
    }

    /// PUTs `size` bytes from `source` to `url`, streaming 256 KiB chunks; returns the
    /// `ETag` the server answered with, if any.
    pub(super) async fn put_stream(
        &self,
        url: Url,
        source: &mut (dyn Read + Send),
        size: u64,
        headers: HeaderMap,
    ) -> Result<Option<String>, RemoteError> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body_stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        // The body streams from a reader and cannot be sent twice, so the scheme must be
        // known before.
        self.ensure_auth().await?;
        let (rb, sent) = self.auth.apply(
            self.client.request(Method::PUT, url.clone()),
            &Method::PUT,
            &url,
        )?;
        let request = rb
            .headers(headers)
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body_stream))
            .send();
        let producer = async move {
            let mut total = 0u64;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = match source.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let kind = e.kind();
                        let text = e.to_string();
                        let _ = tx.send(Err(e)).await;
                        return Err(std::io::Error::new(kind, text));
                    }
                };
                if n == 0 {
                    break;
                }
                total += n as u64;
                if total > size {
                    break;
                }
                buf.truncate(n);
                if tx.send(Ok(buf)).await.is_err() {
                    // The request ended early; its own error tells why.
                    return Ok(total);
                }
            }
            if total != size {
                let e = || {
                    std::io::Error::other(format!(
                        "source changed during upload: expected {size} bytes, read {total}"
                    ))
                };
                let _ = tx.send(Err(e())).await;
                return Err(e());
            }
            Ok(total)
        };
        let (produced, response) = tokio::join!(producer, request);
        produced?;
        let resp = response.map_err(map_reqwest)?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED
            && self.auth.unauthorized(resp.headers(), sent) == Next::Retry
        {
            // A stale Digest nonce: the source is consumed, so the engine retries.
            return Err(RemoteError::Unavailable(format!(
                "PUT {}: the server asked to authenticate again",
                url.path()
            )));
        }
        if status.is_success() {
            let etag = resp
                .headers()
                .get(reqwest::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .and_then(normalize_etag);
            drain(resp).await;
            Ok(etag)
        } else {
            Err(map_status(
                status,
                resp.headers(),
                &format!("PUT {}", url.path()),
            ))
        }
    }

    /// Places the uploaded temp file at `path`, checking `replaces` first. A new file's
    /// node is built from the `PUT`'s `ETag` (`put_etag`) where this server keeps ETags
    /// across a `MOVE`, saving a `PROPFIND` per file; the first upload finds that out.
    pub(super) async fn place(
        &self,
        temp: Url,
        path: &RelPath,
        replaces: Option<&Node>,
        put_etag: Option<String>,
        size: u64,
        mtime_ns: i64,
    ) -> Result<Node, RemoteError> {
        let target = self.url(Some(path), false);
        match replaces {
            None => self.move_to(temp, target, false).await?,
            Some(old) => {
                self.check_target(path, replaces).await?;
                match old.rev.as_deref() {
                    Some(tag) if self.if_match_honoured().await?.move_source => {
                        self.replace_conditionally(temp, path, tag).await?;
                    }
                    _ => self.move_to(temp, target, true).await?,
                }
            }
        }
        let trusted = self.probes.etag_survives_move.get() == Some(&true);
        if let (true, None, Some(etag)) = (trusted, replaces, &put_etag) {
            return Ok(Node {
                path: path.clone(),
                kind: Kind::File,
                size,
                mtime_ns,
                hash: None,
                id: None,
                rev: Some(etag.clone()),
            });
        }
        let node = self
            .stat(path, false)
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("{path} vanished after upload")))?;
        if let (None, Some(sent), Some(now)) = (replaces, &put_etag, &node.rev) {
            let _ = self
                .probes
                .etag_survives_move
                .set(same_etag(sent, now) && node.size == size);
        }
        Ok(node)
    }
}

/// Reads a response's body to its end, so its connection goes back to the pool (a
/// response dropped unread closes the connection).
pub(super) async fn drain(resp: reqwest::Response) {
    let _ = resp.bytes().await;
}
