//! The local scanner: walks a sync root into a [`Tree`], applying the rules.
//!
//! It trusts (size, mtime, inode) from the previous scan and hashes only what changed. A
//! file new to it (no entry at that path, none moved there) is not hashed at all: it is
//! uploaded, and the upload hashes it while reading it anyway. Only where the other side
//! has an entry at the same path is the hash needed to compare, and [`fill_hashes`] adds it
//! once the remote has been listed.
//! Symlinks are never followed, special files and unreadable entries are skipped with
//! their reason, and the engine's own files (root marker, trash, temp files) are invisible.

use std::path::{Path, PathBuf};

use cloudsync_core::rules::{RuleSet, SkipRule, ROOT_MARKER, TRASH_DIR};
use cloudsync_core::{Kind, Node, RelPath, Tree};

use std::collections::HashMap;

use crate::hash::{hash_reader_as, HashKind};
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
    hash_kind: HashKind,
) -> std::io::Result<ScanOutcome> {
    let mut out = ScanOutcome::default();
    let hashed_by_id: HashMap<&str, &Node> = previous
        .values()
        .filter(|n| n.kind == Kind::File && n.hash.is_some())
        .filter_map(|n| n.id.as_deref().map(|id| (id, n)))
        .collect();
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
                    let unchanged = |p: &Node| {
                        p.kind == Kind::File
                            && p.size == entry.meta.size
                            && p.mtime_ns == entry.meta.mtime_ns
                            && p.id == id
                            && p.hash.as_deref().is_some_and(|h| hash_kind.is_kind_of(h))
                    };
                    let before = previous.get(&key);
                    let known = before
                        .filter(|p| p.path == path && unchanged(p))
                        .or_else(|| {
                            // Moved here unchanged: same inode, size and mtime.
                            id.as_deref()
                                .and_then(|i| hashed_by_id.get(i).copied())
                                .filter(|p| unchanged(p))
                        });
                    let hash = match known {
                        Some(p) => p.hash.clone(),
                        None if before.is_none() => None,
                        None => {
                            let hashed = fs
                                .open_read(&dir_abs.join(&name))
                                .and_then(|r| hash_reader_as(r, hash_kind));
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

/// Hashes the files of `tree` that the scan left unhashed and for which `wanted` says a
/// comparison is coming (the other side has an entry at the same path). Files that cannot
/// be read leave the tree and are returned with their reason; returns also how many were
/// hashed.
pub fn fill_hashes(
    fs: &dyn LocalFs,
    root: &Path,
    tree: &mut Tree,
    kind: HashKind,
    wanted: impl Fn(&RelPath) -> bool,
) -> (usize, Vec<(RelPath, SkipRule)>) {
    let pending: Vec<RelPath> = tree
        .iter()
        .filter(|(k, n)| n.kind == Kind::File && n.hash.is_none() && wanted(k))
        .map(|(k, _)| k.clone())
        .collect();
    let mut hashed = 0;
    let mut unreadable = Vec::new();
    for key in pending {
        let Some(node) = tree.get_mut(&key) else {
            continue;
        };
        match fs
            .open_read(&abs(root, &node.path))
            .and_then(|r| hash_reader_as(r, kind))
        {
            Ok((h, _)) => {
                node.hash = Some(h);
                hashed += 1;
            }
            Err(e) => {
                let path = node.path.clone();
                tree.remove(&key);
                unreadable.push((
                    path,
                    SkipRule::Unreadable {
                        error: e.to_string(),
                    },
                ));
            }
        }
    }
    (hashed, unreadable)
}

/// On a remote that treats names differing only in letter case as one (Dropbox), keeps one
/// of each group of such siblings in `tree` and skips the others (with their subtrees)
/// with [`SkipRule::CaseClash`]: uploading both would make one overwrite the other. The one
/// kept is the one already synced, else the one the remote has, else the first by name.
pub fn skip_case_clashes(
    tree: &mut Tree,
    keep_first: impl Fn(&RelPath) -> bool,
) -> Vec<(RelPath, SkipRule)> {
    let mut groups: HashMap<(Option<RelPath>, String), Vec<RelPath>> = HashMap::new();
    for key in tree.keys() {
        groups
            .entry((
                key.parent(),
                cloudsync_core::names::simple_lowercase(key.name()),
            ))
            .or_default()
            .push(key.clone());
    }
    let mut skipped = Vec::new();
    for (_, mut keys) in groups.into_iter().filter(|(_, k)| k.len() > 1) {
        keys.sort_by_key(|k| (!keep_first(k), k.clone()));
        let winner = keys.remove(0);
        let shown = tree
            .get(&winner)
            .map(|n| n.path.name().to_string())
            .unwrap_or_default();
        for loser in keys {
            let below: Vec<RelPath> = tree
                .keys()
                .filter(|k| k.is_below(&loser))
                .cloned()
                .collect();
            for k in below {
                tree.remove(&k);
            }
            if let Some(node) = tree.remove(&loser) {
                skipped.push((
                    node.path,
                    SkipRule::CaseClash {
                        other: shown.clone(),
                    },
                ));
            }
        }
    }
    skipped
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

        let out = scan(
            &StdFs,
            root,
            &RuleSet::default_rules(),
            &Tree::new(),
            HashKind::Sha256,
        )
        .expect("scan");
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
        // A file new to the scanner is left for the upload to hash.
        assert_eq!(out.hashed, 0);
    }

    fn key(p: &str) -> RelPath {
        RelPath::new(p).expect("path")
    }

    fn scan_sha(root: &Path, previous: &Tree) -> ScanOutcome {
        scan(
            &StdFs,
            root,
            &RuleSet::default_rules(),
            previous,
            HashKind::Sha256,
        )
        .expect("scan")
    }

    #[test]
    fn a_dotted_capital_i_clashes_with_a_plain_i_as_on_dropbox() {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["\u{130}.txt", "i.txt", "\u{3a3}.txt", "\u{3c2}.txt"] {
            std::fs::write(dir.path().join(name), name).expect("write");
        }
        let mut out = scan_sha(dir.path(), &Tree::new());
        let skipped = skip_case_clashes(&mut out.tree, |_| false);
        let lost: Vec<String> = skipped.iter().map(|(p, _)| p.to_string()).collect();
        // `Σ` folds to `σ`, which is not `ς`: those two are different names.
        assert_eq!(lost, ["\u{130}.txt"]);
    }

    #[test]
    fn names_differing_in_case_keep_the_synced_one_and_skip_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for name in ["Readme.txt", "README.txt", "readme.txt", "other.txt"] {
            std::fs::write(root.join(name), name).expect("write");
        }
        std::fs::create_dir_all(root.join("Docs/inner")).expect("mkdir");
        std::fs::create_dir_all(root.join("docs")).expect("mkdir");
        std::fs::write(root.join("Docs/inner/a.txt"), "a").expect("write");
        let mut out = scan_sha(root, &Tree::new());
        let skipped = skip_case_clashes(&mut out.tree, |k| k.as_str() == "readme.txt");
        let mut keys: Vec<&str> = out.tree.keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "Docs",
                "Docs/inner",
                "Docs/inner/a.txt",
                "other.txt",
                "readme.txt"
            ]
        );
        let mut lost: Vec<(String, &str)> = skipped
            .iter()
            .map(|(p, r)| (p.to_string(), r.code()))
            .collect();
        lost.sort();
        assert_eq!(
            lost,
            [
                ("README.txt".to_string(), "case-clash"),
                ("Readme.txt".to_string(), "case-clash"),
                ("docs".to_string(), "case-clash"),
            ]
        );
    }

    #[test]
    fn hashes_are_computed_when_wanted_then_trusted_until_the_file_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("a.txt"), "abc").expect("write");
        std::fs::write(root.join("b.txt"), "other").expect("write");
        let mut first = scan_sha(root, &Tree::new());
        assert_eq!(first.hashed, 0);
        assert!(first.tree.values().all(|n| n.hash.is_none()));

        // The remote has a.txt: its hash is needed for the comparison, b.txt's is not.
        let (n, unreadable) = fill_hashes(&StdFs, root, &mut first.tree, HashKind::Sha256, |k| {
            k.as_str() == "a.txt"
        });
        assert_eq!((n, unreadable.len()), (1, 0));
        assert_eq!(
            first.tree[&key("a.txt")].hash.as_deref(),
            Some("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );

        // Unchanged: trusted. b.txt has an entry now but no hash: it is hashed this time.
        let second = scan_sha(root, &first.tree);
        assert_eq!(second.hashed, 1);
        assert!(second.tree.values().all(|n| n.hash.is_some()));
        let third = scan_sha(root, &second.tree);
        assert_eq!(third.hashed, 0);

        // A changed file is hashed again; a file renamed unchanged keeps its hash unread.
        std::fs::write(root.join("a.txt"), "abcd").expect("write");
        std::fs::rename(root.join("b.txt"), root.join("c.txt")).expect("rename");
        let fourth = scan_sha(root, &third.tree);
        assert_eq!(fourth.hashed, 1);
        assert_eq!(
            fourth.tree[&key("c.txt")].hash,
            third.tree[&key("b.txt")].hash
        );

        // Another hash kind (the remote changed kinds) means hashing again.
        let md5 = scan(
            &StdFs,
            root,
            &RuleSet::default_rules(),
            &fourth.tree,
            HashKind::Md5,
        )
        .expect("scan");
        assert_eq!(md5.hashed, 2);
        assert_eq!(
            md5.tree[&key("c.txt")].hash.as_deref(),
            Some("md5:795f3202b17cb6bc3d4b771d8c6c9eaf")
        );
    }
}
