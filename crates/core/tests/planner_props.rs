//! Property tests of the planner over random related tree triples.
//!
//! A random synced tree (the merge base) is built first; the local and remote trees are
//! derived from it by random edits on each side (create, modify, delete a file or a folder,
//! rename or move keeping the id, replace a file by a folder and back). Sometimes the
//! synced tree is dropped (a lost database). The plans are then carried out by [`World`],
//! an in-memory model of the executor (`crates/engine/src/executor.rs`): it checks every
//! precondition the real executor checks, applies the same effects to the side trees and
//! the synced tree, keeps what local deletes move to the trash, what remote deletes move to
//! the remote trash and what a remote with revisions keeps, and installs downloads only
//! after the batch, as the real executor does.
//!
//! Properties:
//! - (a) the plans converge: within [`MAX_ROUNDS`] rounds the next plan is empty, no op ever
//!   fails in a world that does not change under it, and two-way syncs leave both sides equal;
//! - (b) the ops of a batch commute: running them in a random order gives the same trees;
//! - (c) no content is lost, except a merge-base version the user replaced;
//! - (d) an edit beats a delete.
//!
//! Names come from a tiny alphabet so that collisions (same name on both sides, a file
//! where the other side has a folder) are frequent.

use std::collections::{BTreeMap, BTreeSet};

use cloudsync_core::plan::Resolution;
use cloudsync_core::planner::{plan, PlanInput};
use cloudsync_core::tree::{descendants, move_subtree, remove_subtree};
use cloudsync_core::{
    Capabilities, ConflictPolicy, ConnectionSettings, Kind, Mode, Node, Op, Plan, RelPath, Side,
    SyncedNode, SyncedTree, Tree,
};
use proptest::prelude::*;

/// Rounds allowed before the plans must have converged (tail renames and kind conflicts
/// take a round of their own before the renamed entry is propagated).
const MAX_ROUNDS: usize = 5;

/// Names in the merge base.
const BASE_NAMES: [&str; 3] = ["a", "b", "c.txt"];

/// Names edits use: the base names again (collisions), a new one, and one ending in `.`
/// (renamed by the spec's TailCharacterConflict rule).
const EDIT_NAMES: [&str; 7] = ["a", "b", "c.txt", "d", "a", "b", "e."];

/// Deepest path generated (a top-level entry has depth 1).
const MAX_DEPTH: usize = 3;

const HOST: &str = "nas";
const NOW_SECS: i64 = 1_795_000_000;
const MTIME_BASE: i64 = 1_795_000_000_000_000_000;

// ---------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------

/// One random edit of a side; the `u8`s select among the candidates present at the time.
#[derive(Debug, Clone)]
enum Edit {
    Create { parent: u8, name: u8, dir: bool },
    Modify { target: u8 },
    DeleteFile { target: u8 },
    DeleteDir { target: u8 },
    Move { target: u8, parent: u8, name: u8 },
    FileToDir { target: u8, child: bool },
    DirToFile { target: u8 },
}

/// One generated case.
#[derive(Debug, Clone)]
struct Case {
    /// Entries of the merge base: (parent selector, name selector, is a folder).
    base: Vec<(u8, u8, bool)>,
    /// Edits on the local side, each with an mtime jitter.
    local: Vec<(Edit, u8)>,
    /// Edits on the remote side.
    remote: Vec<(Edit, u8)>,
    /// The database was lost: the synced tree is empty (both sides start from the base).
    lost_db: bool,
    /// Seed for batch permutations.
    shuffle: u64,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<u8>(), any::<u8>(), any::<bool>())
            .prop_map(|(parent, name, dir)| Edit::Create { parent, name, dir }),
        4 => any::<u8>().prop_map(|target| Edit::Modify { target }),
        2 => any::<u8>().prop_map(|target| Edit::DeleteFile { target }),
        2 => any::<u8>().prop_map(|target| Edit::DeleteDir { target }),
        3 => (any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(target, parent, name)| Edit::Move { target, parent, name }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(target, child)| Edit::FileToDir { target, child }),
        1 => any::<u8>().prop_map(|target| Edit::DirToFile { target }),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 0..14),
        prop::collection::vec((edit(), any::<u8>()), 0..6),
        prop::collection::vec((edit(), any::<u8>()), 0..6),
        prop::bool::weighted(0.12),
        any::<u64>(),
    )
        .prop_map(|(base, local, remote, lost_db, shuffle)| Case {
            base,
            local,
            remote,
            lost_db,
            shuffle,
        })
}

/// Hands out unique ids, revisions, contents and mtimes.
#[derive(Debug, Default, Clone)]
struct Counter(u64);

