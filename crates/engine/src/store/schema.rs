//! The schema and its forward migrations.
//!
//! The version lives in `PRAGMA user_version`. [`MIGRATIONS`] is append-only: step `i`
//! takes a database from version `i` to `i + 1`, and each step runs in its own transaction
//! together with the version bump, so a crash mid-upgrade leaves the previous version
//! intact. A file with a version above [`SCHEMA_VERSION`] was written by a newer CloudSync
//! and is refused rather than read (or worse, treated as empty).

use rusqlite::{Connection as SqlConn, TransactionBehavior};

use super::{Result, StoreError};

/// Version 1: every table.
///
/// Side tables reference `connections` with `ON DELETE CASCADE` as a safety net;
/// `remove_connection` also deletes their rows explicitly.
pub(super) const V1: &str = r"
CREATE TABLE connections (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    provider     TEXT NOT NULL,
    local_root   TEXT NOT NULL,
    remote       TEXT NOT NULL,
    credential   TEXT NOT NULL UNIQUE,
    settings     TEXT NOT NULL,
    paused       INTEGER NOT NULL DEFAULT 0,
    state        TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'error', 'approval')),
    state_reason TEXT,
    pending_plan TEXT,
    created_at   INTEGER NOT NULL,
    last_sync    INTEGER
);

CREATE TABLE nodes (
    conn_id  INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    side     TEXT NOT NULL CHECK (side IN ('local', 'remote')),
    key      TEXT NOT NULL,
    path     TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('file', 'dir')),
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash     TEXT,
    node_id  TEXT,
    rev      TEXT,
    PRIMARY KEY (conn_id, side, key)
) WITHOUT ROWID;

CREATE TABLE synced (
    conn_id    INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    l_path     TEXT NOT NULL,
    l_kind     TEXT NOT NULL CHECK (l_kind IN ('file', 'dir')),
    l_size     INTEGER NOT NULL,
    l_mtime_ns INTEGER NOT NULL,
    l_hash     TEXT,
    l_id       TEXT,
    l_rev      TEXT,
    r_path     TEXT NOT NULL,
    r_kind     TEXT NOT NULL CHECK (r_kind IN ('file', 'dir')),
    r_size     INTEGER NOT NULL,
    r_mtime_ns INTEGER NOT NULL,
    r_hash     TEXT,
    r_id       TEXT,
    r_rev      TEXT,
    PRIMARY KEY (conn_id, key)
) WITHOUT ROWID;

CREATE TABLE activity (
    id      INTEGER PRIMARY KEY,
    conn_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    time    INTEGER NOT NULL,
    action  TEXT NOT NULL,
    path    TEXT NOT NULL,
    bytes   INTEGER NOT NULL DEFAULT 0,
    detail  TEXT
);

