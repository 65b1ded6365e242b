//! The upload protocol's server side: `precreate` (block MD5 list -> uploadid and the
//! blocks still needed; the same uploadid again resumes), the blocks superfile2 hands in
//! ([`put_block`]), and `create` (checks every block against the list, assembles, applies
//! `rtype`), which also makes folders (`isdir=1`).

use axum::response::Response;
use bytes::{Bytes, BytesMut};
use serde_json::json;

use super::errno;
use super::store::{
    check_write_path, is_within, md5_hex, now_secs, Entry, OnExisting, Upload, BLOCK, MAX_BLOCKS,
};
use super::{int, Baidu, Params};

/// The block MD5 list parameter: a JSON array of 32-digit lowercase hex strings.
fn block_list(f: &Params) -> Option<Vec<String>> {
    let list: Vec<String> = serde_json::from_str(f.get("block_list")?).ok()?;
    let good = |s: &String| s.len() == 32 && s.bytes().all(|c| c.is_ascii_hexdigit());
    (!list.is_empty() && list.iter().all(good))
        .then(|| list.into_iter().map(|s| s.to_ascii_lowercase()).collect())
}

/// Checks a path to write a file (or, with `folder`, a folder) at: inside the app folder
/// (the app folder itself only as a folder), else 31064; a valid name, else -7.
pub fn writable(b: &Baidu, account: &str, path: &str, folder: bool) -> Result<(), i64> {
    let app = b.app_dir(account, path, folder)?;
    if !is_within(path, &app) || (path == app && !folder) {
        return Err(errno::NOT_APP_DIR);
    }
    check_write_path(path)
}

/// `method=precreate`.
pub fn precreate(b: &Baidu, q: &Params, f: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let settings = b.settings();
    let Some(path) = f.get("path").cloned() else {
        return errno::xpan(errno::BAD_PARAM);
    };
    if let Err(n) = writable(b, &account, &path, false) {
        return errno::xpan(n);
    }
    if int(f, "isdir").unwrap_or(0) != 0 || int(f, "autoinit") != Some(1) {
        return errno::xpan(errno::BAD_PARAM);
    }
    let (Some(size), Some(blocks)) = (int(f, "size"), block_list(f)) else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let size = size.max(0) as u64;
    if size == 0 {
        // Baidu does not store empty files [UNVERIFIED errno].
        return errno::xpan(errno::BAD_PARAM);
    }
    if size > settings.max_file() {
        return errno::xpan(errno::FILE_TOO_BIG);
    }
    let max_block = settings.max_block();
    if blocks.len() > MAX_BLOCKS || (blocks.len() as u64) * max_block < size {
        return errno::xpan(errno::BAD_PARAM);
    }
    if let (Some(content_md5), Some(slice_md5)) = (f.get("content-md5"), f.get("slice-md5")) {
        if let Some(r) = rapid_upload(b, &account, f, &path, size, content_md5, slice_md5) {
            return r;
        }
    }
    let given = f.get("uploadid").cloned();
    let answer = b.with_drive(&account, |d| {
        if d.used() + size > settings.quota {
            return Err(errno::QUOTA_FULL);
        }
        // The same upload again (a resume): answer what is still missing.
        if let Some(id) = given.filter(|id| {
            d.uploads
                .get(id)
                .is_some_and(|u| u.path == path && u.block_list == blocks && u.size == size)
        }) {
            let missing = d.uploads.get(&id).map(Upload::missing).unwrap_or_default();
            return Ok((id, missing));
        }
        let id = format!(
            "N1-{}",
            crate::oauth::random_token("up").replace(['.', '-', '_'], "")
        );
        let upload = Upload {
            path: path.clone(),
            size,
            block_list: blocks.clone(),
            received: Default::default(),
        };
        let missing = upload.missing();
        d.uploads.insert(id.clone(), upload);
        Ok((id, missing))
    });
    match answer {
        Ok((uploadid, missing)) => errno::ok(json!({
            "path": path,
            "uploadid": uploadid,
            "return_type": 1,
            "block_list": missing,
        })),
        Err(n) => errno::xpan(n),
    }
}

/// Bytes `slice-md5` covers.
const SLICE: usize = 256 * 1024;

/// Rapid upload (秒传): when the account already holds a file with this size, content MD5
/// and first-256-KiB MD5, the new file is made from it at once and precreate answers
/// `return_type: 2` with its metadata in `info`. `None` when no such file exists.
fn rapid_upload(
    b: &Baidu,
    account: &str,
    f: &Params,
    path: &str,
    size: u64,
    content_md5: &str,
    slice_md5: &str,
) -> Option<Response> {
    let on_existing = OnExisting::from_rtype(int(f, "rtype").unwrap_or(0))?;
    let now = now_secs();
    let local_mtime = int(f, "local_mtime").unwrap_or(now);
    let result = b.with_drive(account, |d| {
        let content = d
            .entries
            .values()
            .find(|e| {
                !e.isdir
                    && e.size() == size
                    && e.md5.eq_ignore_ascii_case(content_md5)
                    && md5_hex(&e.content[..e.content.len().min(SLICE)])
                        .eq_ignore_ascii_case(slice_md5)
            })?
            .content
            .clone();
        if d.used() + size > b.settings().quota {
            return Some(Err(errno::QUOTA_FULL));
        }
        let entry = Entry {
            fs_id: b.new_id(),
            path: path.to_string(),
            isdir: false,
            md5: md5_hex(&content),
            content,
            server_ctime: now,
            server_mtime: now,
            local_ctime: int(f, "local_ctime").unwrap_or(local_mtime),
            local_mtime,
        };
        Some(d.put(entry, on_existing, &mut || b.new_id()))
    })?;
    Some(match result {
        Ok(e) => errno::ok(json!({
            "path": e.path,
            "uploadid": "",
            "return_type": 2,
            "block_list": [],
            "info": {
                "fs_id": e.fs_id,
                "path": e.path,
                "size": e.size(),
                "md5": e.md5,
                "isdir": 0,
                "category": super::entries::category(&e),
                "ctime": e.server_ctime,
                "mtime": e.server_mtime,
            },
        })),
        Err(n) => errno::xpan(n),
    })
}

