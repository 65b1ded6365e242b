//! The local-folder backend: the "remote" is another directory.
//!
//! Changes are found by listing (a scan that trusts size, mtime and inode from the last
//! listing and hashes only what changed). Writes go to a temp file beside the target and
//! are renamed into place; deletes move entries into `.cloudsync-trash/` at the remote root,
//! because a plain folder keeps no revisions. A `.cloudsync-root` marker guards against an
//! unmounted disk being read as "everything deleted".

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use cloudsync_core::rules::{RuleSet, ROOT_MARKER};
use cloudsync_core::{Capabilities, Kind, Node, RelPath, Tree};
use cloudsync_engine::hash::{HashKind, HashingWriter};
use cloudsync_engine::localfs::{EntryType, LocalFs, StdFs};
use cloudsync_engine::remote::{Listing, Remote, RemoteError};
use cloudsync_engine::scan::{abs, fill_hashes, scan, TEMP_PREFIX};

/// A folder used as the remote.
#[derive(Debug, Clone)]
pub struct LocalFolder {
    root: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalFolder {
    /// A backend rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> LocalFolder {
        LocalFolder { root: root.into() }
    }

    /// Builds from `{"path": "/abs/dir"}`.
    ///
    /// # Errors
    /// [`RemoteError::Other`] when the config has no path.
    pub fn from_config(config: &serde_json::Value) -> Result<LocalFolder, RemoteError> {
        config
            .get("path")
            .and_then(|p| p.as_str())
            .map(LocalFolder::new)
            .ok_or_else(|| RemoteError::Other("local backend config needs a \"path\"".into()))
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, rel: &RelPath) -> PathBuf {
        abs(&self.root, rel)
    }

