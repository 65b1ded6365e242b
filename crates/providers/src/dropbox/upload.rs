//! Uploads. Up to the single-request limit, one `files/upload`; above it an upload session:
//! `start`, `append_v2` per chunk (a multiple of 4 MiB), `finish` with the last chunk and
//! the commit. A chunk that fails on the way is sent again; `incorrect_offset` tells where
//! Dropbox's copy ends, and the chunk resumes from there (it stays in memory until it is
//! acknowledged), so a broken connection costs at most one chunk. Each call carries the
//! `content_hash` of its bytes; the file's hash is checked against the committed metadata.
//!
//! An upload session outlives the process: after each acknowledged chunk the session id and
//! offset are saved through the engine's [`cloudsync_engine::sessions::UploadSessions`]
//! (keyed by path, size and mtime), and the next upload of the same file version goes on
//! from there if Dropbox still has the session.
//!
//! Commits are conditional: a new file is `mode: add` without `autorename` (something at
//! the path is a conflict), a replacement is `mode: update(rev)` with `strict_conflict`;
//! conflicts become [`RemoteError::Changed`].

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use chrono::DateTime;
use cloudsync_core::{Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use cloudsync_engine::sessions::session_key;
use serde_json::{json, Value};

use super::content_hash::{content_hash, ContentHasher};
use super::errors::CallError;
use super::listing::node_from;
use super::Dropbox;

/// Tries per chunk.
const CHUNK_ATTEMPTS: u32 = 5;
/// The longest `Retry-After` waited out inside an upload.
const MAX_WAIT: u64 = 60;

/// Reads exactly `n` bytes (the file shrinking meanwhile is an error).
fn read_exact(source: &mut (dyn Read + Send), n: usize) -> Result<Bytes, RemoteError> {
    let mut buf = vec![0u8; n];
    source.read_exact(&mut buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            RemoteError::Io(std::io::Error::new(
                e.kind(),
                "the file got shorter while it was uploaded",
            ))
        } else {
            RemoteError::Io(e)
        }
    })?;
    Ok(Bytes::from(buf))
}

