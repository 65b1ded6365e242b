//! The planner: a pure function from the three trees to a [`Plan`].
//!
//! Per key, each side is compared with the synced tree (the merge base):
//! - changed on one side only: the change is propagated (upload, download, delete, mkdir);
//! - changed on both, same content: the synced tree just advances (`Record`);
//! - changed on both, different content: a conflict, settled by the connection's policy;
//! - deleted on one side, edited on the other: the edit wins and is restored.
//!
//! Moves are found first, by the stable ids the synced tree remembers (local inode, remote
//! id): a folder move is one op, and after it the folder's contents compare as unchanged.
//! Folder deletes are collapsed into one op only when everything below goes too; if
//! anything below must survive (an edit on the other side), the folder is restored instead.
//!
//! The plan's batches are ordered: renames and moves (one per batch), then deletes, then
//! folder creations by depth, then transfers and records. Ops within a batch touch
//! disjoint paths, so they commute.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::capabilities::Capabilities;
use crate::names;
use crate::path::RelPath;
use crate::plan::{Batch, MoveReason, Op, Plan, Resolution};
use crate::settings::{ConflictPolicy, ConnectionSettings, Mode};
use crate::tree::{descendants, move_subtree, remove_subtree, Kind, Node, Side, SyncedNode};
use crate::tree::{SyncedTree, Tree};

/// Everything the planner looks at.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// What the local disk has.
    pub local: &'a Tree,
    /// What the remote has.
    pub remote: &'a Tree,
    /// The merge base.
    pub synced: &'a SyncedTree,
    /// The connection's settings (mode, delete and conflict policies).
    pub settings: &'a ConnectionSettings,
    /// What the remote can do.
    pub caps: &'a Capabilities,
    /// This machine's name (for conflict copies and tail-character renames).
    pub host: &'a str,
    /// Now, in seconds since the Unix epoch (for conflict copy names).
    pub now_secs: i64,
    /// Keys skipped on either side: they and everything below are left alone.
    pub ignored: &'a BTreeSet<RelPath>,
}

/// What the merge decided for one key, before folder deletes are settled.
#[derive(Debug, Clone)]
enum Decision {
    Op(Op),
    /// A file replaced by a folder: delete, then create.
    Ops(Vec<Op>),
    /// Delete a folder on `side` (the deletion came from the other side), then run `then`
    /// (the file that replaced the folder on the other side), if any.
    DeleteDir {
        side: Side,
        node: Node,
        then: Option<Op>,
    },
}

/// Plans the work that brings both sides in agreement.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let mut work = Work::new(input);
    let mut seq: Vec<Op> = Vec::new();
    work.tail_renames(Side::Local, &mut seq);
    work.tail_renames(Side::Remote, &mut seq);
    work.mirror_moves(Side::Local, &mut seq);
    work.mirror_moves(Side::Remote, &mut seq);
    let decisions = work.merge();
    let ops = work.settle_folders(decisions);
    let ops = work.ensure_parents(ops);
    assemble(seq, ops)
}

/// Mutable working copies of the trees; moves are applied to them as they are planned.
struct Work<'a> {
    input: &'a PlanInput<'a>,
    local: Tree,
    remote: Tree,
    synced: SyncedTree,
    /// Conflict copy names handed out in this plan.
    taken: BTreeSet<RelPath>,
    /// Keys renamed by the tail-character rule: they sit out this plan, but a folder
    /// holding one is not deleted as a whole.
    renamed: Vec<RelPath>,
}