    /// Checks that the entry at `node.path` is still the version listed.
    fn expect(&self, node: &Node) -> Result<(), RemoteError> {
        let p = self.path(&node.path);
        let meta = match StdFs.metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RemoteError::NotFound(node.path.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let same = match node.kind {
            Kind::Dir => meta.ty == EntryType::Dir,
            Kind::File => {
                meta.ty == EntryType::File
                    && meta.size == node.size
                    && meta.mtime_ns == node.mtime_ns
                    && node.id.as_deref().is_none_or(|id| id == meta.id())
            }
        };
        if same {
            Ok(())
        } else {
            Err(RemoteError::Changed(format!(
                "{} changed since it was listed",
                node.path
            )))
        }
    }

    fn node_at(&self, rel: &RelPath, hash: Option<String>) -> Result<Node, RemoteError> {
        let meta = StdFs.metadata(&self.path(rel))?;
        Ok(Node {
            path: rel.clone(),
            kind: if meta.ty == EntryType::Dir {
                Kind::Dir
            } else {
                Kind::File
            },
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            hash,
            id: Some(meta.id()),
            rev: None,
        })
    }
}

/// A fresh temp name in `target`'s folder (skipped by listings, cleaned up by scans).
fn temp_beside(root: &Path, target: &Path) -> PathBuf {
    target.parent().unwrap_or(root).join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn map_not_found(e: io::Error, what: &RelPath) -> RemoteError {
    match e.kind() {
        io::ErrorKind::NotFound => RemoteError::NotFound(what.to_string()),
        io::ErrorKind::AlreadyExists => RemoteError::Changed(format!("{what} exists already")),
        _ => RemoteError::Io(e),
    }
}

#[async_trait]
impl Remote for LocalFolder {
    fn capabilities(&self) -> Capabilities {
        Capabilities::local_folder()
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        let dir_ok = matches!(StdFs.metadata(&self.root), Ok(m) if m.ty == EntryType::Dir);
        let marker_ok = matches!(StdFs.metadata(&self.root.join(ROOT_MARKER)), Ok(m) if m.ty == EntryType::File);
        if dir_ok && marker_ok {
            Ok(())
        } else {
            Err(RemoteError::NotFound(format!(
                "{} (missing, not mounted, or without its {ROOT_MARKER} marker)",
                self.root.display()
            )))
        }
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        let meta = StdFs.metadata(&self.root).map_err(|e| {
            RemoteError::NotFound(format!("remote folder {}: {e}", self.root.display()))
        })?;
        if meta.ty != EntryType::Dir {
            return Err(RemoteError::Other(format!(
                "{} is not a folder",
                self.root.display()
            )));
        }
        let marker = self.root.join(ROOT_MARKER);
        if StdFs.metadata(&marker).is_err() {
            std::fs::write(&marker, b"CloudSync remote root. Do not delete.\n")?;
        }
        Ok(())
    }

    async fn child_folders(&self, dir: Option<&RelPath>) -> Result<Vec<String>, RemoteError> {
        // One directory read: the full listing would hash every file below the root.
        let at = dir.map_or_else(|| self.root.clone(), |d| self.root.join(d.as_str()));
        let entries = std::fs::read_dir(&at)
            .map_err(|e| RemoteError::NotFound(format!("folder {}: {e}", at.display())))?;
        Ok(entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| !cloudsync_engine::scan::is_internal_name(name))
            .collect())
    }

    async fn list(&self, previous: &Tree) -> Result<Listing, RemoteError> {
        // Deletes here are permanent, so they went to the trash; it keeps them 30 days.
        let _ = cloudsync_engine::trash::purge(&self.root, chrono::Utc::now().timestamp());
        let mut scanned = scan(
            &StdFs,
            &self.root,
            &RuleSet::default_rules(),
            previous,
            HashKind::Sha256,
        )?;
        // Remote nodes always carry their hash: it is what the engine compares and records.
        let (_, unreadable) = fill_hashes(
            &StdFs,
            &self.root,
            &mut scanned.tree,
            HashKind::Sha256,
            |_| true,
        );
        scanned.skipped.extend(unreadable);
        Ok(Listing {
            nodes: scanned.tree.into_values().collect(),
            skipped: scanned.skipped,
        })
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.expect(node)?;
        let mut file = StdFs
            .open_read(&self.path(&node.path))
            .map_err(|e| map_not_found(e, &node.path))?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sink.write_all(&buf[..n])?;
            total += n as u64;
        }
        Ok(total)
    }

    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        _size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let target = self.path(path);
        let temp = temp_beside(&self.root, &target);
        let file = StdFs
            .create_new(&temp)
            .map_err(|e| map_not_found(e, path))?;
        let mut writer = HashingWriter::new(file);
        let copied = io::copy(source, &mut writer);
        let (file, hash, _) = writer.finish();
        let finished = copied.and_then(|_| file.finish(Some(mtime_ns).filter(|t| *t > 0)));
        if let Err(e) = finished {
            let _ = std::fs::remove_file(&temp);
            return Err(e.into());
        }
        let placed = match replaces {
            Some(old) => self.expect(old).and_then(|()| {
                StdFs
                    .rename_replace(&temp, &target)
                    .map_err(|e| map_not_found(e, path))
            }),
            None => StdFs
                .rename_noreplace(&temp, &target)
                .map_err(|e| map_not_found(e, path)),
        };
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        self.node_at(path, Some(hash))
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        StdFs
            .create_dir(&self.path(path))
            .map_err(|e| map_not_found(e, path))?;
        self.node_at(path, None)
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.expect(node)?;
        StdFs
            .rename_noreplace(&self.path(&node.path), &self.path(to))
            .map_err(|e| map_not_found(e, to))?;
        self.node_at(to, node.hash.clone())
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect(node)?;
        let day = cloudsync_engine::trash::day_folder(chrono::Utc::now().timestamp());
        cloudsync_engine::trash::move_to_trash(&StdFs, &self.root, node.path.as_str(), &day)
            .map(|_| ())
            .map_err(|e| map_not_found(e, &node.path))
    }

    async fn delete_permanently(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect(node)?;
        let target = self.path(&node.path);
        // Renamed away first, so the name is gone at once and never half-deleted.
        let doomed = temp_beside(&self.root, &target);
        StdFs
            .rename_noreplace(&target, &doomed)
            .map_err(|e| map_not_found(e, &node.path))?;
        let removed = if node.kind == Kind::Dir {
            std::fs::remove_dir_all(&doomed)
        } else {
            std::fs::remove_file(&doomed)
        };
        removed.map_err(RemoteError::Io)
    }

    async fn purge_trash(&self, now_secs: i64) -> Result<usize, RemoteError> {
        Ok(cloudsync_engine::trash::purge(&self.root, now_secs)?)
    }

    async fn flush(&self) -> Result<(), RemoteError> {
        StdFs.sync(&self.root)?;
        Ok(())
    }
}
