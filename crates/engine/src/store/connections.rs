//! The `connections` table: each pairing of a local folder with a remote folder, its
//! settings, whether it is paused, its health, and a plan waiting for the user's approval.
//!
//! Removing a connection removes every row that belongs to it, in every table, in one
//! transaction.

use std::path::{Path, PathBuf};

use cloudsync_core::ConnectionSettings;
use rusqlite::{params, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use super::{expect_changed, now_ms, Result, Store, StoreError, StoreTx};

/// A connection's health, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnState {
    /// Syncing normally.
    Ok,
    /// Stopped by an error (see the reason).
    Error,
    /// Waiting for the user to approve a plan (for example a mass delete).
    Approval,
}

impl ConnState {
    /// The stored spelling: `ok`, `error` or `approval`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Ok => "ok",
            ConnState::Error => "error",
            ConnState::Approval => "approval",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<ConnState> {
        match s {
            "ok" => Some(ConnState::Ok),
            "error" => Some(ConnState::Error),
            "approval" => Some(ConnState::Approval),
            _ => None,
        }
    }
}

impl std::fmt::Display for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What it takes to add a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConnection {
    /// Unique name chosen by the user.
    pub name: String,
    /// Provider name (`dropbox`, `gdrive`, `local`, ...).
    pub provider: String,
    /// The local sync root.
    pub local_root: PathBuf,
    /// The provider's configuration (remote folder, endpoint, ...).
    pub remote: serde_json::Value,
    /// Identity of the account and target; at most one connection per credential.
    pub credential: String,
    /// User settings.
    pub settings: ConnectionSettings,
}

/// A stored connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Row id.
    pub id: i64,
    /// Unique name chosen by the user.
    pub name: String,
    /// Provider name.
    pub provider: String,
    /// The local sync root.
    pub local_root: PathBuf,
    /// The provider's configuration.
    pub remote: serde_json::Value,
    /// Identity of the account and target.
    pub credential: String,
    /// User settings.
    pub settings: ConnectionSettings,
    /// Paused by the user.
    pub paused: bool,
    /// Health.
    pub state: ConnState,
    /// Why the state is not `ok`, for the user.
    pub state_reason: Option<String>,
    /// A plan (JSON) waiting for approval.
    pub pending_plan: Option<String>,
    /// When the connection was added (Unix ms).
    pub created_at: i64,
    /// When the last sync finished (Unix ms, as given to [`Store::set_last_sync`]).
    pub last_sync: Option<i64>,
}

const COLUMNS: &str = "id, name, provider, local_root, remote, credential, settings, paused, \
                       state, state_reason, pending_plan, created_at, last_sync";

/// The tables whose rows belong to one connection, cleared by `remove_connection`.
const CHILD_TABLES: &[&str] = &[
    "nodes",
    "synced",
    "activity",
    "conflicts",
    "skipped",
    "renames",
    "journal",
    "feed_state",
];

fn root_str(root: &Path) -> Result<&str> {
    root.to_str().ok_or_else(|| {
        StoreError::Invalid(format!(
            "the local folder {} is not valid UTF-8",
            root.display()
        ))
    })
}

fn from_row(row: &Row<'_>) -> Result<Connection> {
    let id: i64 = row.get(0)?;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!("connection {id}: invalid {what}: {e}"))
    };
    let remote: String = row.get(4)?;
    let settings: String = row.get(6)?;
    let state: String = row.get(8)?;
    Ok(Connection {
        id,
        name: row.get(1)?,
        provider: row.get(2)?,
        local_root: PathBuf::from(row.get::<_, String>(3)?),
        remote: serde_json::from_str(&remote).map_err(|e| corrupt("remote", &e))?,
        credential: row.get(5)?,
        settings: serde_json::from_str(&settings).map_err(|e| corrupt("settings", &e))?,
        paused: row.get(7)?,
        state: ConnState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        state_reason: row.get(9)?,
        pending_plan: row.get(10)?,
        created_at: row.get(11)?,
        last_sync: row.get(12)?,
    })
}

/// Reads one connection by id.
fn read_connection(conn: &rusqlite::Connection, id: i64) -> Result<Option<Connection>> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => Ok(Some(from_row(row)?)),
        None => Ok(None),
    }
}

impl Store {
    /// Adds a connection and returns its id.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name or the credential is already used (the
    /// message says which), [`StoreError::Invalid`] for a non-UTF-8 local folder.
    pub fn add_connection(&mut self, new: &NewConnection) -> Result<i64> {
        self.write(|tx| tx.add_connection(new))
    }

