//! The SQLite store: everything CloudSync remembers between runs.
//!
//! One database file holds, per connection, the three trees (Local, Remote, Synced), the
//! activity log, the conflict list, the skipped items with their reasons, the names that
//! were renamed, and the journal of work in flight. This module owns opening the file
//! (permissions, pragmas, integrity check, migrations), the error type, and the write
//! transaction ([`StoreTx`]); the submodules own one area each.
//!
//! Reads are methods on [`Store`]. Writes that belong together go through
//! [`Store::write`], which runs a closure in one `BEGIN IMMEDIATE` transaction and rolls it
//! back when the closure fails, so for example "advance the Synced node and drop the journal
//! entry" is atomic. A few single-row updates also exist directly on [`Store`] for
//! convenience; they are thin wrappers around a one-statement transaction.

mod activity;
mod conflicts;
mod connections;
mod feed;
mod journal;
mod renames;
mod schema;
mod skipped;
mod trees;

use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cloudsync_core::{Kind, Side};
use rusqlite::{Connection as SqlConn, ErrorCode, OpenFlags, TransactionBehavior};

pub use activity::{Action, ActivityRow, NewActivity, ParseActionError};
pub use conflicts::{ConflictRow, NewConflict};
pub use connections::{ConnState, Connection, NewConnection};
pub use journal::JournalRow;
pub use renames::RenameRow;
pub use schema::SCHEMA_VERSION;
pub use skipped::SkippedRow;
pub use trees::TreeCounts;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file or its folder could not be created or opened.
    #[error("cannot prepare the database at {path}: {source}")]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a usable database, or holds data this code cannot read back.
    #[error("the database is corrupt: {0}")]
    Corrupt(String),
    /// The database was written by a newer CloudSync; opening it could lose data.
    #[error(
        "the database has schema version {found} but this CloudSync only knows up to \
         {supported}; upgrade CloudSync"
    )]
    NewerSchema {
        /// The version found in the file.
        found: i64,
        /// The newest version this code knows.
        supported: i64,
    },
    /// The row asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule was broken (the message says which).
    #[error("{0}")]
    Conflict(String),
    /// A value given to the store cannot be stored (for example a non-UTF-8 path).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A value could not be encoded as JSON.
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The open database. Not `Sync`: share it behind a mutex or give it its own thread.
#[derive(Debug)]
pub struct Store {
    conn: SqlConn,
}