/// Stores one block for a pending upload (superfile2); returns its MD5.
///
/// # Errors
/// The PCS error code.
pub fn put_block(
    b: &Baidu,
    account: &str,
    uploadid: &str,
    path: &str,
    partseq: usize,
    data: Bytes,
) -> Result<String, i64> {
    let settings = b.settings();
    if data.len() as u64 > settings.max_block() {
        return Err(errno::BLOCK_TOO_BIG);
    }
    b.with_drive(account, |d| {
        let upload = d
            .uploads
            .get_mut(uploadid)
            .filter(|u| u.path == path)
            .ok_or(errno::PCS_BAD_PARAM)?;
        if partseq >= upload.block_list.len() {
            return Err(errno::PCS_BAD_PARAM);
        }
        if partseq == 0 && upload.block_list.len() > 1 && (data.len() as u64) < BLOCK {
            return Err(errno::FIRST_BLOCK_SMALL);
        }
        let md5 = md5_hex(&data);
        upload.received.insert(partseq, data);
        Ok(md5)
    })
}

/// `method=create`.
pub fn create(b: &Baidu, q: &Params, f: &Params) -> Response {
    let account = match b.xpan_account(q) {
        Ok(a) => a,
        Err(n) => return errno::xpan(n),
    };
    let settings = b.settings();
    let Some(path) = f.get("path").cloned() else {
        return errno::xpan(errno::BAD_PARAM);
    };
    if let Err(n) = writable(b, &account, &path, int(f, "isdir") == Some(1)) {
        return errno::xpan(n);
    }
    let Some(on_existing) = OnExisting::from_rtype(int(f, "rtype").unwrap_or(0)) else {
        return errno::xpan(errno::BAD_PARAM);
    };
    let now = now_secs();
    let local_mtime = int(f, "local_mtime").unwrap_or(now);
    let local_ctime = int(f, "local_ctime").unwrap_or(local_mtime);
    let isdir = int(f, "isdir").unwrap_or(0) == 1;
    let result = b.with_drive(&account, |d| {
        let content = if isdir {
            Bytes::new()
        } else {
            let uploadid = f.get("uploadid").ok_or(errno::BAD_PARAM)?;
            let blocks = block_list(f).ok_or(errno::BAD_PARAM)?;
            let size = int(f, "size").ok_or(errno::BAD_PARAM)?.max(0) as u64;
            let upload = d.uploads.get(uploadid).ok_or(errno::BAD_PARAM)?;
            if upload.path != path || upload.block_list != blocks {
                return Err(errno::PARAM_ABNORMAL);
            }
            if !upload.missing().is_empty() {
                return Err(errno::BLOCK_MISSING);
            }
            let parts: Vec<&Bytes> = upload.received.values().collect();
            let first = parts.first().map_or(0, |p| p.len());
            if parts.iter().rev().skip(1).any(|p| p.len() != first) {
                return Err(errno::PARAM_ABNORMAL);
            }
            let mut all = BytesMut::with_capacity(size as usize);
            for p in parts {
                all.extend_from_slice(p);
            }
            if all.len() as u64 != size || size != upload.size {
                return Err(errno::PARAM_ABNORMAL);
            }
            if size > settings.max_file() {
                return Err(errno::FILE_TOO_BIG);
            }
            let replaced = d.get(&path).map_or(0, |e| e.size());
            if on_existing == OnExisting::Overwrite {
                if d.used() - replaced + size > settings.quota {
                    return Err(errno::QUOTA_FULL);
                }
            } else if d.used() + size > settings.quota {
                return Err(errno::QUOTA_FULL);
            }
            all.freeze()
        };
        let entry = Entry {
            fs_id: b.new_id(),
            path: path.clone(),
            isdir,
            md5: if isdir {
                String::new()
            } else {
                md5_hex(&content)
            },
            content,
            server_ctime: now,
            server_mtime: now,
            local_ctime,
            local_mtime,
        };
        let stored = d.put(entry, on_existing, &mut || b.new_id())?;
        if let Some(id) = f.get("uploadid") {
            d.uploads.remove(id);
        }
        Ok(stored)
    });
    match result {
        Ok(e) => {
            let mut v = json!({
                "fs_id": e.fs_id,
                "path": e.path,
                "name": e.path,
                "server_filename": e.name(),
                "size": e.size(),
                "category": super::entries::category(&e),
                "isdir": u8::from(e.isdir),
                "ctime": e.server_ctime,
                "mtime": e.server_mtime,
                "from_type": 1,
            });
            if !e.isdir {
                v["md5"] = json!(e.md5);
            }
            errno::ok(v)
        }
        Err(n) => errno::xpan(n),
    }
}