    /// All connections, ordered by name.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] for unreadable settings.
    pub fn connections(&self) -> Result<Vec<Connection>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM connections ORDER BY name"))?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(from_row(row)?);
        }
        Ok(out)
    }

    /// The connection with id `id`, if any.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] for unreadable settings.
    pub fn connection(&self, id: i64) -> Result<Option<Connection>> {
        read_connection(&self.conn, id)
    }

    /// The connection named `name`, if any.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] for unreadable settings.
    pub fn connection_by_name(&self, name: &str) -> Result<Option<Connection>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM connections WHERE name = ?1"
        ))?;
        let mut rows = stmt.query([name])?;
        match rows.next()? {
            Some(row) => Ok(Some(from_row(row)?)),
            None => Ok(None),
        }
    }

    /// Replaces a connection's settings.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn update_settings(&mut self, id: i64, settings: &ConnectionSettings) -> Result<()> {
        self.write(|tx| tx.update_settings(id, settings))
    }

    /// Pauses or resumes a connection.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_paused(&mut self, id: i64, paused: bool) -> Result<()> {
        self.write(|tx| tx.set_paused(id, paused))
    }

    /// Sets a connection's health and the reason shown to the user.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_state(&mut self, id: i64, state: ConnState, reason: Option<&str>) -> Result<()> {
        self.write(|tx| tx.set_state(id, state, reason))
    }

    /// Stores (or clears) the plan waiting for approval.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_pending_plan(&mut self, id: i64, plan: Option<&str>) -> Result<()> {
        self.write(|tx| tx.set_pending_plan(id, plan))
    }

    /// Records when the last sync finished (Unix ms).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_last_sync(&mut self, id: i64, time_ms: i64) -> Result<()> {
        self.write(|tx| tx.set_last_sync(id, time_ms))
    }

    /// Removes a connection and all of its rows in every table, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn remove_connection(&mut self, id: i64) -> Result<()> {
        self.write(|tx| {
            for table in CHILD_TABLES {
                tx.tx
                    .prepare_cached(&format!("DELETE FROM {table} WHERE conn_id = ?1"))?
                    .execute([id])?;
            }
            let n = tx
                .tx
                .prepare_cached("DELETE FROM connections WHERE id = ?1")?
                .execute([id])?;
            expect_changed(n, || format!("connection {id}"))
        })
    }
}

impl StoreTx<'_> {
    /// Adds a connection and returns its id (see [`Store::add_connection`]).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name or the credential is already used.
    pub fn add_connection(&mut self, new: &NewConnection) -> Result<i64> {
        // Look first so the message can say which rule was broken; the UNIQUE constraints
        // stay the real guard.
        let taken_by: Option<String> = self
            .tx
            .prepare_cached("SELECT name FROM connections WHERE name = ?1")?
            .query_row([&new.name], |r| r.get(0))
            .optional()?;
        if taken_by.is_some() {
            return Err(StoreError::Conflict(format!(
                "a connection named {:?} already exists",
                new.name
            )));
        }
        let taken_by: Option<String> = self
            .tx
            .prepare_cached("SELECT name FROM connections WHERE credential = ?1")?
            .query_row([&new.credential], |r| r.get(0))
            .optional()?;
        if let Some(other) = taken_by {
            return Err(StoreError::Conflict(format!(
                "connection {other:?} already uses this account and target ({})",
                new.credential
            )));
        }
        let remote = serde_json::to_string(&new.remote)?;
        let settings = serde_json::to_string(&new.settings)?;
        self.tx
            .prepare_cached(
                "INSERT INTO connections (name, provider, local_root, remote, credential,
                     settings, paused, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, 'ok', ?7)",
            )?
            .execute(params![
                new.name,
                new.provider,
                root_str(&new.local_root)?,
                remote,
                new.credential,
                settings,
                now_ms(),
            ])
            .map_err(|e| unique_violation(e, &new.name))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// The connection with id `id`, read inside this transaction.
    ///
    /// # Errors
    /// On SQLite errors, or [`StoreError::Corrupt`] for unreadable settings.
    pub fn connection(&self, id: i64) -> Result<Option<Connection>> {
        read_connection(self.conn(), id)
    }

    /// Replaces a connection's settings.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn update_settings(&mut self, id: i64, settings: &ConnectionSettings) -> Result<()> {
        let json = serde_json::to_string(settings)?;
        self.update(
            id,
            "UPDATE connections SET settings = ?2 WHERE id = ?1",
            json,
        )
    }

    /// Pauses or resumes a connection.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_paused(&mut self, id: i64, paused: bool) -> Result<()> {
        self.update(
            id,
            "UPDATE connections SET paused = ?2 WHERE id = ?1",
            paused,
        )
    }

    /// Sets a connection's health and the reason shown to the user.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_state(&mut self, id: i64, state: ConnState, reason: Option<&str>) -> Result<()> {
        let n = self
            .tx
            .prepare_cached("UPDATE connections SET state = ?2, state_reason = ?3 WHERE id = ?1")?
            .execute(params![id, state.as_str(), reason])?;
        expect_changed(n, || format!("connection {id}"))
    }

    /// Stores (or clears) the plan waiting for approval.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_pending_plan(&mut self, id: i64, plan: Option<&str>) -> Result<()> {
        self.update(
            id,
            "UPDATE connections SET pending_plan = ?2 WHERE id = ?1",
            plan,
        )
    }

    /// Records when the last sync finished (Unix ms).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such connection.
    pub fn set_last_sync(&mut self, id: i64, time_ms: i64) -> Result<()> {
        self.update(
            id,
            "UPDATE connections SET last_sync = ?2 WHERE id = ?1",
            time_ms,
        )
    }

    /// Runs a one-value `UPDATE` of connection `id`.
    fn update(&mut self, id: i64, sql: &str, value: impl rusqlite::ToSql) -> Result<()> {
        let n = self.tx.prepare_cached(sql)?.execute(params![id, value])?;
        expect_changed(n, || format!("connection {id}"))
    }
}

