//! Uploads: one `multipart` request for small files, resumable sessions for the rest.
//!
//! A session sends chunks of [`GoogleDrive::with_chunk_size`] bytes (a multiple of 256 KiB)
//! with `Content-Range`; Drive answers `308` with `Range: bytes=0-N` until the last. After
//! a cut (or a 5xx) the client asks where the session stands (`Content-Range: bytes */TOTAL`)
//! and sends again from there, out of the chunk it still holds in memory, so a cut costs at
//! most one chunk. A session Drive no longer knows (404) fails the upload: the engine
//! starts it again. The MD5 of what was sent is compared with Drive's `md5Checksum`.

use std::io::Read;

use cloudsync_core::{Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use cloudsync_engine::sessions::session_key;
use md5::{Digest, Md5};
use rand::Rng;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use serde_json::{json, Value};

use super::api::{enc, error_of, network, DriveFile, FILE_FIELDS};
use super::names::node;
use super::{GoogleDrive, MULTIPART_MAX};

/// The app property naming the MD5 of the content this client last uploaded.
pub const OWN_MD5: &str = "cloudsyncMd5";
/// Resumes tried within one upload before giving it back to the engine.
const MAX_RESUMES: u32 = 8;
/// What an upload fails with when Drive no longer knows its session (it starts over).
const SESSION_GONE: &str = "the upload session expired; the upload starts over";
/// Status queries tried after one cut.
const STATUS_ATTEMPTS: u32 = 5;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rfc3339(mtime_ns: i64) -> Option<String> {
    (mtime_ns > 0).then(|| {
        chrono::DateTime::from_timestamp_nanos(mtime_ns)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

/// Reads until `buf` holds `want` bytes or the source ends.
fn fill(source: &mut (dyn Read + Send), buf: &mut Vec<u8>, want: usize) -> std::io::Result<()> {
    buf.clear();
    buf.resize(want, 0);
    let mut have = 0;
    while have < want {
        match source.read(&mut buf[have..]) {
            Ok(0) => break,
            Ok(n) => have += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(have);
    Ok(())
}

/// Where a session stands.
enum Progress {
    /// Drive holds this many bytes.
    Holds(u64),
    /// The upload is complete.
    Done(Box<DriveFile>),
}

/// The end of `Range: bytes=0-N` plus one (0 without the header).
fn held(r: &reqwest::Response) -> u64 {
    r.headers()
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes=0-"))
        .and_then(|n| n.parse::<u64>().ok())
        .map_or(0, |n| n + 1)
}

async fn file_of(r: reqwest::Response, what: &str) -> Result<DriveFile, RemoteError> {
    let bytes = r.bytes().await.map_err(network)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| RemoteError::Unavailable(format!("{what}: unexpected answer: {e}")))
}

impl GoogleDrive {
    pub(super) async fn upload_from(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let mut meta = json!({});
        if let Some(t) = rfc3339(mtime_ns) {
            meta["modifiedTime"] = json!(t);
        }
        let target = match replaces {
            Some(old) => {
                let f = self.current(old).await?;
                self.keep_foreign_revision(&f).await?;
                Some(f.id)
            }
            None => {
                let parent = self.folder_id(path.parent().as_ref()).await?;
                if !self.named(&parent, path.name()).await?.is_empty() {
                    return Err(RemoteError::Changed(format!(
                        "{path} already exists on Drive"
                    )));
                }
                meta["name"] = json!(path.name());
                meta["parents"] = json!([parent]);
                None
            }
        };
        let (file, md5) = if size <= MULTIPART_MAX {
            let mut data = Vec::new();
            fill(
                source,
                &mut data,
                usize::try_from(size).unwrap_or(usize::MAX),
            )?;
            if data.len() as u64 != size {
                return Err(RemoteError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("{path}: read {} of {size} bytes", data.len()),
                )));
            }
            let md5 = hex(&Md5::digest(&data));
            meta["appProperties"] = json!({ OWN_MD5: md5 });
            let f = self.multipart(target.as_deref(), &meta, data).await?;
            (f, md5)
        } else {
            let key = session_key(path, size, mtime_ns);
            let (f, md5) = self
                .resumable(&key, path, target.as_deref(), &meta, source, size)
                .await?;
            // Mark the content as ours (a later replacement need not keep it).
            let url = self.api.url(&format!("/drive/v3/files/{}", enc(&f.id)));
            let props = json!({"appProperties": { OWN_MD5: md5 }});
            if let Err(e) = self
                .api
                .send("files.update", |c| {
                    c.patch(&url).query(&[("fields", "id")]).json(&props)
                })
                .await
            {
                tracing::warn!(path = %path, error = %e, "could not mark the upload as ours");
            }
            (f, md5)
        };
        if file
            .md5_checksum
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(&md5))
        {
            if target.is_none() {
                let gone = node(path.clone(), &file);
                let _ = self.delete_for_good(&gone).await;
            }
            return Err(RemoteError::Unavailable(format!(
                "{path}: Drive's MD5 of the upload differs from what was sent"
            )));
        }
        self.remember(path, &file);
        Ok(node(path.clone(), &file))
    }

    /// Pins the head revision of `f` when this client did not write it: the remote change
    /// a keep-local upload replaces stays as a kept revision.
    async fn keep_foreign_revision(&self, f: &DriveFile) -> Result<(), RemoteError> {
        let (Some(rev), Some(md5)) = (&f.head_revision_id, &f.md5_checksum) else {
            return Ok(());
        };
        if f.app_properties.get(OWN_MD5) == Some(md5) {
            return Ok(());
        }
        let url = self.api.url(&format!(
            "/drive/v3/files/{}/revisions/{}",
            enc(&f.id),
            enc(rev)
        ));
        let body = json!({"keepForever": true});
        match self
            .api
            .send("revisions.update", |c| {
                c.patch(&url)
                    .query(&[("fields", "id,keepForever")])
                    .json(&body)
            })
            .await
        {
            Ok(_) => Ok(()),
            // Over Drive's pin limit, or a revision Drive will not pin: it still keeps the
            // revision for 30 days; the upload goes on.
            Err(RemoteError::Other(e)) => {
                tracing::warn!(file = %f.id, error = %e, "could not keep the replaced revision");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One `multipart` request: a new file in `meta.parents`, or new content for `target`.
    async fn multipart(
        &self,
        target: Option<&str>,
        meta: &Value,
        data: Vec<u8>,
    ) -> Result<DriveFile, RemoteError> {
        let boundary = format!("cloudsync-{:032x}", rand::thread_rng().gen::<u128>());
        let mut body = Vec::with_capacity(data.len() + 512);
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(meta.to_string().as_bytes());
        body.extend_from_slice(
            format!("\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/related; boundary={boundary}");
        let query = [("uploadType", "multipart"), ("fields", FILE_FIELDS)];
        match target {
            None => {
                let url = self.api.url("/upload/drive/v3/files");
                self.api
                    .json("files.create (multipart)", |c| {
                        c.post(&url)
                            .query(&query)
                            .header(CONTENT_TYPE, &content_type)
                            .body(body.clone())
                    })
                    .await
            }
            Some(id) => {
                let url = self.api.url(&format!("/upload/drive/v3/files/{}", enc(id)));
                self.api
                    .json("files.update (multipart)", |c| {
                        c.patch(&url)
                            .query(&query)
                            .header(CONTENT_TYPE, &content_type)
                            .body(body.clone())
                    })
                    .await
            }
        }
    }

    /// Creates a small file `name` in `parent` (the root marker).
    pub(super) async fn multipart_create(
        &self,
        parent: &str,
        name: &str,
        data: &[u8],
        mtime_ns: Option<i64>,
    ) -> Result<DriveFile, RemoteError> {
        let mut meta = json!({"name": name, "parents": [parent]});
        if let Some(t) = mtime_ns.and_then(rfc3339) {
            meta["modifiedTime"] = json!(t);
        }
        self.multipart(None, &meta, data.to_vec()).await
    }

    /// Starts a session; its URI. A start cut on the way is tried again (a session that
    /// was opened but never answered holds nothing and expires on its own).
    async fn start_session(
        &self,
        target: Option<&str>,
        meta: &Value,
        size: u64,
    ) -> Result<String, RemoteError> {
        let mut attempt = 0;
        loop {
            match self.try_start_session(target, meta, size).await {
                Err(RemoteError::Unavailable(e)) if attempt + 1 < STATUS_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(error = %e, "upload session start failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_start_session(
        &self,
        target: Option<&str>,
        meta: &Value,
        size: u64,
    ) -> Result<String, RemoteError> {
        let query = [("uploadType", "resumable"), ("fields", FILE_FIELDS)];
        let total = size.to_string();
        let r = match target {
            None => {
                let url = self.api.url("/upload/drive/v3/files");
                self.api
                    .send("files.create (resumable)", |c| {
                        c.post(&url)
                            .query(&query)
                            .header("x-upload-content-type", "application/octet-stream")
                            .header("x-upload-content-length", &total)
                            .json(meta)
                    })
                    .await?
            }
            Some(id) => {
                let url = self.api.url(&format!("/upload/drive/v3/files/{}", enc(id)));
                self.api
                    .send("files.update (resumable)", |c| {
                        c.patch(&url)
                            .query(&query)
                            .header("x-upload-content-type", "application/octet-stream")
                            .header("x-upload-content-length", &total)
                            .json(meta)
                    })
                    .await?
            }
        };
        r.headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| RemoteError::Unavailable("Drive gave no upload session URI".into()))
    }

    /// Asks where the session stands, a few times if the network is still down.
    async fn progress(&self, session: &str, size: u64) -> Result<Progress, RemoteError> {
        let range = format!("bytes */{size}");
        let mut last = RemoteError::Unavailable("no answer".into());
        for attempt in 0..STATUS_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
            }
            let r = match self
                .api
                .send_raw(|c| {
                    c.put(session)
                        .header(CONTENT_RANGE, &range)
                        .body(Vec::new())
                })
                .await
            {
                Ok(r) => r,
                Err(e @ RemoteError::Unavailable(_)) => {
                    last = e;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match r.status().as_u16() {
                308 => return Ok(Progress::Holds(held(&r))),
                200 | 201 => {
                    return Ok(Progress::Done(Box::new(file_of(r, "upload status").await?)))
                }
                404 | 410 => return Err(RemoteError::Unavailable(SESSION_GONE.into())),
                500..=599 => last = error_of(r, "upload status").await,
                _ => match error_of(r, "upload status").await {
                    RemoteError::RateLimited(after) => {
                        let secs = after.unwrap_or(1).min(30);
                        tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                        last = RemoteError::RateLimited(after);
                    }
                    e => return Err(e),
                },
            }
        }
        Err(last)
    }

    /// A resumable upload of `size` bytes from `source`; the file and the MD5 sent.
    /// A session saved for this file version by an earlier run, and how much of it Drive
    /// holds; the saved state is dropped when Drive no longer knows the session.
    async fn saved_session(
        &self,
        key: &str,
        target: Option<&str>,
        size: u64,
    ) -> Option<(String, Progress)> {
        let store = self.upload_sessions()?;
        let state = store.load(key)?;
        let uri = state.get("uri").and_then(Value::as_str)?.to_string();
        if state.get("target").and_then(Value::as_str) != target {
            store.forget(key);
            return None;
        }
        match self.progress(&uri, size).await {
            Ok(p) => Some((uri, p)),
            Err(e) => {
                tracing::debug!(error = %e, "saved upload session unusable; starting over");
                store.forget(key);
                None
            }
        }
    }

    /// A resumable upload of `size` bytes from `source`; the file and the MD5 sent. With
    /// an upload-session store attached, the session is saved under `key` (the file
    /// version), so a later run resumes it after a crash.
    async fn resumable(
        &self,
        key: &str,
        path: &RelPath,
        target: Option<&str>,
        meta: &Value,
        source: &mut (dyn Read + Send),
        size: u64,
    ) -> Result<(DriveFile, String), RemoteError> {
        let mut md5 = Md5::new();
        let mut start: u64 = 0;
        let session = match self.saved_session(key, target, size).await {
            Some((uri, progress)) => {
                // Drive's part is skipped here, but still hashed for the final check.
                let held = match &progress {
                    Progress::Holds(n) => *n,
                    Progress::Done(_) => size,
                };
                let mut skipped = Vec::new();
                while start < held {
                    let want = usize::try_from((held - start).min(self.chunk_size as u64))
                        .unwrap_or(self.chunk_size);
                    fill(source, &mut skipped, want)?;
                    if skipped.is_empty() {
                        break;
                    }
                    md5.update(&skipped);
                    start += skipped.len() as u64;
                }
                tracing::debug!(path = %path, held, "resuming a saved upload session");
                if let Progress::Done(f) = progress {
                    if let Some(store) = self.upload_sessions() {
                        store.forget(key);
                    }
                    return Ok((*f, hex(&md5.finalize())));
                }
                uri
            }
            None => {
                let uri = self.start_session(target, meta, size).await?;
                if let Some(store) = self.upload_sessions() {
                    store.save(key, path, &json!({"uri": uri, "target": target}));
                }
                uri
            }
        };
        let result = self.send_chunks(&session, source, size, start, md5).await;
        if let Some(store) = self.upload_sessions() {
            // Kept for a later run only while the session may still be resumed.
            let resumable = match &result {
                Err(RemoteError::Unavailable(m)) => m != SESSION_GONE,
                Err(RemoteError::RateLimited(_)) => true,
                _ => false,
            };
            if !resumable {
                store.forget(key);
            }
        }
        result
    }

    /// Sends `source` from byte `start` on to the session.
    async fn send_chunks(
        &self,
        session: &str,
        source: &mut (dyn Read + Send),
        size: u64,
        mut start: u64,
        mut md5: Md5,
    ) -> Result<(DriveFile, String), RemoteError> {
        let mut buf = Vec::with_capacity(self.chunk_size);
        let mut resumes = 0;
        if start >= size {
            // A resumed session holding every byte: only the file is missing.
            return match self.progress(session, size).await? {
                Progress::Done(f) => Ok((*f, hex(&md5.finalize()))),
                Progress::Holds(n) => Err(RemoteError::Unavailable(format!(
                    "Drive holds {n} of {size} bytes of a finished upload"
                ))),
            };
        }
        loop {
            fill(source, &mut buf, self.chunk_size)?;
            md5.update(&buf);
            let end = start + buf.len() as u64;
            if end > size || (buf.is_empty() && start < size) {
                return Err(RemoteError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the file changed size while uploading ({end} of {size} bytes)"),
                )));
            }
            let last = end == size;
            let mut from = start;
            loop {
                let slice = &buf[(from - start) as usize..];
                let range = format!("bytes {from}-{}/{size}", end - 1);
                let outcome = self
                    .api
                    .send_raw(|c| {
                        c.put(session)
                            .header(CONTENT_RANGE, &range)
                            .body(slice.to_vec())
                    })
                    .await;
                let progress = match outcome {
                    Ok(r) if r.status().as_u16() == 308 => Some(Progress::Holds(held(&r))),
                    Ok(r) if r.status().is_success() => {
                        Some(Progress::Done(Box::new(file_of(r, "upload").await?)))
                    }
                    Ok(r) if r.status().as_u16() == 404 || r.status().as_u16() == 410 => {
                        return Err(RemoteError::Unavailable(SESSION_GONE.into()))
                    }
                    Ok(r) if r.status().is_server_error() => {
                        tracing::debug!(status = %r.status(), "chunk refused; asking where the upload stands");
                        None
                    }
                    Ok(r) => match error_of(r, "upload").await {
                        // The session outlives a rate limit: wait, then go on from what
                        // Drive holds rather than starting over.
                        RemoteError::RateLimited(after) if resumes < MAX_RESUMES => {
                            let secs = after.unwrap_or(1 << resumes.min(3)).min(30);
                            tracing::debug!(secs, "chunk rate-limited; waiting");
                            tokio::time::sleep(std::time::Duration::from_secs(secs)).await;
                            None
                        }
                        e => return Err(e),
                    },
                    Err(RemoteError::Unavailable(e)) => {
                        tracing::debug!(error = %e, "chunk cut; asking where the upload stands");
                        None
                    }
                    Err(e) => return Err(e),
                };
                let progress = match progress {
                    Some(p) => p,
                    None => {
                        resumes += 1;
                        if resumes > MAX_RESUMES {
                            return Err(RemoteError::Unavailable(format!(
                                "the upload was cut {resumes} times"
                            )));
                        }
                        self.progress(session, size).await?
                    }
                };
                match progress {
                    Progress::Done(f) if last => {
                        return Ok((*f, hex(&md5.finalize())));
                    }
                    Progress::Done(_) => {
                        return Err(RemoteError::Other(
                            "Drive finished the upload before all bytes were sent".into(),
                        ))
                    }
                    Progress::Holds(n) if n >= end => break,
                    Progress::Holds(n) if n < start => {
                        return Err(RemoteError::Unavailable(format!(
                            "Drive lost confirmed bytes of the upload (holds {n}, had {start})"
                        )))
                    }
                    Progress::Holds(n) => from = n,
                }
            }
            start = end;
            if last {
                // Every byte is held but the last answer was a 308: ask for the file.
                return match self.progress(session, size).await? {
                    Progress::Done(f) => Ok((*f, hex(&md5.finalize()))),
                    Progress::Holds(n) => Err(RemoteError::Unavailable(format!(
                        "Drive holds {n} of {size} bytes after the last chunk"
                    ))),
                };
            }
        }
    }
}
