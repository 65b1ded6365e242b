//! Uploads: precreate with the 4 MB block MD5 list -> superfile2 for each block the server
//! still needs -> create.
//!
//! The engine's source can be read once, but precreate needs every block's MD5 up front,
//! so the source is first copied to an anonymous temp file while hashing; blocks are then
//! read back one at a time.
//!
//! **Resuming.** The uploadid and the block list are remembered per remote path until the
//! create succeeds, in memory and in the engine's saved upload sessions (keyed by the
//! file version, so they survive a restart). When the upload is tried again (after a cut
//! connection, a crash), precreate is sent with the same uploadid and answers only the
//! blocks still missing, so only those are sent again. How long Baidu keeps an uploadid
//! is unverified; a precreate that does not know it answers a fresh one and every block
//! goes again.
//!
//! **No silent overwrite.** A new file is created with `rtype=0` (fail with -8 when
//! something is there: `Changed`). A replacement first checks, right before create, that
//! the file at the path is still the listed version (same fs_id, size and server mtime),
//! then creates with `rtype=3`. Baidu has no conditional write, so a remote edit landing
//! between that check and the create (one round trip) would be overwritten; Baidu keeps
//! no revisions reachable through the open API, so that window is the one place a
//! concurrent remote edit can be lost.

use std::io::{Read, Seek, SeekFrom, Write};

use bytes::Bytes;
use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use cloudsync_engine::sessions::session_key;
use md5::{Digest, Md5};
use reqwest::Method;
use serde_json::Value;

use super::api::{Body, Host};
use super::Baidu;

/// A precreate waiting for its create.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// The block MD5s it was made with.
    blocks: Vec<String>,
    /// Baidu's id for it.
    uploadid: String,
}

/// Most pending uploads remembered (the oldest are forgotten first).
const MAX_PENDING: usize = 256;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `source` to an anonymous temp file; returns it with each `block`-sized block's
/// MD5 and the byte count.
fn spool(
    source: &mut (dyn Read + Send),
    block: usize,
) -> Result<(std::fs::File, Vec<String>, u64), RemoteError> {
    let mut file = tempfile::tempfile()?;
    let mut blocks = Vec::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    let mut hasher = Md5::new();
    let mut in_block = 0usize;
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])?;
        total += n as u64;
        let mut data = &buf[..n];
        while !data.is_empty() {
            let take = (block - in_block).min(data.len());
            hasher.update(&data[..take]);
            in_block += take;
            data = &data[take..];
            if in_block == block {
                blocks.push(hex(&std::mem::take(&mut hasher).finalize()));
                in_block = 0;
            }
        }
    }
    if in_block > 0 {
        blocks.push(hex(&hasher.finalize()));
    }
    file.seek(SeekFrom::Start(0))?;
    Ok((file, blocks, total))
}

fn read_block(
    file: &mut std::fs::File,
    index: usize,
    block: usize,
    size: u64,
) -> Result<Bytes, RemoteError> {
    let start = index as u64 * block as u64;
    let len = (size.saturating_sub(start)).min(block as u64) as usize;
    let mut data = vec![0u8; len];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut data)?;
    Ok(Bytes::from(data))
}

fn num(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(|x| {
        x.as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    })
}

impl Baidu {
    /// The uploadid of an unfinished upload of these very blocks to `remote`: kept in
    /// memory, or (after a restart) in the engine's saved sessions under `key`.
    fn pending(&self, key: &str, remote: &str, blocks: &[String]) -> Option<String> {
        let in_memory = self
            .uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(remote)
            .filter(|p| p.blocks == blocks)
            .map(|p| p.uploadid.clone());
        in_memory.or_else(|| {
            let saved = self.sessions.get()?.load(key)?;
            let same = saved.get("remote").and_then(Value::as_str) == Some(remote)
                && saved
                    .get("blocks")
                    .and_then(Value::as_array)
                    .is_some_and(|b| {
                        b.len() == blocks.len()
                            && b.iter().zip(blocks).all(|(x, y)| x.as_str() == Some(y))
                    });
            same.then(|| saved.get("uploadid")?.as_str().map(str::to_string))
                .flatten()
        })
    }

