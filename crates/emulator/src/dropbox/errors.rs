//! The error unions of the file routes (files.stone `LookupError`, `WriteError`,
//! `WriteConflictError`, `DeleteError`, `RelocationError`) as the store reports them, and
//! their JSON values.

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
