//! The `Metadata` union as JSON: `FileMetadata`, `FolderMetadata` and `DeletedMetadata`
//! with the fields files.stone gives them.

use serde_json::{json, Value};

use super::store::{Entry, Item};
use super::time::format_timestamp;

fn name_of(display: &str) -> &str {
    display.rsplit('/').next().unwrap_or(display)
}

/// `FileMetadata` / `FolderMetadata` of an entry.
pub fn metadata(lower_path: &str, e: &Entry) -> Value {
    match &e.item {
        Item::Folder => json!({
            ".tag": "folder",
            "name": name_of(&e.display),
            "path_lower": lower_path,
            "path_display": e.display,
            "id": e.id,
        }),
        Item::File(v) => json!({
            ".tag": "file",
            "name": name_of(&e.display),
            "path_lower": lower_path,
            "path_display": e.display,
            "id": e.id,
            "client_modified": format_timestamp(v.client_modified),
            "server_modified": format_timestamp(v.server_modified),
            "rev": v.rev,
            "size": v.data.len(),
            "is_downloadable": true,
            "content_hash": v.content_hash,
        }),
    }
}

/// `DeletedMetadata`.
pub fn deleted_metadata(lower_path: &str, display: &str) -> Value {
    json!({
        ".tag": "deleted",
        "name": name_of(display),
        "path_lower": lower_path,
        "path_display": display,
    })
}