    fn remember(&self, key: &str, path: &RelPath, remote: &str, blocks: &[String], uploadid: &str) {
        {
            let mut map = self
                .uploads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if map.len() >= MAX_PENDING && !map.contains_key(remote) {
                map.clear();
            }
            map.insert(
                remote.to_string(),
                Pending {
                    blocks: blocks.to_vec(),
                    uploadid: uploadid.to_string(),
                },
            );
        }
        if let Some(sessions) = self.sessions.get() {
            sessions.save(
                key,
                path,
                &serde_json::json!({ "remote": remote, "uploadid": uploadid, "blocks": blocks }),
            );
        }
    }

    fn forget(&self, key: &str, remote: &str) {
        self.uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(remote);
        if let Some(sessions) = self.sessions.get() {
            sessions.forget(key);
        }
    }

    /// Stores `size` bytes from `source` at `path` (see the module doc).
    pub(super) async fn upload_file(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        if size == 0 {
            return Err(RemoteError::Other(format!(
                "{path} is empty, and Baidu Netdisk does not store empty files"
            )));
        }
        let account = self.account().await?;
        if size > account.max_file() {
            return Err(RemoteError::Other(format!(
                "{path} is larger than the {} GB this Baidu account may upload per file",
                account.max_file() >> 30
            )));
        }
        let block = account.block_size();
        let (mut file, blocks, total) = spool(source, block)?;
        if total != size {
            return Err(RemoteError::Changed(format!(
                "{path} changed while it was read ({total} bytes, expected {size})"
            )));
        }
        let remote = self.remote_path(path);
        let block_list =
            serde_json::to_string(&blocks).map_err(|e| RemoteError::Other(e.to_string()))?;
        let rtype = if replaces.is_some() { "3" } else { "0" };
        let secs = (mtime_ns.div_euclid(1_000_000_000)).to_string();
        let mut form = vec![
            ("path".to_string(), remote.clone()),
            ("size".to_string(), size.to_string()),
            ("isdir".to_string(), "0".to_string()),
            ("autoinit".to_string(), "1".to_string()),
            ("rtype".to_string(), rtype.to_string()),
            ("block_list".to_string(), block_list.clone()),
            ("local_mtime".to_string(), secs.clone()),
            ("local_ctime".to_string(), secs.clone()),
        ];
        let key = session_key(path, size, mtime_ns);
        if let Some(id) = self.pending(&key, &remote, &blocks) {
            form.push(("uploadid".to_string(), id));
        }
        let pre = self
            .file_post(
                "precreate",
                &[],
                form,
                &format!("uploading {path} (precreate)"),
            )
            .await?;
        if num(&pre, "return_type") == Some(2) {
            // Rapid upload: the server had the content and stored the file at precreate.
            // Never asked for (no content-md5/slice-md5 is sent), but taken if it comes.
            self.forget(&key, &remote);
            return self
                .stat(path)
                .await?
                .ok_or_else(|| RemoteError::NotFound(format!("{path} vanished after upload")));
        }
        let uploadid = pre
            .get("uploadid")
            .and_then(Value::as_str)
            .ok_or_else(|| RemoteError::Other(format!("precreate for {path} gave no uploadid")))?
            .to_string();
        self.remember(&key, path, &remote, &blocks, &uploadid);
        let needed: Vec<usize> = match pre.get("block_list").and_then(Value::as_array) {
            Some(list) => list
                .iter()
                .filter_map(|x| x.as_u64().map(|n| n as usize))
                .filter(|i| *i < blocks.len())
                .collect(),
            None => (0..blocks.len()).collect(),
        };
        for i in needed {
            let data = read_block(&mut file, i, block, size)?;
            let seq = i.to_string();
            let answer = self
                .call(
                    Method::POST,
                    Host::Pcs,
                    "/rest/2.0/pcs/superfile2",
                    &[
                        ("method", "upload"),
                        ("type", "tmpfile"),
                        ("path", &remote),
                        ("uploadid", &uploadid),
                        ("partseq", &seq),
                    ],
                    Body::File(data),
                    &format!("uploading block {i} of {path}"),
                )
                .await?;
            if let Some(md5) = answer.get("md5").and_then(Value::as_str) {
                if !md5.eq_ignore_ascii_case(&blocks[i]) {
                    return Err(RemoteError::Unavailable(format!(
                        "block {i} of {path} arrived damaged (MD5 {md5}, sent {})",
                        blocks[i]
                    )));
                }
            }
        }
        if let Some(old) = replaces {
            self.expect_version(path, old).await?;
        }
        let made = self
            .file_post(
                "create",
                &[],
                vec![
                    ("path".to_string(), remote.clone()),
                    ("size".to_string(), size.to_string()),
                    ("isdir".to_string(), "0".to_string()),
                    ("uploadid".to_string(), uploadid),
                    ("block_list".to_string(), block_list),
                    ("rtype".to_string(), rtype.to_string()),
                    ("local_mtime".to_string(), secs.clone()),
                    ("local_ctime".to_string(), secs),
                ],
                &format!("uploading {path} (create)"),
            )
            .await;
        let made = match made {
            Ok(v) => v,
            Err(e @ RemoteError::Changed(_)) | Err(e @ RemoteError::Other(_)) => {
                // The upload id is spent or useless now.
                self.forget(&key, &remote);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.forget(&key, &remote);
        if made
            .get("path")
            .and_then(Value::as_str)
            .is_some_and(|p| p != remote)
        {
            return Err(RemoteError::Changed(format!(
                "Baidu stored {path} under another name"
            )));
        }
        let fs_id = made.get("fs_id").map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let server_mtime = num(&made, "mtime").unwrap_or(0);
        Ok(Node {
            path: path.clone(),
            kind: Kind::File,
            size,
            mtime_ns: mtime_ns.div_euclid(1_000_000_000) * 1_000_000_000,
            hash: None,
            rev: fs_id
                .as_ref()
                .map(|id| format!("{id}:{server_mtime}:{size}")),
            id: fs_id,
        })
    }

    /// Checks that `old` (as listed at `path`) is still there unchanged: its fs_id still
    /// exists at the same path with the same revision. One filemetas call, however large
    /// the folder.
    ///
    /// # Errors
    /// [`RemoteError::Changed`] when it moved, changed or was replaced (a new version has a
    /// new fs_id); [`RemoteError::NotFound`] when nothing is at the path any more.
    pub(super) async fn expect_version(
        &self,
        path: &RelPath,
        old: &Node,
    ) -> Result<(), RemoteError> {
        let Some(id) = old.id.as_deref() else {
            // Nothing to check by; fall back on the folder listing.
            return match self.stat(path).await? {
                Some(now) if now.kind == old.kind => Ok(()),
                Some(_) => Err(RemoteError::Changed(format!("{path} changed on Baidu"))),
                None => Err(RemoteError::NotFound(format!("{path} is gone from Baidu"))),
            };
        };
        let ids = format!("[{id}]");
        let v = self
            .pan_get(
                "/rest/2.0/xpan/multimedia",
                &[("method", "filemetas"), ("fsids", &ids)],
                &format!("checking {path}"),
            )
            .await?;
        let item = v
            .get("list")
            .and_then(Value::as_array)
            .and_then(|l| l.first());
        let Some(item) = item else {
            // That version is gone: replaced by another (Changed) or deleted (NotFound).
            return match self.stat(path).await? {
                Some(_) => Err(RemoteError::Changed(format!(
                    "{path} was replaced on Baidu since it was listed"
                ))),
                None => Err(RemoteError::NotFound(format!("{path} is gone from Baidu"))),
            };
        };
        let remote = self.remote_path(path);
        if item.get("path").and_then(Value::as_str) != Some(remote.as_str()) {
            return Err(RemoteError::Changed(format!(
                "{path} was moved on Baidu since it was listed"
            )));
        }
        let now = super::listing::node_of(path.clone(), item);
        if now.kind != old.kind
            || (old.kind == Kind::File && old.rev.is_some() && now.rev != old.rev)
        {
            return Err(RemoteError::Changed(format!(
                "{path} changed on Baidu since it was listed"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_hashed_at_the_block_size() {
        let data: Vec<u8> = (0..10u8).collect();
        let (mut f, blocks, total) = spool(&mut &data[..], 4).expect("spool");
        assert_eq!(total, 10);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0], hex(&Md5::digest([0u8, 1, 2, 3])));
        assert_eq!(blocks[2], hex(&Md5::digest([8u8, 9])));
        assert_eq!(
            read_block(&mut f, 2, 4, 10).expect("read").as_ref(),
            &[8, 9]
        );
        assert_eq!(
            read_block(&mut f, 1, 4, 10).expect("read").as_ref(),
            &[4, 5, 6, 7]
        );
    }
}
