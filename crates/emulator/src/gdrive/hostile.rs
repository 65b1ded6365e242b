//! Hostile names: with the emulator's switch on, each folder a listing reaches gets
//! children whose names no local path may take (`..`, `.`, `a/b`, `/etc/passwd`,
//! `back\slash`, a NUL), plus a folder named `..` holding `escape.txt`. They are real
//! entries (Drive allows such names), so they also show in the change feed.

use bytes::Bytes;
use chrono::Utc;
use serde_json::Map;

use super::store::{new_id, new_revision, Account, File, FOLDER_MIME};

/// The names every folder gets.
pub const HOSTILE_FILES: &[&str] = &[
    "..",
    ".",
    "a/b",
    "../../escape.txt",
    "/etc/passwd",
    "back\\slash",
    "..\\..\\win.txt",
    "nul\0byte",
    "",
];

/// Adds the hostile children to every folder that does not have them yet.
pub fn seed(acc: &mut Account) {
    let folders: Vec<String> = acc
        .files
        .values()
        .filter(|f| f.is_folder() && !acc.hostile_seeded.contains(&f.id))
        .filter(|f| !acc.is_trashed(&f.id))
        .map(|f| f.id.clone())
        .collect();
    for parent in folders {
        acc.hostile_seeded.insert(parent.clone());
        for name in HOSTILE_FILES {
            let file = entry(name, "application/octet-stream", &parent);
            acc.insert(file);
        }
        let dotdot = entry("..", FOLDER_MIME, &parent);
        let dotdot_id = dotdot.id.clone();
        // Never seeded itself: its child is the bait.
        acc.hostile_seeded.insert(dotdot_id.clone());
        acc.insert(dotdot);
        acc.insert(entry("escape.txt", "text/plain", &dotdot_id));
    }
}

fn entry(name: &str, mime: &str, parent: &str) -> File {
    let now = Utc::now();
    let mut f = File {
        id: new_id(),
        name: name.to_string(),
        mime_type: mime.to_string(),
        parents: vec![parent.to_string()],
        explicitly_trashed: false,
        created: now,
        modified: now,
        version: 1,
        revisions: Vec::new(),
        app_properties: Map::new(),
    };
    if f.is_binary() {
        f.revisions.push(new_revision(
            Bytes::from_static(b"hostile"),
            mime,
            name,
            now,
        ));
    }
    f
}
