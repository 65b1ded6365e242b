//! Change-feed positions across restarts, for backends whose listing is a cursor plus
//! deltas (Dropbox's `list_folder/continue`, Drive's `changes.list`): the backend's listing
//! state (its cursor with the entries it describes) is saved through the engine's
//! [`FeedStates`], and the first listing of the next process goes on from the saved cursor
//! instead of walking the whole root again. A saved state always pairs a cursor with the
//! tree it describes, so an older one only means replaying more changes; a state saved
//! for another root or in another format is ignored, and a cursor the provider refuses
//! means a full listing.
//!
//! Saving serialises the whole state, so it happens after a listing that changed
//! something, at most every [`SAVE_EVERY`]: a change not saved yet is replayed after a
//! restart.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cloudsync_engine::feed::FeedStates;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use serde::de::DeserializeOwned;

/// The shortest time between two saves.
pub const SAVE_EVERY: Duration = Duration::from_secs(30);

/// Bumped when the saved shape changes; other versions are ignored.
const FORMAT: u32 = 1;

#[derive(Deserialize)]
struct Saved<T> {
    format: u32,
    /// What the state lists (a root path or id), so a state never serves another folder.
    root: String,
    state: T,
}

/// Keeps one backend's feed position.
#[derive(Default)]
pub struct FeedKeeper {
    store: OnceLock<Arc<dyn FeedStates>>,
    last_saved: Mutex<Option<Instant>>,
}

impl FeedKeeper {
    /// Attaches the engine's store (once).
    pub fn attach(&self, store: Arc<dyn FeedStates>) {
        let _ = self.store.set(store);
    }

    /// The state saved for `root`, if there is a usable one.
    pub fn load<T: DeserializeOwned>(&self, root: &str) -> Option<T> {
        let text = self.store.get()?.load()?;
        match serde_json::from_str::<Saved<T>>(&text) {
            Ok(saved) if saved.format == FORMAT && saved.root == root => Some(saved.state),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!("the saved listing state is unreadable ({e}); listing again");
                None
            }
        }
    }

    /// Called after every listing; saves `state` when it `changed` and the last save is
    /// [`SAVE_EVERY`] old (or there was none).
    pub fn listed<T: Serialize>(&self, root: &str, state: &T, changed: bool) {
        let Some(store) = self.store.get() else {
            return;
        };
        let mut last = self
            .last_saved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !changed || last.is_some_and(|t| t.elapsed() < SAVE_EVERY) {
            return;
        }
        let saved = SavedRef {
            format: FORMAT,
            root,
            state,
        };
        match serde_json::to_string(&saved) {
            Ok(text) => {
                store.save(&text);
                *last = Some(Instant::now());
            }
            Err(e) => tracing::warn!("cannot save the listing state: {e}"),
        }
    }
}

#[derive(Serialize)]
struct SavedRef<'a, T> {
    format: u32,
    root: &'a str,
    state: &'a T,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Memory(Mutex<Option<String>>, Mutex<usize>);

    impl FeedStates for Memory {
        fn load(&self) -> Option<String> {
            self.0.lock().expect("lock").clone()
        }
        fn save(&self, state: &str) {
            *self.0.lock().expect("lock") = Some(state.to_string());
            *self.1.lock().expect("lock") += 1;
        }
        fn forget(&self) {
            *self.0.lock().expect("lock") = None;
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct State {
        cursor: String,
        nodes: BTreeMap<String, u64>,
    }

    fn state(cursor: &str) -> State {
        State {
            cursor: cursor.into(),
            nodes: BTreeMap::from([("docs/a.txt".to_string(), 7)]),
        }
    }

    #[test]
    fn a_saved_state_comes_back_for_its_root_only_and_saves_are_spaced() {
        let memory = Arc::new(Memory::default());
        let keeper = FeedKeeper::default();
        let root = "/cloudsync";
        assert!(keeper.load::<State>(root).is_none(), "nothing attached");
        keeper.attach(memory.clone());
        assert!(keeper.load::<State>(root).is_none(), "nothing saved");

        keeper.listed(root, &state("c1"), false);
        assert_eq!(*memory.1.lock().expect("lock"), 0, "unchanged: not saved");
        keeper.listed(root, &state("c1"), true);
        keeper.listed(root, &state("c2"), true);
        assert_eq!(*memory.1.lock().expect("lock"), 1, "a second save waits");
        assert_eq!(keeper.load::<State>(root), Some(state("c1")));

        assert!(keeper.load::<State>("/other").is_none(), "another root");
        memory.save("{not json");
        assert!(keeper.load::<State>(root).is_none(), "damaged");
        memory
            .save(r#"{"format": 99, "root": "/cloudsync", "state": {"cursor": "x", "nodes": {}}}"#);
        assert!(keeper.load::<State>(root).is_none(), "another format");
    }
}