fn timestamp(mtime_ns: i64) -> Option<String> {
    (mtime_ns > 0)
        .then(|| DateTime::from_timestamp(mtime_ns.div_euclid(1_000_000_000), 0))
        .flatten()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The `CommitInfo` for writing `path`.
fn commit(path: &str, mtime_ns: i64, replaces: Option<&Node>) -> Result<Value, RemoteError> {
    let (mode, strict) = match replaces {
        None => (json!("add"), false),
        Some(n) => match n.rev.as_deref() {
            Some(rev) => (json!({".tag": "update", "update": rev}), true),
            None => {
                return Err(RemoteError::Changed(format!(
                    "{path}: the version to replace has no rev"
                )))
            }
        },
    };
    let mut c = json!({
        "path": path,
        "mode": mode,
        "autorename": false,
        "mute": true,
        "strict_conflict": strict,
    });
    if let Some(t) = timestamp(mtime_ns) {
        c["client_modified"] = json!(t);
    }
    Ok(c)
}

fn correct_offset(e: &CallError) -> Option<u64> {
    let CallError::Route { error, .. } = e else {
        return None;
    };
    error
        .get("correct_offset")
        .or_else(|| error.get("lookup_failed")?.get("correct_offset"))
        .and_then(Value::as_u64)
}

impl Dropbox {
    /// Stores `size` bytes from `source` at `rel`.
    pub(super) async fn upload_file(
        &self,
        rel: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let path = self.root.path_of(rel);
        let commit = commit(&path, mtime_ns, replaces)?;
        let (meta, hash) = if size <= self.options.single_upload_max {
            let data = read_exact(source, usize::try_from(size).map_err(|_| too_big(size))?)?;
            let hash = content_hash(&data);
            let mut arg = commit.clone();
            arg["content_hash"] = json!(hash);
            let meta = self
                .api
                .upload("files/upload", &arg, data)
                .await
                .map_err(|e| e.into_remote(&format!("upload {path}")))?;
            (meta, hash)
        } else {
            self.upload_session(&path, rel, source, size, mtime_ns, &commit)
                .await?
        };
        let stored = meta
            .get("content_hash")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !stored.eq_ignore_ascii_case(&hash) {
            return Err(RemoteError::Other(format!(
                "{path}: Dropbox stored content with hash {stored}, not {hash}"
            )));
        }
        same_name(rel, &meta)?;
        node_from(rel.clone(), &meta)
            .ok_or_else(|| RemoteError::Other(format!("{path}: the upload answer is not a file")))
    }

    /// An upload session, resumed when the engine kept one for this file version (after a
    /// crash or restart) and Dropbox still has it.
    async fn upload_session(
        &self,
        path: &str,
        rel: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        commit: &Value,
    ) -> Result<(Value, String), RemoteError> {
        let what = format!("upload session for {path}");
        let kept = self.sessions.get();
        let key = session_key(rel, size, mtime_ns);
        let resumed = match kept.and_then(|k| k.load(&key)) {
            Some(saved) => self.resume(&saved, size, &what).await?,
            None => None,
        };
        let (id, mut offset) = match resumed {
            Some(r) => r,
            None => {
                let start_arg = json!({"close": false});
                let started = self
                    .with_retries(&what, || {
                        self.api
                            .upload("files/upload_session/start", &start_arg, Bytes::new())
                    })
                    .await?;
                let id = started
                    .get("session_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| RemoteError::Unavailable(format!("{what}: no session_id")))?
                    .to_string();
                (id, 0)
            }
        };
        let mut hasher = ContentHasher::new();
        // What Dropbox already holds is read past (it counts in the file's hash).
        let mut skipped = 0u64;
        while skipped < offset {
            let n = (offset - skipped).min(self.options.chunk as u64);
            hasher.update(&read_exact(source, n as usize)?);
            skipped += n;
        }
        if offset > 0 {
            tracing::info!(path, offset, "resuming a kept upload session");
        }
        loop {
            let n = (size - offset).min(self.options.chunk as u64);
            let data = read_exact(source, n as usize)?;
            hasher.update(&data);
            let last = offset + n == size;
            if last {
                let full = std::mem::take(&mut hasher).finish();
                let meta = self
                    .put_chunk(&id, offset, data, Some(commit), &full, path)
                    .await;
                // Kept for another try only while the trouble may pass.
                let passing = matches!(
                    meta,
                    Err(RemoteError::Unavailable(_)
                        | RemoteError::RateLimited(_)
                        | RemoteError::Io(_))
                );
                if let (Some(k), false) = (kept, passing) {
                    k.forget(&key);
                }
                return Ok((meta?, full));
            }
            self.put_chunk(&id, offset, data, None, "", path).await?;
            offset += n;
            if let Some(k) = kept {
                k.save(&key, rel, &json!({"session_id": id, "offset": offset}));
            }
        }
    }

    /// The session and offset to go on from, when the kept session is still open on
    /// Dropbox (an empty append at the kept offset tells).
    async fn resume(
        &self,
        saved: &Value,
        size: u64,
        what: &str,
    ) -> Result<Option<(String, u64)>, RemoteError> {
        let (Some(id), Some(offset)) = (
            saved.get("session_id").and_then(Value::as_str),
            saved.get("offset").and_then(Value::as_u64),
        ) else {
            return Ok(None);
        };
        let arg = json!({"cursor": {"session_id": id, "offset": offset}, "close": false});
        match self
            .api
            .upload("files/upload_session/append_v2", &arg, Bytes::new())
            .await
        {
            Ok(_) if offset <= size => Ok(Some((id.to_string(), offset))),
            Ok(_) => Ok(None),
            Err(e) => match correct_offset(&e) {
                Some(c) if c <= size => Ok(Some((id.to_string(), c))),
                Some(_) => Ok(None),
                // Gone (sessions live 7 days) or closed: start a new one.
                None if matches!(e, CallError::Route { .. }) => Ok(None),
                None => Err(e.into_remote(what)),
            },
        }
    }

    /// Runs `call` until it succeeds, waiting out rate limits and passing trouble.
    async fn with_retries<F, Fut>(&self, what: &str, call: F) -> Result<Value, RemoteError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Value, CallError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call().await {
                Ok(v) => return Ok(v),
                Err(CallError::Remote(e))
                    if attempt < CHUNK_ATTEMPTS && pause(&e, attempt).await =>
                {
                    tracing::info!(what, error = %e, attempt, "retrying");
                }
                Err(e) => return Err(e.into_remote(what)),
            }
        }
    }

    /// Sends one chunk at `offset` (with the commit when it is the last), resuming from
    /// Dropbox's `correct_offset` when part of it had arrived already.
    async fn put_chunk(
        &self,
        id: &str,
        start: u64,
        data: Bytes,
        commit: Option<&Value>,
        full_hash: &str,
        path: &str,
    ) -> Result<Value, RemoteError> {
        let what = format!("upload session for {path}");
        let end = start + data.len() as u64;
        let mut offset = start;
        let mut attempt = 0;
        let mut sent_finish = false;
        // After a failure the request may have arrived all the same: ask Dropbox where its
        // copy ends (an empty append) before sending the bytes again.
        let mut probe = false;
        loop {
            attempt += 1;
            let e = if probe {
                probe = false;
                let arg = json!({"cursor": {"session_id": id, "offset": offset}, "close": false});
                match self
                    .api
                    .upload("files/upload_session/append_v2", &arg, Bytes::new())
                    .await
                {
                    Ok(_) => continue,
                    Err(e) => e,
                }
            } else {
                let body = data.slice((offset - start) as usize..);
                if commit.is_none() && body.is_empty() {
                    return Ok(Value::Null);
                }
                let cursor = json!({"session_id": id, "offset": offset});
                let hash = content_hash(&body);
                let result = match commit {
                    Some(c) => {
                        sent_finish = true;
                        let arg = json!({"cursor": cursor, "commit": c, "content_hash": hash});
                        self.api
                            .upload("files/upload_session/finish", &arg, body)
                            .await
                    }
                    None => {
                        let arg = json!({"cursor": cursor, "close": false, "content_hash": hash});
                        self.api
                            .upload("files/upload_session/append_v2", &arg, body)
                            .await
                    }
                };
                match result {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                }
            };
            if let Some(correct) = correct_offset(&e) {
                if (start..=end).contains(&correct) && attempt < CHUNK_ATTEMPTS * 2 {
                    tracing::info!(
                        what,
                        offset,
                        correct,
                        "resuming the chunk where Dropbox's copy ends"
                    );
                    offset = correct;
                    continue;
                }
                return Err(RemoteError::Unavailable(format!(
                    "{what}: Dropbox holds {correct} bytes, this chunk covers {start}..{end}"
                )));
            }
            if sent_finish && (e.is(&["not_found"]) || e.is(&["lookup_failed", "not_found"])) {
                // The finish went through but its answer was lost: the file is there.
                return self.committed(path, full_hash).await;
            }
            match e {
                CallError::Remote(r)
                    if attempt < CHUNK_ATTEMPTS * 2 && pause(&r, attempt).await =>
                {
                    tracing::info!(what, error = %r, attempt, "retrying the chunk");
                    probe = true;
                }
                e => return Err(e.into_remote(&what)),
            }
        }
    }

    /// The metadata at `path` if it holds content with `hash`.
    async fn committed(&self, path: &str, hash: &str) -> Result<Value, RemoteError> {
        let meta = self
            .api
            .rpc("files/get_metadata", &json!({"path": path}))
            .await
            .map_err(|e| e.into_remote(&format!("get_metadata {path}")))?;
        if meta.get("content_hash").and_then(Value::as_str) == Some(hash) {
            Ok(meta)
        } else {
            Err(RemoteError::Unavailable(format!(
                "{path}: the upload session vanished before its commit was confirmed"
            )))
        }
    }
}

