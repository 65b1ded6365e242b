//! One account's Dropbox: files and folders keyed by their lowercased path (case-insensitive,
//! case-preserving), stable `id:`s, `rev`s, the versions each path had, and the change log
//! that `list_folder/continue` cursors read.
//!
//! Everything here is synchronous and runs under the emulator's lock; the routes turn the
//! errors into the route's error union.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content_hash::content_hash;
pub use super::errors::{Conflict, DeleteError, LookupError, RelocationError, WriteError};
use super::metadata::{deleted_metadata, metadata};

/// The upload modes (Stone `WriteMode`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteMode {
    /// Never overwrite.
    Add,
    /// Always overwrite.
    Overwrite,
    /// Overwrite only this rev.
    Update(String),
}

/// How a file is committed (Stone `CommitInfo` without the path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Add, overwrite or update a rev.
    pub mode: WriteMode,
    /// Pick a free name (`name (1).ext`) on a conflict.
    pub autorename: bool,
    /// Seconds since the epoch, as the client set it (default: now).
    pub client_modified: Option<i64>,
    /// A rev mismatch is a conflict even for identical content or a deleted file.
    pub strict_conflict: bool,
}

/// One version of a file's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileVersion {
    /// The bytes (kept beside the state file by content hash when persisted).
    #[serde(skip)]
    pub data: Bytes,
    /// The revision.
    pub rev: String,
    /// Seconds since the epoch, as the client set it.
    pub client_modified: i64,
    /// Seconds since the epoch, when written.
    pub server_modified: i64,
    /// Dropbox's content hash of `data`.
    pub content_hash: String,
}

/// A file or a folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Item {
    /// A folder.
    Folder,
    /// A file's current version.
    File(FileVersion),
}

/// One entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// `id:...`, kept across moves and overwrites.
    pub id: String,
    /// The cased path, `/A/b.txt`.
    pub display: String,
    /// File or folder.
    pub item: Item,
}

/// One change, as `list_folder/continue` reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// Position in the log.
    pub seq: u64,
    /// The lowercased path changed.
    pub lower: String,
    /// The metadata at that moment (`deleted` for a removal).
    pub metadata: Value,
}

/// A version of a path kept for `list_revisions` and `rev:` downloads.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Revision {
    display: String,
    id: String,
    version: FileVersion,
}

/// One account's namespace.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Namespace {
    entries: BTreeMap<String, Entry>,
    revisions: HashMap<String, Vec<Revision>>,
    deleted: HashMap<String, (String, i64)>,
    log: Vec<Change>,
    seq: u64,
    revs: u64,
}

/// Dropbox's case folding: Python 2's `unicode.lower()` (reference 1.3), which maps each
/// character on its own by its simple mapping: `İ` becomes `i` (not `i̇`) and a final `Σ`
/// becomes `σ` (no final-sigma rule). Characters added to Unicode after 4.1 are folded
/// here too, where Dropbox leaves them alone.
pub fn lower(path: &str) -> String {
    path.chars().map(simple_lower).collect()
}

/// A character's simple lowercase mapping. Only `İ` has a longer full mapping (`i̇`).
fn simple_lower(c: char) -> char {
    let mut full = c.to_lowercase();
    match (full.next(), full.next()) {
        (Some(l), None) => l,
        _ if c == '\u{130}' => 'i',
        _ => c,
    }
}

/// The components of a write path (`/a/b`), checked.
///
/// # Errors
/// Malformed or disallowed names.
pub fn components(path: &str) -> Result<Vec<String>, WriteError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(WriteError::MalformedPath);
    };
    if rest.is_empty() || rest.ends_with('/') {
        return Err(WriteError::MalformedPath);
    }
    let mut out = Vec::new();
    for c in rest.split('/') {
        if c.is_empty() || c == "." || c == ".." || c.contains('\0') {
            return Err(WriteError::MalformedPath);
        }
        if c.contains('\\') || c.chars().any(|ch| ch as u32 > 0xFFFF) {
            return Err(WriteError::DisallowedName);
        }
        out.push(c.to_string());
    }
    Ok(out)
}

