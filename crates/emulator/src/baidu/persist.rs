//! `--data DIR`: the drives kept across restarts. `DIR/baidu/state.json` holds every
//! account's entries (without content), its app folder and the next `fs_id`; file
//! contents live once per MD5 in `DIR/baidu/blobs/`. Written after every call that touches
//! a drive (temp file, then rename). Pending uploads (precreate without create), download
//! tickets and the listall counters are not kept: a client whose `uploadid` is gone starts
//! that upload again, as it must after Baidu's own uploadid expiry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::store::{Drive, Entry};

/// What is read back from `--data`.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every account's drive.
    pub drives: HashMap<String, Drive>,
    /// The next `fs_id` to hand out (0: none saved).
    pub next_id: u64,
}

#[derive(Serialize, Deserialize)]
struct SavedDrive {
    entries: Vec<Entry>,
    app_dir: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    drives: HashMap<String, SavedDrive>,
    next_id: u64,
}

fn dir(data: &Path) -> PathBuf {
    data.join("baidu")
}

/// Loads the drives kept in `data`, or none when nothing was kept yet.
///
/// # Errors
/// The files cannot be read or are damaged.
pub fn load(data: &Path) -> std::io::Result<Loaded> {
    let path = dir(data).join("state.json");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    let saved: Saved = serde_json::from_slice(&text)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    let blobs = dir(data).join("blobs");
    let mut drives = HashMap::new();
    for (account, saved_drive) in saved.drives {
        let mut drive = Drive {
            app_dir: saved_drive.app_dir,
            ..Drive::default()
        };
        for mut entry in saved_drive.entries {
            if !entry.isdir {
                entry.content = Bytes::from(std::fs::read(blobs.join(blob_name(&entry)?))?);
            }
            drive.entries.insert(entry.path.clone(), entry);
        }
        drives.insert(account, drive);
    }
    Ok(Loaded {
        drives,
        next_id: saved.next_id,
    })
}

/// Writes every drive and the next `fs_id` to `data`.
///
/// # Errors
/// The files cannot be written.
pub fn save(data: &Path, drives: &HashMap<String, Drive>, next_id: u64) -> std::io::Result<()> {
    let blobs = dir(data).join("blobs");
    std::fs::create_dir_all(&blobs)?;
    let mut saved = Saved {
        drives: HashMap::new(),
        next_id,
    };
    for (account, drive) in drives {
        for entry in drive.entries.values().filter(|e| !e.isdir) {
            let name = blob_name(entry)?;
            let path = blobs.join(&name);
            if !path.exists() {
                let tmp = blobs.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, &entry.content)?;
                std::fs::rename(&tmp, &path)?;
            }
        }
        saved.drives.insert(
            account.clone(),
            SavedDrive {
                entries: drive.entries.values().cloned().collect(),
                app_dir: drive.app_dir.clone(),
            },
        );
    }
    let text = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
    let tmp = dir(data).join("state.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir(data).join("state.json"))
}

/// The blob file of a file entry: its MD5, checked to be a plain hex name so a damaged
/// state file cannot point outside the blob folder.
fn blob_name(entry: &Entry) -> std::io::Result<String> {
    let md5 = entry.md5.to_ascii_lowercase();
    if md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(md5)
    } else {
        Err(std::io::Error::other(format!(
            "{}: not an MD5 ({:?})",
            entry.path, entry.md5
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baidu::store::md5_hex;

    fn file(path: &str, content: &'static [u8], fs_id: u64) -> Entry {
        Entry {
            fs_id,
            path: path.into(),
            isdir: false,
            content: Bytes::from_static(content),
            md5: md5_hex(content),
            server_ctime: 1,
            server_mtime: 2,
            local_ctime: 3,
            local_mtime: 4,
        }
    }

    #[test]
    fn drives_come_back_as_they_were_saved() {
        let tmp = tempfile::tempdir().expect("tmp");
        let mut drive = Drive {
            app_dir: Some("/apps/CloudSync".into()),
            ..Drive::default()
        };
        let mut folder = file("/apps/CloudSync/docs", b"", 10);
        folder.isdir = true;
        folder.md5 = String::new();
        for e in [
            folder,
            file("/apps/CloudSync/docs/a.txt", b"alpha", 11),
            file("/apps/CloudSync/b.txt", b"alpha", 12),
        ] {
            drive.entries.insert(e.path.clone(), e);
        }
        let drives = HashMap::from([("user-1".to_string(), drive)]);
        save(tmp.path(), &drives, 99).expect("save");
        let loaded = load(tmp.path()).expect("load");
        assert_eq!(loaded.next_id, 99);
        let back = &loaded.drives["user-1"];
        assert_eq!(back.app_dir.as_deref(), Some("/apps/CloudSync"));
        assert_eq!(back.entries.len(), 3);
        let a = &back.entries["/apps/CloudSync/docs/a.txt"];
        assert_eq!(
            (a.fs_id, &a.content[..], a.local_mtime),
            (11, &b"alpha"[..], 4)
        );
        assert!(back.entries["/apps/CloudSync/docs"].isdir);
        // Equal contents share one blob.
        let blobs = std::fs::read_dir(tmp.path().join("baidu/blobs"))
            .expect("blobs")
            .count();
        assert_eq!(blobs, 1);
    }

    #[test]
    fn nothing_saved_loads_empty_and_a_damaged_state_is_an_error() {
        let tmp = tempfile::tempdir().expect("tmp");
        let loaded = load(tmp.path()).expect("load");
        assert!(loaded.drives.is_empty());
        std::fs::create_dir_all(tmp.path().join("baidu")).expect("dir");
        std::fs::write(tmp.path().join("baidu/state.json"), b"{not json").expect("write");
        assert!(load(tmp.path()).is_err());
        let bad = r#"{"drives":{"u":{"entries":[{"fs_id":1,"path":"/apps/x/a","isdir":false,
            "md5":"../../etc/passwd","server_ctime":0,"server_mtime":0,"local_ctime":0,
            "local_mtime":0}],"app_dir":null}},"next_id":5}"#;
        std::fs::write(tmp.path().join("baidu/state.json"), bad).expect("write");
        let err = load(tmp.path()).expect_err("a path as MD5 is refused");
        assert!(err.to_string().contains("not an MD5"), "{err}");
    }
}