/// Turns a UNIQUE failure on insert into a readable [`StoreError::Conflict`] (only reached
/// when another process inserted between our check and our insert).
fn unique_violation(e: rusqlite::Error, name: &str) -> StoreError {
    let unique = matches!(
        e.sqlite_error(),
        Some(err) if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    );
    if !unique {
        return StoreError::Sqlite(e);
    }
    if e.to_string().contains("connections.credential") {
        StoreError::Conflict(format!(
            "another connection already uses the account and target of {name:?}"
        ))
    } else {
        StoreError::Conflict(format!("a connection named {name:?} already exists"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{add_conn, new_conn, temp_store};
    use super::*;
    use cloudsync_core::{Kind, Mode, Node, RelPath, Side, SyncedNode};

    #[test]
    fn round_trip_and_updates() {
        let (_dir, mut store) = temp_store();
        let id = add_conn(&mut store, "photos");
        add_conn(&mut store, "docs");
        let names: Vec<String> = store
            .connections()
            .expect("list")
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["docs", "photos"]);

        let c = store.connection(id).expect("read").expect("exists");
        let want = new_conn("photos");
        assert_eq!(c.name, want.name);
        assert_eq!(c.provider, want.provider);
        assert_eq!(c.local_root, want.local_root);
        assert_eq!(c.remote, want.remote);
        assert_eq!(c.credential, want.credential);
        assert_eq!(c.settings, want.settings);
        assert!(!c.paused);
        assert_eq!(c.state, ConnState::Ok);
        assert_eq!(c.state_reason, None);
        assert_eq!(c.pending_plan, None);
        assert!(c.created_at > 0);
        assert_eq!(c.last_sync, None);

        let mut settings = ConnectionSettings {
            mode: Mode::UploadOnly,
            ..ConnectionSettings::default()
        };
        settings.exclude.push("*.tmp".into());
        store.update_settings(id, &settings).expect("settings");
        store.set_paused(id, true).expect("pause");
        store
            .set_state(id, ConnState::Approval, Some("would delete 80% of files"))
            .expect("state");
        store
            .set_pending_plan(id, Some(r#"{"batches":[]}"#))
            .expect("plan");
        store
            .set_last_sync(id, 1_700_000_000_000)
            .expect("last sync");

        let c = store
            .connection_by_name("photos")
            .expect("read")
            .expect("exists");
        assert_eq!(c.settings, settings);
        assert!(c.paused);
        assert_eq!(c.state, ConnState::Approval);
        assert_eq!(c.state_reason.as_deref(), Some("would delete 80% of files"));
        assert_eq!(c.pending_plan.as_deref(), Some(r#"{"batches":[]}"#));
        assert_eq!(c.last_sync, Some(1_700_000_000_000));
        let json = serde_json::to_value(&c).expect("serialize");
        assert_eq!(json["state"], "approval");

        store.set_pending_plan(id, None).expect("clear plan");
        store.set_state(id, ConnState::Ok, None).expect("state");
        let c = store.connection(id).expect("read").expect("exists");
        assert_eq!(c.pending_plan, None);
        assert_eq!(c.state_reason, None);

        assert!(store.connection_by_name("nope").expect("read").is_none());
        assert!(store.connection(9999).expect("read").is_none());
        assert!(matches!(
            store.set_paused(9999, true),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn state_spellings() {
        for s in [ConnState::Ok, ConnState::Error, ConnState::Approval] {
            assert_eq!(ConnState::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConnState::parse("OK"), None);
    }

    #[test]
    fn duplicate_name_or_credential_is_a_conflict() {
        let (_dir, mut store) = temp_store();
        add_conn(&mut store, "docs");

        let mut dup = new_conn("docs");
        dup.credential = "local:other".into();
        match store.add_connection(&dup) {
            Err(StoreError::Conflict(msg)) => assert!(msg.contains("named \"docs\""), "{msg}"),
            other => panic!("expected a name conflict, got {other:?}"),
        }

        let mut dup = new_conn("docs2");
        dup.credential = "local:docs".into();
        match store.add_connection(&dup) {
            Err(StoreError::Conflict(msg)) => {
                assert!(msg.contains("\"docs\"") && msg.contains("account"), "{msg}");
            }
            other => panic!("expected a credential conflict, got {other:?}"),
        }
        assert_eq!(store.connections().expect("list").len(), 1);

        // The constraint itself also maps to Conflict (the path taken when another
        // process wins the race between the check and the insert).
        let raw = store.conn.execute(
            "INSERT INTO connections (name, provider, local_root, remote, credential, settings,
                 created_at) VALUES ('x', 'p', '/x', '{}', 'local:docs', '{}', 0)",
            [],
        );
        let err = unique_violation(raw.expect_err("unique"), "x");
        assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("account")));
    }

    #[test]
    fn remove_connection_cascades() {
        let (_dir, mut store) = temp_store();
        let gone = add_conn(&mut store, "gone");
        let kept = add_conn(&mut store, "kept");
        let key = RelPath::new("a/b.txt").expect("path");
        let node = Node {
            path: key.clone(),
            kind: Kind::File,
            size: 1,
            mtime_ns: 2,
            hash: None,
            id: None,
            rev: None,
        };
        for id in [gone, kept] {
            store
                .write(|tx| {
                    tx.put_node(id, Side::Local, &key, &node)?;
                    tx.put_node(id, Side::Remote, &key, &node)?;
                    tx.put_synced(
                        id,
                        &key,
                        &SyncedNode {
                            local: node.clone(),
                            remote: node.clone(),
                        },
                    )?;
                    tx.add_activity(
                        id,
                        &super::super::NewActivity {
                            time_ms: 1,
                            action: super::super::Action::Upload,
                            path: "a/b.txt".into(),
                            bytes: 1,
                            detail: None,
                        },
                    )?;
                    tx.add_conflict(
                        id,
                        &super::super::NewConflict {
                            time_ms: 1,
                            path: "a/b.txt".into(),
                            copy_path: None,
                            policy: "keep-local".into(),
                            loser: "remote revision".into(),
                        },
                    )?;
                    tx.replace_skipped(
                        id,
                        Side::Local,
                        &[("x*".into(), "bad-char".into(), "has *".into())],
                    )?;
                    tx.add_rename(id, Side::Local, "r.", "r._h_TailCharacterConflict", 1)?;
                    tx.journal_add(id, "temp", &serde_json::json!({}))?;
                    Ok(())
                })
                .expect("fill");
            store.set_feed_state(id, "cursor").expect("feed state");
        }
        store.remove_connection(gone).expect("remove");
        assert!(store.connection(gone).expect("read").is_none());
        for table in CHILD_TABLES {
            let count = |id: i64| -> i64 {
                store
                    .conn
                    .query_row(
                        &format!("SELECT count(*) FROM {table} WHERE conn_id = ?1"),
                        [id],
                        |r| r.get(0),
                    )
                    .expect("count")
            };
            assert_eq!(
                count(gone),
                0,
                "{table} kept rows of the removed connection"
            );
            assert!(count(kept) > 0, "{table} lost rows of another connection");
        }
        assert!(matches!(
            store.remove_connection(gone),
            Err(StoreError::NotFound(_))
        ));
        // The name and credential are free again.
        add_conn(&mut store, "gone");
    }
}
