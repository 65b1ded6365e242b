//! The `skipped` table: the items the rules keep out of sync on each side, with the rule's
//! code and reason, so the UI can answer "why is this file not synced?".
//!
//! Each scan replaces a side's whole list; items still skipped keep the time they were
//! first seen.

use std::collections::HashSet;

use cloudsync_core::Side;
use rusqlite::{params, Row, ToSql};
use serde::Serialize;

use super::{now_ms, parse_side, side_str, Result, Store, StoreTx};

/// One skipped item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    /// The connection's id.
    pub conn_id: i64,
    /// The connection's name.
    pub connection: String,
    /// The side the item is on.
    pub side: Side,
    /// Its path on that side.
    pub path: String,
    /// The rule's stable code.
    pub code: String,
    /// The rule's reason, for the user.
    pub reason: String,
    /// When it was first seen skipped (Unix ms).
    pub since_ms: i64,
}

const SELECT: &str = "SELECT s.conn_id, c.name, s.side, s.path, s.code, s.reason, s.since
                      FROM skipped s JOIN connections c ON c.id = s.conn_id";

fn from_row(row: &Row<'_>) -> Result<SkippedRow> {
    let side: String = row.get(2)?;
    Ok(SkippedRow {
        conn_id: row.get(0)?,
        connection: row.get(1)?,
        side: parse_side(&side)?,
        path: row.get(3)?,
        code: row.get(4)?,
        reason: row.get(5)?,
        since_ms: row.get(6)?,
    })
}

impl Store {
    /// Skipped items, optionally of one connection, ordered by connection, side and path.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn skipped(&self, conn: Option<i64>) -> Result<Vec<SkippedRow>> {
        let mut sql = format!("{SELECT} WHERE 1");
        let mut args: Vec<&dyn ToSql> = Vec::new();
        if let Some(conn) = &conn {
            args.push(conn);
            sql.push_str(" AND s.conn_id = ?1");
        }
        sql.push_str(" ORDER BY c.name, s.side, s.path");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(args.as_slice())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(from_row(row)?);
        }
        Ok(out)
    }

    /// Why `path` is skipped on connection `conn` (the local side's entry first when both
    /// sides skip it), or `None` when it is not.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn skipped_path(&self, conn: i64, path: &str) -> Result<Option<SkippedRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SELECT} WHERE s.conn_id = ?1 AND s.path = ?2 ORDER BY s.side LIMIT 1"
        ))?;
        let mut rows = stmt.query(params![conn, path])?;
        match rows.next()? {
            Some(row) => Ok(Some(from_row(row)?)),
            None => Ok(None),
        }
    }
}

impl StoreTx<'_> {
    /// Replaces the skipped items of one side with `items` (path, code, reason). Items
    /// already listed keep their `since`; new ones get the current time.
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn replace_skipped(
        &mut self,
        conn: i64,
        side: Side,
        items: &[(String, String, String)],
    ) -> Result<()> {
        let side = side_str(side);
        let keep: HashSet<&str> = items.iter().map(|(p, _, _)| p.as_str()).collect();
        let old: Vec<String> = self
            .tx
            .prepare_cached("SELECT path FROM skipped WHERE conn_id = ?1 AND side = ?2")?
            .query_map(params![conn, side], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        {
            let mut delete = self.tx.prepare_cached(
                "DELETE FROM skipped WHERE conn_id = ?1 AND side = ?2 AND path = ?3",
            )?;
            for path in old.iter().filter(|p| !keep.contains(p.as_str())) {
                delete.execute(params![conn, side, path])?;
            }
        }
        let now = now_ms();
        let mut upsert = self.tx.prepare_cached(
            "INSERT INTO skipped (conn_id, side, path, code, reason, since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (conn_id, side, path)
             DO UPDATE SET code = excluded.code, reason = excluded.reason",
        )?;
        for (path, code, reason) in items {
            upsert.execute(params![conn, side, path, code, reason, now])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{add_conn, temp_store};
    use super::*;

    fn item(path: &str, code: &str) -> (String, String, String) {
        (path.into(), code.into(), format!("because {code}"))
    }

    #[test]
    fn replace_keeps_since_of_persisting_rows() {
        let (_dir, mut store) = temp_store();
        let docs = add_conn(&mut store, "docs");
        let pics = add_conn(&mut store, "pics");
        store
            .write(|tx| {
                tx.replace_skipped(
                    docs,
                    Side::Local,
                    &[item("a*b", "bad-char"), item("~tmp", "prefix")],
                )?;
                tx.replace_skipped(docs, Side::Remote, &[item("huge.iso", "too-big")])?;
                tx.replace_skipped(pics, Side::Local, &[item("a*b", "bad-char")])
            })
            .expect("write");
        // Make the first `since` recognisably old.
        store
            .conn
            .execute("UPDATE skipped SET since = 5", [])
            .expect("age rows");

        store
            .write(|tx| {
                tx.replace_skipped(
                    docs,
                    Side::Local,
                    &[item("a*b", "bad-char-2"), item("new?", "bad-char")],
                )
            })
            .expect("replace");

        let rows = store.skipped(Some(docs)).expect("list");
        let summary: Vec<(Side, &str, &str, bool)> = rows
            .iter()
            .map(|r| (r.side, r.path.as_str(), r.code.as_str(), r.since_ms == 5))
            .collect();
        assert_eq!(
            summary,
            [
                (Side::Local, "a*b", "bad-char-2", true),
                (Side::Local, "new?", "bad-char", false),
                (Side::Remote, "huge.iso", "too-big", true),
            ]
        );
        assert_eq!(rows[0].connection, "docs");
        assert_eq!(rows[0].reason, "because bad-char-2");
        assert_eq!(store.skipped(None).expect("all").len(), 4);
        assert_eq!(store.skipped(Some(pics)).expect("pics").len(), 1);

        let why = store
            .skipped_path(docs, "huge.iso")
            .expect("lookup")
            .expect("skipped");
        assert_eq!(why.side, Side::Remote);
        assert_eq!(why.code, "too-big");
        assert!(store.skipped_path(docs, "~tmp").expect("lookup").is_none());
        let json = serde_json::to_value(&why).expect("serialize");
        assert_eq!(json["side"], "remote");

        store
            .write(|tx| tx.replace_skipped(docs, Side::Local, &[]))
            .expect("clear");
        assert_eq!(store.skipped(Some(docs)).expect("list").len(), 1);
    }
}
