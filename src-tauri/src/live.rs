//! What the tray and the windows show right now, folded from the engine's answers and
//! events: each connection's status, the transfers in flight with their speeds, and the
//! recently changed files. Pure (time is passed in), so it is unit-tested; it mirrors the
//! engine and decides nothing about syncing.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use cloudsync_engine::events::Direction;
use cloudsync_engine::Event;
use serde::{Deserialize, Serialize};

/// Recently changed files kept for the tray.
pub const RECENT_FILES: usize = 10;
/// The window over which a transfer's speed is measured.
const SPEED_WINDOW: Duration = Duration::from_secs(3);

/// A connection as the windows show it (docs/app-ipc.md `ConnectionStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// Name.
    pub name: String,
    /// Provider id (`demo` for the built-in Demo cloud).
    pub provider: String,
    /// `idle`, `syncing`, `paused`, `error`, `waiting-for-approval`, `outside-schedule`.
    pub state: String,
    /// The error, or what waits for approval.
    pub reason: Option<String>,
    /// Local folder.
    pub local_root: String,
    /// One line describing the remote side.
    pub remote: String,
    /// The account or target identity.
    pub account: String,
    /// Files in sync.
    pub synced_files: u64,
    /// Items skipped.
    pub skipped: u64,
    /// Unresolved conflicts.
    pub conflicts: u64,
    /// Last completed sync (Unix ms).
    pub last_sync: Option<i64>,
    /// Paused by the user.
    pub paused: bool,
    /// The provider refused the stored sign-in: the window offers "Sign in again".
    pub sign_in_needed: bool,
}

/// A transfer in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    /// Connection.
    pub connection: String,
    /// Path.
    pub path: String,
    /// Direction.
    pub direction: Direction,
    /// Bytes done.
    pub done: u64,
    /// Total bytes.
    pub total: u64,
    /// Recent speed.
    pub bytes_per_sec: u64,
}

/// A file that recently reached agreement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentFile {
    /// Connection.
    pub connection: String,
    /// Path inside the sync folder.
    pub path: String,
    /// Activity word (`upload`, `download`, ...).
    pub action: String,
    /// When (Unix ms).
    pub time_ms: i64,
}

/// The tray icon's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Icon {
    /// Up to date.
    Idle,
    /// Transferring or scanning.
    Syncing,
    /// Paused, or waiting for the user.
    Paused,
    /// Something failed.
    Error,
}

/// Everything the tray shows (docs/app-ipc.md `Snapshot`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The tray's first line.
    pub status_line: String,
    /// The icon.
    pub icon: Icon,
    /// Every connection.
    pub connections: Vec<ConnectionView>,
    /// Transfers in flight.
    pub transfers: Vec<Transfer>,
    /// Their speeds added up.
    pub total_bytes_per_sec: u64,
    /// Newest first.
    pub recent: Vec<RecentFile>,
}

#[derive(Debug)]
struct Flight {
    total: u64,
    done: u64,
    samples: VecDeque<(Instant, u64)>,
}

impl Flight {
    fn speed(&self, now: Instant) -> u64 {
        let Some(&(t0, d0)) = self
            .samples
            .iter()
            .find(|(t, _)| now.duration_since(*t) <= SPEED_WINDOW)
        else {
            return 0;
        };
        let secs = now.duration_since(t0).as_secs_f64();
        if secs < 0.2 {
            return 0;
        }
        (self.done.saturating_sub(d0) as f64 / secs) as u64
    }
}

/// The live model.
#[derive(Debug, Default)]
pub struct LiveModel {
    connections: Vec<ConnectionView>,
    syncing: HashSet<String>,
    flights: BTreeMap<(String, String, bool), Flight>,
    recent: VecDeque<RecentFile>,
}

/// What an event asks of the caller besides a new snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Followup {
    /// Connection states or counts changed: ask the engine for them again.
    pub refresh_connections: bool,
}

impl LiveModel {
    /// Replaces the connections with a fresh answer from the engine.
    pub fn set_connections(&mut self, connections: Vec<ConnectionView>) {
        self.syncing
            .retain(|n| connections.iter().any(|c| &c.name == n));
        self.connections = connections;
    }

