//! Per-connection settings: sync mode, delete and conflict policies, filters, limits.

use serde::{Deserialize, Serialize};

use crate::path::RelPath;
use crate::schedule::Schedule;

/// Which way changes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Changes on either side reach the other.
    #[default]
    TwoWay,
    /// Only local changes reach the remote.
    UploadOnly,
    /// Only remote changes reach the local side.
    DownloadOnly,
}

/// Who keeps the name when both sides changed a file differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// The local version keeps the name; the remote one survives as a revision or a
    /// conflicted copy.
    #[default]
    KeepLocal,
    /// The remote version keeps the name; the local one goes to the trash.
    KeepRemote,
    /// The remote version keeps the name; the local one becomes a conflicted copy on both
    /// sides.
    KeepBoth,
    /// The version with the later modification time keeps the name.
    NewerWins,
}

/// Everything a user can set on a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionSettings {
    /// Which way changes flow.
    pub mode: Mode,
    /// Do not remove in the destination what was removed in the source.
    pub no_delete: bool,
    /// Conflict policy.
    pub conflict: ConflictPolicy,
    /// Exclude globs (matched against the relative path and against the name).
    pub exclude: Vec<String>,
    /// Excluded extensions, without the dot, case-insensitive.
    pub exclude_extensions: Vec<String>,
    /// Files larger than this are not synced.
    pub max_size: Option<u64>,
    /// Remote folders left out (selective sync).
    pub skip_remote_folders: Vec<RelPath>,
    /// Seconds between remote polls and local rescans.
    pub poll_interval_secs: u64,
    /// Hours of the week when syncing may run (`None`: always).
    pub schedule: Option<Schedule>,
    /// Upload cap in bytes per second.
    pub bwlimit_up: Option<u64>,
    /// Download cap in bytes per second.
    pub bwlimit_down: Option<u64>,
    /// Large transfers in flight at once (small files and other operations run four
    /// times as many).
    pub transfers: usize,
    /// Move remotely deleted files into `.cloudsync-trash/` on the remote (where deletes
    /// are permanent) rather than deleting them.
    pub remote_trash: bool,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            mode: Mode::TwoWay,
            no_delete: false,
            conflict: ConflictPolicy::KeepLocal,
            exclude: Vec::new(),
            exclude_extensions: Vec::new(),
            max_size: None,
            skip_remote_folders: Vec::new(),
            poll_interval_secs: 30,
            schedule: None,
            bwlimit_up: None,
            bwlimit_down: None,
            transfers: 4,
            remote_trash: true,
        }
    }
}
