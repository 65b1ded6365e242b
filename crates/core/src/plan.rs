//! Plans: batches of operations produced by the planner and carried out by the executor.

use serde::{Deserialize, Serialize};

use crate::path::RelPath;
use crate::tree::{Node, Side};

/// How a conflict (both sides changed one file differently) is settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Resolution {
    /// Upload the local version over the remote one; the remote keeps the old one as a
    /// revision.
    OverwriteRemote,
    /// Move the remote version to `copy` on the remote, download it there locally unless
    /// `download_copy` is false (upload-only), then upload the local version to the name.
    RemoteToCopy {
        /// The conflicted-copy path (same on both sides).
        copy: RelPath,
        /// Whether the copy is also brought to the local side.
        download_copy: bool,
    },
    /// Move the local version to `copy` locally, upload it there unless `upload_copy` is
    /// false (download-only), then download the remote version to the name.
    LocalToCopy {
        /// The conflicted-copy path (same on both sides).
        copy: RelPath,
        /// Whether the copy is also sent to the remote side.
        upload_copy: bool,
    },
    /// Move the local version to the local trash, then download the remote version.
    LocalToTrash,
}

/// One operation. Every op names the nodes it expects to find, so the executor can check
/// the world still matches before it changes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    /// Create a folder on `side` at `path` (the other side already has `source`).
    MakeDir {
        /// Where the folder is created.
        side: Side,
        /// Key of the entry.
        key: RelPath,
        /// Path on `side`.
        path: RelPath,
        /// The folder as the other side has it.
        source: Node,
    },
    /// Copy a local file to the remote.
    Upload {
        /// Key of the entry.
        key: RelPath,
        /// The local file as scanned.
        local: Node,
        /// Where it goes on the remote.
        remote_path: RelPath,
        /// The remote file this replaces (conditional write), if any.
        replaces: Option<Node>,
    },
    /// Copy a remote file to the local side.
    Download {
        /// Key of the entry.
        key: RelPath,
        /// The remote file as listed.
        remote: Node,
        /// Where it goes locally.
        local_path: RelPath,
        /// The local file this replaces (re-checked before the swap), if any.
        replaces: Option<Node>,
    },
    /// Delete a file or a whole folder on `side` (locally: to the trash).
    Delete {
        /// Where it is deleted.
        side: Side,
        /// Key of the entry.
        key: RelPath,
        /// The node expected there.
        node: Node,
        /// Files removed, counting a folder's contents (for the mass-delete guard).
        files: usize,
    },
    /// Move or rename on `side`; the subtree of a folder moves with it.
    Move {
        /// Where the move happens.
        side: Side,
        /// Key before.
        from_key: RelPath,
        /// Key after.
        to_key: RelPath,
        /// The node expected at the source.
        node: Node,
        /// Path after the move on `side`.
        to_path: RelPath,
        /// Why: mirror of a move on the other side, or a rename the rules demand.
        reason: MoveReason,
    },
    /// Both sides already agree: record them as synced.
    Record {
        /// Key of the entry.
        key: RelPath,
        /// Local node.
        local: Node,
        /// Remote node.
        remote: Node,
    },
    /// Both sides lost the entry: drop it from the synced tree.
    Forget {
        /// Key of the entry.
        key: RelPath,
    },
    /// Both sides changed a file differently.
    Conflict {
        /// Key of the entry.
        key: RelPath,
        /// Local version.
        local: Node,
        /// Remote version.
        remote: Node,
        /// How it is settled.
        resolution: Resolution,
    },
}

/// Why a move is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MoveReason {
    /// The other side moved the entry.
    Mirror,
    /// The name ends in `.` or a space and is renamed (spec's TailCharacterConflict).
    TailCharacter,
    /// A file stands where the other side has a folder: the file steps aside.
    KindConflict,
}

impl Op {
    /// The key the op is about (the destination key for moves).
    pub fn key(&self) -> &RelPath {
        match self {
            Op::MakeDir { key, .. }
            | Op::Upload { key, .. }
            | Op::Download { key, .. }
            | Op::Delete { key, .. }
            | Op::Record { key, .. }
            | Op::Forget { key }
            | Op::Conflict { key, .. } => key,
            Op::Move { to_key, .. } => to_key,
        }
    }

    /// Every key the op touches: its own, and for a move where it came from too.
    pub fn keys(&self) -> Vec<&RelPath> {
        match self {
            Op::Move {
                from_key, to_key, ..
            } => vec![from_key, to_key],
            _ => vec![self.key()],
        }
    }

    /// True when the op touches `key`, something below it, or a folder above it.
    pub fn touches_tree_of(&self, key: &RelPath) -> bool {
        self.keys()
            .into_iter()
            .any(|k| k == key || k.is_below(key) || key.is_below(k))
    }

    /// True for ops that move file content.
    pub fn is_transfer(&self) -> bool {
        matches!(
            self,
            Op::Upload { .. } | Op::Download { .. } | Op::Conflict { .. }
        )
    }
}

/// Operations that commute: the executor may run them in any order, in parallel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The operations.
    pub ops: Vec<Op>,
}

/// A plan: batches to run one after the other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The batches, in order.
    pub batches: Vec<Batch>,
}

impl Plan {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.batches.iter().all(|b| b.ops.is_empty())
    }

    /// All ops in order.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.batches.iter().flat_map(|b| b.ops.iter())
    }

    /// Number of ops that change something on either side (not `Record`/`Forget`).
    pub fn effective_len(&self) -> usize {
        self.ops()
            .filter(|op| !matches!(op, Op::Record { .. } | Op::Forget { .. }))
            .count()
    }

    /// Files this plan deletes on `side` (folder contents included).
    pub fn deletes_on(&self, side: Side) -> usize {
        self.ops()
            .map(|op| match op {
                Op::Delete { side: s, files, .. } if *s == side => *files,
                _ => 0,
            })
            .sum()
    }
}
