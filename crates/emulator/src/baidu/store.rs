//! The emulated drive: every account's files by absolute path and by `fs_id`, pending
//! uploads (precreate -> superfile2 -> create), the account's app folder once learned, and
//! Baidu's name checks for writes (the app-folder check itself is [`super::Baidu::app_dir`]).
//!
//! Paths are absolute (`/apps/CloudSync/a.txt`), compared byte for byte (case-sensitive:
//! Baidu's behaviour is unverified, see the reference 3.9). Every file version gets a new
//! `fs_id`; renames and moves keep it.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::errno;

/// 4 MB: the block size of a normal account, and the smallest first block of a
/// multi-block upload.
pub const BLOCK: u64 = 4 * 1024 * 1024;
/// Most blocks one file may have ("分片数量不得超过1024个").
pub const MAX_BLOCKS: usize = 1024;
/// The default quota: 2 TiB, what a free account has.
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024 * 1024;

/// One file or folder. Kept in `--data` without its content, which lives beside it by MD5.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Baidu's id of this version.
    pub fs_id: u64,
    /// Absolute path.
    pub path: String,
    /// Folder or file.
    pub isdir: bool,
    /// The content (empty for folders).
    #[serde(skip)]
    pub content: Bytes,
    /// Lowercase hex MD5 of the content (files).
    pub md5: String,
    /// Seconds since the epoch.
    pub server_ctime: i64,
    /// Seconds since the epoch.
    pub server_mtime: i64,
    /// The client's times, as given at create.
    pub local_ctime: i64,
    /// The client's times, as given at create.
    pub local_mtime: i64,
}

impl Entry {
    /// The last component of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.content.len() as u64
    }
}

/// A precreate waiting for its blocks.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The path given at precreate.
    pub path: String,
    /// The declared size.
    pub size: u64,
    /// The block MD5s given at precreate.
    pub block_list: Vec<String>,
    /// Blocks received, by partseq.
    pub received: BTreeMap<usize, Bytes>,
}

impl Upload {
    /// The partseqs not received yet (or received with another MD5).
    pub fn missing(&self) -> Vec<usize> {
        (0..self.block_list.len())
            .filter(|i| {
                self.received
                    .get(i)
                    .is_none_or(|b| md5_hex(b) != self.block_list[*i])
            })
            .collect()
    }
}

/// One account's drive.
#[derive(Debug, Default)]
pub struct Drive {
    /// Entries by absolute path ("/" itself is implicit).
    pub entries: BTreeMap<String, Entry>,
    /// Pending uploads by uploadid.
    pub uploads: HashMap<String, Upload>,
    /// The account's app folder, once learned (see [`super::Baidu::app_dir`]).
    pub app_dir: Option<String>,
}

/// How `create` treats an existing path (`rtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// 0: fail with -8.
    Fail,
    /// 1: take the name `name(1).ext`.
    Rename,
    /// 2: rename only when the content differs (same content: keep the existing file).
    RenameIfDifferent,
    /// 3: replace.
    Overwrite,
}

impl OnExisting {
    /// From the `rtype` parameter (callers take an absent one as 0); `None` for others.
    pub fn from_rtype(rtype: i64) -> Option<OnExisting> {
        match rtype {
            0 => Some(OnExisting::Fail),
            1 => Some(OnExisting::Rename),
            2 => Some(OnExisting::RenameIfDifferent),
            3 => Some(OnExisting::Overwrite),
            _ => None,
        }
    }
}

