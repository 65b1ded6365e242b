//! `--data DIR`: the namespaces kept across restarts. `DIR/dropbox/state.json` holds the
//! metadata, change logs and cursor epoch; file contents live once per content hash in
//! `DIR/dropbox/blobs/`. Written after every change (temp file, then rename); open upload
//! sessions and authorization codes are not kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::store::Namespace;
use super::State;

#[derive(Serialize, Deserialize, Default)]
struct Saved {
    accounts: HashMap<String, Namespace>,
    epoch: u64,
}

fn dir(data: &Path) -> PathBuf {
    data.join("dropbox")
}

/// Loads the state kept in `data`, or an empty one when there is none yet.
///
/// # Errors
/// The files cannot be read or are damaged.
pub fn load(data: &Path) -> std::io::Result<State> {
    let path = dir(data).join("state.json");
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(e),
    };
    let mut saved: Saved = serde_json::from_slice(&text)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    let blobs = dir(data).join("blobs");
    for ns in saved.accounts.values_mut() {
        for v in ns.versions_mut() {
            v.data = Bytes::from(std::fs::read(blobs.join(&v.content_hash))?);
        }
    }
    Ok(State {
        accounts: saved.accounts,
        epoch: saved.epoch,
        ..State::default()
    })
}

/// Writes `state` to `data`.
///
/// # Errors
/// The files cannot be written.
pub fn save(data: &Path, state: &mut State) -> std::io::Result<()> {
    let blobs = dir(data).join("blobs");
    std::fs::create_dir_all(&blobs)?;
    for ns in state.accounts.values_mut() {
        for v in ns.versions_mut() {
            let path = blobs.join(&v.content_hash);
            if !path.exists() {
                let tmp = blobs.join(format!(".{}.tmp", v.content_hash));
                std::fs::write(&tmp, &v.data)?;
                std::fs::rename(&tmp, &path)?;
            }
        }
    }
    let saved = SavedRef {
        accounts: &state.accounts,
        epoch: state.epoch,
    };
    let text = serde_json::to_vec(&saved).map_err(std::io::Error::other)?;
    let tmp = dir(data).join("state.json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, dir(data).join("state.json"))
}

#[derive(Serialize)]
struct SavedRef<'a> {
    accounts: &'a HashMap<String, Namespace>,
    epoch: u64,
}