    /// Seeds the recent files (newest first) from the activity log.
    pub fn set_recent(&mut self, recent: Vec<RecentFile>) {
        self.recent = recent.into_iter().take(RECENT_FILES).collect();
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &Event, now: Instant, now_ms: i64) -> Followup {
        let mut follow = Followup::default();
        match event {
            Event::Status {
                connection, status, ..
            } => {
                if status == "syncing" {
                    self.syncing.insert(connection.clone());
                } else {
                    self.syncing.remove(connection);
                    self.flights.retain(|(c, _, _), _| c != connection);
                }
                follow.refresh_connections = true;
            }
            Event::TransferStarted {
                connection,
                path,
                direction,
                bytes,
            } => {
                self.flights.insert(
                    key(connection, path, *direction),
                    Flight {
                        total: *bytes,
                        done: 0,
                        samples: VecDeque::from([(now, 0)]),
                    },
                );
            }
            Event::TransferProgress {
                connection,
                path,
                direction,
                done,
                total,
            } => {
                let flight = self
                    .flights
                    .entry(key(connection, path, *direction))
                    .or_insert_with(|| Flight {
                        total: *total,
                        done: 0,
                        samples: VecDeque::new(),
                    });
                flight.done = *done;
                flight.total = *total;
                flight.samples.push_back((now, *done));
                while flight
                    .samples
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > SPEED_WINDOW * 2)
                {
                    flight.samples.pop_front();
                }
            }
            Event::TransferFinished {
                connection,
                path,
                direction,
                ..
            } => {
                self.flights.remove(&key(connection, path, *direction));
            }
            Event::Synced {
                connection,
                action,
                path,
            } => {
                if action == "upload" || action == "download" || action == "rename" {
                    self.recent
                        .retain(|r| !(r.connection == *connection && r.path == *path));
                    self.recent.push_front(RecentFile {
                        connection: connection.clone(),
                        path: path.clone(),
                        action: action.clone(),
                        time_ms: now_ms,
                    });
                    self.recent.truncate(RECENT_FILES);
                }
            }
            Event::Conflict { .. } | Event::RoundFinished { .. } | Event::Error { .. } => {
                follow.refresh_connections = true;
            }
            Event::Skipped { .. } => {}
        }
        follow
    }

    /// What to show now.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let connections: Vec<ConnectionView> = self
            .connections
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if c.state == "idle" && self.syncing.contains(&c.name) {
                    c.state = "syncing".into();
                }
                c
            })
            .collect();
        let transfers: Vec<Transfer> = self
            .flights
            .iter()
            .map(|((connection, path, up), f)| Transfer {
                connection: connection.clone(),
                path: path.clone(),
                direction: if *up {
                    Direction::Upload
                } else {
                    Direction::Download
                },
                done: f.done,
                total: f.total,
                bytes_per_sec: f.speed(now),
            })
            .collect();
        let total_bytes_per_sec = transfers.iter().map(|t| t.bytes_per_sec).sum();
        let (status_line, icon) = summary(&connections, transfers.len());
        Snapshot {
            status_line,
            icon,
            connections,
            transfers,
            total_bytes_per_sec,
            recent: self.recent.iter().cloned().collect(),
        }
    }
}

fn key(connection: &str, path: &str, direction: Direction) -> (String, String, bool) {
    (
        connection.to_string(),
        path.to_string(),
        direction == Direction::Upload,
    )
}

