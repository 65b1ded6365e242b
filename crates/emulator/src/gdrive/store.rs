//! The emulated Drive's state: per account, files by id (names are not unique; one parent
//! each; a root folder answering to `root`), each binary file's revisions, and the change
//! log the `changes` endpoints page through. Resumable upload sessions live here too.
//!
//! Everything is in memory; with `--data`, [`super::persist`] keeps it across restarts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use md5::Md5;
use rand::Rng;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::errors::DriveError;

/// Google's folder type.
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
/// The prefix of Google-native types (documents, sheets, shortcuts, folders).
pub const NATIVE_PREFIX: &str = "application/vnd.google-apps.";

/// One stored revision of a binary file.
#[derive(Debug, Clone)]
pub struct Revision {
    /// The revision id (`headRevisionId` while it is the newest).
    pub id: String,
    /// When it was uploaded (or the `modifiedTime` the client set).
    pub modified: DateTime<Utc>,
    /// The MIME type it was uploaded with.
    pub mime_type: String,
    /// Pinned against automatic purging.
    pub keep_forever: bool,
    /// The name the file had.
    pub original_filename: String,
    /// The bytes.
    pub content: Bytes,
    /// Hex MD5, SHA-1 and SHA-256 of the bytes (computed once, at upload).
    pub checksums: Checksums,
}

/// The checksums Drive reports for a revision.
#[derive(Debug, Clone)]
pub struct Checksums {
    /// `md5Checksum`.
    pub md5: String,
    /// `sha1Checksum`.
    pub sha1: String,
    /// `sha256Checksum`.
    pub sha256: String,
}

impl Checksums {
    /// The checksums of `data`.
    pub fn of(data: &[u8]) -> Checksums {
        Checksums {
            md5: hex(&Md5::digest(data)),
            sha1: hex(&sha1_smol(data)),
            sha256: hex(&Sha256::digest(data)),
        }
    }
}

/// One file or folder.
#[derive(Debug, Clone)]
pub struct File {
    /// The opaque id.
    pub id: String,
    /// The name (not unique in a folder; may hold `/`).
    pub name: String,
    /// The MIME type.
    pub mime_type: String,
    /// The parent ids (one, except for the root, which has none).
    pub parents: Vec<String>,
    /// Trashed by the user itself (descendants of a trashed folder are trashed implicitly).
    pub explicitly_trashed: bool,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Modification time (settable).
    pub modified: DateTime<Utc>,
    /// Bumped on every change.
    pub version: u64,
    /// Binary content revisions, oldest first; empty for folders and native documents.
    pub revisions: Vec<Revision>,
    /// Private app properties.
    pub app_properties: Map<String, Value>,
}

impl File {
    /// True for a folder.
    pub fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }

    /// True for content stored in Drive (not a folder or a Google-native document).
    pub fn is_binary(&self) -> bool {
        !self.mime_type.starts_with(NATIVE_PREFIX)
    }

    /// The newest revision.
    pub fn head(&self) -> Option<&Revision> {
        self.revisions.last()
    }
}

/// One entry of an account's change log.
#[derive(Debug, Clone)]
pub struct ChangeEntry {
    /// The file that changed.
    pub file_id: String,
    /// When.
    pub time: DateTime<Utc>,
}

/// One account's Drive.
#[derive(Debug)]
pub struct Account {
    /// The root folder's id (`root` is an alias for it).
    pub root_id: String,
    /// Files by id.
    pub files: BTreeMap<String, File>,
    /// The change log; page token `n` means "from entry n" (1-based).
    pub changes: Vec<ChangeEntry>,
    /// Folders already given their hostile-named children.
    pub hostile_seeded: std::collections::HashSet<String>,
}