impl Counter {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn hash_of(content: &str) -> String {
    format!("sha256:{content}")
}

fn file_node(
    path: &RelPath,
    content: &str,
    mtime_ns: i64,
    id: String,
    rev: Option<String>,
) -> Node {
    Node {
        path: path.clone(),
        kind: Kind::File,
        size: content.len() as u64,
        mtime_ns,
        hash: Some(hash_of(content)),
        id: Some(id),
        rev,
    }
}

fn pick<T: Clone>(items: &[T], sel: u8) -> Option<T> {
    if items.is_empty() {
        None
    } else {
        Some(items[usize::from(sel) % items.len()].clone())
    }
}

/// Mints ids (and revisions on the remote) for one side.
fn side_id(side: Side, c: &mut Counter) -> (String, Option<String>) {
    let n = c.next();
    match side {
        Side::Local => (format!("L{n}"), None),
        Side::Remote => (format!("R{n}"), Some(format!("rev{n}"))),
    }
}

/// A fresh file node with unique content for `side`.
fn fresh_file(side: Side, path: &RelPath, jitter: u8, c: &mut Counter) -> Node {
    let n = c.next();
    let content = format!("v{n}");
    let (id, rev) = side_id(side, c);
    // Unique mtimes (the counter) so that a content change always changes the mtime, as
    // the real scanner relies on; the jitter orders edits randomly for `newer-wins`.
    let mtime = MTIME_BASE + i64::from(jitter) * 1_000_000 + n as i64;
    file_node(path, &content, mtime, id, rev)
}

fn fresh_dir(side: Side, path: &RelPath, c: &mut Counter) -> Node {
    let (id, _) = side_id(side, c);
    Node::dir(path.clone(), Some(id))
}

/// Deepest depth below (and including) `key`.
fn subtree_depth(tree: &Tree, key: &RelPath) -> usize {
    descendants(tree, key)
        .map(|(k, _)| k.depth())
        .chain(std::iter::once(key.depth()))
        .max()
        .unwrap_or(0)
}

fn apply_edit(tree: &mut Tree, side: Side, edit: &Edit, jitter: u8, c: &mut Counter) {
    let dirs: Vec<RelPath> = tree
        .iter()
        .filter(|(_, n)| n.is_dir())
        .map(|(k, _)| k.clone())
        .collect();
    let files: Vec<RelPath> = tree
        .iter()
        .filter(|(_, n)| !n.is_dir())
        .map(|(k, _)| k.clone())
        .collect();
    let all: Vec<RelPath> = tree.keys().cloned().collect();
    match edit {
        Edit::Create { parent, name, dir } => {
            let mut parents: Vec<Option<RelPath>> = vec![None];
            parents.extend(
                dirs.iter()
                    .filter(|d| d.depth() < MAX_DEPTH)
                    .cloned()
                    .map(Some),
            );
            let Some(p) = pick(&parents, *parent) else {
                return;
            };
            let Some(name) = pick(&EDIT_NAMES, *name) else {
                return;
            };
            let path = RelPath::child_of(p.as_ref(), name).expect("valid name");
            if tree.contains_key(&path) {
                return;
            }
            let node = if *dir {
                fresh_dir(side, &path, c)
            } else {
                fresh_file(side, &path, jitter, c)
            };
            tree.insert(path, node);
        }
        Edit::Modify { target } => {
            let Some(key) = pick(&files, *target) else {
                return;
            };
            let old = tree.get(&key).cloned().expect("picked from the tree");
            let mut new = fresh_file(side, &key, jitter, c);
            new.id = old.id;
            tree.insert(key, new);
        }
        Edit::DeleteFile { target } => {
            if let Some(key) = pick(&files, *target) {
                tree.remove(&key);
            }
        }
        Edit::DeleteDir { target } => {
            if let Some(key) = pick(&dirs, *target) {
                remove_subtree(tree, &key);
            }
        }
        Edit::Move {
            target,
            parent,
            name,
        } => {
            let Some(from) = pick(&all, *target) else {
                return;
            };
            let mut parents: Vec<Option<RelPath>> = vec![None];
            parents.extend(
                dirs.iter()
                    .filter(|d| !d.is_within(&from))
                    .cloned()
                    .map(Some),
            );
            let Some(p) = pick(&parents, *parent) else {
                return;
            };
            // A third of the moves keep the name (a move), the rest rename.
            let new_name = if name % 3 == 0 {
                from.name().to_string()
            } else {
                pick(&EDIT_NAMES, name / 3)
                    .expect("names are not empty")
                    .to_string()
            };
            let to = RelPath::child_of(p.as_ref(), &new_name).expect("valid name");
            if to == from || tree.contains_key(&to) {
                return;
            }
            let depth_below = subtree_depth(tree, &from) - from.depth();
            if to.depth() + depth_below > MAX_DEPTH + 1 {
                return;
            }
            move_subtree(tree, &from, &to, |k, n| n.path = k.clone());
        }
        Edit::FileToDir { target, child } => {
            let Some(key) = pick(&files, *target) else {
                return;
            };
            tree.remove(&key);
            let d = fresh_dir(side, &key, c);
            tree.insert(key.clone(), d);
            if *child && key.depth() < MAX_DEPTH + 1 {
                let p = key.join("a").expect("valid name");
                let f = fresh_file(side, &p, jitter, c);
                tree.insert(p, f);
            }
        }
        Edit::DirToFile { target } => {
            let Some(key) = pick(&dirs, *target) else {
                return;
            };
            remove_subtree(tree, &key);
            let f = fresh_file(side, &key, jitter, c);
            tree.insert(key, f);
        }
    }
}

/// Builds the world a case describes.
fn build(case: &Case) -> World {
    let mut c = Counter::default();
    // The merge base as (path, kind, content, mtime).
    let mut base: BTreeMap<RelPath, (Kind, String, i64)> = BTreeMap::new();
    for (parent, name, dir) in &case.base {
        let mut parents: Vec<Option<RelPath>> = vec![None];
        parents.extend(
            base.iter()
                .filter(|(k, v)| v.0 == Kind::Dir && k.depth() < MAX_DEPTH)
                .map(|(k, _)| Some(k.clone())),
        );
        let p = pick(&parents, *parent).expect("root is always a candidate");
        let name = pick(&BASE_NAMES, *name).expect("names are not empty");
        let path = RelPath::child_of(p.as_ref(), name).expect("valid name");
        if base.contains_key(&path) {
            continue;
        }
        let n = c.next();
        let kind = if *dir { Kind::Dir } else { Kind::File };
        base.insert(path, (kind, format!("v{n}"), MTIME_BASE + n as i64));
    }
    let mut local = Tree::new();
    let mut remote = Tree::new();
    let mut synced = SyncedTree::new();
    for (path, (kind, content, mtime)) in &base {
        let (lid, _) = side_id(Side::Local, &mut c);
        let (rid, rrev) = side_id(Side::Remote, &mut c);
        let (l, r) = match kind {
            Kind::Dir => (
                Node::dir(path.clone(), Some(lid)),
                Node::dir(path.clone(), Some(rid)),
            ),
            Kind::File => (
                file_node(path, content, *mtime, lid, None),
                file_node(path, content, *mtime, rid, rrev),
            ),
        };
        local.insert(path.clone(), l.clone());
        remote.insert(path.clone(), r.clone());
        synced.insert(
            path.clone(),
            SyncedNode {
                local: l,
                remote: r,
            },
        );
    }
    if case.lost_db {
        synced.clear();
    }
    for (e, jitter) in &case.local {
        apply_edit(&mut local, Side::Local, e, *jitter, &mut c);
    }
    for (e, jitter) in &case.remote {
        apply_edit(&mut remote, Side::Remote, e, *jitter, &mut c);
    }
    World {
        local,
        remote,
        synced,
        local_trash: Vec::new(),
        remote_trash: Vec::new(),
        revisions: Vec::new(),
        ids: c,
        keeps_revisions: false,
    }
}

// ---------------------------------------------------------------------------------------
// The model executor
// ---------------------------------------------------------------------------------------

/// Both sides as the scanner and the listing would see them, the synced tree as the store
/// holds it, and where removed contents went.
#[derive(Debug, Clone)]
struct World {
    local: Tree,
    remote: Tree,
    synced: SyncedTree,
    /// Hashes of files local deletes moved to `.cloudsync-trash`.
    local_trash: Vec<String>,
    /// Hashes of files remote deletes moved to the remote's trash.
    remote_trash: Vec<String>,
    /// Hashes of remote versions kept as revisions when overwritten.
    revisions: Vec<String>,
    ids: Counter,
    keeps_revisions: bool,
}

/// A download written to a temp file, installed once the batch's ops have run.
#[derive(Debug)]
struct Staged {
    key: RelPath,
    remote: Node,
    target: RelPath,
    replaces: Option<Node>,
}

fn hashes_below(tree: &Tree, key: &RelPath) -> Vec<String> {
    descendants(tree, key)
        .map(|(_, n)| n)
        .chain(tree.get(key))
        .filter_map(|n| n.hash.clone())
        .collect()
}

fn parent_is_dir(tree: &Tree, path: &RelPath) -> bool {
    match path.parent() {
        None => true,
        Some(p) => tree.get(&p.key()).is_some_and(|n| n.is_dir()),
    }
}

impl World {
    fn tree_mut(&mut self, side: Side) -> &mut Tree {
        match side {
            Side::Local => &mut self.local,
            Side::Remote => &mut self.remote,
        }
    }