fn is_below(lower_path: &str, root_lower: &str) -> bool {
    lower_path.len() > root_lower.len()
        && lower_path.starts_with(root_lower)
        && lower_path.as_bytes()[root_lower.len()] == b'/'
}

/// True when `lower_path` is in the scope of a listing of `root_lower` (`""` for the root).
pub fn in_scope(lower_path: &str, root_lower: &str, recursive: bool) -> bool {
    if recursive {
        lower_path == root_lower || is_below(lower_path, root_lower)
    } else {
        is_below(lower_path, root_lower) && !lower_path[root_lower.len() + 1..].contains('/')
    }
}

fn random_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut rng = rand::thread_rng();
    let tail: String = (0..22)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("id:{tail}")
}

/// `name (n).ext` for autorename.
fn renamed(display: &str, n: u32) -> String {
    let (dir, name) = display.rsplit_once('/').unwrap_or(("", display));
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    format!("{dir}/{stem} ({n}){ext}")
}

impl Namespace {
    /// Every stored version (current ones and kept revisions), for persistence.
    pub fn versions_mut(&mut self) -> impl Iterator<Item = &mut FileVersion> {
        let current = self.entries.values_mut().filter_map(|e| match &mut e.item {
            Item::File(v) => Some(v),
            Item::Folder => None,
        });
        let kept = self
            .revisions
            .values_mut()
            .flat_map(|v| v.iter_mut().map(|r| &mut r.version));
        current.chain(kept)
    }

    /// The position of the last change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The metadata of an entry.
    pub fn metadata_of(&self, lower_path: &str) -> Option<Value> {
        self.entries
            .get(lower_path)
            .map(|e| metadata(lower_path, e))
    }

    /// Resolves a `PathROrId` (`""`, `/path`, `id:...`) to a lowercased path (`""` = root).
    ///
    /// # Errors
    /// Malformed paths, unknown ids.
    pub fn resolve(&self, path: &str) -> Result<String, LookupError> {
        if path.is_empty() {
            return Ok(String::new());
        }
        if path.starts_with("id:") {
            return self
                .entries
                .iter()
                .find(|(_, e)| e.id == path)
                .map(|(k, _)| k.clone())
                .ok_or(LookupError::NotFound);
        }
        components(path).map_err(|_| LookupError::MalformedPath)?;
        Ok(lower(path))
    }

    /// The entry at a lowercased path.
    pub fn get(&self, lower_path: &str) -> Option<&Entry> {
        self.entries.get(lower_path)
    }

    /// The metadata of a path deleted earlier, for `include_deleted`.
    pub fn deleted_metadata(&self, lower_path: &str) -> Option<Value> {
        self.deleted
            .get(lower_path)
            .map(|(display, _)| deleted_metadata(lower_path, display))
    }

    /// A version by rev, with its metadata (for `rev:` downloads).
    pub fn by_rev(&self, rev: &str) -> Option<(Value, FileVersion)> {
        self.revisions.iter().find_map(|(l, versions)| {
            versions.iter().find(|r| r.version.rev == rev).map(|r| {
                let e = Entry {
                    id: r.id.clone(),
                    display: r.display.clone(),
                    item: Item::File(r.version.clone()),
                };
                (metadata(l, &e), r.version.clone())
            })
        })
    }

    fn next_rev(&mut self) -> String {
        self.revs += 1;
        // Revs are at least 9 lowercase hex digits (Stone `Rev`).
        format!("{:x}{:09x}", 0x5a1u32, self.revs)
    }

    fn record(&mut self, lower_path: &str, metadata: Value) {
        self.seq += 1;
        self.log.push(Change {
            seq: self.seq,
            lower: lower_path.to_string(),
            metadata,
        });
    }