/// Seconds since the epoch now.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Lowercase hex MD5.
pub fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parent of an absolute path ("/" for top-level entries).
pub fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `dir/name`, with no doubled slash at the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Checks an absolute path the way Baidu does before a write (old PCS doc: length 1000;
/// no `\ ? | " > < : *`; no component starting or ending with `.` or white space).
///
/// # Errors
/// `-7` (文件或目录名错误).
pub fn check_write_path(path: &str) -> Result<(), i64> {
    if !path.starts_with('/') || path.chars().count() > 1000 || path == "/" {
        return Err(errno::BAD_NAME);
    }
    for name in path[1..].split('/') {
        let bad_edge = |c: char| c == '.' || c.is_whitespace() || c == '\0' || c == '\x0B';
        if name.is_empty()
            || name.starts_with(bad_edge)
            || name.ends_with(bad_edge)
            || name
                .chars()
                .any(|c| matches!(c, '\\' | '?' | '|' | '"' | '>' | '<' | ':' | '*' | '\0'))
        {
            return Err(errno::BAD_NAME);
        }
    }
    Ok(())
}

/// True when `path` is `root` or below it.
pub fn is_within(path: &str, root: &str) -> bool {
    path == root || path.strip_prefix(root).is_some_and(|r| r.starts_with('/'))
}

/// `test.txt` -> `test(n).txt`; `dir` -> `dir(n)` (the reference's rename pattern).
pub fn numbered(path: &str, n: u32, isdir: bool) -> String {
    let parent = parent_of(path);
    let name = path.rsplit('/').next().unwrap_or_default();
    let new = match name.rfind('.') {
        Some(dot) if !isdir && dot > 0 => format!("{}({n}){}", &name[..dot], &name[dot..]),
        _ => format!("{name}({n})"),
    };
    join(parent, &new)
}

impl Drive {
    /// The entry at `path`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// The entry with `fs_id`.
    pub fn by_id(&self, fs_id: u64) -> Option<&Entry> {
        self.entries.values().find(|e| e.fs_id == fs_id)
    }

    /// True for "/" and existing folders.
    pub fn is_dir(&self, path: &str) -> bool {
        path == "/" || self.entries.get(path).is_some_and(|e| e.isdir)
    }

    /// The direct children of `dir`, by path.
    pub fn children(&self, dir: &str) -> Vec<&Entry> {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, _)| !p[prefix.len()..].contains('/'))
            .map(|(_, e)| e)
            .collect()
    }

    /// Every entry below `dir`, by path.
    pub fn descendants(&self, dir: &str) -> Vec<&Entry> {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(_, e)| e)
            .collect()
    }

    /// Bytes used.
    pub fn used(&self) -> u64 {
        self.entries.values().map(Entry::size).sum()
    }

    /// Creates the missing folders above `path` (Baidu creates them on upload).
    ///
    /// # Errors
    /// `-8` when a file is in the way.
    pub fn ensure_parents(&mut self, path: &str, ids: &mut dyn FnMut() -> u64) -> Result<(), i64> {
        let parent = parent_of(path);
        if parent == "/" {
            return Ok(());
        }
        match self.entries.get(parent) {
            Some(e) if e.isdir => Ok(()),
            Some(_) => Err(errno::EXISTS),
            None => {
                self.ensure_parents(parent, ids)?;
                let now = now_secs();
                self.entries.insert(
                    parent.to_string(),
                    Entry {
                        fs_id: ids(),
                        path: parent.to_string(),
                        isdir: true,
                        content: Bytes::new(),
                        md5: String::new(),
                        server_ctime: now,
                        server_mtime: now,
                        local_ctime: now,
                        local_mtime: now,
                    },
                );
                Ok(())
            }
        }
    }

    /// The first free `name(n)` variant of `path`.
    pub fn free_name(&self, path: &str, isdir: bool) -> String {
        (1..)
            .map(|n| numbered(path, n, isdir))
            .find(|p| !self.entries.contains_key(p))
            .unwrap_or_else(|| path.to_string())
    }

    /// Stores `entry` at its path under the `rtype` rule; returns the entry now there.
    ///
    /// # Errors
    /// `-8` when the path is taken and `rtype` says fail (or a folder is in the way).
    pub fn put(
        &mut self,
        mut entry: Entry,
        on_existing: OnExisting,
        ids: &mut dyn FnMut() -> u64,
    ) -> Result<Entry, i64> {
        self.ensure_parents(&entry.path, ids)?;
        if let Some(old) = self.entries.get(&entry.path) {
            let same_kind = old.isdir == entry.isdir;
            match on_existing {
                OnExisting::Fail => return Err(errno::EXISTS),
                OnExisting::RenameIfDifferent
                    if same_kind && (entry.isdir || old.md5 == entry.md5) =>
                {
                    return Ok(old.clone());
                }
                OnExisting::Rename | OnExisting::RenameIfDifferent => {
                    entry.path = self.free_name(&entry.path, entry.isdir);
                }
                OnExisting::Overwrite if !same_kind || old.isdir => {
                    return Err(errno::EXISTS);
                }
                OnExisting::Overwrite => {}
            }
        }
        self.entries.insert(entry.path.clone(), entry.clone());
        Ok(entry)
    }

    /// Moves `from` (with its subtree) to `to`, keeping fs_ids.
    pub fn relocate(&mut self, from: &str, to: &str) {
        let moved: Vec<String> = std::iter::once(from.to_string())
            .chain(self.descendants(from).iter().map(|e| e.path.clone()))
            .collect();
        for old in moved {
            if let Some(mut e) = self.entries.remove(&old) {
                e.path = format!("{to}{}", &old[from.len()..]);
                self.entries.insert(e.path.clone(), e);
            }
        }
    }

    /// Removes `path` with its subtree.
    pub fn remove(&mut self, path: &str) {
        let gone: Vec<String> = std::iter::once(path.to_string())
            .chain(self.descendants(path).iter().map(|e| e.path.clone()))
            .collect();
        for p in gone {
            self.entries.remove(&p);
        }
    }

    /// Copies `from` (with its subtree) to `to`, with new fs_ids.
    pub fn duplicate(&mut self, from: &str, to: &str, ids: &mut dyn FnMut() -> u64) {
        let copies: Vec<Entry> = std::iter::once(from)
            .filter_map(|p| self.entries.get(p))
            .chain(self.descendants(from))
            .cloned()
            .collect();
        for mut e in copies {
            e.path = format!("{to}{}", &e.path[from.len()..]);
            e.fs_id = ids();
            self.entries.insert(e.path.clone(), e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_like_baidu() {
        assert!(check_write_path("/apps/x/a b.txt").is_ok());
        for bad in [
            "/apps/x/.hidden",
            "/apps/x/trail.",
            "/apps/x/ lead",
            "/apps/x/a:b",
            "/apps/x/a\\b",
            "/apps//x",
            "apps/x",
        ] {
            assert_eq!(check_write_path(bad), Err(errno::BAD_NAME), "{bad}");
        }
    }

    #[test]
    fn the_rename_pattern_is_the_documented_one() {
        assert_eq!(
            numbered("/apps/x/test.txt", 1, false),
            "/apps/x/test(1).txt"
        );
        assert_eq!(numbered("/apps/x/dir", 1, true), "/apps/x/dir(1)");
        assert_eq!(numbered("/apps/x/a.b.c", 2, false), "/apps/x/a.b(2).c");
    }

    #[test]
    fn moves_keep_ids_and_carry_the_subtree() {
        let mut d = Drive::default();
        let mut next = 0;
        let mut ids = || {
            next += 1;
            next
        };
        let file = |p: &str| Entry {
            fs_id: 0,
            path: p.into(),
            isdir: false,
            content: Bytes::from_static(b"x"),
            md5: md5_hex(b"x"),
            server_ctime: 0,
            server_mtime: 0,
            local_ctime: 0,
            local_mtime: 0,
        };
        let mut f = file("/apps/x/d/f.txt");
        f.fs_id = ids();
        d.put(f, OnExisting::Fail, &mut ids).expect("put");
        let id = d.get("/apps/x/d/f.txt").expect("there").fs_id;
        d.relocate("/apps/x/d", "/apps/x/e");
        assert_eq!(d.get("/apps/x/e/f.txt").expect("moved").fs_id, id);
        assert!(d.get("/apps/x/d").is_none());
        assert!(d.is_dir("/apps/x/e"));
        assert_eq!(d.children("/apps/x").len(), 1);
    }
}