CREATE TABLE conflicts (
    id        INTEGER PRIMARY KEY,
    conn_id   INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    time      INTEGER NOT NULL,
    path      TEXT NOT NULL,
    copy_path TEXT,
    policy    TEXT NOT NULL,
    loser     TEXT NOT NULL,
    resolved  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX conflicts_by_conn_path ON conflicts (conn_id, path);

CREATE TABLE skipped (
    conn_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    side    TEXT NOT NULL CHECK (side IN ('local', 'remote')),
    path    TEXT NOT NULL,
    code    TEXT NOT NULL,
    reason  TEXT NOT NULL,
    since   INTEGER NOT NULL,
    PRIMARY KEY (conn_id, side, path)
) WITHOUT ROWID;

CREATE TABLE renames (
    conn_id  INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    side     TEXT NOT NULL CHECK (side IN ('local', 'remote')),
    original TEXT NOT NULL,
    renamed  TEXT NOT NULL,
    time     INTEGER NOT NULL,
    PRIMARY KEY (conn_id, side, original)
) WITHOUT ROWID;

CREATE TABLE journal (
    id      INTEGER PRIMARY KEY,
    conn_id INTEGER NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    kind    TEXT NOT NULL,
    data    TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE INDEX journal_by_conn ON journal (conn_id);
";

/// Version 2: the activity log grows without bound, so filtering it by connection, sorting
/// it by time and cascading a connection's removal to it need indexes.
pub(super) const V2: &str = r"
CREATE INDEX activity_by_conn_time ON activity (conn_id, time);
CREATE INDEX activity_by_time ON activity (time);
";

/// Version 3: where a backend with a change feed keeps its position (cursor and the tree
/// it describes), so a restart continues the feed instead of listing everything again.
pub(super) const V3: &str = r"
CREATE TABLE feed_state (
    conn_id INTEGER PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    state   TEXT NOT NULL,
    saved   INTEGER NOT NULL
);
";

/// The migration steps, oldest first: step `i` upgrades version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this code writes (the number of migration steps).
// The cast cannot truncate: the list holds a handful of entries.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads `PRAGMA user_version`.
pub(super) fn user_version(conn: &SqlConn) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per step.
pub(super) fn migrate(conn: &mut SqlConn) -> Result<()> {
    // Fast path without the write lock: opening an up-to-date database (the CLI next to a
    // running daemon) must not queue behind the daemon's writes.
    let version = user_version(conn)?;
    check_version(version)?;
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have upgraded meanwhile.
        let version = user_version(&tx)?;
        check_version(version)?;
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            // Up to date (the dropped transaction changed nothing).
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Refuses versions this code cannot read.
fn check_version(version: i64) -> Result<()> {
    if version > SCHEMA_VERSION {
        Err(StoreError::NewerSchema {
            found: version,
            supported: SCHEMA_VERSION,
        })
    } else if version < 0 {
        Err(StoreError::Corrupt(format!(
            "negative schema version {version}"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn index_exists(conn: &SqlConn, name: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
            [name],
            |r| r.get::<_, i64>(0),
        )
        .expect("query sqlite_master")
            == 1
    }

    #[test]
    fn upgrades_v1_and_keeps_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            // A database as version 1 of the code left it, built by hand.
            let conn = SqlConn::open(&path).expect("open raw");
            conn.execute_batch(V1).expect("v1 schema");
            conn.execute_batch(
                "INSERT INTO connections (id, name, provider, local_root, remote, credential,
                     settings, created_at)
                 VALUES (7, 'docs', 'local', '/home/u/docs', '{}', 'local:docs', '{}', 1);
                 INSERT INTO activity (conn_id, time, action, path, bytes)
                 VALUES (7, 1000, 'upload', 'a.txt', 3);
                 INSERT INTO nodes VALUES (7, 'local', 'a.txt', 'a.txt', 'file', 3, 5, NULL,
                     NULL, NULL);
                 PRAGMA user_version = 1;",
            )
            .expect("v1 rows");
            assert!(!index_exists(&conn, "activity_by_conn_time"));
        }
        let store = Store::open(&path).expect("upgrade");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert!(index_exists(&store.conn, "activity_by_conn_time"));
        let conn = store.connection(7).expect("read").expect("kept");
        assert_eq!(conn.name, "docs");
        let rows = store.activity(Some(7), None, 10).expect("activity");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].path, "a.txt");
        let counts = store.counts(7).expect("counts");
        assert_eq!(counts.local_files, 1);
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.db");
        {
            let conn = SqlConn::open(&path).expect("open raw");
            conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
                .expect("future schema");
        }
        let err = Store::open(&path).expect_err("newer schema must be refused");
        assert!(
            matches!(
                err,
                StoreError::NewerSchema {
                    found: 99,
                    supported: SCHEMA_VERSION
                }
            ),
            "{err:?}"
        );
        // Nothing was touched: the table and the version are still there.
        let conn = SqlConn::open(&path).expect("reopen raw");
        assert_eq!(user_version(&conn).expect("version"), 99);
    }

    #[test]
    fn fresh_database_reaches_latest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("fresh.db")).expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        assert!(index_exists(&store.conn, "activity_by_time"));
    }
}
