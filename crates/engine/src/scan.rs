//! The local scanner: walks a sync root into a [`Tree`], applying the rules.
//!
//! It trusts (size, mtime, inode) from the previous scan and hashes only what changed.
//! Symlinks are never followed, special files and unreadable entries are skipped with
//! their reason, and the engine's own files (root marker, trash, temp files) are invisible.

use std::path::{Path, PathBuf};

use cloudsync_core::rules::{RuleSet, SkipRule, ROOT_MARKER, TRASH_DIR};
use cloudsync_core::{Kind, Node, RelPath, Tree};

use crate::hash::hash_reader;
use crate::localfs::{EntryType, LocalFs};

/// Prefix of the engine's temp files (a leading `.` keeps them out of sync anyway).
pub const TEMP_PREFIX: &str = ".cloudsync-tmp-";

/// True for names the engine owns and never shows.
pub fn is_internal_name(name: &str) -> bool {
    name == ROOT_MARKER || name == TRASH_DIR || name.starts_with(TEMP_PREFIX)
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct ScanOutcome {
    /// The tree.
    pub tree: Tree,
    /// Entries left out, with their rule.
    pub skipped: Vec<(RelPath, SkipRule)>,
    /// Files whose content was hashed (the rest were trusted from the previous scan).
    pub hashed: usize,
    /// Leftover temp files from an interrupted run.
    pub stale_temps: Vec<PathBuf>,
}

/// Joins a relative path onto a root.
pub fn abs(root: &Path, rel: &RelPath) -> PathBuf {
    root.join(rel.as_str())
}

/// Scans `root`.
///
/// # Errors
/// Only when the root itself cannot be read; anything below that fails is skipped with
/// [`SkipRule::Unreadable`] and retried on the next scan.
pub fn scan(
    fs: &dyn LocalFs,
    root: &Path,
    rules: &RuleSet,
    previous: &Tree,
) -> std::io::Result<ScanOutcome> {
    let mut out = ScanOutcome::default();
    let mut stack: Vec<Option<RelPath>> = vec![None];
    let mut first = true;
    while let Some(dir_rel) = stack.pop() {
        let dir_abs = match &dir_rel {
            Some(r) => abs(root, r),
            None => root.to_path_buf(),
        };
        let entries = match fs.read_dir(&dir_abs) {
            Ok(e) => e,
            Err(e) if first => return Err(e),
            Err(e) => {
                if let Some(r) = dir_rel {
                    out.tree.remove(&r.key());
                    out.skipped.push((
                        r,
                        SkipRule::Unreadable {
                            error: e.to_string(),
                        },
                    ));
                }
                continue;
            }
        };
        first = false;
        for entry in entries {
            let name = match entry.name {
                Ok(n) => n,
                Err(os) => {
                    let lossy = os.to_string_lossy().into_owned();
                    if let Ok(p) = RelPath::child_of(dir_rel.as_ref(), &lossy) {
                        out.skipped.push((
                            p,
                            SkipRule::InvalidName {
                                detail: "name is not valid UTF-8".into(),
                            },
                        ));
                    }
                    continue;
                }
            };
            if is_internal_name(&name) {
                if name.starts_with(TEMP_PREFIX) {
                    out.stale_temps.push(dir_abs.join(&name));
                }
                continue;
            }
            let Ok(path) = RelPath::child_of(dir_rel.as_ref(), &name) else {
                continue;
            };
            let kind = match entry.meta.ty {
                EntryType::File => Kind::File,
                EntryType::Dir => Kind::Dir,
                EntryType::Symlink => {
                    out.skipped.push((path, SkipRule::Symlink));
                    continue;
                }
                EntryType::Special(what) => {
                    out.skipped
                        .push((path, SkipRule::SpecialFile { what: what.into() }));
                    continue;
                }
            };
            if let Some(rule) = rules.check_entry(&path, kind, entry.meta.size) {
                out.skipped.push((path, rule));
                continue;
            }
            let key = path.key();
            if let Some(other) = out.tree.get(&key) {
                out.skipped.push((
                    path,
                    SkipRule::UnicodeClash {
                        other: other.path.to_string(),
                    },
                ));
                continue;
            }
            let id = Some(entry.meta.id());
            let node = match kind {
                Kind::Dir => {
                    stack.push(Some(path.clone()));
                    // The mtime dates a tail-character rename of the folder.
                    Node {
                        mtime_ns: entry.meta.mtime_ns,
                        ..Node::dir(path, id)
                    }
                }
                Kind::File => {
                    let known = previous.get(&key).filter(|p| {
                        p.kind == Kind::File
                            && p.path == path
                            && p.size == entry.meta.size
                            && p.mtime_ns == entry.meta.mtime_ns
                            && p.id == id
                            && p.hash.is_some()
                    });
                    let hash = match known {
                        Some(p) => p.hash.clone(),
                        None => {
                            let hashed = fs.open_read(&dir_abs.join(&name)).and_then(hash_reader);
                            match hashed {
                                Ok((h, _)) => {
                                    out.hashed += 1;
                                    Some(h)
                                }
                                Err(e) => {
                                    out.skipped.push((
                                        path,
                                        SkipRule::Unreadable {
                                            error: e.to_string(),
                                        },
                                    ));
                                    continue;
                                }
                            }
                        }
                    };
                    Node {
                        path,
                        kind,
                        size: entry.meta.size,
                        mtime_ns: entry.meta.mtime_ns,
                        hash,
                        id,
                        rev: None,
                    }
                }
            };
            out.tree.insert(key, node);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localfs::StdFs;

    #[test]
    fn links_and_special_files_are_skipped_with_their_reason() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("real.txt"), "data").expect("write");
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        std::os::unix::fs::symlink("/etc", root.join("link-to-etc")).expect("symlink");
        std::os::unix::fs::symlink("real.txt", root.join("sub/link.txt")).expect("symlink");
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .expect("running mkfifo");
        assert!(fifo.success());
        let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).expect("socket");
        std::fs::write(root.join(ROOT_MARKER), "").expect("marker");
        std::fs::write(root.join(format!("{TEMP_PREFIX}1-2")), "partial").expect("temp");

        let out = scan(&StdFs, root, &RuleSet::default_rules(), &Tree::new()).expect("scan");
        let keys: Vec<&str> = out.tree.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["real.txt", "sub"]);
        let mut skipped: Vec<(String, &str)> = out
            .skipped
            .iter()
            .map(|(p, r)| (p.to_string(), r.code()))
            .collect();
        skipped.sort();
        assert_eq!(
            skipped,
            [
                ("link-to-etc".to_string(), "symlink"),
                ("pipe".to_string(), "special-file"),
                ("sock".to_string(), "special-file"),
                ("sub/link.txt".to_string(), "symlink"),
            ]
        );
        assert_eq!(
            out.stale_temps.len(),
            1,
            "the leftover temp file is reported for cleanup"
        );
        assert_eq!(out.hashed, 1);

        // A second scan trusts size, mtime and inode: nothing is hashed again.
        let again = scan(&StdFs, root, &RuleSet::default_rules(), &out.tree).expect("rescan");
        assert_eq!(again.hashed, 0);
        assert_eq!(again.tree, out.tree);
    }
}
