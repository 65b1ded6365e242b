//! The three trees of one connection held in memory while it syncs, with the keys that
//! changed since they were last written to the store.
//!
//! The executor applies each op's effects here; once a batch is done, the dirty keys are
//! written in one transaction, so the store never holds half a batch.

use std::collections::BTreeSet;

use cloudsync_core::tree::{descendants, move_subtree};
use cloudsync_core::{Node, RelPath, Side, SyncedNode, SyncedTree, Tree};

use crate::store::{StoreError, StoreTx};

/// A change to the trees caused by one op.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Set a node on a side.
    Put(Side, RelPath, Node),
    /// Remove a node and everything below it on a side.
    Remove(Side, RelPath),
    /// Set a synced node.
    PutSynced(RelPath, SyncedNode),
    /// Remove a synced node and everything below it.
    RemoveSynced(RelPath),
    /// Move a subtree on a side (paths on that side rebased from `from_path` to `to_path`)
    /// and in the synced tree (that side's paths rebased likewise).
    Move {
        /// Side.
        side: Side,
        /// Old key.
        from: RelPath,
        /// New key.
        to: RelPath,
        /// Old path on that side.
        from_path: RelPath,
        /// New path on that side.
        to_path: RelPath,
        /// Also move the synced subtree (false when the move is not yet mirrored).
        synced: bool,
    },
}

/// The trees of one connection plus what changed.
#[derive(Debug, Default, Clone)]
pub struct LiveTrees {
    /// Local tree.
    pub local: Tree,
    /// Remote tree.
    pub remote: Tree,
    /// Synced tree.
    pub synced: SyncedTree,
    /// Entries known to be skipped (side, path), once loaded; used to announce only
    /// newly skipped entries.
    pub skipped: Option<BTreeSet<(Side, String)>>,
    dirty_local: BTreeSet<RelPath>,
    dirty_remote: BTreeSet<RelPath>,
    dirty_synced: BTreeSet<RelPath>,
}

impl LiveTrees {
    /// Wraps trees loaded from the store (nothing dirty).
    pub fn new(local: Tree, remote: Tree, synced: SyncedTree) -> LiveTrees {
        LiveTrees {
            local,
            remote,
            synced,
            ..Default::default()
        }
    }

    fn side_mut(&mut self, side: Side) -> (&mut Tree, &mut BTreeSet<RelPath>) {
        match side {
            Side::Local => (&mut self.local, &mut self.dirty_local),
            Side::Remote => (&mut self.remote, &mut self.dirty_remote),
        }
    }

    /// Replaces a side's tree with a fresh observation, marking the differences dirty.
    pub fn observe(&mut self, side: Side, fresh: Tree) {
        let (tree, dirty) = self.side_mut(side);
        for (k, n) in tree.iter() {
            if fresh.get(k) != Some(n) {
                dirty.insert(k.clone());
            }
        }
        for k in fresh.keys() {
            if !tree.contains_key(k) {
                dirty.insert(k.clone());
            }
        }
        *tree = fresh;
    }

    /// Applies one effect.
    pub fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Put(side, key, node) => {
                let (tree, dirty) = self.side_mut(side);
                tree.insert(key.clone(), node);
                dirty.insert(key);
            }
            Effect::Remove(side, key) => {
                let (tree, dirty) = self.side_mut(side);
                remove_marking(tree, &key, dirty);
            }
            Effect::PutSynced(key, node) => {
                self.synced.insert(key.clone(), node);
                self.dirty_synced.insert(key);
            }
            Effect::RemoveSynced(key) => {
                remove_marking(&mut self.synced, &key, &mut self.dirty_synced);
            }
            Effect::Move {
                side,
                from,
                to,
                from_path,
                to_path,
                synced,
            } => {
                let (tree, dirty) = self.side_mut(side);
                move_marking(tree, &from, &to, dirty, |n: &mut Node| {
                    if let Some(p) = n.path.rebase(&from_path, &to_path) {
                        n.path = p;
                    }
                });
                if synced {
                    move_marking(
                        &mut self.synced,
                        &from,
                        &to,
                        &mut self.dirty_synced,
                        |s: &mut SyncedNode| {
                            let n = match side {
                                Side::Local => &mut s.local,
                                Side::Remote => &mut s.remote,
                            };
                            if let Some(p) = n.path.rebase(&from_path, &to_path) {
                                n.path = p;
                            }
                        },
                    );
                }
            }
        }
    }

    /// True when something awaits writing.
    pub fn is_dirty(&self) -> bool {
        !(self.dirty_local.is_empty()
            && self.dirty_remote.is_empty()
            && self.dirty_synced.is_empty())
    }

    /// Writes the dirty keys inside `tx` and clears the dirty sets.
    ///
    /// # Errors
    /// The store's error (the transaction is then rolled back by the caller).
    pub fn flush(&mut self, tx: &mut StoreTx<'_>, conn: i64) -> Result<(), StoreError> {
        for (side, tree, dirty) in [
            (Side::Local, &self.local, &mut self.dirty_local),
            (Side::Remote, &self.remote, &mut self.dirty_remote),
        ] {
            for key in std::mem::take(dirty) {
                match tree.get(&key) {
                    Some(n) => tx.put_node(conn, side, &key, n)?,
                    None => {
                        tx.remove_node(conn, side, &key)?;
                    }
                }
            }
        }
        for key in std::mem::take(&mut self.dirty_synced) {
            match self.synced.get(&key) {
                Some(s) => tx.put_synced(conn, &key, s)?,
                None => {
                    tx.remove_synced(conn, &key)?;
                }
            }
        }
        Ok(())
    }
}

fn remove_marking<V>(
    map: &mut std::collections::BTreeMap<RelPath, V>,
    key: &RelPath,
    dirty: &mut BTreeSet<RelPath>,
) {
    let below: Vec<RelPath> = descendants(map, key).map(|(k, _)| k.clone()).collect();
    for k in below {
        map.remove(&k);
        dirty.insert(k);
    }
    map.remove(key);
    dirty.insert(key.clone());
}

fn move_marking<V>(
    map: &mut std::collections::BTreeMap<RelPath, V>,
    from: &RelPath,
    to: &RelPath,
    dirty: &mut BTreeSet<RelPath>,
    mut rewrite: impl FnMut(&mut V),
) {
    let mut old: Vec<RelPath> = descendants(map, from).map(|(k, _)| k.clone()).collect();
    old.push(from.clone());
    for k in &old {
        dirty.insert(k.clone());
        if let Some(nk) = k.rebase(from, to) {
            dirty.insert(nk);
        }
    }
    move_subtree(map, from, to, |_, v| rewrite(v));
}