    /// The executor's `expect_local`: the entry at `path` is still the version `expected`.
    fn check_local(&self, path: &RelPath, expected: &Node) -> Result<(), String> {
        let Some(n) = self.local.get(&path.key()) else {
            return Err(format!("local {path} vanished"));
        };
        let same = match expected.kind {
            Kind::Dir => n.is_dir(),
            Kind::File => {
                n.kind == Kind::File
                    && n.size == expected.size
                    && n.mtime_ns == expected.mtime_ns
                    && expected
                        .id
                        .as_ref()
                        .is_none_or(|id| n.id.as_ref() == Some(id))
            }
        };
        if same {
            Ok(())
        } else {
            Err(format!("local {path} changed since it was scanned"))
        }
    }

    /// The remote's own check: the entry at `node.path` is still `node` (same id, same
    /// revision for files).
    fn check_remote(&self, node: &Node) -> Result<(), String> {
        let Some(n) = self.remote.get(&node.path.key()) else {
            return Err(format!("remote {} not found", node.path));
        };
        let same = n.kind == node.kind
            && (node.id.is_none() || n.id == node.id)
            && (n.kind == Kind::Dir || (n.rev == node.rev && n.hash == node.hash));
        if same {
            Ok(())
        } else {
            Err(format!("remote {} changed", node.path))
        }
    }

