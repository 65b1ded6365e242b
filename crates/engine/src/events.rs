//! The one typed event stream that the CLI, the app and the tests all read.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Direction of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Local to remote.
    Upload,
    /// Remote to local.
    Download,
}

/// Something the engine did or saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// A connection's status changed (`idle`, `syncing`, `paused`, `error`, `approval`,
    /// `outside-schedule`).
    Status {
        /// Connection name.
        connection: String,
        /// The new status word.
        status: String,
        /// Details (the error, or what waits for approval).
        detail: Option<String>,
    },
    /// A transfer began.
    TransferStarted {
        /// Connection name.
        connection: String,
        /// Path.
        path: String,
        /// Direction.
        direction: Direction,
        /// Total bytes.
        bytes: u64,
    },
    /// Bytes moved so far.
    TransferProgress {
        /// Connection name.
        connection: String,
        /// Path.
        path: String,
        /// Direction.
        direction: Direction,
        /// Bytes done.
        done: u64,
        /// Total bytes.
        total: u64,
    },
    /// A transfer ended.
    TransferFinished {
        /// Connection name.
        connection: String,
        /// Path.
        path: String,
        /// Direction.
        direction: Direction,
        /// Bytes moved.
        bytes: u64,
        /// Whether it succeeded.
        ok: bool,
    },
    /// One entry reached agreement (after an upload, download, move, delete or mkdir).
    Synced {
        /// Connection name.
        connection: String,
        /// Activity word (`upload`, `download`, `delete-local`, ...).
        action: String,
        /// Path.
        path: String,
    },
    /// An entry is left out.
    Skipped {
        /// Connection name.
        connection: String,
        /// Path.
        path: String,
        /// Why.
        reason: String,
    },
    /// Both sides changed a file.
    Conflict {
        /// Connection name.
        connection: String,
        /// Path.
        path: String,
        /// Where the losing version went.
        loser: String,
    },
    /// Something failed.
    Error {
        /// Connection name, if it concerns one.
        connection: Option<String>,
        /// The message.
        message: String,
    },
    /// A sync round finished.
    RoundFinished {
        /// Connection name.
        connection: String,
        /// Operations carried out.
        ops: usize,
    },
}

/// Sends events to every subscriber (slow subscribers miss the oldest events rather than
/// slowing the engine).
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with room for 4,096 events per subscriber.
    pub fn new() -> EventBus {
        let (tx, _) = broadcast::channel(4096);
        EventBus { tx }
    }

    /// Sends an event (dropped when nobody listens).
    pub fn emit(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    /// Subscribes.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
