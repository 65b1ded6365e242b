//! Resumable upload sessions that outlive the process: a backend with server-side upload
//! sessions (Dropbox, Google Drive, Baidu) saves what it needs to continue an upload (the
//! session id or URL, the bytes the server confirmed) through [`UploadSessions`]; after a
//! crash or a `kill -9`, the next upload of the same file version loads it and sends only
//! what the server is missing.
//!
//! The engine keeps them in its journal (kind `upload-session`), keyed by the file version
//! ([`session_key`]: path, size and mtime), so an edited file never resumes an old session.

use std::sync::{Arc, Mutex};

use cloudsync_core::RelPath;

use crate::store::Store;

/// Where a backend keeps the state of its resumable uploads.
pub trait UploadSessions: Send + Sync {
    /// The state saved for `key`, if any.
    fn load(&self, key: &str) -> Option<serde_json::Value>;
    /// Saves the state for `key` (replacing the state of other versions of the same path).
    fn save(&self, key: &str, path: &RelPath, state: &serde_json::Value);
    /// Forgets `key` (the upload finished, or its session is gone).
    fn forget(&self, key: &str);
}

/// The key of one version of a local file: an edit (new size or mtime) is a new key.
pub fn session_key(path: &RelPath, size: u64, mtime_ns: i64) -> String {
    format!("{path}\n{size}\n{mtime_ns}")
}

/// The journal kind of saved sessions.
const KIND: &str = "upload-session";

/// Sessions kept in the engine's journal for one connection.
pub struct JournalSessions {
    store: Arc<Mutex<Store>>,
    conn: i64,
}

impl JournalSessions {
    /// The sessions of connection `conn`.
    pub fn new(store: Arc<Mutex<Store>>, conn: i64) -> JournalSessions {
        JournalSessions { store, conn }
    }

    /// Runs `f` on the store; a failure is logged, never fatal: losing a session only
    /// means the upload starts over.
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> crate::store::Result<T>) -> Option<T> {
        crate::store::logged(&self.store, "upload sessions", f)
    }

    /// (journal id, key, path) of every saved session.
    fn entries(store: &Store, conn: i64) -> crate::store::Result<Vec<(i64, String, String)>> {
        Ok(store
            .journal(conn)?
            .into_iter()
            .filter(|r| r.kind == KIND)
            .map(|r| {
                let text = |k: &str| {
                    r.data
                        .get(k)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                (r.id, text("key"), text("path"))
            })
            .collect())
    }
}

impl UploadSessions for JournalSessions {
    fn load(&self, key: &str) -> Option<serde_json::Value> {
        let conn = self.conn;
        self.with_store(|s| {
            Ok(s.journal(conn)?
                .into_iter()
                .rev()
                .find(|r| r.kind == KIND && r.data.get("key").and_then(|k| k.as_str()) == Some(key))
                .and_then(|r| r.data.get("state").cloned()))
        })
        .flatten()
    }

    fn save(&self, key: &str, path: &RelPath, state: &serde_json::Value) {
        let conn = self.conn;
        let data = serde_json::json!({ "key": key, "path": path.as_str(), "state": state });
        self.with_store(|s| {
            let stale: Vec<i64> = JournalSessions::entries(s, conn)?
                .into_iter()
                .filter(|(_, k, p)| k == key || p == path.as_str())
                .map(|(id, _, _)| id)
                .collect();
            s.write(|tx| {
                for id in stale {
                    tx.journal_remove(id)?;
                }
                tx.journal_add(conn, KIND, &data)?;
                Ok(())
            })
        });
    }

    fn forget(&self, key: &str) {
        let conn = self.conn;
        self.with_store(|s| {
            let ids: Vec<i64> = JournalSessions::entries(s, conn)?
                .into_iter()
                .filter(|(_, k, _)| k == key)
                .map(|(id, _, _)| id)
                .collect();
            s.write(|tx| {
                for id in ids {
                    tx.journal_remove(id)?;
                }
                Ok(())
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_util::{add_conn, temp_store};

    #[test]
    fn a_saved_session_is_found_by_its_version_only() {
        let (dir, mut store) = temp_store();
        let c = add_conn(&mut store, "docs");
        let store = Arc::new(Mutex::new(store));
        let sessions = JournalSessions::new(store.clone(), c);
        let path = RelPath::new("big.bin").expect("path");
        let v1 = session_key(&path, 100, 1);
        let v2 = session_key(&path, 100, 2);
        sessions.save(
            &v1,
            &path,
            &serde_json::json!({"session": "a", "offset": 8}),
        );
        assert_eq!(
            sessions.load(&v1),
            Some(serde_json::json!({"session": "a", "offset": 8}))
        );
        assert_eq!(sessions.load(&v2), None, "an edited file does not resume");

        // A newer offset replaces the old state; another version of the path replaces it.
        sessions.save(
            &v1,
            &path,
            &serde_json::json!({"session": "a", "offset": 16}),
        );
        assert_eq!(
            sessions.load(&v1),
            Some(serde_json::json!({"session": "a", "offset": 16}))
        );
        sessions.save(&v2, &path, &serde_json::json!({"session": "b"}));
        assert_eq!(sessions.load(&v1), None);
        let kept = store.lock().expect("lock").journal(c).expect("journal");
        assert_eq!(kept.len(), 1, "one entry per path");

        // A new store on the same database (a restarted process) still has it.
        let reopened = Store::open(&dir.path().join("db").join("cloudsync.db")).expect("reopen");
        let after_restart = JournalSessions::new(Arc::new(Mutex::new(reopened)), c);
        assert_eq!(
            after_restart.load(&v2),
            Some(serde_json::json!({"session": "b"}))
        );
        after_restart.forget(&v2);
        assert_eq!(sessions.load(&v2), None);
    }
}