/// One write transaction, handed to the closure of [`Store::write`].
///
/// The write methods live in the submodules next to the tables they touch.
#[derive(Debug)]
pub struct StoreTx<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl Store {
    /// Opens (creating when missing) the database at `path`.
    ///
    /// The parent folder is created with mode 0700 and the file with mode 0600, since the
    /// database names the user's files and accounts. The file is put in WAL mode with
    /// `synchronous=NORMAL`, a 5 s busy timeout and foreign keys on, checked with
    /// `PRAGMA quick_check`, and migrated to [`SCHEMA_VERSION`].
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the file is not a database or fails the check,
    /// [`StoreError::NewerSchema`] when a newer CloudSync wrote it, [`StoreError::Io`] when
    /// the folder or file cannot be created.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // `recursive` + `mode` only applies the mode to folders it creates, so an
            // existing parent (say the user's config dir) keeps its permissions.
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|source| StoreError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
        }
        // Create the file ourselves so it never exists with a umask-derived mode, and
        // tighten a file left by an older build. SQLite gives the -wal and -shm files the
        // mode of the main file.
        let io_err = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io_err)?;
        drop(file);

        // No SQLITE_OPEN_URI: the path is a file name, never a `file:` URI with options.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = SqlConn::open_with_flags(path, flags).map_err(corrupt_or)?;
        Store::setup(conn, true)
    }

    /// Opens a private in-memory database (for tests).
    ///
    /// # Errors
    /// Only when SQLite cannot allocate the database.
    pub fn open_in_memory() -> Result<Store> {
        let conn = SqlConn::open_in_memory()?;
        Store::setup(conn, false)
    }

    fn setup(conn: SqlConn, wal: bool) -> Result<Store> {
        // The busy timeout comes first so that switching to WAL waits for another process
        // (the CLI next to the daemon) instead of failing at once.
        conn.busy_timeout(std::time::Duration::from_millis(5000))
            .map_err(corrupt_or)?;
        if wal {
            // A garbage file fails here with "file is not a database", which is mapped to
            // Corrupt: such a file must never be mistaken for an empty database.
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
                .map_err(corrupt_or)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Corrupt(format!(
                    "cannot switch the database to WAL mode (got {mode:?})"
                )));
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(corrupt_or)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(corrupt_or)?;
        quick_check(&conn)?;
        // Enough room for every statement the store prepares, so the hot ones (tree loads,
        // node writes) stay compiled.
        conn.set_prepared_statement_cache_capacity(128);
        let mut store = Store { conn };
        schema::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// The schema version stored in the file (`PRAGMA user_version`).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn schema_version(&self) -> Result<i64> {
        schema::user_version(&self.conn)
    }

    /// Runs `f` in one write transaction: committed when `f` returns `Ok`, rolled back when
    /// it returns `Err` (or panics).
    ///
    /// The transaction is `BEGIN IMMEDIATE`, so it takes the write lock up front and waits
    /// out the busy timeout rather than failing halfway when another process writes.
    ///
    /// # Errors
    /// The closure's error, or SQLite errors from begin/commit.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut StoreTx<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut stx = StoreTx { tx };
        // On error the transaction is dropped here, and rusqlite rolls it back on drop.
        let out = f(&mut stx)?;
        stx.tx.commit()?;
        Ok(out)
    }
}

impl StoreTx<'_> {
    /// The underlying connection, for reads inside the transaction.
    fn conn(&self) -> &SqlConn {
        &self.tx
    }
}

/// Runs `PRAGMA quick_check` and turns anything but a single "ok" into `Corrupt`.
fn quick_check(conn: &SqlConn) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA quick_check").map_err(corrupt_or)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(corrupt_or)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(corrupt_or)?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt(rows.join("; ")))
    }
}

/// Maps SQLite's "not a database" and "corrupt" codes to [`StoreError::Corrupt`].
fn corrupt_or(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt(e.to_string())
        }
        _ => StoreError::Sqlite(e),
    }
}

/// The current time in Unix milliseconds (the unit of every timestamp the store sets).
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The stored spelling of a side.
fn side_str(side: Side) -> &'static str {
    match side {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

/// Parses a stored side.
fn parse_side(s: &str) -> Result<Side> {
    match s {
        "local" => Ok(Side::Local),
        "remote" => Ok(Side::Remote),
        other => Err(StoreError::Corrupt(format!("unknown side {other:?}"))),
    }
}

/// The stored spelling of a kind.
fn kind_str(kind: Kind) -> &'static str {
    match kind {
        Kind::File => "file",
        Kind::Dir => "dir",
    }
}

/// Parses a stored kind.
fn parse_kind(s: &str) -> Result<Kind> {
    match s {
        "file" => Ok(Kind::File),
        "dir" => Ok(Kind::Dir),
        other => Err(StoreError::Corrupt(format!("unknown node kind {other:?}"))),
    }
}

/// Fails with `NotFound` when a statement touched no row.
fn expect_changed(changed: usize, what: impl FnOnce() -> String) -> Result<()> {
    if changed == 0 {
        Err(StoreError::NotFound(what()))
    } else {
        Ok(())
    }
}

