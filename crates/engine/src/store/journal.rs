//! The `journal` table: an intent log of work in flight (temp files being written, upload
//! sessions open), written before the work starts and removed in the same transaction
//! that records its result, so a restart can clean up or resume whatever is still listed.

use rusqlite::params;
use serde::Serialize;

use super::{now_ms, Result, Store, StoreError, StoreTx};

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalRow {
    /// Row id.
    pub id: i64,
    /// The connection's id.
    pub conn_id: i64,
    /// What kind of work (for example `temp-file`, `upload-session`).
    pub kind: String,
    /// What the work needs to be cleaned up or resumed.
    pub data: serde_json::Value,
    /// When the entry was written (Unix ms).
    pub created_ms: i64,
}

impl Store {
    /// The journal entries of connection `conn`, oldest first.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] for unreadable JSON.
    pub fn journal(&self, conn: i64) -> Result<Vec<JournalRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, data, created FROM journal WHERE conn_id = ?1 ORDER BY id",
        )?;
        let mut rows = stmt.query([conn])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let data: String = row.get(2)?;
            out.push(JournalRow {
                id,
                conn_id: conn,
                kind: row.get(1)?,
                data: serde_json::from_str(&data).map_err(|e| {
                    StoreError::Corrupt(format!("journal entry {id}: invalid JSON: {e}"))
                })?,
                created_ms: row.get(3)?,
            });
        }
        Ok(out)
    }

    /// Adds a journal entry in its own transaction; returns its id.
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn journal_add(&mut self, conn: i64, kind: &str, data: &serde_json::Value) -> Result<i64> {
        self.write(|tx| tx.journal_add(conn, kind, data))
    }

    /// Removes a journal entry in its own transaction (a missing entry is not an error).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn journal_remove(&mut self, id: i64) -> Result<()> {
        self.write(|tx| tx.journal_remove(id))
    }
}

impl StoreTx<'_> {
    /// Adds a journal entry; returns its id.
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn journal_add(&mut self, conn: i64, kind: &str, data: &serde_json::Value) -> Result<i64> {
        let data = serde_json::to_string(data)?;
        self.tx
            .prepare_cached(
                "INSERT INTO journal (conn_id, kind, data, created) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![conn, kind, data, now_ms()])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Removes a journal entry. A missing entry is not an error: clean-up after a restart
    /// may race the normal path, and either way the work is no longer in flight.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn journal_remove(&mut self, id: i64) -> Result<()> {
        self.tx
            .prepare_cached("DELETE FROM journal WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{add_conn, temp_store};
    use cloudsync_core::{Node, RelPath, Side, SyncedNode};

    #[test]
    fn round_trip() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let other = add_conn(&mut store, "other");
        let data = serde_json::json!({ "temp": "/home/u/docs/.cloudsync-tmp-1", "size": 12 });
        let a = store.journal_add(c, "temp-file", &data).expect("add");
        let b = store
            .write(|tx| tx.journal_add(c, "upload-session", &serde_json::json!({ "id": "s" })))
            .expect("add in tx");
        store
            .journal_add(other, "temp-file", &serde_json::json!(null))
            .expect("add other");
        let rows = store.journal(c).expect("list");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, a);
        assert_eq!(rows[0].kind, "temp-file");
        assert_eq!(rows[0].data, data);
        assert!(rows[0].created_ms > 0);
        assert_eq!(rows[1].id, b);

        store.journal_remove(a).expect("remove");
        store.journal_remove(a).expect("removing twice is fine");
        let rows = store.journal(c).expect("list");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, b);
        assert_eq!(store.journal(other).expect("other").len(), 1);
    }

    #[test]
    fn result_and_journal_change_together() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let id = store
            .journal_add(c, "temp-file", &serde_json::json!({}))
            .expect("add");
        let key = RelPath::new("f").expect("path");
        let node = Node::dir(key.clone(), None);
        store
            .write(|tx| {
                tx.put_synced(
                    c,
                    &key,
                    &SyncedNode {
                        local: node.clone(),
                        remote: node.clone(),
                    },
                )?;
                tx.put_node(c, Side::Local, &key, &node)?;
                tx.journal_remove(id)
            })
            .expect("commit");
        assert!(store.journal(c).expect("list").is_empty());
        assert_eq!(store.load_synced(c).expect("synced").len(), 1);
    }
}
