//! `--data DIR`: the accounts kept across restarts. `DIR/gdrive/state.json` holds the
//! files, revisions' metadata and change logs; revision bytes live once per SHA-256 in
//! `DIR/gdrive/blobs/`. Written after every change (temp file, then rename); open upload
//! sessions and OAuth grants are not kept.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::store::{Account, ChangeEntry, Checksums, File, Revision};

#[derive(Serialize, Deserialize)]
struct SavedRevision {
    id: String,
    modified_ns: i64,
    mime_type: String,
    keep_forever: bool,
    original_filename: String,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct SavedFile {
    id: String,
    name: String,
    mime_type: String,
    parents: Vec<String>,
    explicitly_trashed: bool,
    created_ns: i64,
    modified_ns: i64,
    version: u64,
    revisions: Vec<SavedRevision>,
    app_properties: Map<String, Value>,
}

#[derive(Serialize, Deserialize)]
struct SavedAccount {
    root_id: String,
    files: Vec<SavedFile>,
    changes: Vec<(String, i64)>,
    hostile_seeded: Vec<String>,
}

fn dir(data: &Path) -> PathBuf {
    data.join("gdrive")
}

fn ns(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or_default()
}

fn time(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// Loads the accounts kept in `data` (none when nothing was kept yet).
///
/// # Errors
/// The files cannot be read or are damaged.
pub fn load(data: &Path) -> std::io::Result<HashMap<String, Account>> {
    let path = dir(data).join("state.json");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let saved: HashMap<String, SavedAccount> = serde_json::from_slice(&text)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    let blobs = dir(data).join("blobs");
    let mut out = HashMap::new();
    for (name, a) in saved {
        let mut files = BTreeMap::new();
        for f in a.files {
            let mut revisions = Vec::new();
            for r in f.revisions {
                let content = Bytes::from(std::fs::read(blobs.join(&r.sha256))?);
                revisions.push(Revision {
                    id: r.id,
                    modified: time(r.modified_ns),
                    mime_type: r.mime_type,
                    keep_forever: r.keep_forever,
                    original_filename: r.original_filename,
                    checksums: Checksums::of(&content),
                    content,
                });
            }
            files.insert(
                f.id.clone(),
                File {
                    id: f.id,
                    name: f.name,
                    mime_type: f.mime_type,
                    parents: f.parents,
                    explicitly_trashed: f.explicitly_trashed,
                    created: time(f.created_ns),
                    modified: time(f.modified_ns),
                    version: f.version,
                    revisions,
                    app_properties: f.app_properties,
                },
            );
        }
        out.insert(
            name,
            Account {
                root_id: a.root_id,
                files,
                changes: a
                    .changes
                    .into_iter()
                    .map(|(file_id, t)| ChangeEntry {
                        file_id,
                        time: time(t),
                    })
                    .collect(),
                hostile_seeded: a.hostile_seeded.into_iter().collect::<HashSet<_>>(),
            },
        );
    }
    Ok(out)
}

/// Writes `accounts` to `data`.
///
/// # Errors
/// The files cannot be written.
pub fn save(data: &Path, accounts: &HashMap<String, Account>) -> std::io::Result<()> {
    let blobs = dir(data).join("blobs");
    std::fs::create_dir_all(&blobs)?;
    let mut saved = HashMap::new();
    for (name, a) in accounts {
        let mut files = Vec::new();
        for f in a.files.values() {
            let mut revisions = Vec::new();
            for r in &f.revisions {
                let blob = blobs.join(&r.checksums.sha256);
                if !blob.exists() {
                    write_atomic(&blob, &r.content)?;
                }
                revisions.push(SavedRevision {
                    id: r.id.clone(),
                    modified_ns: ns(r.modified),
                    mime_type: r.mime_type.clone(),
                    keep_forever: r.keep_forever,
                    original_filename: r.original_filename.clone(),
                    sha256: r.checksums.sha256.clone(),
                });
            }
            files.push(SavedFile {
                id: f.id.clone(),
                name: f.name.clone(),
                mime_type: f.mime_type.clone(),
                parents: f.parents.clone(),
                explicitly_trashed: f.explicitly_trashed,
                created_ns: ns(f.created),
                modified_ns: ns(f.modified),
                version: f.version,
                revisions,
                app_properties: f.app_properties.clone(),
            });
        }
        saved.insert(
            name.clone(),
            SavedAccount {
                root_id: a.root_id.clone(),
                files,
                changes: a
                    .changes
                    .iter()
                    .map(|c| (c.file_id.clone(), ns(c.time)))
                    .collect(),
                hostile_seeded: a.hostile_seeded.iter().cloned().collect(),
            },
        );
    }
    let text = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
    write_atomic(&dir(data).join("state.json"), &text)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
