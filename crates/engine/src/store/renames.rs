//! The `renames` table: names the rules had to change on the way to the other side (a name
//! ending in `.` or ` ` becomes `name_HOST_YYYYMMDD_TailCharacterConflict`), remembered so
//! later passes map the two spellings onto each other instead of renaming again.

use cloudsync_core::Side;
use rusqlite::params;
use serde::Serialize;

use super::{parse_side, side_str, Result, Store, StoreTx};

/// One remembered rename.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenameRow {
    /// The connection's id.
    pub conn_id: i64,
    /// The side where the original name lives.
    pub side: Side,
    /// The original path.
    pub original: String,
    /// The path it was given on the other side.
    pub renamed: String,
    /// When the rename was made (Unix ms).
    pub time_ms: i64,
}

impl Store {
    /// The remembered renames of connection `conn`, ordered by side and original path.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn renames(&self, conn: i64) -> Result<Vec<RenameRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT side, original, renamed, time FROM renames WHERE conn_id = ?1
             ORDER BY side, original",
        )?;
        let mut rows = stmt.query([conn])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let side: String = row.get(0)?;
            out.push(RenameRow {
                conn_id: conn,
                side: parse_side(&side)?,
                original: row.get(1)?,
                renamed: row.get(2)?,
                time_ms: row.get(3)?,
            });
        }
        Ok(out)
    }
}

impl StoreTx<'_> {
    /// Remembers that `original` on `side` was given the name `renamed` (replacing an
    /// earlier record for the same original).
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn add_rename(
        &mut self,
        conn: i64,
        side: Side,
        original: &str,
        renamed: &str,
        time_ms: i64,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO renames (conn_id, side, original, renamed, time)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![conn, side_str(side), original, renamed, time_ms])?;
        Ok(())
    }

    /// Forgets the rename of `original` on `side` (the original is gone); returns whether
    /// there was one.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn remove_rename(&mut self, conn: i64, side: Side, original: &str) -> Result<bool> {
        let n = self
            .tx
            .prepare_cached(
                "DELETE FROM renames WHERE conn_id = ?1 AND side = ?2 AND original = ?3",
            )?
            .execute(params![conn, side_str(side), original])?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{add_conn, temp_store};
    use super::*;

    #[test]
    fn round_trip() {
        let (_dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let other = add_conn(&mut store, "other");
        store
            .write(|tx| {
                tx.add_rename(c, Side::Remote, "report.", "report._nas_20261124_X", 1)?;
                tx.add_rename(c, Side::Local, "b ", "b _nas_20261124_X", 2)?;
                tx.add_rename(c, Side::Local, "b ", "b _nas_20261125_X", 3)?;
                tx.add_rename(other, Side::Local, "z.", "z._X", 4)
            })
            .expect("write");
        let rows = store.renames(c).expect("list");
        assert_eq!(
            rows,
            [
                RenameRow {
                    conn_id: c,
                    side: Side::Local,
                    original: "b ".into(),
                    renamed: "b _nas_20261125_X".into(),
                    time_ms: 3,
                },
                RenameRow {
                    conn_id: c,
                    side: Side::Remote,
                    original: "report.".into(),
                    renamed: "report._nas_20261124_X".into(),
                    time_ms: 1,
                },
            ]
        );
        let removed = store
            .write(|tx| tx.remove_rename(c, Side::Local, "b "))
            .expect("remove");
        assert!(removed);
        assert_eq!(store.renames(c).expect("list").len(), 1);
    }
}
