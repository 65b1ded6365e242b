//! Change-feed positions that outlive the process: a backend whose listing is a cursor plus
//! deltas (Dropbox's `list_folder/continue`) saves its cursor together with the tree that
//! cursor describes, and after a restart continues the feed from there instead of listing
//! the whole remote again. Any saved snapshot is a consistent (cursor, tree) pair, so an
//! older one only means replaying more deltas; a cursor the provider no longer accepts
//! means a full listing, as without a snapshot.

use std::sync::{Arc, Mutex};

use crate::store::Store;

/// Where a backend keeps its change-feed position for one connection.
pub trait FeedStates: Send + Sync {
    /// The saved state, if any.
    fn load(&self) -> Option<String>;
    /// Saves (replaces) the state.
    fn save(&self, state: &str);
    /// Forgets the state (it no longer matches the remote).
    fn forget(&self);
}

/// Feed states kept in the engine's store, one per connection.
pub struct StoredFeed {
    store: Arc<Mutex<Store>>,
    conn: i64,
}

impl StoredFeed {
    /// The feed state of connection `conn`.
    pub fn new(store: Arc<Mutex<Store>>, conn: i64) -> StoredFeed {
        StoredFeed { store, conn }
    }

    /// Runs `f` on the store; a failure is logged, never fatal: a lost feed state only
    /// means one full listing.
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> crate::store::Result<T>) -> Option<T> {
        crate::store::logged(&self.store, "change feed state", f)
    }
}

impl FeedStates for StoredFeed {
    fn load(&self) -> Option<String> {
        self.with_store(|s| s.feed_state(self.conn)).flatten()
    }

    fn save(&self, state: &str) {
        self.with_store(|s| s.set_feed_state(self.conn, state));
    }

    fn forget(&self) {
        self.with_store(|s| s.clear_feed_state(self.conn));
    }
}