/// A resumable upload in progress.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account that started it.
    pub account: String,
    /// The file it updates, or none for a create.
    pub target: Option<String>,
    /// The metadata sent at initiation.
    pub metadata: Map<String, Value>,
    /// `X-Upload-Content-Type`.
    pub content_type: Option<String>,
    /// The total size, once known.
    pub total: Option<u64>,
    /// The bytes received so far.
    pub received: Vec<u8>,
    /// Query parameters of the initiation that shape the final answer.
    pub fields: Option<String>,
    /// `keepRevisionForever`.
    pub keep_forever: bool,
    /// The initiation's query (`addParents`, `removeParents`, ...), applied at the end.
    pub params: HashMap<String, String>,
    /// The finished file's answer, once complete.
    pub done: Option<Value>,
}

/// Every account and upload session of one emulator.
#[derive(Debug, Default)]
pub struct Drive {
    accounts: Mutex<HashMap<String, Account>>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Drive {
    /// A Drive holding `accounts` (loaded from `--data`).
    pub fn with_accounts(accounts: HashMap<String, Account>) -> Drive {
        Drive {
            accounts: Mutex::new(accounts),
            sessions: Mutex::default(),
        }
    }
}

/// RFC 3339 in UTC with milliseconds, as Drive writes times.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A Drive-looking id: 33 characters of letters, digits, `-` and `_`.
pub fn new_id() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    let mut id = String::from("1");
    for _ in 0..32 {
        id.push(CHARS[rng.gen_range(0..CHARS.len())] as char);
    }
    id
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Drive {
    /// The account's Drive, created on first use.
    pub fn lock(&self) -> MutexGuard<'_, HashMap<String, Account>> {
        self.accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The upload sessions.
    pub fn sessions(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The account named `name` in `accounts`, created (with an empty root) on first use.
pub fn account<'a>(accounts: &'a mut HashMap<String, Account>, name: &str) -> &'a mut Account {
    accounts.entry(name.to_string()).or_insert_with(|| {
        let root_id = new_id();
        let now = Utc::now();
        let mut files = BTreeMap::new();
        files.insert(
            root_id.clone(),
            File {
                id: root_id.clone(),
                name: "My Drive".into(),
                mime_type: FOLDER_MIME.into(),
                parents: Vec::new(),
                explicitly_trashed: false,
                created: now,
                modified: now,
                version: 1,
                revisions: Vec::new(),
                app_properties: Map::new(),
            },
        );
        Account {
            root_id,
            files,
            changes: Vec::new(),
            hostile_seeded: Default::default(),
        }
    })
}

impl Account {
    /// The real id behind `id` (`root` is the root folder's alias).
    pub fn resolve(&self, id: &str) -> String {
        if id == "root" {
            self.root_id.clone()
        } else {
            id.to_string()
        }
    }

    /// The file `id` (or `root`).
    ///
    /// # Errors
    /// 404 `notFound`.
    pub fn get(&self, id: &str) -> Result<&File, DriveError> {
        self.files
            .get(&self.resolve(id))
            .ok_or_else(|| DriveError::file_not_found(id))
    }

    /// True when `id` or a folder above it is explicitly trashed.
    pub fn is_trashed(&self, id: &str) -> bool {
        let mut current = Some(id.to_string());
        let mut hops = 0;
        while let Some(c) = current {
            let Some(f) = self.files.get(&c) else {
                return false;
            };
            if f.explicitly_trashed {
                return true;
            }
            current = f.parents.first().cloned();
            hops += 1;
            if hops > 10_000 {
                return false;
            }
        }
        false
    }

    /// True when `ancestor` is `id` or lies above it.
    pub fn is_within(&self, id: &str, ancestor: &str) -> bool {
        let mut current = Some(id.to_string());
        let mut hops = 0;
        while let Some(c) = current {
            if c == ancestor {
                return true;
            }
            current = self.files.get(&c).and_then(|f| f.parents.first().cloned());
            hops += 1;
            if hops > 10_000 {
                return false;
            }
        }
        false
    }