    /// Creates the missing parent folders of `comps` and returns the cased parent path.
    fn ensure_parents(&mut self, comps: &[String]) -> Result<String, WriteError> {
        let mut display = String::new();
        for c in &comps[..comps.len().saturating_sub(1)] {
            let candidate = format!("{display}/{c}");
            let l = lower(&candidate);
            match self.entries.get(&l) {
                Some(Entry {
                    item: Item::Folder,
                    display: d,
                    ..
                }) => display = d.clone(),
                Some(_) => return Err(WriteError::Conflict(Conflict::FileAncestor)),
                None => {
                    let e = Entry {
                        id: random_id(),
                        display: candidate.clone(),
                        item: Item::Folder,
                    };
                    let m = metadata(&l, &e);
                    self.entries.insert(l.clone(), e);
                    self.deleted.remove(&l);
                    self.record(&l, m);
                    display = candidate;
                }
            }
        }
        Ok(display)
    }

    /// The cased full path for `comps`: existing parents keep their casing.
    fn target(&mut self, comps: &[String]) -> Result<String, WriteError> {
        let parent = self.ensure_parents(comps)?;
        let name = comps.last().ok_or(WriteError::MalformedPath)?;
        Ok(format!("{parent}/{name}"))
    }

    /// Stores a file (upload, upload session finish).
    ///
    /// # Errors
    /// The `WriteError`s of the modes.
    pub fn write_file(
        &mut self,
        path: &str,
        data: Bytes,
        commit: &Commit,
        now: i64,
    ) -> Result<Value, WriteError> {
        let Commit {
            mode,
            autorename,
            client_modified,
            strict_conflict,
        } = commit;
        let (autorename, client_modified, strict_conflict) =
            (*autorename, *client_modified, *strict_conflict);
        let comps = components(path)?;
        let base = self.target(&comps)?;
        let mut display = base.clone();
        let hash = content_hash(&data);
        let mut n = 0;
        loop {
            let l = lower(&display);
            let outcome = match self.entries.get(&l) {
                None => match mode {
                    WriteMode::Update(_) if strict_conflict => Err(Conflict::File),
                    _ => Ok(None),
                },
                Some(Entry {
                    item: Item::Folder, ..
                }) => Err(Conflict::Folder),
                Some(
                    e @ Entry {
                        item: Item::File(v),
                        ..
                    },
                ) => {
                    let same = v.content_hash == hash;
                    match mode {
                        WriteMode::Add | WriteMode::Overwrite if same => {
                            return Ok(metadata(&l, e));
                        }
                        WriteMode::Add => Err(Conflict::File),
                        WriteMode::Overwrite => Ok(Some(e.id.clone())),
                        WriteMode::Update(rev) if *rev == v.rev => Ok(Some(e.id.clone())),
                        WriteMode::Update(_) if same && !strict_conflict => {
                            return Ok(metadata(&l, e));
                        }
                        WriteMode::Update(_) => Err(Conflict::File),
                    }
                }
            };
            match outcome {
                Ok(existing_id) => {
                    let version = FileVersion {
                        data,
                        rev: self.next_rev(),
                        client_modified: client_modified.unwrap_or(now),
                        server_modified: now,
                        content_hash: hash,
                    };
                    let entry = Entry {
                        id: existing_id.unwrap_or_else(random_id),
                        display: display.clone(),
                        item: Item::File(version.clone()),
                    };
                    self.revisions.entry(l.clone()).or_default().push(Revision {
                        display: display.clone(),
                        id: entry.id.clone(),
                        version,
                    });
                    let m = metadata(&l, &entry);
                    self.entries.insert(l.clone(), entry);
                    self.deleted.remove(&l);
                    self.record(&l, m.clone());
                    return Ok(m);
                }
                Err(_) if autorename => {
                    n += 1;
                    display = renamed(&base, n);
                }
                Err(c) => return Err(WriteError::Conflict(c)),
            }
        }
    }

