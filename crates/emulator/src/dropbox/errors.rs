//! The error unions of the file routes (files.stone `LookupError`, `WriteError`,
//! `WriteConflictError`, `DeleteError`, `RelocationError`) as the store reports them, and
//! their JSON values; also each write route's spelling of `too_many_write_operations`.

use serde_json::{json, Value};

/// Why a path could not be looked up (Stone `LookupError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// Not a valid path.
    MalformedPath,
    /// Nothing there.
    NotFound,
    /// A folder where a file was expected.
    NotFile,
    /// A file where a folder was expected.
    NotFolder,
}

impl LookupError {
    /// The union value.
    pub fn to_json(&self) -> Value {
        match self {
            LookupError::MalformedPath => json!({".tag": "malformed_path"}),
            LookupError::NotFound => json!({".tag": "not_found"}),
            LookupError::NotFile => json!({".tag": "not_file"}),
            LookupError::NotFolder => json!({".tag": "not_folder"}),
        }
    }
}

/// What is in the way of a write (Stone `WriteConflictError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A file.
    File,
    /// A folder.
    Folder,
    /// A file where a parent folder should be.
    FileAncestor,
}

/// Why a write failed (Stone `WriteError`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// Not a valid path.
    MalformedPath,
    /// Something is in the way.
    Conflict(Conflict),
    /// A name Dropbox refuses (backslash, characters beyond the BMP).
    DisallowedName,
}

impl WriteError {
    /// The union value.
    pub fn to_json(&self) -> Value {
        match self {
            WriteError::MalformedPath => json!({".tag": "malformed_path"}),
            WriteError::DisallowedName => json!({".tag": "disallowed_name"}),
            WriteError::Conflict(c) => {
                let tag = match c {
                    Conflict::File => "file",
                    Conflict::Folder => "folder",
                    Conflict::FileAncestor => "file_ancestor",
                };
                json!({".tag": "conflict", "conflict": {".tag": tag}})
            }
        }
    }
}

/// Errors of `delete_v2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteError {
    /// The path could not be looked up.
    PathLookup(LookupError),
    /// The path could not be written (`parent_rev` mismatch: a conflict).
    PathWrite(WriteError),
}

/// Errors of `move_v2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelocationError {
    /// The source could not be looked up.
    FromLookup(LookupError),
    /// The destination could not be written.
    To(WriteError),
    /// A folder into itself.
    IntoItself,
}

/// The route error a write route answers (409) when another write holds the namespace
/// lock: `too_many_write_operations` sits where files.stone puts it for that route.
/// `None` for routes whose error union has no such tag (reads).
pub fn too_many_write_operations(path: &str) -> Option<Value> {
    let tag = json!({".tag": "too_many_write_operations"});
    let route = path.strip_prefix("/2/files/")?;
    Some(match route {
        // UploadError.path: UploadWriteFailed { reason: WriteError, upload_session_id }.
        // The session id names where the data went, for a retried commit; nothing waits
        // there in the emulator.
        "upload" => json!({
            ".tag": "path",
            "reason": tag,
            "upload_session_id": crate::oauth::random_token("pid_upload_session"),
        }),
        // UploadSessionFinishError has the tag itself.
        "upload_session/finish" | "delete_v2" => tag,
        // RelocationError.to: WriteError.
        "move_v2" => json!({".tag": "to", "to": tag}),
        // CreateFolderError.path: WriteError.
        "create_folder_v2" => json!({".tag": "path", "path": tag}),
        _ => return None,
    })
}

/// The `error_summary` Dropbox writes for a union value: its tags joined by `/`, then
/// `/..` (a debug string; clients match on the tags).
pub fn summary(error: &Value) -> String {
    let mut tags = Vec::new();
    let mut node = error;
    while let Some(tag) = node.get(".tag").and_then(Value::as_str) {
        tags.push(tag.to_string());
        match node.get(tag).or_else(|| node.get("reason")) {
            Some(next) if next.is_object() => node = next,
            _ => break,
        }
    }
    format!("{}/..", tags.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_write_route_spells_too_many_write_operations_its_own_way() {
        let upload = too_many_write_operations("/2/files/upload").expect("upload");
        assert_eq!(upload["reason"][".tag"], "too_many_write_operations");
        assert_eq!(summary(&upload), "path/too_many_write_operations/..");
        let moved = too_many_write_operations("/2/files/move_v2").expect("move");
        assert_eq!(summary(&moved), "to/too_many_write_operations/..");
        let delete = too_many_write_operations("/2/files/delete_v2").expect("delete");
        assert_eq!(summary(&delete), "too_many_write_operations/..");
        let folder = too_many_write_operations("/2/files/create_folder_v2").expect("folder");
        assert_eq!(summary(&folder), "path/too_many_write_operations/..");
        assert_eq!(too_many_write_operations("/2/files/list_folder"), None);
        assert_eq!(
            too_many_write_operations("/2/users/get_current_account"),
            None
        );
    }
}