/// Runs `f` on a shared store and logs a failure under `what` instead of returning it: for
/// state whose loss only costs work (upload sessions, change-feed positions), never data.
pub(crate) fn logged<T>(
    store: &std::sync::Mutex<Store>,
    what: &str,
    f: impl FnOnce(&mut Store) -> Result<T>,
) -> Option<T> {
    let mut store = store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match f(&mut store) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!("{what}: {e}");
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Helpers shared by the store's tests.

    use super::{NewConnection, Store};
    use cloudsync_core::ConnectionSettings;

    /// A store in a fresh temp folder (the folder must outlive the store).
    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("db").join("cloudsync.db")).expect("open");
        (dir, store)
    }

    /// A connection description whose name and credential derive from `name`.
    pub(super) fn new_conn(name: &str) -> NewConnection {
        NewConnection {
            name: name.to_string(),
            provider: "local".to_string(),
            local_root: format!("/home/u/{name}").into(),
            remote: serde_json::json!({ "root": format!("/srv/{name}") }),
            credential: format!("local:{name}"),
            settings: ConnectionSettings::default(),
        }
    }

    /// Adds a connection named `name` and returns its id.
    pub(crate) fn add_conn(store: &mut Store, name: &str) -> i64 {
        store
            .add_connection(&new_conn(name))
            .expect("add connection")
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{add_conn, temp_store};
    use super::*;

    #[test]
    fn file_and_folder_modes() {
        let (dir, store) = temp_store();
        let db = dir.path().join("db").join("cloudsync.db");
        let mode = std::fs::metadata(&db)
            .expect("stat db")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(dir.path().join("db"))
            .expect("stat dir")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .expect("journal mode");
        assert_eq!(mode, "wal");
        let fk: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .expect("foreign keys");
        assert_eq!(fk, 1);
    }

    #[test]
    fn reopen_keeps_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.db");
        {
            let mut store = Store::open(&path).expect("open");
            add_conn(&mut store, "docs");
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.connections().expect("list").len(), 1);
    }

    #[test]
    fn two_handles_share_one_file() {
        // The daemon and the CLI each open the same database.
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.db");
        let mut daemon = Store::open(&path).expect("open daemon");
        let mut cli = Store::open(&path).expect("open cli");
        let id = add_conn(&mut daemon, "docs");
        cli.set_paused(id, true).expect("pause from the CLI");
        let seen = daemon.connection(id).expect("read").expect("exists");
        assert!(seen.paused);
    }

    #[test]
    fn garbage_file_is_corrupt_not_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.db");
        let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 37 % 251) as u8).collect();
        std::fs::write(&path, &garbage).expect("write garbage");
        let err = Store::open(&path).expect_err("garbage must not open");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        // The file is left as it was, for the user or support to look at.
        assert_eq!(std::fs::read(&path).expect("read back"), garbage);
    }

    #[test]
    fn damaged_database_is_corrupt() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.db");
        {
            let mut store = Store::open(&path).expect("open");
            let id = add_conn(&mut store, "docs");
            store
                .journal_add(
                    id,
                    "temp",
                    &serde_json::json!({ "pad": "x".repeat(20_000) }),
                )
                .expect("journal");
            // Fold the WAL into the main file so the damage below hits real pages.
            store
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .expect("checkpoint");
        }
        // Keep the header (so SQLite accepts the file) and smash the pages after it.
        let mut bytes = std::fs::read(&path).expect("read db");
        assert!(bytes.len() > 8192, "database too small to damage");
        for b in &mut bytes[4096..] {
            *b = 0xA5;
        }
        std::fs::write(&path, &bytes).expect("write damaged db");
        let err = Store::open(&path).expect_err("damaged database must not open");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn write_rolls_back_on_error() {
        let (_dir, mut store) = temp_store();
        let id = add_conn(&mut store, "docs");
        let res: Result<()> = store.write(|tx| {
            tx.journal_add(id, "temp", &serde_json::json!({ "n": 1 }))?;
            Err(StoreError::Invalid("stop".into()))
        });
        assert!(res.is_err());
        assert!(store.journal(id).expect("journal").is_empty());
    }

    #[test]
    fn in_memory_store_is_migrated() {
        let store = Store::open_in_memory().expect("open");
        assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    }
}