    /// Creates a folder.
    ///
    /// # Errors
    /// Something is there already, or the path is not valid.
    pub fn create_folder(&mut self, path: &str, autorename: bool) -> Result<Value, WriteError> {
        let comps = components(path)?;
        let mut display = self.target(&comps)?;
        let base = display.clone();
        let mut n = 0;
        loop {
            let l = lower(&display);
            match self.entries.get(&l) {
                None => {
                    let e = Entry {
                        id: random_id(),
                        display: display.clone(),
                        item: Item::Folder,
                    };
                    let m = metadata(&l, &e);
                    self.entries.insert(l.clone(), e);
                    self.deleted.remove(&l);
                    self.record(&l, m.clone());
                    return Ok(m);
                }
                Some(e) if !autorename => {
                    return Err(WriteError::Conflict(match e.item {
                        Item::Folder => Conflict::Folder,
                        Item::File(_) => Conflict::File,
                    }))
                }
                Some(_) => {
                    n += 1;
                    display = renamed(&base, n);
                }
            }
        }
    }

    /// Deletes a file or a folder with everything below it.
    ///
    /// # Errors
    /// Nothing there, or `parent_rev` does not match.
    pub fn delete(
        &mut self,
        path: &str,
        parent_rev: Option<&str>,
        now: i64,
    ) -> Result<Value, DeleteError> {
        let l = self.resolve(path).map_err(DeleteError::PathLookup)?;
        let entry = self
            .entries
            .get(&l)
            .cloned()
            .ok_or(DeleteError::PathLookup(LookupError::NotFound))?;
        if let Some(want) = parent_rev {
            match &entry.item {
                Item::File(v) if v.rev == want => {}
                Item::File(_) => {
                    return Err(DeleteError::PathWrite(WriteError::Conflict(Conflict::File)))
                }
                Item::Folder => return Err(DeleteError::PathLookup(LookupError::NotFile)),
            }
        }
        let m = metadata(&l, &entry);
        let below: Vec<String> = self
            .entries
            .keys()
            .filter(|k| is_below(k, &l))
            .cloned()
            .collect();
        for k in below {
            if let Some(e) = self.entries.remove(&k) {
                self.deleted.insert(k, (e.display, now));
            }
        }
        self.entries.remove(&l);
        self.deleted.insert(l.clone(), (entry.display.clone(), now));
        self.record(&l, deleted_metadata(&l, &entry.display));
        Ok(m)
    }

    /// Moves a file or a folder (with its subtree); ids stay.
    ///
    /// # Errors
    /// Source missing, destination taken, or a folder into itself.
    pub fn relocate(
        &mut self,
        from: &str,
        to: &str,
        autorename: bool,
        now: i64,
    ) -> Result<Value, RelocationError> {
        let from_l = self.resolve(from).map_err(RelocationError::FromLookup)?;
        if from_l.is_empty() {
            return Err(RelocationError::FromLookup(LookupError::MalformedPath));
        }
        let entry = self
            .entries
            .get(&from_l)
            .cloned()
            .ok_or(RelocationError::FromLookup(LookupError::NotFound))?;
        let comps = components(to).map_err(RelocationError::To)?;
        let to_l0 = lower(to);
        if to_l0 == from_l || is_below(&to_l0, &from_l) {
            return Err(if to_l0 == from_l {
                // Case-only renames are not supported (files.stone, move_v2).
                RelocationError::To(WriteError::Conflict(match entry.item {
                    Item::Folder => Conflict::Folder,
                    Item::File(_) => Conflict::File,
                }))
            } else {
                RelocationError::IntoItself
            });
        }
        let mut display = self.target(&comps).map_err(RelocationError::To)?;
        let base = display.clone();
        let mut n = 0;
        while let Some(e) = self.entries.get(&lower(&display)) {
            if !autorename {
                return Err(RelocationError::To(WriteError::Conflict(match e.item {
                    Item::Folder => Conflict::Folder,
                    Item::File(_) => Conflict::File,
                })));
            }
            n += 1;
            display = renamed(&base, n);
        }
        let to_l = lower(&display);
        let mut moving: Vec<(String, Entry)> = self
            .entries
            .iter()
            .filter(|(k, _)| **k == from_l || is_below(k, &from_l))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        moving.sort_by(|a, b| a.0.cmp(&b.0));
        for (k, _) in &moving {
            self.entries.remove(k);
        }
        self.deleted
            .insert(from_l.clone(), (entry.display.clone(), now));
        self.record(&from_l, deleted_metadata(&from_l, &entry.display));
        let mut result = Value::Null;
        for (k, mut e) in moving {
            let suffix_display = &e.display[entry.display.len()..];
            e.display = format!("{display}{suffix_display}");
            let nk = format!("{to_l}{}", &k[from_l.len()..]);
            let m = metadata(&nk, &e);
            if k == from_l {
                result = m.clone();
            }
            self.deleted.remove(&nk);
            self.entries.insert(nk.clone(), e);
            self.record(&nk, m);
        }
        Ok(result)
    }