    /// Moves a local entry into the trash.
    fn local_to_trash(&mut self, path: &RelPath) {
        let key = path.key();
        let hashes = hashes_below(&self.local, &key);
        self.local_trash.extend(hashes);
        remove_subtree(&mut self.local, &key);
    }

    /// `rename_noreplace` of a local entry (with its subtree).
    fn local_rename(&mut self, node: &Node, to: &RelPath) -> Result<(), String> {
        self.check_local(&node.path, node)?;
        move_in(&mut self.local, &node.path, to, "local")
    }

    fn remote_rename(&mut self, node: &Node, to: &RelPath) -> Result<Node, String> {
        self.check_remote(node)?;
        move_in(&mut self.remote, &node.path, to, "remote")?;
        Ok(self
            .remote
            .get(&to.key())
            .cloned()
            .expect("just moved there"))
    }

    /// A conditional upload of `src` (a local version) to `path`.
    fn remote_put(
        &mut self,
        path: &RelPath,
        src: &Node,
        replaces: Option<&Node>,
    ) -> Result<Node, String> {
        if !parent_is_dir(&self.remote, path) {
            return Err(format!("remote parent of {path} missing"));
        }
        let existing = self.remote.get(&path.key()).cloned();
        let id = match (replaces, &existing) {
            (Some(old), Some(_)) => {
                self.check_remote(old)?;
                if self.keeps_revisions {
                    self.revisions.extend(old.hash.clone());
                }
                old.id.clone()
            }
            (Some(_), None) => return Err(format!("remote {path} vanished")),
            (None, Some(_)) => return Err(format!("remote {path} exists already")),
            (None, None) => None,
        };
        let (fresh, rev) = side_id(Side::Remote, &mut self.ids);
        let node = Node {
            path: path.clone(),
            kind: Kind::File,
            size: src.size,
            mtime_ns: src.mtime_ns,
            hash: src.hash.clone(),
            id: Some(id.unwrap_or(fresh)),
            rev,
        };
        self.remote.insert(path.key(), node.clone());
        Ok(node)
    }

    /// Starts a download: the remote version must still be there and the local folder too.
    fn stage(
        &self,
        key: &RelPath,
        remote: &Node,
        target: &RelPath,
        replaces: Option<Node>,
    ) -> Result<Staged, String> {
        self.check_remote(remote)?;
        if !parent_is_dir(&self.local, target) {
            return Err(format!("local parent of {target} missing"));
        }
        Ok(Staged {
            key: key.clone(),
            remote: remote.clone(),
            target: target.clone(),
            replaces,
        })
    }

    /// Renames a staged download into place (after the batch).
    fn install(&mut self, s: Staged) -> Result<(), String> {
        let tk = s.target.key();
        match &s.replaces {
            Some(old) => self.check_local(&s.target, old)?,
            None => {
                if self.local.contains_key(&tk) {
                    return Err(format!("local {} appeared meanwhile", s.target));
                }
                if !parent_is_dir(&self.local, &s.target) {
                    return Err(format!("local parent of {} missing", s.target));
                }
            }
        }
        let (id, _) = side_id(Side::Local, &mut self.ids);
        let node = Node {
            path: s.target.clone(),
            kind: Kind::File,
            size: s.remote.size,
            mtime_ns: s.remote.mtime_ns,
            hash: s.remote.hash.clone(),
            id: Some(id),
            rev: None,
        };
        self.local.insert(tk, node.clone());
        self.synced.insert(
            s.key,
            SyncedNode {
                local: node,
                remote: s.remote,
            },
        );
        Ok(())
    }