impl<'a> Work<'a> {
    fn new(input: &'a PlanInput<'a>) -> Work<'a> {
        let mut local = input.local.clone();
        let mut remote = input.remote.clone();
        let mut synced = input.synced.clone();
        for key in input.ignored {
            remove_subtree(&mut local, key);
            remove_subtree(&mut remote, key);
            remove_subtree(&mut synced, key);
        }
        // An ignored folder hides its subtree; the remove_subtree calls cover that.
        Work {
            input,
            local,
            remote,
            synced,
            taken: BTreeSet::new(),
            renamed: Vec::new(),
        }
    }

    fn tree(&self, side: Side) -> &Tree {
        match side {
            Side::Local => &self.local,
            Side::Remote => &self.remote,
        }
    }

    fn tree_mut(&mut self, side: Side) -> &mut Tree {
        match side {
            Side::Local => &mut self.local,
            Side::Remote => &mut self.remote,
        }
    }

    /// Names ending in `.` or a space are renamed on the side where they appear. The
    /// renamed entries sit out this plan; the next scan sees them under their new names.
    fn tail_renames(&mut self, side: Side, seq: &mut Vec<Op>) {
        let candidates: Vec<(RelPath, Node)> = self
            .tree(side)
            .iter()
            .filter(|(_, n)| crate::rules::needs_tail_rename(n.path.name()))
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        let mut renamed: Vec<RelPath> = Vec::new();
        for (key, node) in candidates {
            if renamed.iter().any(|r| key.is_below(r)) {
                continue;
            }
            let Some(new_name) =
                names::tail_character_name(node.path.name(), self.input.host, node.mtime_ns)
            else {
                continue;
            };
            let Ok(mut to_path) = node.path.with_name(&new_name) else {
                continue;
            };
            let mut n = 2;
            while self.exists_anywhere(&to_path.key()) {
                let Ok(p) = node.path.with_name(&format!("{new_name} {n}")) else {
                    break;
                };
                to_path = p;
                n += 1;
            }
            let to_key = to_path.key();
            self.taken.insert(to_key.clone());
            seq.push(Op::Move {
                side,
                from_key: key.clone(),
                to_key,
                node,
                to_path,
                reason: MoveReason::TailCharacter,
            });
            remove_subtree(&mut self.local, &key);
            remove_subtree(&mut self.remote, &key);
            remove_subtree(&mut self.synced, &key);
            renamed.push(key);
        }
        self.renamed.extend(renamed);
    }

    fn exists_anywhere(&self, key: &RelPath) -> bool {
        self.local.contains_key(key)
            || self.remote.contains_key(key)
            || self.synced.contains_key(key)
            || self.taken.contains(key)
    }

    /// Finds entries that `origin` moved (same id at a new key) and plans the same move on
    /// the other side, applying it to the working trees so that the merge after it sees
    /// the moved subtree as unchanged.
    fn mirror_moves(&mut self, origin: Side, seq: &mut Vec<Op>) {
        let target = origin.other();
        if !self.may_change(target) {
            return;
        }
        let by_id: HashMap<&str, &RelPath> = self
            .tree(origin)
            .iter()
            .filter_map(|(k, n)| n.id.as_deref().map(|id| (id, k)))
            .collect();
        let mut candidates: Vec<(RelPath, RelPath)> = Vec::new();
        for (key, s) in &self.synced {
            let Some(id) = s.side(origin).id.as_deref() else {
                continue;
            };
            if self.tree(origin).get(key).and_then(|n| n.id.as_deref()) == Some(id) {
                continue;
            }
            let Some(&dst) = by_id.get(id) else {
                continue;
            };
            let Some(moved) = self.tree(origin).get(dst) else {
                continue;
            };
            if moved.kind != s.kind() || self.synced.contains_key(dst) {
                continue;
            }
            if !plausibly_moved(&self.synced, self.tree(origin), origin, key, dst, moved) {
                continue;
            }
            candidates.push((key.clone(), dst.clone()));
        }
        candidates.sort_by(|a, b| a.0.depth().cmp(&b.0.depth()).then(a.0.cmp(&b.0)));
        let mut applied: Vec<(RelPath, RelPath)> = Vec::new();
        for (src, dst) in candidates {
            let mut src = src;
            for (from, to) in &applied {
                if let Some(r) = src.rebase(from, to) {
                    src = r;
                }
            }
            if src == dst || dst.is_below(&src) {
                continue;
            }
            let Some(s) = self.synced.get(&src).cloned() else {
                continue;
            };
            let Some(there) = self.tree(target).get(&src) else {
                continue;
            };
            // Only an entry the target side has left alone can simply follow the move;
            // anything else falls back to the merge, which never loses content.
            if !there.same_version(s.side(target)) || self.tree(target).contains_key(&dst) {
                continue;
            }
            if descendants(self.tree(target), &dst).next().is_some() {
                continue;
            }
            // A file where the destination needs a folder: the merge settles that clash.
            if dst.ancestors().iter().any(|a| {
                self.tree(target)
                    .get(a)
                    .is_some_and(|n| n.kind != Kind::Dir)
            }) {
                continue;
            }
            let there = there.clone();
            self.make_parents(target, &dst, seq);
            let Some(origin_node) = self.tree(origin).get(&dst).cloned() else {
                continue;
            };
            let to_path = counterpart_path(self.tree(target), &dst, &origin_node.path);
            seq.push(Op::Move {
                side: target,
                from_key: src.clone(),
                to_key: dst.clone(),
                node: there.clone(),
                to_path: to_path.clone(),
                reason: MoveReason::Mirror,
            });
            let old_target_path = there.path.clone();
            move_subtree(self.tree_mut(target), &src, &dst, |_, n| {
                if let Some(p) = n.path.rebase(&old_target_path, &to_path) {
                    n.path = p;
                }
            });
            let origin_path = origin_node.path.clone();
            let old_origin_path = s.side(origin).path.clone();
            move_subtree(&mut self.synced, &src, &dst, |_, sn| {
                let (o, t) = match origin {
                    Side::Local => (&mut sn.local, &mut sn.remote),
                    Side::Remote => (&mut sn.remote, &mut sn.local),
                };
                if let Some(p) = o.path.rebase(&old_origin_path, &origin_path) {
                    o.path = p;
                }
                if let Some(p) = t.path.rebase(&old_target_path, &to_path) {
                    t.path = p;
                }
            });
            if there.kind == Kind::Dir {
                applied.push((src, dst));
            }
        }
    }

    /// Plans folder creations on `side` for the missing ancestors of `key` (which the other
    /// side has), so a move into a new folder can run before the mkdir phase.
    fn make_parents(&mut self, side: Side, key: &RelPath, seq: &mut Vec<Op>) {
        for anc in key.ancestors() {
            if self.tree(side).contains_key(&anc) {
                continue;
            }
            let Some(source) = self.tree(side.other()).get(&anc).cloned() else {
                continue;
            };
            let path = counterpart_path(self.tree(side), &anc, &source.path);
            let made = Node::dir(path.clone(), None);
            seq.push(Op::MakeDir {
                side,
                key: anc.clone(),
                path,
                source: source.clone(),
            });
            self.tree_mut(side).insert(anc.clone(), made.clone());
            let (local, remote) = match side {
                Side::Local => (made, source),
                Side::Remote => (source, made),
            };
            self.synced.insert(anc, SyncedNode { local, remote });
        }
    }

    /// True when the mode lets changes reach `side`.
    fn may_change(&self, side: Side) -> bool {
        matches!(
            (self.input.settings.mode, side),
            (Mode::TwoWay, _)
                | (Mode::UploadOnly, Side::Remote)
                | (Mode::DownloadOnly, Side::Local)
        )
    }

    /// The three-way merge, key by key.
    fn merge(&mut self) -> BTreeMap<RelPath, Decision> {
        // Most keys are unchanged on both sides: find the others by reference first, so a
        // no-op plan of a large tree copies nothing.
        let changed_at = |key: &RelPath| {
            let s = self.synced.get(key);
            changed(self.local.get(key), s.map(|s| &s.local))
                || changed(self.remote.get(key), s.map(|s| &s.remote))
        };
        let keys: BTreeSet<RelPath> = self
            .synced
            .keys()
            .chain(self.local.keys().filter(|k| !self.synced.contains_key(*k)))
            .chain(self.remote.keys().filter(|k| !self.synced.contains_key(*k)))
            .filter(|k| changed_at(k))
            .cloned()
            .collect();
        let mut out = BTreeMap::new();
        for key in keys {
            if let Some(d) = self.decide(&key) {
                out.insert(key, d);
            }
        }
        out
    }

    fn decide(&mut self, key: &RelPath) -> Option<Decision> {
        let l = self.local.get(key).cloned();
        let r = self.remote.get(key).cloned();
        let s = self.synced.get(key).cloned();
        let changed_l = changed(l.as_ref(), s.as_ref().map(|s| &s.local));
        let changed_r = changed(r.as_ref(), s.as_ref().map(|s| &s.remote));
        match (changed_l, changed_r) {
            (false, false) => None,
            (true, false) => self.propagate(key, Side::Local, l, r),
            (false, true) => self.propagate(key, Side::Remote, r, l),
            (true, true) => self.both_changed(key, l, r),
        }
    }

    /// `origin` changed (`now` is what it has), `other` did not (`there` is what it has).
    fn propagate(
        &mut self,
        key: &RelPath,
        origin: Side,
        now: Option<Node>,
        there: Option<Node>,
    ) -> Option<Decision> {
        let target = origin.other();
        if let (Some(n), Some(t)) = (&now, &there) {
            if n.kind != t.kind && (self.input.settings.no_delete || !self.may_change(target)) {
                // The old entry may not be replaced, so file and folder clash for the name.
                let (l, r) = match origin {
                    Side::Local => (n.clone(), t.clone()),
                    Side::Remote => (t.clone(), n.clone()),
                };
                return self.kind_clash(key, l, r);
            }
        }
        if !self.may_change(target) {
            return None;
        }
        match (now, there) {
            (None, None) => Some(Decision::Op(Op::Forget { key: key.clone() })),
            (None, Some(there)) => {
                if self.input.settings.no_delete {
                    return None;
                }
                Some(self.delete(target, key, there))
            }
            (Some(now), there) => {
                if let Some(there) = &there {
                    if there.kind != now.kind {
                        // A kind change replaces the entry: it goes first (delete phase),
                        // then the new one is created.
                        return self.replace(key, origin, now, there.clone());
                    }
                }
                Some(Decision::Op(self.create(key, origin, now, there)))
            }
        }
    }

    fn delete(&self, side: Side, key: &RelPath, node: Node) -> Decision {
        if node.kind == Kind::Dir {
            Decision::DeleteDir {
                side,
                node,
                then: None,
            }
        } else {
            Decision::Op(Op::Delete {
                side,
                key: key.clone(),
                node,
                files: 1,
            })
        }
    }

    /// A kind change on `origin` (file <-> folder) over an unchanged entry on the other
    /// side: the old entry is deleted there (local deletes go to the trash), then the new
    /// one is created.
    fn replace(&mut self, key: &RelPath, origin: Side, now: Node, there: Node) -> Option<Decision> {
        let target = origin.other();
        if self.input.settings.no_delete {
            return None;
        }
        let create = self.create(key, origin, now, None);
        match self.delete(target, key, there) {
            Decision::DeleteDir { side, node, .. } => Some(Decision::DeleteDir {
                side,
                node,
                then: Some(create),
            }),
            Decision::Op(delete) => Some(Decision::Ops(vec![delete, create])),
            other => Some(other),
        }
    }

    /// Creates or overwrites on the side opposite `origin`.
    fn create(&self, key: &RelPath, origin: Side, now: Node, there: Option<Node>) -> Op {
        let target = origin.other();
        let path = counterpart_path(self.tree(target), key, &now.path);
        match (now.kind, origin) {
            (Kind::Dir, _) => Op::MakeDir {
                side: target,
                key: key.clone(),
                path,
                source: now,
            },
            (Kind::File, Side::Local) => Op::Upload {
                key: key.clone(),
                local: now,
                remote_path: there.as_ref().map(|t| t.path.clone()).unwrap_or(path),
                replaces: there,
            },
            (Kind::File, Side::Remote) => Op::Download {
                key: key.clone(),
                remote: now,
                local_path: there.as_ref().map(|t| t.path.clone()).unwrap_or(path),
                replaces: there,
            },
        }
    }

    fn both_changed(
        &mut self,
        key: &RelPath,
        l: Option<Node>,
        r: Option<Node>,
    ) -> Option<Decision> {
        match (l, r) {
            (None, None) => Some(Decision::Op(Op::Forget { key: key.clone() })),
            (None, Some(r)) => self.edit_beats_delete(key, Side::Remote, r),
            (Some(l), None) => self.edit_beats_delete(key, Side::Local, l),
            (Some(l), Some(r)) => {
                if l.same_content(&r) {
                    return Some(Decision::Op(Op::Record {
                        key: key.clone(),
                        local: l,
                        remote: r,
                    }));
                }
                if l.kind != r.kind {
                    return self.kind_clash(key, l, r);
                }
                let resolution = self.resolution(key, &l, &r);
                Some(Decision::Op(Op::Conflict {
                    key: key.clone(),
                    local: l,
                    remote: r,
                    resolution,
                }))
            }
        }
    }

    /// A file on one side where the other has a folder: the file steps aside on its own
    /// side; the folder takes the name.
    fn kind_clash(&mut self, key: &RelPath, l: Node, r: Node) -> Option<Decision> {
        let (side, node, folder) = if l.kind == Kind::File {
            (Side::Local, l, r)
        } else {
            (Side::Remote, r, l)
        };
        let copy = self.copy_key(key);
        let to_path = node.path.with_name(copy.name()).ok()?;
        let mv = Op::Move {
            side,
            from_key: key.clone(),
            to_key: copy,
            node: node.clone(),
            to_path,
            reason: MoveReason::KindConflict,
        };
        Some(Decision::Ops(
            self.folder_after_move(key, side, mv, node, folder),
        ))
    }

    /// One side deleted, the other (`editor`) edited: the edit is restored on the
    /// deleting side.
    fn edit_beats_delete(&mut self, key: &RelPath, editor: Side, node: Node) -> Option<Decision> {
        if cfg!(feature = "break-edit-beats-delete") {
            // Deliberately wrong, for the simulation's self-test only.
            return Some(self.delete(editor, key, node));
        }
        if !self.may_change(editor.other()) {
            return None;
        }
        Some(Decision::Op(self.create(key, editor, node, None)))
    }

    fn resolution(&mut self, key: &RelPath, l: &Node, r: &Node) -> Resolution {
        let settings = self.input.settings;
        match settings.mode {
            Mode::UploadOnly => {
                if self.input.caps.keeps_revisions {
                    return Resolution::OverwriteRemote;
                }
                return Resolution::RemoteToCopy {
                    copy: self.copy_key(key),
                    download_copy: false,
                };
            }
            Mode::DownloadOnly => {
                return Resolution::LocalToCopy {
                    copy: self.copy_key(key),
                    upload_copy: false,
                };
            }
            Mode::TwoWay => {}
        }
        let policy = match settings.conflict {
            ConflictPolicy::NewerWins if l.mtime_ns >= r.mtime_ns => ConflictPolicy::KeepLocal,
            ConflictPolicy::NewerWins => ConflictPolicy::KeepRemote,
            p => p,
        };
        match policy {
            ConflictPolicy::KeepLocal if self.input.caps.keeps_revisions => {
                Resolution::OverwriteRemote
            }
            ConflictPolicy::KeepRemote => Resolution::LocalToTrash,
            ConflictPolicy::KeepBoth => Resolution::LocalToCopy {
                copy: self.copy_key(key),
                upload_copy: true,
            },
            _ => Resolution::RemoteToCopy {
                copy: self.copy_key(key),
                download_copy: true,
            },
        }
    }

    /// A conflicted-copy key next to `key` that no tree has and no other op took.
    fn copy_key(&mut self, key: &RelPath) -> RelPath {
        let taken = |p: &RelPath| {
            let k = p.key();
            self.local.contains_key(&k)
                || self.remote.contains_key(&k)
                || self.synced.contains_key(&k)
                || self.taken.contains(&k)
        };
        let copy = names::conflict_copy_path(key, self.input.host, self.input.now_secs, taken);
        let copy = copy.key();
        self.taken.insert(copy.clone());
        copy
    }

    /// Adds the folders that ops creating entries on a side need there and nothing else
    /// plans: a folder one side deleted is not deleted on the other when `no_delete` or the
    /// mode keeps the deletion from reaching it, and a new entry below it still needs it.
    fn ensure_parents(&self, mut ops: Vec<Op>) -> Vec<Op> {
        let mut made: HashSet<(Side, RelPath)> = ops
            .iter()
            .filter_map(|op| match op {
                Op::MakeDir { side, key, .. } => Some((*side, key.clone())),
                _ => None,
            })
            .collect();
        let mut extra = Vec::new();
        for op in &ops {
            let (side, key) = match op {
                Op::MakeDir { side, key, .. } => (*side, key),
                Op::Upload { key, .. } => (Side::Remote, key),
                Op::Download { key, .. } => (Side::Local, key),
                _ => continue,
            };
            for anc in key.ancestors() {
                if self.tree(side).contains_key(&anc) || made.contains(&(side, anc.clone())) {
                    continue;
                }
                let Some(source) = self.tree(side.other()).get(&anc) else {
                    continue;
                };
                if source.kind != Kind::Dir {
                    continue;
                }
                let path = counterpart_path(self.tree(side), &anc, &source.path);
                made.insert((side, anc.clone()));
                extra.push(Op::MakeDir {
                    side,
                    key: anc,
                    path,
                    source: source.clone(),
                });
            }
        }
        ops.extend(extra);
        ops
    }

    /// The ops of a kind conflict: `mv` moves the file aside on `side`, then the folder the
    /// other side has there is made on `side` in the same plan, so the ops planned below
    /// it (downloads, uploads, folders) find their parent.
    fn folder_after_move(
        &self,
        key: &RelPath,
        side: Side,
        mv: Op,
        file: Node,
        folder: Node,
    ) -> Vec<Op> {
        if !self.may_change(side) {
            return vec![mv];
        }
        let make = Op::MakeDir {
            side,
            key: key.clone(),
            path: file.path,
            source: folder,
        };
        vec![mv, make]
    }

    /// Turns folder deletes into one op per folder when the whole subtree goes, or into a
    /// restore when something below must survive.
    fn settle_folders(&mut self, mut decisions: BTreeMap<RelPath, Decision>) -> Vec<Op> {
        let mut dir_deletes: Vec<RelPath> = decisions
            .iter()
            .filter(|(_, d)| matches!(d, Decision::DeleteDir { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        dir_deletes.sort_by_key(|k| k.depth());
        for key in dir_deletes {
            let Some(Decision::DeleteDir { side, node, then }) = decisions.get(&key).cloned()
            else {
                continue;
            };
            let mut whole = true;
            for (_, d) in descendants(&decisions, &key) {
                match d {
                    Decision::DeleteDir { side: s, .. } if *s == side => {}
                    Decision::Op(Op::Delete { side: s, .. }) if *s == side => {}
                    Decision::Op(Op::Forget { .. }) => {}
                    _ => whole = false,
                }
            }
            // Keys below that neither changed nor are decided still exist on `side`
            // unchanged: the deletion covers them. Ignored (skipped) entries do not.
            let hides_ignored = self
                .input
                .ignored
                .iter()
                .chain(&self.renamed)
                .any(|i| i.is_below(&key));
            if whole && !hides_ignored {
                let below: Vec<RelPath> = descendants(&decisions, &key)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in below {
                    decisions.remove(&k);
                }
                let files = std::iter::once((&key, &node))
                    .chain(descendants(self.tree(side), &key))
                    .filter(|(_, n)| n.kind == Kind::File)
                    .count();
                let delete = Op::Delete {
                    side,
                    key: key.clone(),
                    node,
                    files,
                };
                let ops = match then {
                    Some(create) => vec![delete, create],
                    None => vec![delete],
                };
                decisions.insert(key, Decision::Ops(ops));
            } else if whole && then.is_none() {
                decisions.remove(&key);
            } else if let Some(create) = then {
                // The folder must survive (or holds skipped entries) but the other side put
                // a file in its place: that file steps aside; the next plan restores the
                // folder.
                let origin = side.other();
                let file = match create {
                    Op::Upload { local, .. } => local,
                    Op::Download { remote, .. } => remote,
                    _ => {
                        decisions.remove(&key);
                        continue;
                    }
                };
                let copy = self.copy_key(&key);
                match file.path.with_name(copy.name()) {
                    Ok(to_path) => {
                        let mv = Op::Move {
                            side: origin,
                            from_key: key.clone(),
                            to_key: copy,
                            node: file.clone(),
                            to_path,
                            reason: MoveReason::KindConflict,
                        };
                        let ops = self.folder_after_move(&key, origin, mv, file, node);
                        decisions.insert(key, Decision::Ops(ops));
                    }
                    Err(_) => {
                        decisions.remove(&key);
                    }
                }
            } else {
                // Something below survives, so the folder does too: restore it where it
                // was deleted.
                let origin = side.other();
                let path = counterpart_path(self.tree(origin), &key, &node.path);
                decisions.insert(
                    key.clone(),
                    Decision::Op(Op::MakeDir {
                        side: origin,
                        key,
                        path,
                        source: node,
                    }),
                );
            }
        }
        decisions
            .into_values()
            .flat_map(|d| match d {
                Decision::Op(op) => vec![op],
                Decision::Ops(ops) => ops,
                Decision::DeleteDir { .. } => Vec::new(),
            })
            .collect()
    }
}

/// True when `moved` (at `dst` on `origin`, with the id the synced entry at `key` had there)
/// is that entry moved, not a new one that got its id: file systems give a deleted file's
/// inode number to the next new entry at once. A moved file keeps its content; a moved
/// folder keeps at least one of its synced entries (an empty one cannot be told apart).
fn plausibly_moved(
    synced: &SyncedTree,
    tree: &Tree,
    origin: Side,
    key: &RelPath,
    dst: &RelPath,
    moved: &Node,
) -> bool {
    let Some(s) = synced.get(key) else {
        return false;
    };
    match moved.kind {
        Kind::File => moved.same_version(s.side(origin)),
        Kind::Dir => {
            let ids: HashSet<&str> = descendants(synced, key)
                .filter_map(|(_, sn)| sn.side(origin).id.as_deref())
                .collect();
            ids.is_empty()
                || descendants(tree, dst)
                    .any(|(_, n)| n.id.as_deref().is_some_and(|id| ids.contains(id)))
        }
    }
}

/// True when `now` differs from what the side had at the last sync.
fn changed(now: Option<&Node>, synced: Option<&Node>) -> bool {
    match (now, synced) {
        (None, None) => false,
        (Some(n), Some(s)) => !n.same_version(s),
        _ => true,
    }
}

/// The path an entry gets on the side whose tree is `target`: under the parent as that
/// side spells it (when it has the parent), with the name as the origin spells it.
fn counterpart_path(target: &Tree, key: &RelPath, origin_path: &RelPath) -> RelPath {
    if let Some(parent) = key.parent() {
        if let Some(p) = target.get(&parent) {
            if let Ok(joined) = p.path.join(origin_path.name()) {
                return joined;
            }
        }
    }
    origin_path.clone()
}

/// Orders the ops into batches whose members commute.
fn assemble(seq: Vec<Op>, ops: Vec<Op>) -> Plan {
    let mut batches: Vec<Batch> = seq.into_iter().map(|op| Batch { ops: vec![op] }).collect();
    let mut deletes = Vec::new();
    let mut mkdirs: BTreeMap<usize, Vec<Op>> = BTreeMap::new();
    let mut rest = Vec::new();
    for op in ops {
        match &op {
            Op::Delete { .. } => deletes.push(op),
            Op::MakeDir { key, .. } => mkdirs.entry(key.depth()).or_default().push(op),
            Op::Move { .. } => batches.push(Batch { ops: vec![op] }),
            _ => rest.push(op),
        }
    }
    for group in [deletes] {
        if !group.is_empty() {
            batches.push(Batch { ops: group });
        }
    }
    for (_, group) in mkdirs {
        batches.push(Batch { ops: group });
    }
    if !rest.is_empty() {
        batches.push(Batch { ops: rest });
    }
    Plan { batches }
}

#[cfg(test)]
mod tests;