    /// One page of a listing of `root_lower` after the lowercased path `after`.
    /// Returns the entries, the last path returned and whether more follow.
    pub fn list_page(
        &self,
        root_lower: &str,
        recursive: bool,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Value>, Option<String>, bool) {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => Bound::Included(root_lower.to_string()),
        };
        let mut out = Vec::new();
        let mut last = after.map(str::to_string);
        let mut iter = self
            .entries
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| **k == root_lower || k.starts_with(root_lower))
            .filter(|(k, _)| in_scope(k, root_lower, recursive) && !k.is_empty());
        for (k, e) in iter.by_ref() {
            // The listed folder itself comes first in a recursive listing, as Dropbox does.
            out.push(metadata(k, e));
            last = Some(k.clone());
            if out.len() >= limit {
                break;
            }
        }
        let more = iter.next().is_some();
        (out, last, more)
    }

    /// Changes in scope after `after_seq`: the metadata, the position reached, more or not.
    pub fn changes(
        &self,
        root_lower: &str,
        recursive: bool,
        after_seq: u64,
        limit: usize,
    ) -> (Vec<Value>, u64, bool) {
        let start = self.log.partition_point(|c| c.seq <= after_seq);
        let mut out = Vec::new();
        let mut reached = after_seq;
        let mut iter = self.log[start..]
            .iter()
            .filter(|c| in_scope(&c.lower, root_lower, recursive));
        for c in iter.by_ref() {
            out.push(c.metadata.clone());
            reached = c.seq;
            if out.len() >= limit {
                break;
            }
        }
        let more = iter.next().is_some();
        if !more {
            reached = self.seq.max(reached);
        }
        (out, reached, more)
    }

    /// The versions a path had, newest first, and when it was deleted if it is gone.
    pub fn revisions(&self, lower_path: &str) -> (Vec<Value>, Option<i64>) {
        let versions = self
            .revisions
            .get(lower_path)
            .map(|v| {
                v.iter()
                    .rev()
                    .map(|r| {
                        let e = Entry {
                            id: r.id.clone(),
                            display: r.display.clone(),
                            item: Item::File(r.version.clone()),
                        };
                        metadata(lower_path, &e)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let deleted = match self.entries.get(lower_path) {
            Some(_) => None,
            None => self.deleted.get(lower_path).map(|(_, t)| *t),
        };
        (versions, deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(
        ns: &mut Namespace,
        path: &str,
        data: &str,
        mode: WriteMode,
    ) -> Result<Value, WriteError> {
        let commit = Commit {
            mode,
            autorename: false,
            client_modified: None,
            strict_conflict: false,
        };
        ns.write_file(path, Bytes::from(data.to_string()), &commit, 1)
    }

    #[test]
    fn paths_are_case_insensitive_and_keep_their_first_casing() {
        let mut ns = Namespace::default();
        write(&mut ns, "/Docs/Report.TXT", "a", WriteMode::Add).expect("write");
        let m = write(&mut ns, "/docs/other.txt", "b", WriteMode::Add).expect("write");
        assert_eq!(m["path_display"], "/Docs/other.txt");
        assert_eq!(m["path_lower"], "/docs/other.txt");
        assert_eq!(
            write(&mut ns, "/DOCS/report.txt", "c", WriteMode::Add),
            Err(WriteError::Conflict(Conflict::File))
        );
    }

    #[test]
    fn modes_follow_the_write_mode_rules() {
        let mut ns = Namespace::default();
        let first = write(&mut ns, "/f", "one", WriteMode::Add).expect("add");
        let rev = first["rev"].as_str().expect("rev").to_string();
        // Identical content: nothing written, no conflict.
        let same = write(&mut ns, "/f", "one", WriteMode::Add).expect("same content");
        assert_eq!(same["rev"], rev.as_str());
        let second = write(&mut ns, "/f", "two", WriteMode::Update(rev.clone())).expect("update");
        assert_ne!(second["rev"], rev.as_str());
        assert_eq!(second["id"], first["id"]);
        assert_eq!(
            write(&mut ns, "/f", "three", WriteMode::Update(rev)),
            Err(WriteError::Conflict(Conflict::File))
        );
        let (versions, deleted) = ns.revisions("/f");
        assert_eq!((versions.len(), deleted), (2, None));
        ns.create_folder("/d", false).expect("mkdir");
        assert_eq!(
            write(&mut ns, "/d", "x", WriteMode::Overwrite),
            Err(WriteError::Conflict(Conflict::Folder))
        );
        assert_eq!(
            write(&mut ns, "/f/x", "x", WriteMode::Add),
            Err(WriteError::Conflict(Conflict::FileAncestor))
        );
    }

    #[test]
    fn moves_keep_ids_and_log_a_delete_and_the_new_subtree() {
        let mut ns = Namespace::default();
        let f = write(&mut ns, "/a/b/c.txt", "x", WriteMode::Add).expect("write");
        let seq = ns.seq();
        ns.relocate("/a", "/z", false, 2).expect("move");
        let (changes, _, more) = ns.changes("", true, seq, 100);
        assert!(!more);
        let tags: Vec<(String, String)> = changes
            .iter()
            .map(|c| {
                (
                    c[".tag"].as_str().unwrap_or("").to_string(),
                    c["path_lower"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        assert_eq!(tags[0], ("deleted".into(), "/a".into()));
        assert!(tags.contains(&("file".into(), "/z/b/c.txt".into())));
        let moved = ns.metadata_of("/z/b/c.txt").expect("moved");
        assert_eq!(moved["id"], f["id"]);
        assert_eq!(
            ns.relocate("/z", "/z/in", false, 3),
            Err(RelocationError::IntoItself)
        );
    }

    #[test]
    fn case_folding_maps_each_character_on_its_own() {
        // A final capital sigma folds to σ, not ς; a dotted capital I to a plain i.
        assert_eq!(
            lower("/ΑΡΧΕΙΑ ΜΑΣ/İstanbul.TXT"),
            "/αρχεια μασ/istanbul.txt"
        );
        assert_eq!(lower("/Straße/ÄÖÜ"), "/straße/äöü");
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(components("a"), Err(WriteError::MalformedPath));
        assert_eq!(components("/a//b"), Err(WriteError::MalformedPath));
        assert_eq!(components("/a/../b"), Err(WriteError::MalformedPath));
        assert_eq!(components("/a\\b"), Err(WriteError::DisallowedName));
        assert_eq!(
            components("/smile\u{1F600}"),
            Err(WriteError::DisallowedName)
        );
        assert_eq!(renamed("/d/x.txt", 1), "/d/x (1).txt");
    }
}