    /// `id` and every file below it.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_string()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].clone();
            out.extend(
                self.files
                    .values()
                    .filter(|f| f.parents.first() == Some(&parent))
                    .map(|f| f.id.clone()),
            );
            i += 1;
        }
        out
    }

    /// Logs a change of each of `ids`.
    pub fn record(&mut self, ids: &[String]) {
        let time = Utc::now();
        for id in ids {
            self.changes.push(ChangeEntry {
                file_id: id.clone(),
                time,
            });
        }
    }

    /// The page token that starts after every change so far.
    pub fn start_page_token(&self) -> u64 {
        self.changes.len() as u64 + 1
    }

    /// Adds a file, logging the change.
    pub fn insert(&mut self, file: File) {
        let id = file.id.clone();
        self.files.insert(id.clone(), file);
        self.record(&[id]);
    }

    /// The full File resource of `f`, every field this emulator models.
    pub fn resource(&self, f: &File) -> Value {
        let mut v = json!({
            "kind": "drive#file",
            "id": f.id,
            "name": f.name,
            "mimeType": f.mime_type,
            "starred": false,
            "trashed": self.is_trashed(&f.id),
            "explicitlyTrashed": f.explicitly_trashed,
            "spaces": ["drive"],
            "version": f.version.to_string(),
            "createdTime": rfc3339(f.created),
            "modifiedTime": rfc3339(f.modified),
            "ownedByMe": true,
            "capabilities": {
                "canDownload": f.is_binary(),
                "canEdit": true,
                "canRename": true,
                "canTrash": true,
                "canDelete": true,
                "canAddChildren": f.is_folder(),
                "canListChildren": f.is_folder(),
                "canReadRevisions": f.is_binary(),
                "canModifyContent": true,
                "canUntrash": true,
            },
        });
        if !f.parents.is_empty() {
            v["parents"] = json!(f.parents);
        }
        if !f.app_properties.is_empty() {
            v["appProperties"] = Value::Object(f.app_properties.clone());
        }
        if let Some(head) = f.head() {
            let content = &head.content;
            v["size"] = json!(content.len().to_string());
            v["quotaBytesUsed"] = json!(content.len().to_string());
            v["md5Checksum"] = json!(head.checksums.md5);
            v["sha1Checksum"] = json!(head.checksums.sha1);
            v["sha256Checksum"] = json!(head.checksums.sha256);
            v["headRevisionId"] = json!(head.id);
            v["originalFilename"] = json!(head.original_filename);
            if let Some((_, ext)) = f.name.rsplit_once('.') {
                v["fileExtension"] = json!(ext);
                v["fullFileExtension"] = json!(ext);
            }
        }
        v
    }

    /// The Revision resource of `r` in `f`.
    pub fn revision_resource(f: &File, r: &Revision) -> Value {
        let mut v = json!({
            "kind": "drive#revision",
            "id": r.id,
            "mimeType": r.mime_type,
            "modifiedTime": rfc3339(r.modified),
            "keepForever": r.keep_forever,
            "published": false,
            "originalFilename": r.original_filename,
            "lastModifyingUser": {"kind": "drive#user", "me": true, "displayName": "emulated user"},
        });
        if f.is_binary() {
            v["md5Checksum"] = json!(r.checksums.md5);
            v["size"] = json!(r.content.len().to_string());
        }
        v
    }
}

/// A new revision with fresh id.
pub fn new_revision(content: Bytes, mime_type: &str, name: &str, at: DateTime<Utc>) -> Revision {
    Revision {
        id: format!("0B{}", &new_id()[1..20]),
        modified: at,
        mime_type: mime_type.to_string(),
        keep_forever: false,
        original_filename: name.to_string(),
        checksums: Checksums::of(&content),
        content,
    }
}

/// SHA-1 (FIPS 180-4), for `sha1Checksum`; small enough not to warrant a dependency.
fn sha1_smol(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A827999),
                20..=39 => (b ^ c ^ d, 0x6ED9EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1BBCDC),
                _ => (b ^ c ^ d, 0xCA62C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_fips_180_examples() {
        assert_eq!(
            hex(&sha1_smol(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&sha1_smol(b"")),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
