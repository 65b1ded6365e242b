//! What a backend can do, as data the planner and executor consult.

use serde::{Deserialize, Serialize};

/// Backend-specific name rules from the spec, on top of the general ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderRules {
    /// No extra rules (local folder).
    #[default]
    None,
    /// WebDAV: names with control characters.
    WebDav,
    /// S3: names with control characters.
    S3,
    /// Dropbox: names starting with `.dropbox` or `.cache`, names containing `.dropbox`.
    Dropbox,
    /// Baidu: names starting with `.`, names that are or contain `.baohe` or `.cache`.
    Baidu,
    /// Google Drive: native documents are not synced.
    GoogleDrive,
}

/// The capabilities of one backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The hash kind the remote reports (`sha256`, `dropbox`, `md5`, ...), if any.
    pub hash_kind: Option<String>,
    /// The remote keeps earlier versions of a file it overwrites.
    pub keeps_revisions: bool,
    /// Names differing only in case are the same file on the remote.
    pub case_insensitive: bool,
    /// The remote offers a change feed (cursor) rather than listing only.
    pub change_feed: bool,
    /// Extra name rules.
    pub rules: ProviderRules,
}

impl Capabilities {
    /// Capabilities of a plain folder used as the remote.
    pub fn local_folder() -> Capabilities {
        Capabilities {
            hash_kind: Some("sha256".into()),
            keeps_revisions: false,
            case_insensitive: false,
            change_feed: false,
            rules: ProviderRules::None,
        }
    }
}
