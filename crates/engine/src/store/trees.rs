//! The three trees of each connection: `nodes` holds the Local and Remote trees (one row
//! per side and key), `synced` holds the merge base (both sides' nodes in one row per key).
//!
//! Loads and bulk writes are on the hot path of every sync pass, so every statement is
//! cached and rows are decoded straight from SQLite's buffers. Keys are compared with
//! SQLite's default BINARY collation, which orders UTF-8 text exactly as Rust orders
//! `String`s, so the prefix ranges below agree with [`RelPath::is_within`].

use cloudsync_core::{Kind, Node, RelPath, Side, SyncedNode, SyncedTree, Tree};
use rusqlite::{params, Connection as SqlConn, Row};
use serde::Serialize;

use super::{kind_str, parse_kind, side_str, Result, Store, StoreError, StoreTx};

const NODE_COLUMNS: &str = "key, path, kind, size, mtime_ns, hash, node_id, rev";
const SYNCED_COLUMNS: &str = "key, l_path, l_kind, l_size, l_mtime_ns, l_hash, l_id, l_rev, \
                              r_path, r_kind, r_size, r_mtime_ns, r_hash, r_id, r_rev";

/// SQL matching `key` = the parameter `param` or anything below it. `'0'` is the character
/// after `'/'`, so the range `[k || '/', k || '0')` holds exactly the keys that start with
/// `k/`; `ab` and `a b` fall outside the range of `a`. Both arms can use the primary key.
fn under(param: &str) -> String {
    format!("(key = {param} OR (key >= {param} || '/' AND key < {param} || '0'))")
}

/// File and folder totals of one connection's trees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TreeCounts {
    /// Files in the Local tree.
    pub local_files: u64,
    /// Files in the Remote tree.
    pub remote_files: u64,
    /// Files in the Synced tree.
    pub synced_files: u64,
    /// Folders in the Local tree.
    pub local_dirs: u64,
    /// Folders in the Remote tree.
    pub remote_dirs: u64,
    /// Bytes of the files in the Local tree.
    pub local_bytes: u64,
    /// Bytes of the files in the Remote tree.
    pub remote_bytes: u64,
}

/// Validates a stored path, reusing `key` when the path is spelled like its key (the
/// common case, which saves a validation and an allocation).
fn stored_path(row: &Row<'_>, idx: usize, key: &RelPath) -> Result<RelPath> {
    let s = row
        .get_ref(idx)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("path of {key} is not text: {e}")))?;
    if s == key.as_str() {
        return Ok(key.clone());
    }
    RelPath::new(s).map_err(|e| StoreError::Corrupt(format!("stored path of {key}: {e}")))
}

/// Validates a stored key.
fn stored_key(row: &Row<'_>) -> Result<RelPath> {
    let s = row
        .get_ref(0)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("tree key is not text: {e}")))?;
    RelPath::new(s).map_err(|e| StoreError::Corrupt(format!("stored tree key: {e}")))
}

/// Decodes the seven node columns starting at `at` (path, kind, size, mtime, hash, id, rev).
fn node_at(row: &Row<'_>, at: usize, key: &RelPath) -> Result<Node> {
    let kind = row
        .get_ref(at + 1)?
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("kind of {key} is not text: {e}")))?;
    Ok(Node {
        path: stored_path(row, at, key)?,
        kind: parse_kind(kind)?,
        size: row.get(at + 2)?,
        mtime_ns: row.get(at + 3)?,
        hash: row.get(at + 4)?,
        id: row.get(at + 5)?,
        rev: row.get(at + 6)?,
    })
}

fn read_tree(conn: &SqlConn, conn_id: i64, side: Side) -> Result<Tree> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE conn_id = ?1 AND side = ?2"
    ))?;
    let mut rows = stmt.query(params![conn_id, side_str(side)])?;
    let mut tree = Tree::new();
    while let Some(row) = rows.next()? {
        let key = stored_key(row)?;
        let node = node_at(row, 1, &key)?;
        tree.insert(key, node);
    }
    Ok(tree)
}

fn read_synced(conn: &SqlConn, conn_id: i64) -> Result<SyncedTree> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SYNCED_COLUMNS} FROM synced WHERE conn_id = ?1"
    ))?;
    let mut rows = stmt.query([conn_id])?;
    let mut tree = SyncedTree::new();
    while let Some(row) = rows.next()? {
        let key = stored_key(row)?;
        let local = node_at(row, 1, &key)?;
        let remote = node_at(row, 8, &key)?;
        tree.insert(key, SyncedNode { local, remote });
    }
    Ok(tree)
}