/// Dropbox matches names without regard to case: an answer about an entry spelled
/// otherwise (an identical file already there as `Photo.JPG` for `photo.jpg`) is about
/// another name, which the engine must not record under this one.
pub(super) fn same_name(rel: &RelPath, meta: &Value) -> Result<(), RemoteError> {
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if name == rel.name() {
        Ok(())
    } else {
        Err(RemoteError::Changed(format!(
            "{rel}: Dropbox has this as {name:?} (names differing only in case are one entry there)"
        )))
    }
}

fn too_big(size: u64) -> RemoteError {
    RemoteError::Other(format!("{size} bytes do not fit in memory here"))
}

/// Waits before a retry when `e` is worth one; false when it is not.
async fn pause(e: &RemoteError, attempt: u32) -> bool {
    let wait = match e {
        RemoteError::RateLimited(Some(s)) => Duration::from_secs((*s).min(MAX_WAIT)),
        RemoteError::RateLimited(None) | RemoteError::Unavailable(_) => {
            Duration::from_millis(200u64 << attempt.min(6))
        }
        _ => return false,
    };
    tokio::time::sleep(wait).await;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_conditional() {
        let c = commit("/r/a.txt", 1_431_445_838_500_000_000, None).expect("commit");
        assert_eq!(c["mode"], "add");
        assert_eq!(c["autorename"], false);
        assert_eq!(c["client_modified"], "2015-05-12T15:50:38Z");
        let old = Node {
            path: RelPath::new("a.txt").expect("path"),
            kind: cloudsync_core::Kind::File,
            size: 1,
            mtime_ns: 0,
            hash: None,
            id: Some("id:x".into()),
            rev: Some("a1c10ce0dd78".into()),
        };
        let c = commit("/r/a.txt", 0, Some(&old)).expect("commit");
        assert_eq!(
            c["mode"],
            json!({".tag": "update", "update": "a1c10ce0dd78"})
        );
        assert_eq!(c["strict_conflict"], true);
        assert!(c.get("client_modified").is_none());
    }
}