    /// Runs one op; downloads are staged for after the batch.
    fn run(&mut self, op: &Op, staged: &mut Vec<Staged>) -> Result<(), String> {
        match op {
            Op::Record { key, local, remote } => {
                self.synced.insert(
                    key.clone(),
                    SyncedNode {
                        local: local.clone(),
                        remote: remote.clone(),
                    },
                );
            }
            Op::Forget { key } => remove_subtree(&mut self.synced, key),
            Op::MakeDir {
                side,
                key,
                path,
                source,
            } => {
                let tree = match side {
                    Side::Local => &self.local,
                    Side::Remote => &self.remote,
                };
                if !parent_is_dir(tree, path) {
                    return Err(format!("{side} parent of {path} missing"));
                }
                let made = match tree.get(&path.key()) {
                    Some(n) if n.is_dir() => Node::dir(path.clone(), n.id.clone()),
                    Some(_) => return Err(format!("{side} {path} is a file")),
                    None => {
                        let made = fresh_dir(*side, path, &mut self.ids);
                        self.tree_mut(*side).insert(path.key(), made.clone());
                        made
                    }
                };
                let (local, remote) = match side {
                    Side::Local => (made, source.clone()),
                    Side::Remote => (source.clone(), made),
                };
                self.synced
                    .insert(key.clone(), SyncedNode { local, remote });
            }
            Op::Upload {
                key,
                local,
                remote_path,
                replaces,
            } => {
                self.check_local(&local.path, local)?;
                let up = self.remote_put(remote_path, local, replaces.as_ref())?;
                self.synced.insert(
                    key.clone(),
                    SyncedNode {
                        local: local.clone(),
                        remote: up,
                    },
                );
            }
            Op::Download {
                key,
                remote,
                local_path,
                replaces,
            } => {
                if let Some(old) = replaces {
                    self.check_local(local_path, old)?;
                }
                staged.push(self.stage(key, remote, local_path, replaces.clone())?);
            }
            Op::Delete {
                side, key, node, ..
            } => {
                match side {
                    Side::Local => {
                        self.check_local(&node.path, node)?;
                        self.local_to_trash(&node.path);
                    }
                    Side::Remote => {
                        self.check_remote(node)?;
                        let k = node.path.key();
                        let hashes = hashes_below(&self.remote, &k);
                        self.remote_trash.extend(hashes);
                        remove_subtree(&mut self.remote, &k);
                    }
                }
                remove_subtree(&mut self.synced, key);
            }
            Op::Move {
                side,
                from_key,
                to_key,
                node,
                to_path,
                reason,
            } => {
                match side {
                    Side::Local => self.local_rename(node, to_path)?,
                    Side::Remote => {
                        self.remote_rename(node, to_path)?;
                    }
                }
                if *reason == cloudsync_core::plan::MoveReason::Mirror {
                    let (from_path, to_path) = (node.path.clone(), to_path.clone());
                    let side = *side;
                    move_subtree(&mut self.synced, from_key, to_key, |_, s| {
                        let n = match side {
                            Side::Local => &mut s.local,
                            Side::Remote => &mut s.remote,
                        };
                        if let Some(p) = n.path.rebase(&from_path, &to_path) {
                            n.path = p;
                        }
                    });
                } else {
                    remove_subtree(&mut self.synced, from_key);
                }
            }
            Op::Conflict {
                key,
                local,
                remote,
                resolution,
            } => match resolution {
                Resolution::OverwriteRemote => {
                    self.check_local(&local.path, local)?;
                    let up = self.remote_put(&remote.path, local, Some(remote))?;
                    self.synced.insert(
                        key.clone(),
                        SyncedNode {
                            local: local.clone(),
                            remote: up,
                        },
                    );
                }
                Resolution::RemoteToCopy {
                    copy,
                    download_copy,
                } => {
                    let remote_copy = remote
                        .path
                        .with_name(copy.name())
                        .map_err(|e| e.to_string())?;
                    self.check_local(&local.path, local)?;
                    let moved = self.remote_rename(remote, &remote_copy)?;
                    let up = self.remote_put(&remote.path, local, None)?;
                    self.synced.insert(
                        key.clone(),
                        SyncedNode {
                            local: local.clone(),
                            remote: up,
                        },
                    );
                    if *download_copy {
                        let local_copy = local
                            .path
                            .with_name(copy.name())
                            .map_err(|e| e.to_string())?;
                        staged.push(self.stage(copy, &moved, &local_copy, None)?);
                    }
                }
                Resolution::LocalToCopy { copy, upload_copy } => {
                    let local_copy = local
                        .path
                        .with_name(copy.name())
                        .map_err(|e| e.to_string())?;
                    self.local_rename(local, &local_copy)?;
                    let mut moved = local.clone();
                    moved.path = local_copy;
                    if *upload_copy {
                        let remote_copy = remote
                            .path
                            .with_name(copy.name())
                            .map_err(|e| e.to_string())?;
                        let up = self.remote_put(&remote_copy, &moved, None)?;
                        self.synced.insert(
                            copy.clone(),
                            SyncedNode {
                                local: moved,
                                remote: up,
                            },
                        );
                    }
                    staged.push(self.stage(key, remote, &local.path, None)?);
                }
                Resolution::LocalToTrash => {
                    self.check_local(&local.path, local)?;
                    let s = self.stage(key, remote, &local.path, None)?;
                    self.local_to_trash(&local.path);
                    staged.push(s);
                }
            },
        }
        Ok(())
    }
}

/// `rename_noreplace(from, to)` inside one side's tree, with the subtree.
fn move_in(tree: &mut Tree, from: &RelPath, to: &RelPath, side: &str) -> Result<(), String> {
    if tree.contains_key(&to.key()) {
        return Err(format!("{side} {to} exists already"));
    }
    if !parent_is_dir(tree, to) {
        return Err(format!("{side} parent of {to} missing"));
    }
    if to.is_within(from) {
        return Err(format!("{side} {to} lies inside {from}"));
    }
    let (fk, tk) = (from.key(), to.key());
    move_subtree(tree, &fk, &tk, |_, n| {
        if let Some(p) = n.path.rebase(from, to) {
            n.path = p;
        }
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Running plans
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    settings: ConnectionSettings,
    caps: Capabilities,
}

impl Config {
    fn default_two_way() -> Config {
        Config {
            settings: ConnectionSettings::default(),
            caps: Capabilities::local_folder(),
        }
    }

    /// Every mode, conflict policy, delete policy and revision capability.
    fn all() -> Vec<Config> {
        let mut out = Vec::new();
        for mode in [Mode::TwoWay, Mode::UploadOnly, Mode::DownloadOnly] {
            for conflict in [
                ConflictPolicy::KeepLocal,
                ConflictPolicy::KeepRemote,
                ConflictPolicy::KeepBoth,
                ConflictPolicy::NewerWins,
            ] {
                for no_delete in [false, true] {
                    for keeps_revisions in [false, true] {
                        let mut c = Config::default_two_way();
                        c.settings.mode = mode;
                        c.settings.conflict = conflict;
                        c.settings.no_delete = no_delete;
                        c.caps.keeps_revisions = keeps_revisions;
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    fn label(&self) -> String {
        format!(
            "{:?}/{:?}/no_delete={}/revisions={}",
            self.settings.mode,
            self.settings.conflict,
            self.settings.no_delete,
            self.caps.keeps_revisions
        )
    }
}

fn plan_of(world: &World, cfg: &Config) -> Plan {
    let ignored = BTreeSet::new();
    plan(&PlanInput {
        local: &world.local,
        remote: &world.remote,
        synced: &world.synced,
        settings: &cfg.settings,
        caps: &cfg.caps,
        host: HOST,
        now_secs: NOW_SECS,
        ignored: &ignored,
    })
}

/// A tiny deterministic generator for batch permutations (splitmix64).
struct Shuffler(u64);

impl Shuffler {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// What running the plans to convergence did.
#[derive(Debug)]
struct Outcome {
    world: World,
    /// Rounds that had something to do.
    rounds: usize,
    /// The plan left after the last round (empty when converged).
    leftover: Plan,
    /// Ops that failed although nothing changed the world under them.
    failures: Vec<String>,
    /// The plans run, for failure messages.
    history: Vec<Plan>,
}

/// Plans and executes until the plan is empty or [`MAX_ROUNDS`] rounds ran. With a
/// shuffler, the ops of each batch (and the staged downloads) run in a random order.
fn converge(mut world: World, cfg: &Config, mut shuffle: Option<Shuffler>) -> Outcome {
    world.keeps_revisions = cfg.caps.keeps_revisions;
    let mut failures = Vec::new();
    let mut history = Vec::new();
    let mut rounds = 0;
    loop {
        let p = plan_of(&world, cfg);
        if p.is_empty() || rounds == MAX_ROUNDS {
            return Outcome {
                world,
                rounds,
                leftover: p,
                failures,
                history,
            };
        }
        rounds += 1;
        for batch in &p.batches {
            let mut ops: Vec<&Op> = batch.ops.iter().collect();
            if let Some(s) = shuffle.as_mut() {
                s.shuffle(&mut ops);
            }
            let mut staged = Vec::new();
            let mut failed = false;
            for op in ops {
                if let Err(e) = world.run(op, &mut staged) {
                    failures.push(format!("round {rounds}: {e} in {op:?}"));
                    failed = true;
                }
            }
            if let Some(s) = shuffle.as_mut() {
                s.shuffle(&mut staged);
            }
            for s in staged {
                if let Err(e) = world.install(s) {
                    failures.push(format!("round {rounds}: install: {e}"));
                    failed = true;
                }
            }
            // As the engine: a batch that dropped an op ends the round; plan again.
            if failed {
                break;
            }
        }
        history.push(p);
    }
}

/// Every file content present on either side.
fn contents(world: &World) -> BTreeSet<String> {
    world
        .local
        .values()
        .chain(world.remote.values())
        .filter_map(|n| n.hash.clone())
        .collect()
}

/// Contents of `before` found nowhere after (not on a side, not in a trash, not a kept
/// revision), leaving out merge-base versions, which a user's edit may replace.
fn lost(before: &World, after: &World) -> Vec<String> {
    let replaceable: BTreeSet<String> = before
        .synced
        .values()
        .flat_map(|s| [s.local.hash.clone(), s.remote.hash.clone()])
        .flatten()
        .collect();
    let mut kept = contents(after);
    kept.extend(after.local_trash.iter().cloned());
    kept.extend(after.remote_trash.iter().cloned());
    kept.extend(after.revisions.iter().cloned());
    contents(before)
        .into_iter()
        .filter(|h| !kept.contains(h) && !replaceable.contains(h))
        .collect()
}

/// Both sides as `path -> (kind, hash)`.
fn listing(tree: &Tree) -> BTreeMap<String, (Kind, Option<String>)> {
    tree.values()
        .map(|n| (n.path.to_string(), (n.kind, n.hash.clone())))
        .collect()
}

/// Everything the final state is judged on, without the ids (which depend on the order
/// in which the model handed them out).
fn snapshot(w: &World) -> String {
    let synced: BTreeMap<String, (String, Option<String>, String, Option<String>)> = w
        .synced
        .iter()
        .map(|(k, s)| {
            (
                k.to_string(),
                (
                    s.local.path.to_string(),
                    s.local.hash.clone(),
                    s.remote.path.to_string(),
                    s.remote.hash.clone(),
                ),
            )
        })
        .collect();
    let sorted = |v: &Vec<String>| {
        let mut v = v.clone();
        v.sort();
        v
    };
    format!(
        "local {:?}\nremote {:?}\nsynced {:?}\nlocal trash {:?}\nremote trash {:?}\nrevisions {:?}",
        listing(&w.local),
        listing(&w.remote),
        synced,
        sorted(&w.local_trash),
        sorted(&w.remote_trash),
        sorted(&w.revisions)
    )
}

fn describe(before: &World, out: &Outcome) -> String {
    let mut s = format!(
        "before:\n  local  {:?}\n  remote {:?}\n  synced keys {:?}\n",
        listing(&before.local),
        listing(&before.remote),
        before.synced.keys().map(|k| k.as_str()).collect::<Vec<_>>()
    );
    for (i, p) in out.history.iter().enumerate() {
        s.push_str(&format!("plan {}:\n", i + 1));
        for (b, batch) in p.batches.iter().enumerate() {
            for op in &batch.ops {
                s.push_str(&format!("  [{b}] {}\n", short(op)));
            }
        }
    }
    s.push_str(&format!(
        "after:\n  local  {:?}\n  remote {:?}\n",
        listing(&out.world.local),
        listing(&out.world.remote)
    ));
    s
}

fn short(op: &Op) -> String {
    match op {
        Op::MakeDir { side, path, .. } => format!("mkdir {side} {path}"),
        Op::Upload {
            local,
            remote_path,
            replaces,
            ..
        } => format!(
            "upload {} -> {remote_path}{}",
            local.path,
            if replaces.is_some() { " (replace)" } else { "" }
        ),
        Op::Download {
            remote,
            local_path,
            replaces,
            ..
        } => format!(
            "download {} -> {local_path}{}",
            remote.path,
            if replaces.is_some() { " (replace)" } else { "" }
        ),
        Op::Delete { side, node, .. } => format!("delete {side} {} ({:?})", node.path, node.kind),
        Op::Move {
            side,
            node,
            to_path,
            reason,
            ..
        } => format!("move {side} {} -> {to_path} ({reason:?})", node.path),
        Op::Record { key, .. } => format!("record {key}"),
        Op::Forget { key } => format!("forget {key}"),
        Op::Conflict {
            key, resolution, ..
        } => format!("conflict {key}: {resolution:?}"),
    }
}

/// Property (a) for one config: converged, no failed op, and (two-way, deleting) both
/// sides equal.
fn check_converges(before: &World, cfg: &Config) -> Result<Outcome, TestCaseError> {
    let out = converge(before.clone(), cfg, None);
    let label = cfg.label();
    prop_assert!(
        out.leftover.is_empty(),
        "[{label}] no convergence after {MAX_ROUNDS} rounds; left: {:?}\n{}",
        out.leftover.ops().map(short).collect::<Vec<_>>(),
        describe(before, &out)
    );
    prop_assert!(
        out.failures.is_empty(),
        "[{label}] ops failed in a static world: {:?}\n{}",
        out.failures,
        describe(before, &out)
    );
    if cfg.settings.mode == Mode::TwoWay && !cfg.settings.no_delete {
        prop_assert_eq!(
            listing(&out.world.local),
            listing(&out.world.remote),
            "[{}] sides differ after convergence\n{}",
            label,
            describe(before, &out)
        );
    }
    Ok(out)
}

/// Property (c) for one config.
fn check_nothing_lost(before: &World, out: &Outcome, cfg: &Config) -> Result<(), TestCaseError> {
    let gone = lost(before, &out.world);
    prop_assert!(
        gone.is_empty(),
        "[{}] contents lost: {:?}\n{}",
        cfg.label(),
        gone,
        describe(before, out)
    );
    Ok(())
}

/// Contents a user edited on one side while the other side deleted that file.
fn edited_and_deleted(w: &World) -> Vec<String> {
    let mut out = Vec::new();
    for s in w.synced.values() {
        if s.kind() != Kind::File {
            continue;
        }
        for (editor, deleter) in [(Side::Local, Side::Remote), (Side::Remote, Side::Local)] {
            let tree = |side| match side {
                Side::Local => &w.local,
                Side::Remote => &w.remote,
            };
            let by_id = |side: Side| {
                tree(side)
                    .values()
                    .find(|n| n.id.is_some() && n.id == s.side(side).id)
            };
            let (Some(edited), None) = (by_id(editor), by_id(deleter)) else {
                continue;
            };
            if edited.kind == Kind::File && edited.hash != s.side(editor).hash {
                out.extend(edited.hash.clone());
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 20_000,
        // Integration tests have no lib.rs to keep a regressions file beside; a failure
        // prints its minimal case instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// (a) After executing the plans the next plan is empty (within a few rounds), no op
    /// fails, and both sides hold the same tree.
    #[test]
    fn plans_converge(case in case()) {
        let before = build(&case);
        check_converges(&before, &Config::default_two_way())?;
    }

    /// (b) The ops of a batch commute: a random order gives the same trees.
    #[test]
    fn batch_order_does_not_matter(case in case()) {
        let before = build(&case);
        let cfg = Config::default_two_way();
        let straight = converge(before.clone(), &cfg, None);
        let mut shuffler = Shuffler(case.shuffle);
        for _ in 0..3 {
            let shuffled = converge(before.clone(), &cfg, Some(Shuffler(shuffler.next())));
            prop_assert_eq!(
                snapshot(&straight.world),
                snapshot(&shuffled.world),
                "a shuffled batch order changed the result\nin order:\n{}\nshuffled:\n{}",
                describe(&before, &straight),
                describe(&before, &shuffled)
            );
            prop_assert!(shuffled.failures.is_empty(), "shuffled ops failed: {:?}\n{}",
                shuffled.failures, describe(&before, &shuffled));
        }
    }

    /// (c) No file content is lost: each is still on a side, in a trash, or a kept revision,
    /// unless it is a merge-base version a user replaced.
    #[test]
    fn no_content_is_lost(case in case()) {
        let before = build(&case);
        let cfg = Config::default_two_way();
        let out = converge(before.clone(), &cfg, None);
        check_nothing_lost(&before, &out, &cfg)?;
    }

    /// (d) A file edited on one side and deleted on the other ends with the edit on both.
    #[test]
    fn an_edit_beats_a_delete(case in case()) {
        let before = build(&case);
        let cfg = Config::default_two_way();
        let out = converge(before.clone(), &cfg, None);
        for h in edited_and_deleted(&before) {
            let on = |t: &Tree| t.values().any(|n| n.hash.as_ref() == Some(&h));
            prop_assert!(
                on(&out.world.local) && on(&out.world.remote),
                "edited content {} lost its delete-vs-edit race (local: {}, remote: {})\n{}",
                h, on(&out.world.local), on(&out.world.remote), describe(&before, &out)
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 20_000,
        // Integration tests have no lib.rs to keep a regressions file beside; a failure
        // prints its minimal case instead.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// (a) under every mode, conflict policy, delete policy and revision capability.
    #[test]
    fn plans_converge_under_every_setting(case in case()) {
        let before = build(&case);
        for cfg in Config::all() {
            check_converges(&before, &cfg)?;
        }
    }

    /// (c) under every mode, conflict policy, delete policy and revision capability.
    #[test]
    fn no_content_is_lost_under_every_setting(case in case()) {
        let before = build(&case);
        for cfg in Config::all() {
            let out = converge(before.clone(), &cfg, None);
            check_nothing_lost(&before, &out, &cfg)?;
        }
    }
}

/// The generator is not degenerate: over a fixed set of cases, plans hold every kind of op
/// (and lost databases and multi-round cases occur), so the properties above test them.
#[test]
fn generated_cases_exercise_every_op_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = case();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..2_000 {
        let case = strategy
            .new_tree(&mut runner)
            .expect("the strategy always generates")
            .current();
        let before = build(&case);
        if case.lost_db {
            *seen.entry("lost database".into()).or_default() += 1;
        }
        let out = converge(before, &Config::default_two_way(), None);
        if out.rounds > 1 {
            *seen.entry("multi-round".into()).or_default() += 1;
        }
        for op in out.history.iter().flat_map(|p| p.ops()) {
            let kind = match op {
                Op::MakeDir { side, .. } => format!("mkdir {side}"),
                Op::Upload { replaces, .. } => {
                    format!("upload (replacing: {})", replaces.is_some())
                }
                Op::Download { replaces, .. } => {
                    format!("download (replacing: {})", replaces.is_some())
                }
                Op::Delete { side, node, .. } => format!("delete {side} {:?}", node.kind),
                Op::Move { side, reason, .. } => format!("move {side} {reason:?}"),
                Op::Record { .. } => "record".into(),
                Op::Forget { .. } => "forget".into(),
                Op::Conflict { resolution, .. } => match resolution {
                    Resolution::OverwriteRemote => "conflict overwrite-remote".into(),
                    Resolution::RemoteToCopy { .. } => "conflict remote-to-copy".into(),
                    Resolution::LocalToCopy { .. } => "conflict local-to-copy".into(),
                    Resolution::LocalToTrash => "conflict local-to-trash".into(),
                },
            };
            *seen.entry(kind).or_default() += 1;
        }
    }
    println!("op kinds over 2,000 generated cases: {seen:#?}");
    for kind in [
        "lost database",
        "multi-round",
        "mkdir local",
        "mkdir remote",
        "upload (replacing: true)",
        "upload (replacing: false)",
        "download (replacing: true)",
        "download (replacing: false)",
        "delete local File",
        "delete local Dir",
        "delete remote File",
        "delete remote Dir",
        "move local Mirror",
        "move remote Mirror",
        "move local TailCharacter",
        "move remote TailCharacter",
        "move local KindConflict",
        "move remote KindConflict",
        "record",
        "forget",
        "conflict remote-to-copy",
    ] {
        assert!(
            seen.get(kind).is_some_and(|n| *n > 0),
            "no {kind:?} in {seen:#?}"
        );
    }
}