/// The status line and icon: an error outranks a wait for approval, which outranks
/// syncing, which outranks paused.
fn summary(connections: &[ConnectionView], transfers: usize) -> (String, Icon) {
    if let Some(c) = connections.iter().find(|c| c.state == "error") {
        let reason = c.reason.as_deref().unwrap_or("unknown error");
        return (format!("Error: {}: {reason}", c.name), Icon::Error);
    }
    if let Some(c) = connections
        .iter()
        .find(|c| c.state == "waiting-for-approval")
    {
        return (format!("Waiting for approval: {}", c.name), Icon::Paused);
    }
    if transfers > 0 {
        let files = if transfers == 1 { "file" } else { "files" };
        return (format!("Syncing {transfers} {files}"), Icon::Syncing);
    }
    if connections.iter().any(|c| c.state == "syncing") {
        return ("Syncing...".into(), Icon::Syncing);
    }
    if connections.is_empty() {
        return ("No connections yet".into(), Icon::Idle);
    }
    if connections.iter().all(|c| c.paused) {
        return ("Paused".into(), Icon::Paused);
    }
    ("Up to date".into(), Icon::Idle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(name: &str, state: &str) -> ConnectionView {
        ConnectionView {
            name: name.into(),
            provider: "local".into(),
            state: state.into(),
            reason: (state == "error").then(|| "disk full".to_string()),
            local_root: format!("/home/u/{name}"),
            remote: "/mnt/nas".into(),
            account: format!("local:/mnt/{name}"),
            synced_files: 3,
            skipped: 0,
            conflicts: 0,
            last_sync: None,
            paused: state == "paused",
            sign_in_needed: false,
        }
    }

    fn progress(conn: &str, path: &str, done: u64, total: u64) -> Event {
        Event::TransferProgress {
            connection: conn.into(),
            path: path.into(),
            direction: Direction::Upload,
            done,
            total,
        }
    }

    #[test]
    fn status_line_ranks_error_over_approval_over_syncing_over_paused() {
        let mut m = LiveModel::default();
        let t = Instant::now();
        assert_eq!(m.snapshot(t).status_line, "No connections yet");
        m.set_connections(vec![conn("a", "idle"), conn("b", "idle")]);
        assert_eq!(m.snapshot(t).status_line, "Up to date");
        assert_eq!(m.snapshot(t).icon, Icon::Idle);
        m.set_connections(vec![conn("a", "paused"), conn("b", "paused")]);
        assert_eq!(m.snapshot(t).status_line, "Paused");
        assert_eq!(m.snapshot(t).icon, Icon::Paused);
        m.set_connections(vec![conn("a", "paused"), conn("b", "idle")]);
        m.apply(&progress("b", "x.bin", 10, 100), t, 0);
        let s = m.snapshot(t);
        assert_eq!(
            (s.status_line.as_str(), s.icon),
            ("Syncing 1 file", Icon::Syncing)
        );
        m.set_connections(vec![conn("a", "waiting-for-approval"), conn("b", "idle")]);
        assert_eq!(m.snapshot(t).status_line, "Waiting for approval: a");
        m.set_connections(vec![conn("a", "waiting-for-approval"), conn("b", "error")]);
        let s = m.snapshot(t);
        assert_eq!(s.status_line, "Error: b: disk full");
        assert_eq!(s.icon, Icon::Error);
    }

    #[test]
    fn transfers_carry_progress_and_a_speed_over_the_last_seconds() {
        let mut m = LiveModel::default();
        m.set_connections(vec![conn("a", "idle")]);
        let t0 = Instant::now();
        m.apply(
            &Event::TransferStarted {
                connection: "a".into(),
                path: "big.iso".into(),
                direction: Direction::Upload,
                bytes: 10_000_000,
            },
            t0,
            0,
        );
        m.apply(
            &progress("a", "big.iso", 1_000_000, 10_000_000),
            t0 + Duration::from_secs(1),
            0,
        );
        m.apply(
            &progress("a", "big.iso", 3_000_000, 10_000_000),
            t0 + Duration::from_secs(2),
            0,
        );
        let s = m.snapshot(t0 + Duration::from_secs(2));
        assert_eq!(s.transfers.len(), 1);
        assert_eq!(s.transfers[0].done, 3_000_000);
        assert_eq!(s.transfers[0].total, 10_000_000);
        // 3 MB in the 2 s since the start sample.
        assert_eq!(s.transfers[0].bytes_per_sec, 1_500_000);
        assert_eq!(s.total_bytes_per_sec, 1_500_000);
        m.apply(
            &Event::TransferFinished {
                connection: "a".into(),
                path: "big.iso".into(),
                direction: Direction::Upload,
                bytes: 10_000_000,
                ok: true,
            },
            t0 + Duration::from_secs(3),
            0,
        );
        assert!(m.snapshot(t0 + Duration::from_secs(3)).transfers.is_empty());
    }

    #[test]
    fn recent_files_are_newest_first_unique_and_bounded() {
        let mut m = LiveModel::default();
        let t = Instant::now();
        for i in 0..15 {
            m.apply(
                &Event::Synced {
                    connection: "a".into(),
                    action: "download".into(),
                    path: format!("f{i}.txt"),
                },
                t,
                i,
            );
        }
        m.apply(
            &Event::Synced {
                connection: "a".into(),
                action: "upload".into(),
                path: "f10.txt".into(),
            },
            t,
            99,
        );
        m.apply(
            &Event::Synced {
                connection: "a".into(),
                action: "delete-local".into(),
                path: "gone.txt".into(),
            },
            t,
            100,
        );
        let recent = m.snapshot(t).recent;
        assert_eq!(recent.len(), RECENT_FILES);
        assert_eq!(recent[0].path, "f10.txt");
        assert_eq!(recent[0].action, "upload");
        assert_eq!(recent[1].path, "f14.txt");
        assert_eq!(recent.iter().filter(|r| r.path == "f10.txt").count(), 1);
        assert!(recent.iter().all(|r| r.path != "gone.txt"));
    }

    #[test]
    fn a_syncing_status_event_shows_until_the_round_ends() {
        let mut m = LiveModel::default();
        let t = Instant::now();
        m.set_connections(vec![conn("a", "idle")]);
        let f = m.apply(
            &Event::Status {
                connection: "a".into(),
                status: "syncing".into(),
                detail: None,
            },
            t,
            0,
        );
        assert!(f.refresh_connections);
        assert_eq!(m.snapshot(t).connections[0].state, "syncing");
        assert_eq!(m.snapshot(t).status_line, "Syncing...");
        m.apply(
            &Event::Status {
                connection: "a".into(),
                status: "idle".into(),
                detail: None,
            },
            t,
            0,
        );
        assert_eq!(m.snapshot(t).connections[0].state, "idle");
    }
}