fn read_node(conn: &SqlConn, conn_id: i64, side: Side, key: &RelPath) -> Result<Option<Node>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {NODE_COLUMNS} FROM nodes WHERE conn_id = ?1 AND side = ?2 AND key = ?3"
    ))?;
    let mut rows = stmt.query(params![conn_id, side_str(side), key.as_str()])?;
    match rows.next()? {
        Some(row) => Ok(Some(node_at(row, 1, key)?)),
        None => Ok(None),
    }
}

fn read_synced_node(conn: &SqlConn, conn_id: i64, key: &RelPath) -> Result<Option<SyncedNode>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SYNCED_COLUMNS} FROM synced WHERE conn_id = ?1 AND key = ?2"
    ))?;
    let mut rows = stmt.query(params![conn_id, key.as_str()])?;
    match rows.next()? {
        Some(row) => Ok(Some(SyncedNode {
            local: node_at(row, 1, key)?,
            remote: node_at(row, 8, key)?,
        })),
        None => Ok(None),
    }
}

impl Store {
    /// The Local or Remote tree of connection `conn`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a stored path or kind is invalid.
    pub fn load_tree(&self, conn: i64, side: Side) -> Result<Tree> {
        read_tree(&self.conn, conn, side)
    }

    /// The Synced tree (merge base) of connection `conn`.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a stored path or kind is invalid.
    pub fn load_synced(&self, conn: i64) -> Result<SyncedTree> {
        read_synced(&self.conn, conn)
    }

    /// One node of the Local or Remote tree.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored row is invalid.
    pub fn node(&self, conn: i64, side: Side, key: &RelPath) -> Result<Option<Node>> {
        read_node(&self.conn, conn, side, key)
    }

    /// One entry of the Synced tree.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored row is invalid.
    pub fn synced_node(&self, conn: i64, key: &RelPath) -> Result<Option<SyncedNode>> {
        read_synced_node(&self.conn, conn, key)
    }

    /// File and folder totals of connection `conn` (files are `kind = 'file'`).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn counts(&self, conn: i64) -> Result<TreeCounts> {
        let mut counts = TreeCounts::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT side, kind, count(*), coalesce(sum(size), 0) FROM nodes
             WHERE conn_id = ?1 GROUP BY side, kind",
        )?;
        let mut rows = stmt.query([conn])?;
        while let Some(row) = rows.next()? {
            let side: String = row.get(0)?;
            let kind: String = row.get(1)?;
            let n: u64 = row.get(2)?;
            let bytes: u64 = row.get(3)?;
            match (super::parse_side(&side)?, parse_kind(&kind)?) {
                (Side::Local, Kind::File) => {
                    counts.local_files = n;
                    counts.local_bytes = bytes;
                }
                (Side::Remote, Kind::File) => {
                    counts.remote_files = n;
                    counts.remote_bytes = bytes;
                }
                (Side::Local, Kind::Dir) => counts.local_dirs = n,
                (Side::Remote, Kind::Dir) => counts.remote_dirs = n,
            }
        }
        counts.synced_files = self
            .conn
            .prepare_cached("SELECT count(*) FROM synced WHERE conn_id = ?1 AND l_kind = 'file'")?
            .query_row([conn], |r| r.get(0))?;
        Ok(counts)
    }
}

