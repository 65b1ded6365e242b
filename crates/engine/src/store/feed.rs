//! The `feed_state` table: one opaque text per connection in which a backend with a change
//! feed keeps its position (see [`crate::feed`]).

use rusqlite::{params, OptionalExtension};

use super::{now_ms, Result, Store};

impl Store {
    /// The feed state saved for connection `conn`, if any.
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn feed_state(&self, conn: i64) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT state FROM feed_state WHERE conn_id = ?1")?
            .query_row([conn], |r| r.get(0))
            .optional()?)
    }

    /// Saves (replaces) the feed state of connection `conn`.
    ///
    /// # Errors
    /// On SQLite errors (including an unknown connection).
    pub fn set_feed_state(&mut self, conn: i64, state: &str) -> Result<()> {
        self.write(|tx| {
            tx.tx
                .prepare_cached(
                    "INSERT INTO feed_state (conn_id, state, saved) VALUES (?1, ?2, ?3)
                     ON CONFLICT (conn_id) DO UPDATE SET state = ?2, saved = ?3",
                )?
                .execute(params![conn, state, now_ms()])?;
            Ok(())
        })
    }

    /// Forgets the feed state of connection `conn` (none saved is not an error).
    ///
    /// # Errors
    /// On SQLite errors.
    pub fn clear_feed_state(&mut self, conn: i64) -> Result<()> {
        self.write(|tx| {
            tx.tx
                .prepare_cached("DELETE FROM feed_state WHERE conn_id = ?1")?
                .execute([conn])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_util::{add_conn, temp_store};

    #[test]
    fn a_feed_state_is_saved_replaced_cleared_and_goes_with_its_connection() {
        let (_dir, mut store) = temp_store();
        let id = add_conn(&mut store, "a");
        assert_eq!(store.feed_state(id).expect("read"), None);
        store.set_feed_state(id, "first").expect("save");
        store.set_feed_state(id, "second").expect("replace");
        assert_eq!(
            store.feed_state(id).expect("read").as_deref(),
            Some("second")
        );
        store.clear_feed_state(id).expect("clear");
        assert_eq!(store.feed_state(id).expect("read"), None);
        store.set_feed_state(id, "kept").expect("save");
        store.remove_connection(id).expect("remove");
        assert_eq!(store.feed_state(id).expect("read"), None);
        assert!(
            store.set_feed_state(id, "orphan").is_err(),
            "no such connection"
        );
    }
}
