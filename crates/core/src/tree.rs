//! The three trees: what each side has (`Tree`) and the last agreed state (`SyncedTree`).
//!
//! Trees are keyed by [`RelPath::key`] (NFC), so a file spelled in NFD on one side and NFC
//! on the other is one entry; each [`Node`] keeps the path as spelled on its own side.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::path::RelPath;

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
}

/// One side of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The local sync root.
    Local,
    /// The remote folder.
    Remote,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Local => "local",
            Side::Remote => "remote",
        })
    }
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::Local => Side::Remote,
            Side::Remote => Side::Local,
        }
    }
}

/// One entry as observed on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// The path as spelled on this side.
    pub path: RelPath,
    /// File or folder.
    pub kind: Kind,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch (0 when unknown).
    pub mtime_ns: i64,
    /// Content hash as `kind:hex` (for example `sha256:...`); `None` for folders or unknown.
    pub hash: Option<String>,
    /// Stable identity on this side (local: `dev:inode`; remote: the provider's id).
    pub id: Option<String>,
    /// The provider's revision or ETag, when it has one.
    pub rev: Option<String>,
}

impl Node {
    /// A folder node with no metadata beyond its path and id.
    pub fn dir(path: RelPath, id: Option<String>) -> Node {
        Node {
            path,
            kind: Kind::Dir,
            size: 0,
            mtime_ns: 0,
            hash: None,
            id,
            rev: None,
        }
    }

    /// True for a folder.
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// True when `self` is the same version as `synced` (the node recorded on the same side
    /// at the last sync): same kind, and for files the same revision, else the same hash,
    /// else the same size and mtime.
    pub fn same_version(&self, synced: &Node) -> bool {
        if self.kind != synced.kind {
            return false;
        }
        if self.kind == Kind::Dir {
            return true;
        }
        if let (Some(a), Some(b)) = (&self.rev, &synced.rev) {
            return a == b;
        }
        if let (Some(a), Some(b)) = (&self.hash, &synced.hash) {
            return a == b;
        }
        self.size == synced.size && self.mtime_ns == synced.mtime_ns
    }

    /// True when `self` and `other` (usually from different sides) are known to hold the
    /// same content: both folders, or both files with equal hashes of the same kind.
    pub fn same_content(&self, other: &Node) -> bool {
        match (self.kind, other.kind) {
            (Kind::Dir, Kind::Dir) => true,
            (Kind::File, Kind::File) => match (&self.hash, &other.hash) {
                (Some(a), Some(b)) => self.size == other.size && a == b,
                _ => false,
            },
            _ => false,
        }
    }
}

/// The state both sides agreed on at the last sync of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncedNode {
    /// What the local side had.
    pub local: Node,
    /// What the remote side had.
    pub remote: Node,
}

impl SyncedNode {
    /// The node recorded for `side`.
    pub fn side(&self, side: Side) -> &Node {
        match side {
            Side::Local => &self.local,
            Side::Remote => &self.remote,
        }
    }

    /// The kind (both sides agree on it by construction).
    pub fn kind(&self) -> Kind {
        self.local.kind
    }
}

/// What one side has, keyed by [`RelPath::key`].
pub type Tree = BTreeMap<RelPath, Node>;

/// The merge base, keyed by [`RelPath::key`].
pub type SyncedTree = BTreeMap<RelPath, SyncedNode>;

/// Builds a keyed tree from nodes (later nodes with the same key replace earlier ones).
pub fn tree_from(nodes: impl IntoIterator<Item = Node>) -> Tree {
    nodes.into_iter().map(|n| (n.path.key(), n)).collect()
}

/// The entries strictly below `dir` in a map keyed by paths.
pub fn descendants<'a, V>(
    map: &'a BTreeMap<RelPath, V>,
    dir: &RelPath,
) -> impl Iterator<Item = (&'a RelPath, &'a V)> + 'a {
    use std::ops::Bound;
    let lo = format!("{}/", dir.as_str());
    let hi = format!("{}0", dir.as_str());
    map.range::<str, _>((Bound::Excluded(lo.as_str()), Bound::Excluded(hi.as_str())))
}

/// Moves the entry at `from` and everything below it to `to`, calling `rewrite` on each
/// moved value with its new key.
pub fn move_subtree<V>(
    map: &mut BTreeMap<RelPath, V>,
    from: &RelPath,
    to: &RelPath,
    mut rewrite: impl FnMut(&RelPath, &mut V),
) {
    let mut keys: Vec<RelPath> = descendants(map, from).map(|(k, _)| k.clone()).collect();
    if map.contains_key(from) {
        keys.push(from.clone());
    }
    let mut moved = Vec::with_capacity(keys.len());
    for k in keys {
        if let (Some(mut v), Some(nk)) = (map.remove(&k), k.rebase(from, to)) {
            rewrite(&nk, &mut v);
            moved.push((nk, v));
        }
    }
    map.extend(moved);
}

/// Removes the entry at `key` and everything below it.
pub fn remove_subtree<V>(map: &mut BTreeMap<RelPath, V>, key: &RelPath) {
    let keys: Vec<RelPath> = descendants(map, key).map(|(k, _)| k.clone()).collect();
    for k in keys {
        map.remove(&k);
    }
    map.remove(key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid test path")
    }

    #[test]
    fn descendants_are_exactly_the_subtree() {
        let mut m = BTreeMap::new();
        for k in ["a", "a b", "a.txt", "a/x", "a/y/z", "ab", "b"] {
            m.insert(p(k), ());
        }
        let d: Vec<&str> = descendants(&m, &p("a")).map(|(k, _)| k.as_str()).collect();
        assert_eq!(d, ["a/x", "a/y/z"]);
        move_subtree(&mut m, &p("a"), &p("q/r"), |_, _| {});
        let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, ["a b", "a.txt", "ab", "b", "q/r", "q/r/x", "q/r/y/z"]);
        remove_subtree(&mut m, &p("q/r"));
        assert_eq!(m.len(), 4);
    }
}