impl StoreTx<'_> {
    /// The Local or Remote tree, read inside this transaction.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a stored path or kind is invalid.
    pub fn load_tree(&self, conn: i64, side: Side) -> Result<Tree> {
        read_tree(self.conn(), conn, side)
    }

    /// The Synced tree, read inside this transaction.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a stored path or kind is invalid.
    pub fn load_synced(&self, conn: i64) -> Result<SyncedTree> {
        read_synced(self.conn(), conn)
    }

    /// One node of the Local or Remote tree, read inside this transaction.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored row is invalid.
    pub fn node(&self, conn: i64, side: Side, key: &RelPath) -> Result<Option<Node>> {
        read_node(self.conn(), conn, side, key)
    }

    /// One entry of the Synced tree, read inside this transaction.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the stored row is invalid.
    pub fn synced_node(&self, conn: i64, key: &RelPath) -> Result<Option<SyncedNode>> {
        read_synced_node(self.conn(), conn, key)
    }

    /// Inserts or replaces the node at `key` (normally `node.path.key()`) on `side`.
    ///
    /// # Errors
    /// On SQLite errors (a size above `i64::MAX` cannot be stored).
    pub fn put_node(&mut self, conn: i64, side: Side, key: &RelPath, node: &Node) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO nodes
                     (conn_id, side, key, path, kind, size, mtime_ns, hash, node_id, rev)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                conn,
                side_str(side),
                key.as_str(),
                node.path.as_str(),
                kind_str(node.kind),
                node.size,
                node.mtime_ns,
                node.hash,
                node.id,
                node.rev,
            ])?;
        Ok(())
    }

    /// Removes the node at `key` on `side`; returns whether there was one.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn remove_node(&mut self, conn: i64, side: Side, key: &RelPath) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM nodes WHERE conn_id = ?1 AND side = ?2 AND key = ?3")?
            .execute(params![conn, side_str(side), key.as_str()])?;
        Ok(n > 0)
    }

    /// Removes the node at `key` on `side` and every node below it (not siblings such as
    /// `key.txt` or `key b`); returns how many rows went.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn remove_nodes_under(&mut self, conn: i64, side: Side, key: &RelPath) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "DELETE FROM nodes WHERE conn_id = ?1 AND side = ?2 AND {}",
                under("?3")
            ))?
            .execute(params![conn, side_str(side), key.as_str()])?)
    }

    /// Inserts or replaces the Synced entry at `key`.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn put_synced(&mut self, conn: i64, key: &RelPath, synced: &SyncedNode) -> Result<()> {
        let (l, r) = (&synced.local, &synced.remote);
        self.tx
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO synced (conn_id, {SYNCED_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?
            .execute(params![
                conn,
                key.as_str(),
                l.path.as_str(),
                kind_str(l.kind),
                l.size,
                l.mtime_ns,
                l.hash,
                l.id,
                l.rev,
                r.path.as_str(),
                kind_str(r.kind),
                r.size,
                r.mtime_ns,
                r.hash,
                r.id,
                r.rev,
            ])?;
        Ok(())
    }

    /// Removes the Synced entry at `key`; returns whether there was one.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn remove_synced(&mut self, conn: i64, key: &RelPath) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached("DELETE FROM synced WHERE conn_id = ?1 AND key = ?2")?
            .execute(params![conn, key.as_str()])?;
        Ok(n > 0)
    }

    /// Removes the Synced entry at `key` and every entry below it; returns how many went.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn remove_synced_under(&mut self, conn: i64, key: &RelPath) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached(&format!(
                "DELETE FROM synced WHERE conn_id = ?1 AND {}",
                under("?2")
            ))?
            .execute(params![conn, key.as_str()])?)
    }

    /// Makes the stored `side` tree equal to `tree`, writing only the rows that differ
    /// (a rescan usually changes a handful of nodes out of thousands).
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] when the stored tree is unreadable.
    pub fn replace_tree(&mut self, conn: i64, side: Side, tree: &Tree) -> Result<()> {
        let old = read_tree(self.conn(), conn, side)?;
        if tree.is_empty() {
            self.tx
                .prepare_cached("DELETE FROM nodes WHERE conn_id = ?1 AND side = ?2")?
                .execute(params![conn, side_str(side)])?;
            return Ok(());
        }
        for key in old.keys().filter(|k| !tree.contains_key(*k)) {
            self.remove_node(conn, side, key)?;
        }
        for (key, node) in tree {
            if old.get(key) != Some(node) {
                self.put_node(conn, side, key, node)?;
            }
        }
        Ok(())
    }

    /// Makes the stored Synced tree equal to `tree`, writing only the rows that differ.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] when the stored tree is unreadable.
    pub fn replace_synced(&mut self, conn: i64, tree: &SyncedTree) -> Result<()> {
        let old = read_synced(self.conn(), conn)?;
        for key in old.keys().filter(|k| !tree.contains_key(*k)) {
            self.remove_synced(conn, key)?;
        }
        for (key, node) in tree {
            if old.get(key) != Some(node) {
                self.put_synced(conn, key, node)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::test_util::{add_conn, temp_store};
    use super::*;

    fn p(s: &str) -> RelPath {
        RelPath::new(s).expect("valid path")
    }

    fn file(path: &str, size: u64) -> Node {
        Node {
            path: p(path),
            kind: Kind::File,
            size,
            mtime_ns: 1_700_000_000_123_456_789,
            hash: Some(format!("sha256:{size:064x}")),
            id: Some(format!("id-{path}")),
            rev: Some("r1".into()),
        }
    }

    fn dir(path: &str) -> Node {
        Node::dir(p(path), None)
    }

    fn big_tree(n: usize) -> Tree {
        let mut tree = Tree::new();
        for d in 0..n / 100 {
            let dname = format!("folder {d:03}");
            tree.insert(p(&dname), dir(&dname));
            for f in 0..99 {
                let path = format!("{dname}/file-{f:02}.dat");
                tree.insert(p(&path), file(&path, (d * 100 + f) as u64));
            }
        }
        tree
    }

    #[test]
    fn node_round_trip_and_point_ops() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let nfd = Node {
            path: p("cafe\u{301}.txt"),
            kind: Kind::File,
            size: u64::try_from(i64::MAX).expect("fits"),
            mtime_ns: -5,
            hash: None,
            id: None,
            rev: None,
        };
        let key = nfd.path.key();
        store
            .write(|tx| {
                tx.put_node(c, Side::Local, &key, &nfd)?;
                tx.put_node(c, Side::Remote, &p("d"), &dir("d"))
            })
            .expect("write");
        let local = store.load_tree(c, Side::Local).expect("load");
        assert_eq!(local.len(), 1);
        assert_eq!(local.get(&key), Some(&nfd));
        assert_eq!(store.node(c, Side::Local, &key).expect("node"), Some(nfd));
        assert_eq!(
            store.load_tree(c, Side::Remote).expect("load").get(&p("d")),
            Some(&dir("d"))
        );
        let removed = store
            .write(|tx| tx.remove_node(c, Side::Local, &key))
            .expect("remove");
        assert!(removed);
        assert!(store.load_tree(c, Side::Local).expect("load").is_empty());
        assert!(store.node(c, Side::Local, &key).expect("node").is_none());
    }

    #[test]
    fn remove_under_only_takes_the_subtree() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let names = [
            "a", "a/b", "a/b/c", "ab", "a b", "a.txt", "a0", "b", "a-", "a/",
        ];
        let names: Vec<&str> = names
            .into_iter()
            .filter(|n| RelPath::new(*n).is_ok())
            .collect();
        store
            .write(|tx| {
                for n in &names {
                    tx.put_node(c, Side::Local, &p(n), &dir(n))?;
                    tx.put_node(c, Side::Remote, &p(n), &dir(n))?;
                    tx.put_synced(
                        c,
                        &p(n),
                        &SyncedNode {
                            local: dir(n),
                            remote: dir(n),
                        },
                    )?;
                }
                Ok(())
            })
            .expect("fill");
        let (nodes, synced) = store
            .write(|tx| {
                Ok((
                    tx.remove_nodes_under(c, Side::Local, &p("a"))?,
                    tx.remove_synced_under(c, &p("a/b"))?,
                ))
            })
            .expect("remove");
        assert_eq!(nodes, 3);
        assert_eq!(synced, 2);
        let left: Vec<String> = store
            .load_tree(c, Side::Local)
            .expect("load")
            .keys()
            .map(ToString::to_string)
            .collect();
        assert_eq!(left, ["a b", "a-", "a.txt", "a0", "ab", "b"]);
        // The other side is untouched.
        assert_eq!(
            store.load_tree(c, Side::Remote).expect("load").len(),
            names.len()
        );
        let left: Vec<String> = store
            .load_synced(c)
            .expect("load")
            .keys()
            .map(ToString::to_string)
            .collect();
        assert_eq!(left, ["a", "a b", "a-", "a.txt", "a0", "ab", "b"]);
    }

    #[test]
    fn synced_round_trip() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let entry = SyncedNode {
            local: Node {
                id: Some("64769:1234".into()),
                rev: None,
                ..file("x/y.txt", 10)
            },
            remote: Node {
                path: p("X/y.txt"),
                ..file("x/y.txt", 10)
            },
        };
        let key = p("x/y.txt");
        store
            .write(|tx| tx.put_synced(c, &key, &entry))
            .expect("write");
        let synced = store.load_synced(c).expect("load");
        assert_eq!(synced.get(&key), Some(&entry));
        assert_eq!(
            store.synced_node(c, &key).expect("read"),
            Some(entry.clone())
        );
        let mut tree = SyncedTree::new();
        tree.insert(
            p("z"),
            SyncedNode {
                local: dir("z"),
                remote: dir("z"),
            },
        );
        store
            .write(|tx| tx.replace_synced(c, &tree))
            .expect("replace");
        assert_eq!(store.load_synced(c).expect("load"), tree);
        assert!(store
            .write(|tx| tx.remove_synced(c, &p("z")))
            .expect("remove"));
        assert!(store.load_synced(c).expect("load").is_empty());
    }

    #[test]
    fn counts_files_only() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let mut local = big_tree(300);
        local.remove(&p("folder 000/file-00.dat"));
        let remote = big_tree(200);
        store
            .write(|tx| {
                tx.replace_tree(c, Side::Local, &local)?;
                tx.replace_tree(c, Side::Remote, &remote)?;
                tx.put_synced(
                    c,
                    &p("folder 000/file-01.dat"),
                    &SyncedNode {
                        local: file("folder 000/file-01.dat", 1),
                        remote: file("folder 000/file-01.dat", 1),
                    },
                )?;
                tx.put_synced(
                    c,
                    &p("d"),
                    &SyncedNode {
                        local: dir("d"),
                        remote: dir("d"),
                    },
                )
            })
            .expect("write");
        let counts = store.counts(c).expect("counts");
        assert_eq!(counts.local_files, 3 * 99 - 1);
        assert_eq!(counts.remote_files, 2 * 99);
        assert_eq!(counts.synced_files, 1);
        assert_eq!(counts.local_dirs, 3);
        assert_eq!(counts.remote_dirs, 2);
        let remote_bytes: u64 = remote.values().map(|n| n.size).sum();
        assert_eq!(counts.remote_bytes, remote_bytes);
    }

    #[test]
    fn replace_tree_10k_round_trip() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let tree = big_tree(10_000);
        assert_eq!(tree.len(), 10_000);

        let start = Instant::now();
        store
            .write(|tx| tx.replace_tree(c, Side::Remote, &tree))
            .expect("replace");
        let written = start.elapsed();
        let start = Instant::now();
        let loaded = store.load_tree(c, Side::Remote).expect("load");
        let read = start.elapsed();
        eprintln!("10k nodes: replace_tree {written:?}, load_tree {read:?}");
        assert_eq!(loaded, tree);

        // A second replace writes only the difference: one changed, one gone, one new.
        let mut next = tree.clone();
        next.remove(&p("folder 007/file-00.dat"));
        if let Some(n) = next.get_mut(&p("folder 008/file-00.dat")) {
            n.size = 1;
            n.rev = Some("r2".into());
        }
        next.insert(p("new.txt"), file("new.txt", 3));
        store
            .write(|tx| tx.replace_tree(c, Side::Remote, &next))
            .expect("replace again");
        assert_eq!(store.load_tree(c, Side::Remote).expect("load"), next);

        store
            .write(|tx| tx.replace_tree(c, Side::Remote, &Tree::new()))
            .expect("clear");
        assert!(store.load_tree(c, Side::Remote).expect("load").is_empty());
    }

    #[test]
    fn load_30k_both_trees() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let tree = big_tree(30_000);
        let synced: SyncedTree = tree
            .iter()
            .map(|(k, n)| {
                let entry = SyncedNode {
                    local: n.clone(),
                    remote: n.clone(),
                };
                (k.clone(), entry)
            })
            .collect();
        store
            .write(|tx| {
                tx.replace_tree(c, Side::Local, &tree)?;
                tx.replace_synced(c, &synced)
            })
            .expect("write");
        let start = Instant::now();
        let loaded = store.load_tree(c, Side::Local).expect("load");
        let tree_time = start.elapsed();
        let start = Instant::now();
        let loaded_synced = store.load_synced(c).expect("load synced");
        let synced_time = start.elapsed();
        eprintln!("30k rows: load_tree {tree_time:?}, load_synced {synced_time:?}");
        assert_eq!(loaded.len(), 30_000);
        assert_eq!(loaded_synced.len(), 30_000);
    }

    #[test]
    fn invalid_stored_path_is_corrupt() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        store
            .conn
            .execute(
                "INSERT INTO nodes VALUES (?1, 'local', 'ok', '../escape', 'file', 1, 1, NULL,
                     NULL, NULL)",
                [c],
            )
            .expect("raw insert");
        let err = store.load_tree(c, Side::Local).expect_err("bad path");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        store
            .conn
            .execute(
                "UPDATE nodes SET key = '/abs', path = 'ok' WHERE conn_id = ?1",
                [c],
            )
            .expect("raw update");
        let err = store.load_tree(c, Side::Local).expect_err("bad key");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn rows_need_an_existing_connection() {
        let (_dir, mut store) = temp_store();
        let res = store.write(|tx| tx.put_node(42, Side::Local, &p("a"), &dir("a")));
        assert!(res.is_err(), "foreign key not enforced");
    }
}
