//! Relative paths inside a sync root, and the keys that pair entries across trees.
//!
//! A [`RelPath`] is always relative, uses `/` between components and can never name
//! anything outside the root: empty components, `.`, `..`, NUL and `/` inside a name are
//! refused when the path is built, so code that joins a `RelPath` onto a root cannot escape.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::{is_nfc, UnicodeNormalization};

/// Why a string is not a valid relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path was empty (the root itself is not an entry).
    #[error("empty path")]
    Empty,
    /// The path started with `/`.
    #[error("absolute path {0:?} where a relative one was expected")]
    Absolute(String),
    /// A component was empty, `.` or `..`.
    #[error("path {0:?} has an empty, `.` or `..` component")]
    BadComponent(String),
    /// The path held a NUL character.
    #[error("path {0:?} contains a NUL character")]
    Nul(String),
}

/// A validated relative path (components joined by `/`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);

impl RelPath {
    /// Validates `s` as a relative path.
    ///
    /// # Errors
    /// [`PathError`] when `s` is empty, absolute, has an empty/`.`/`..` component or a NUL.
    pub fn new(s: impl Into<String>) -> Result<Self, PathError> {
        let s = s.into();
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.starts_with('/') {
            return Err(PathError::Absolute(s));
        }
        if s.contains('\0') {
            return Err(PathError::Nul(s));
        }
        if s.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
            return Err(PathError::BadComponent(s));
        }
        Ok(RelPath(s))
    }

    /// Validates a single name (no `/` allowed) as a one-component path.
    ///
    /// # Errors
    /// As [`RelPath::new`], and [`PathError::BadComponent`] when the name holds a `/`.
    pub fn from_name(name: &str) -> Result<Self, PathError> {
        if name.contains('/') {
            return Err(PathError::BadComponent(name.to_string()));
        }
        Self::new(name)
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last component.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The parent path, or `None` for a top-level entry.
    pub fn parent(&self) -> Option<RelPath> {
        self.0.rfind('/').map(|i| RelPath(self.0[..i].to_string()))
    }

    /// This path with `name` appended.
    ///
    /// # Errors
    /// When `name` is not a valid single component.
    pub fn join(&self, name: &str) -> Result<RelPath, PathError> {
        let child = RelPath::from_name(name)?;
        Ok(RelPath(format!("{}/{}", self.0, child.0)))
    }

    /// Joins an optional parent and a name.
    ///
    /// # Errors
    /// When `name` is not a valid single component.
    pub fn child_of(parent: Option<&RelPath>, name: &str) -> Result<RelPath, PathError> {
        match parent {
            Some(p) => p.join(name),
            None => RelPath::from_name(name),
        }
    }

    /// This path with its last component replaced by `name`.
    ///
    /// # Errors
    /// When `name` is not a valid single component.
    pub fn with_name(&self, name: &str) -> Result<RelPath, PathError> {
        RelPath::child_of(self.parent().as_ref(), name)
    }

    /// Number of components (a top-level entry has depth 1).
    pub fn depth(&self) -> usize {
        self.0.matches('/').count() + 1
    }

    /// The components, outermost first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The proper ancestors, outermost first.
    pub fn ancestors(&self) -> Vec<RelPath> {
        let mut out = Vec::new();
        for (i, ch) in self.0.char_indices() {
            if ch == '/' {
                out.push(RelPath(self.0[..i].to_string()));
            }
        }
        out
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &RelPath) -> bool {
        self.0 == other.0
            || (self.0.len() > other.0.len()
                && self.0.starts_with(&other.0)
                && self.0.as_bytes()[other.0.len()] == b'/')
    }

    /// True when `self` lies strictly below `other`.
    pub fn is_below(&self, other: &RelPath) -> bool {
        self.is_within(other) && self.0 != other.0
    }

    /// Replaces the prefix `from` (which `self` must be within) by `to`.
    pub fn rebase(&self, from: &RelPath, to: &RelPath) -> Option<RelPath> {
        if !self.is_within(from) {
            return None;
        }
        Some(RelPath(format!("{}{}", to.0, &self.0[from.0.len()..])))
    }

    /// The normalised key used to pair entries of different trees (NFC).
    pub fn key(&self) -> RelPath {
        if is_nfc(&self.0) {
            self.clone()
        } else {
            RelPath(self.0.nfc().collect())
        }
    }

    /// True when the path is already in NFC form.
    pub fn is_nfc(&self) -> bool {
        is_nfc(&self.0)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RelPath {
    type Error = PathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RelPath::new(s)
    }
}

impl From<RelPath> for String {
    fn from(p: RelPath) -> String {
        p.0
    }
}

// Ord, Eq and Hash of `RelPath` are those of its string, so maps keyed by `RelPath` can be
// searched and ranged by `&str` (used to find a folder's descendants: the keys in
// `("dir/", "dir0")`, `0` being the character after `/`).
impl std::borrow::Borrow<str> for RelPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RelPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() {
        for bad in ["", "/a", "a/../b", "..", ".", "a//b", "a/", "a\0b"] {
            assert!(RelPath::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(RelPath::from_name("a/b").is_err());
    }

    #[test]
    fn parent_name_rebase() {
        let p = RelPath::new("a/b/c.txt").expect("valid");
        assert_eq!(p.name(), "c.txt");
        assert_eq!(p.parent().expect("has parent").as_str(), "a/b");
        assert_eq!(p.depth(), 3);
        let from = RelPath::new("a").expect("valid");
        let to = RelPath::new("x/y").expect("valid");
        assert_eq!(
            p.rebase(&from, &to).expect("within").as_str(),
            "x/y/b/c.txt"
        );
        assert!(!RelPath::new("ab").expect("valid").is_within(&from));
        assert_eq!(p.ancestors().len(), 2);
    }

    #[test]
    fn nfd_and_nfc_share_a_key() {
        let nfc = RelPath::new("caf\u{e9}").expect("valid");
        let nfd = RelPath::new("cafe\u{301}").expect("valid");
        assert_ne!(nfc, nfd);
        assert_eq!(nfc.key(), nfd.key());
    }
}
