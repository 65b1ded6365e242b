//! The `conflicts` table: every conflict the engine settled, where the losing version
//! went, and whether the user has dealt with it (the UI lists the unresolved ones).

use rusqlite::{params, Row, ToSql};
use serde::Serialize;

use super::{expect_changed, Result, Store, StoreTx};

/// A conflict to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConflict {
    /// When it was settled (Unix ms).
    pub time_ms: i64,
    /// The path both sides changed.
    pub path: String,
    /// The conflicted copy, when one was made.
    pub copy_path: Option<String>,
    /// How it was settled, as a stable word (a policy such as `keep-local`, or the
    /// resolution the executor applied such as `remote-to-copy`); free text to the store.
    pub policy: String,
    /// Where the losing version went, for the user: "remote revision",
    /// "conflicted copy <path>", "local trash <path>".
    pub loser: String,
}

/// A recorded conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictRow {
    /// Row id.
    pub id: i64,
    /// The connection's id.
    pub conn_id: i64,
    /// The connection's name.
    pub connection: String,
    /// When it was settled (Unix ms).
    pub time_ms: i64,
    /// The path both sides changed.
    pub path: String,
    /// The conflicted copy, when one was made.
    pub copy_path: Option<String>,
    /// How it was settled (see [`NewConflict::policy`]).
    pub policy: String,
    /// Where the losing version went.
    pub loser: String,
    /// The user marked it as dealt with.
    pub resolved: bool,
}

const SELECT: &str = "SELECT k.id, k.conn_id, c.name, k.time, k.path, k.copy_path, k.policy,
                             k.loser, k.resolved
                      FROM conflicts k JOIN connections c ON c.id = k.conn_id";

fn from_row(row: &Row<'_>) -> Result<ConflictRow> {
    Ok(ConflictRow {
        id: row.get(0)?,
        conn_id: row.get(1)?,
        connection: row.get(2)?,
        time_ms: row.get(3)?,
        path: row.get(4)?,
        copy_path: row.get(5)?,
        policy: row.get(6)?,
        loser: row.get(7)?,
        resolved: row.get(8)?,
    })
}

impl Store {
    /// Recorded conflicts, newest first, optionally of one connection, with or without
    /// the resolved ones.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn conflicts(&self, conn: Option<i64>, include_resolved: bool) -> Result<Vec<ConflictRow>> {
        let mut sql = format!("{SELECT} WHERE 1");
        let mut args: Vec<&dyn ToSql> = Vec::new();
        if let Some(conn) = &conn {
            args.push(conn);
            sql.push_str(" AND k.conn_id = ?1");
        }
        if !include_resolved {
            sql.push_str(" AND k.resolved = 0");
        }
        sql.push_str(" ORDER BY k.time DESC, k.id DESC");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(args.as_slice())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(from_row(row)?);
        }
        Ok(out)
    }

    /// The newest unresolved conflict at `path` of connection `conn`, if any.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn conflict_by_path(&self, conn: i64, path: &str) -> Result<Option<ConflictRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT} WHERE k.conn_id = ?1 AND k.path = ?2 AND k.resolved = 0
             ORDER BY k.time DESC, k.id DESC LIMIT 1"
        ))?;
        let mut rows = stmt.query(params![conn, path])?;
        match rows.next()? {
            Some(row) => Ok(Some(from_row(row)?)),
            None => Ok(None),
        }
    }

    /// Marks conflict `id` as dealt with.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such conflict.
    pub fn resolve_conflict(&mut self, id: i64) -> Result<()> {
        self.write(|tx| tx.resolve_conflict(id))
    }
}

impl StoreTx<'_> {
    /// Records a conflict; returns its id.
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn add_conflict(&mut self, conn: i64, conflict: &NewConflict) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO conflicts (conn_id, time, path, copy_path, policy, loser, resolved)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
            )?
            .execute(params![
                conn,
                conflict.time_ms,
                conflict.path,
                conflict.copy_path,
                conflict.policy,
                conflict.loser,
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Marks conflict `id` as dealt with.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such conflict.
    pub fn resolve_conflict(&mut self, id: i64) -> Result<()> {
        let n = self
            .tx
            .prepare_cached("UPDATE conflicts SET resolved = 1 WHERE id = ?1")?
            .execute([id])?;
        expect_changed(n, || format!("conflict {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{add_conn, temp_store};
    use super::super::StoreError;
    use super::*;

    #[test]
    fn round_trip_resolve_and_lookup() {
        let (_dir, mut store) = temp_store();
        let docs = add_conn(&mut store, "docs");
        let pics = add_conn(&mut store, "pics");
        let (first, second) = store
            .write(|tx| {
                let first = tx.add_conflict(
                    docs,
                    &NewConflict {
                        time_ms: 10,
                        path: "a.txt".into(),
                        copy_path: None,
                        policy: "keep-local".into(),
                        loser: "remote revision".into(),
                    },
                )?;
                let second = tx.add_conflict(
                    docs,
                    &NewConflict {
                        time_ms: 20,
                        path: "b.txt".into(),
                        copy_path: Some(
                            "b (conflicted copy 2026-01-02 030405 from nas).txt".into(),
                        ),
                        policy: "remote-to-copy".into(),
                        loser: "conflicted copy b (conflicted copy ...).txt".into(),
                    },
                )?;
                tx.add_conflict(
                    pics,
                    &NewConflict {
                        time_ms: 30,
                        path: "a.txt".into(),
                        copy_path: None,
                        policy: "local-to-trash".into(),
                        loser: "local trash .cloudsync-trash/a.txt".into(),
                    },
                )?;
                Ok((first, second))
            })
            .expect("write");

        let all = store.conflicts(None, false).expect("all");
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].connection, "pics");
        assert_eq!(all[1].id, second);
        assert_eq!(all[1].policy, "remote-to-copy");
        assert!(all[1].copy_path.is_some());
        assert!(!all[1].resolved);

        let docs_rows = store.conflicts(Some(docs), false).expect("docs");
        assert_eq!(docs_rows.len(), 2);

        let found = store
            .conflict_by_path(docs, "a.txt")
            .expect("lookup")
            .expect("exists");
        assert_eq!(found.id, first);
        assert_eq!(found.loser, "remote revision");

        store.resolve_conflict(first).expect("resolve");
        assert!(store
            .conflict_by_path(docs, "a.txt")
            .expect("lookup")
            .is_none());
        assert_eq!(store.conflicts(Some(docs), false).expect("open").len(), 1);
        let with_resolved = store.conflicts(Some(docs), true).expect("all");
        assert_eq!(with_resolved.len(), 2);
        assert!(with_resolved.iter().any(|c| c.id == first && c.resolved));
        assert!(matches!(
            store.resolve_conflict(12345),
            Err(StoreError::NotFound(_))
        ));

        let json = serde_json::to_value(&all[0]).expect("serialize");
        assert_eq!(json["policy"], "local-to-trash");
    }
}
