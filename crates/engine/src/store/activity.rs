//! The `activity` table: what the engine did, newest first, for the UI's history and
//! `cloudsync log`.

use std::fmt;
use std::str::FromStr;

use rusqlite::ToSql;
use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError, StoreTx};

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A local file was copied to the remote.
    Upload,
    /// A remote file was copied to the local side.
    Download,
    /// A local file or folder was deleted (to the trash).
    DeleteLocal,
    /// A remote file or folder was deleted.
    DeleteRemote,
    /// A file or folder was moved or renamed.
    Rename,
    /// A conflict was settled.
    Conflict,
    /// A folder was created.
    CreateFolder,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: [Action; 7] = [
        Action::Upload,
        Action::Download,
        Action::DeleteLocal,
        Action::DeleteRemote,
        Action::Rename,
        Action::Conflict,
        Action::CreateFolder,
    ];

    /// The stable spelling stored in the database and accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Upload => "upload",
            Action::Download => "download",
            Action::DeleteLocal => "delete-local",
            Action::DeleteRemote => "delete-remote",
            Action::Rename => "rename",
            Action::Conflict => "conflict",
            Action::CreateFolder => "create-folder",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown action name; the message lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown action {0:?} (expected one of: upload, download, delete-local, delete-remote, \
     rename, conflict, create-folder)"
)]
pub struct ParseActionError(pub String);

impl FromStr for Action {
    type Err = ParseActionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ParseActionError(s.to_string()))
    }
}

/// One entry to append to the activity log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// When it happened (Unix ms).
    pub time_ms: i64,
    /// What happened.
    pub action: Action,
    /// The path it happened to (for a rename: `old -> new` is up to the caller).
    pub path: String,
    /// Bytes transferred (0 when nothing was).
    pub bytes: u64,
    /// Extra words for the user.
    pub detail: Option<String>,
}

/// One entry of the activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActivityRow {
    /// Row id (grows with time).
    pub id: i64,
    /// The connection's id.
    pub conn_id: i64,
    /// The connection's name.
    pub connection: String,
    /// When it happened (Unix ms).
    pub time_ms: i64,
    /// What happened.
    pub action: Action,
    /// The path it happened to.
    pub path: String,
    /// Bytes transferred.
    pub bytes: u64,
    /// Extra words for the user.
    pub detail: Option<String>,
}

impl Store {
    /// The newest `limit` activity entries, optionally of one connection and one action,
    /// newest first.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] for an unknown stored action.
    pub fn activity(
        &self,
        conn: Option<i64>,
        action: Option<Action>,
        limit: usize,
    ) -> Result<Vec<ActivityRow>> {
        // Only the filters in use go into the SQL, so the (conn_id, time) and (time)
        // indexes serve each variant; there are four variants, all cached.
        let mut sql = String::from(
            "SELECT a.id, a.conn_id, c.name, a.time, a.action, a.path, a.bytes, a.detail
             FROM activity a JOIN connections c ON c.id = a.conn_id WHERE 1",
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let action = action.map(Action::as_str);
        // Parameters are numbered explicitly: `?1` is always the limit.
        let mut args: Vec<&dyn ToSql> = vec![&limit];
        if let Some(conn) = &conn {
            args.push(conn);
            sql.push_str(&format!(" AND a.conn_id = ?{}", args.len()));
        }
        if let Some(action) = &action {
            args.push(action);
            sql.push_str(&format!(" AND a.action = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY a.time DESC, a.id DESC LIMIT ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(args.as_slice())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let action: String = row.get(4)?;
            out.push(ActivityRow {
                id: row.get(0)?,
                conn_id: row.get(1)?,
                connection: row.get(2)?,
                time_ms: row.get(3)?,
                action: action
                    .parse()
                    .map_err(|e: ParseActionError| StoreError::Corrupt(e.to_string()))?,
                path: row.get(5)?,
                bytes: row.get(6)?,
                detail: row.get(7)?,
            });
        }
        Ok(out)
    }
}

impl StoreTx<'_> {
    /// Appends an entry to the activity log; returns its id.
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn add_activity(&mut self, conn: i64, entry: &NewActivity) -> Result<i64> {
        self.tx
            .prepare_cached(
                "INSERT INTO activity (conn_id, time, action, path, bytes, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(rusqlite::params![
                conn,
                entry.time_ms,
                entry.action.as_str(),
                entry.path,
                entry.bytes,
                entry.detail,
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Drops activity entries older than `before_ms` (all connections); returns how many.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn prune_activity(&mut self, before_ms: i64) -> Result<usize> {
        Ok(self
            .tx
            .prepare_cached("DELETE FROM activity WHERE time < ?1")?
            .execute([before_ms])?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{add_conn, temp_store};
    use super::*;

    #[test]
    fn action_spellings() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
            assert_eq!(a.to_string(), a.as_str());
            let json = serde_json::to_value(a).expect("serialize");
            assert_eq!(json, a.as_str());
        }
        let err = "explode".parse::<Action>().expect_err("unknown");
        let msg = err.to_string();
        for a in Action::ALL {
            assert!(msg.contains(a.as_str()), "{msg}");
        }
    }

    #[test]
    fn round_trip_filters_and_order() {
        let (_dir, mut store) = temp_store();
        let docs = add_conn(&mut store, "docs");
        let pics = add_conn(&mut store, "pics");
        store
            .write(|tx| {
                for (i, (conn, action)) in [
                    (docs, Action::Upload),
                    (pics, Action::Download),
                    (docs, Action::DeleteRemote),
                    (docs, Action::Upload),
                ]
                .into_iter()
                .enumerate()
                {
                    let i = i64::try_from(i).expect("small");
                    tx.add_activity(
                        conn,
                        &NewActivity {
                            time_ms: 1000 + i,
                            action,
                            path: format!("f{i}"),
                            bytes: 10,
                            detail: (i == 3).then(|| "retry 2".to_string()),
                        },
                    )?;
                }
                Ok(())
            })
            .expect("write");

        let all = store.activity(None, None, 100).expect("all");
        let paths: Vec<&str> = all.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["f3", "f2", "f1", "f0"]);
        assert_eq!(all[0].connection, "docs");
        assert_eq!(all[0].detail.as_deref(), Some("retry 2"));
        assert_eq!(all[0].bytes, 10);
        assert_eq!(all[2].connection, "pics");
        assert_eq!(all[2].action, Action::Download);

        let docs_rows = store.activity(Some(docs), None, 100).expect("docs");
        assert_eq!(docs_rows.len(), 3);
        let uploads = store
            .activity(Some(docs), Some(Action::Upload), 100)
            .expect("uploads");
        assert_eq!(uploads.len(), 2);
        let downloads = store
            .activity(None, Some(Action::Download), 100)
            .expect("downloads");
        assert_eq!(downloads.len(), 1);
        assert_eq!(store.activity(None, None, 1).expect("limit").len(), 1);

        let json = serde_json::to_value(&all[1]).expect("serialize");
        assert_eq!(json["action"], "delete-remote");
        assert_eq!(json["connection"], "docs");

        let pruned = store.write(|tx| tx.prune_activity(1002)).expect("prune");
        assert_eq!(pruned, 2);
        assert_eq!(store.activity(None, None, 100).expect("all").len(), 2);
    }
}
