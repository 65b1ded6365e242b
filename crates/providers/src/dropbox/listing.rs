//! The remote tree from Dropbox's change feed: a first `list_folder` (recursive) pages the
//! whole root in; afterwards `list_folder/continue` returns changes, applied as the route's
//! documentation says (a file replaces what was at its path, children included; a folder
//! replaces a file but keeps children; `deleted` removes the path and everything below).
//! A `reset` cursor means a full relist, never deletes.
//!
//! Every entry's path is checked before it becomes a [`RelPath`]: it must lie below the
//! root (by `path_lower`), its `path_display` must end in its `name`, and every component
//! must be a valid name. Entries that fail are skipped (`invalid-name`) when they can be
//! reported below a valid parent, and ignored otherwise; none can name a path outside
//! the sync root.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use cloudsync_core::rules::SkipRule;
use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::scan::is_internal_name;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::Value;

/// Characters percent-encoded in the reported spelling of an invalid name.
const REPORT: &AsciiSet = &CONTROLS.add(b'/').add(b'%').add(b'\\').add(b'.');

/// The remote root folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The cased path, `""` for the whole Dropbox, else `/Folder/Sub`.
    pub display: String,
    /// Lowercased.
    pub lower: String,
}

/// A path as Dropbox lowercases it (`path_lower`).
pub fn lower(path: &str) -> String {
    cloudsync_core::names::simple_lowercase(path)
}

impl Root {
    /// The root at `path` (`""` or `/` for the whole Dropbox).
    pub fn new(path: &str) -> Root {
        let trimmed: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        let display = trimmed.iter().map(|c| format!("/{c}")).collect::<String>();
        Root {
            lower: lower(&display),
            display,
        }
    }

    /// The Dropbox path of `rel`.
    pub fn path_of(&self, rel: &RelPath) -> String {
        format!("{}/{}", self.display, rel.as_str())
    }
}

/// The last listing and the cursor after it.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct ListState {
    /// Where `continue` goes on from.
    pub cursor: String,
    /// Entries by lowercased relative path.
    pub nodes: BTreeMap<String, Node>,
    /// Entries left out, by lowercased relative path of their reported spelling.
    pub skipped: BTreeMap<String, (RelPath, SkipRule)>,
}

/// What one metadata entry means for the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A file or folder at a lowercased relative path.
    Put(String, Node),
    /// Something left out.
    Skip(String, RelPath, SkipRule),
    /// Everything at and below a lowercased relative path is gone.
    Deleted(String),
    /// The root folder itself was deleted.
    RootDeleted,
    /// Nothing to do (the root's own entry, internal names, entries outside the root).
    Ignore,
}

fn valid_component(c: &str) -> bool {
    !(c.is_empty() || c == "." || c == ".." || c.contains('\0') || c.contains('\\'))
}

fn encoded(name: &str) -> String {
    utf8_percent_encode(name, REPORT).to_string()
}

/// Seconds of a Dropbox timestamp, as nanoseconds.
fn timestamp_ns(text: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .ok()
        .and_then(|t| t.and_utc().timestamp().checked_mul(1_000_000_000))
}

/// The node for `FileMetadata`/`FolderMetadata` at `path`.
pub fn node_from(path: RelPath, meta: &Value) -> Option<Node> {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    match meta.get(".tag").and_then(Value::as_str)? {
        "folder" => Some(Node::dir(path, s("id"))),
        "file" => Some(Node {
            path,
            kind: Kind::File,
            size: meta.get("size").and_then(Value::as_u64)?,
            mtime_ns: meta
                .get("client_modified")
                .and_then(Value::as_str)
                .and_then(timestamp_ns)
                .unwrap_or(0),
            hash: s("content_hash").map(|h| format!("dropbox:{}", h.to_ascii_lowercase())),
            id: s("id"),
            rev: s("rev"),
        }),
        _ => None,
    }
}

/// The parent of a lowercased relative path.
fn parent_key(key: &str) -> Option<&str> {
    key.rsplit_once('/').map(|(p, _)| p)
}

/// Reads one metadata entry of a listing of `root`.
pub fn classify(root: &Root, meta: &Value, state: &ListState) -> Change {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    let (tag, path_lower, display, name) =
        (s(".tag"), s("path_lower"), s("path_display"), s("name"));
    if path_lower == root.lower {
        return if tag == "deleted" {
            Change::RootDeleted
        } else {
            Change::Ignore
        };
    }
    let Some(rel_lower) = path_lower
        .strip_prefix(root.lower.as_str())
        .and_then(|r| r.strip_prefix('/'))
    else {
        tracing::warn!(
            path = path_lower,
            "Dropbox listed an entry outside the root; ignored"
        );
        return Change::Ignore;
    };
    if tag == "deleted" {
        return Change::Deleted(rel_lower.to_string());
    }
    // The display path below the root: the root's own casing may differ, its length in
    // components does not.
    let root_depth = root.display.split('/').filter(|c| !c.is_empty()).count();
    let Some(below) = display.strip_prefix('/') else {
        return Change::Ignore;
    };
    let comps: Vec<&str> = below.split('/').skip(root_depth).collect();
    let plain = comps.len() == rel_lower.split('/').count()
        && comps.last() == Some(&name)
        && comps.iter().all(|c| valid_component(c));
    if comps.iter().any(|c| is_internal_name(c)) {
        return Change::Ignore;
    }
    if plain {
        // A child keeps its parent's spelling (Dropbox's display casing of parents can
        // disagree between entries).
        let path = match parent_key(rel_lower).and_then(|p| state.nodes.get(p)) {
            Some(parent) => parent.path.join(name).ok(),
            None => RelPath::new(comps.join("/")).ok(),
        };
        if let Some(p) = path {
            return match node_from(p, meta) {
                Some(node) => Change::Put(rel_lower.to_string(), node),
                None => Change::Ignore,
            };
        }
    }
    // Hostile: report it under its parent (the display path minus "/name"), encoded.
    let parent_display = display
        .strip_suffix(name)
        .and_then(|p| p.strip_suffix('/'))
        .filter(|_| !name.is_empty());
    let parent = parent_display.and_then(|p| {
        let below: Vec<&str> = p
            .split('/')
            .filter(|c| !c.is_empty())
            .skip(root_depth)
            .collect();
        let within = lower(p).starts_with(&root.lower);
        match (within, below.is_empty()) {
            (false, _) => None,
            (true, true) => Some(None),
            (true, false) => RelPath::new(below.join("/")).ok().map(Some),
        }
    });
    let Some(parent) = parent else {
        let shown = display.escape_debug().to_string();
        tracing::warn!(
            path = shown,
            "Dropbox listed an entry with an unusable path; ignored"
        );
        return Change::Ignore;
    };
    match RelPath::child_of(parent.as_ref(), &encoded(name)) {
        Ok(p) => Change::Skip(
            lower(p.as_str()),
            p,
            SkipRule::InvalidName {
                detail: format!(
                    "the Dropbox entry {display:?} named {name:?} is not a valid path here"
                ),
            },
        ),
        Err(_) => Change::Ignore,
    }
}

fn remove_below(map: &mut BTreeMap<String, impl Sized>, key: &str) {
    let prefix = format!("{key}/");
    let doomed: Vec<String> = map
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        map.remove(&k);
    }
}

/// Applies one change; `Err(())` when the root itself was deleted.
pub fn apply(state: &mut ListState, change: Change) -> Result<(), ()> {
    match change {
        Change::Put(key, node) => {
            let was_dir = state.nodes.get(&key).is_some_and(Node::is_dir);
            if !node.is_dir() && was_dir {
                remove_below(&mut state.nodes, &key);
                remove_below(&mut state.skipped, &key);
            }
            state.skipped.remove(&key);
            state.nodes.insert(key, node);
        }
        Change::Skip(key, path, rule) => {
            remove_below(&mut state.nodes, &key);
            state.nodes.remove(&key);
            state.skipped.insert(key, (path, rule));
        }
        Change::Deleted(key) => {
            remove_below(&mut state.nodes, &key);
            remove_below(&mut state.skipped, &key);
            state.nodes.remove(&key);
            state.skipped.remove(&key);
        }
        Change::RootDeleted => return Err(()),
        Change::Ignore => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(display: &str, name: &str) -> Value {
        json!({".tag": "file", "name": name, "path_lower": lower(display), "path_display": display,
               "id": "id:x", "rev": "a1c10ce0dd78", "size": 3, "client_modified": "2015-05-12T15:50:38Z",
               "content_hash": "4F8B42C22DD3729B519BA6F68D2DA7CC5B2D606D05DAED5AD5128CC03E6C6358"})
    }

    fn folder(display: &str) -> Value {
        let name = display.rsplit('/').next().unwrap_or("");
        json!({".tag": "folder", "name": name, "path_lower": lower(display), "path_display": display, "id": "id:d"})
    }

    fn run(root: &Root, entries: &[Value]) -> (ListState, bool) {
        let mut st = ListState::default();
        let mut ok = true;
        for e in entries {
            let c = classify(root, e, &st);
            ok &= apply(&mut st, c).is_ok();
        }
        (st, ok)
    }

    #[test]
    fn a_root_is_lowercased_the_way_dropbox_does() {
        // Rust lowercases this final Σ to ς; Dropbox's path_lower has σ.
        let root = Root::new("/ΑΡΧΕΙΑ ΜΑΣ");
        assert_eq!(root.lower, "/αρχεια μασ");
        let (st, ok) = run(
            &root,
            &[
                folder("/ΑΡΧΕΙΑ ΜΑΣ/İzmir"),
                file("/ΑΡΧΕΙΑ ΜΑΣ/İzmir/a.txt", "a.txt"),
            ],
        );
        assert!(ok);
        let paths: Vec<&str> = st.nodes.values().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["İzmir", "İzmir/a.txt"]);
        assert_eq!(lower("/İ/ẞ/Σ"), "/i/ß/σ");
    }

    #[test]
    fn files_and_folders_below_the_root_become_nodes() {
        let root = Root::new("/CloudSync/");
        assert_eq!(root.display, "/CloudSync");
        let (st, ok) = run(
            &root,
            &[
                folder("/CloudSync"),
                folder("/CloudSync/Docs"),
                // The parent's casing in this entry disagrees: the parent's spelling wins.
                file("/cloudsync/DOCS/a.txt", "a.txt"),
                file("/CloudSync/.cloudsync-root", ".cloudsync-root"),
            ],
        );
        assert!(ok);
        let paths: Vec<&str> = st.nodes.values().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["Docs", "Docs/a.txt"]);
        let f = &st.nodes["docs/a.txt"];
        assert_eq!(f.size, 3);
        assert_eq!(f.mtime_ns, 1_431_445_838_000_000_000);
        assert_eq!(
            f.hash.as_deref(),
            Some("dropbox:4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358")
        );
        assert_eq!(f.rev.as_deref(), Some("a1c10ce0dd78"));
    }

    #[test]
    fn deltas_follow_the_documented_rules() {
        let root = Root::new("/r");
        let (mut st, _) = run(
            &root,
            &[folder("/r/d"), file("/r/d/x", "x"), file("/r/d/y", "y")],
        );
        // A file where a folder was replaces it with its children.
        let c = classify(&root, &file("/r/d", "d"), &st);
        apply(&mut st, c).expect("apply");
        assert_eq!(st.nodes.len(), 1);
        assert!(!st.nodes["d"].is_dir());
        // A folder where the file was, then a child, then a delete of the folder.
        for e in [folder("/r/d"), file("/r/d/z", "z")] {
            let c = classify(&root, &e, &st);
            apply(&mut st, c).expect("apply");
        }
        assert_eq!(st.nodes.len(), 2);
        let gone =
            json!({".tag": "deleted", "name": "d", "path_lower": "/r/d", "path_display": "/r/d"});
        let c = classify(&root, &gone, &st);
        apply(&mut st, c).expect("apply");
        assert!(st.nodes.is_empty());
        // The root's own deletion is reported, not applied as "everything is gone".
        let root_gone =
            json!({".tag": "deleted", "name": "r", "path_lower": "/r", "path_display": "/r"});
        assert_eq!(classify(&root, &root_gone, &st), Change::RootDeleted);
    }

    #[test]
    fn hostile_names_never_become_paths_outside_the_root() {
        let root = Root::new("/Sync");
        let entries = [
            file("/Sync/..", ".."),
            file("/Sync/a/b", "a/b"),
            file("/Sync/back\\slash", "back\\slash"),
            file("/Sync/nul\0name", "nul\0name"),
            file("/etc/passwd", "passwd"),
            file("/Sync//etc/shadow", "/etc/shadow"),
            file("/Sync/../../escape.txt", "../../escape.txt"),
            file("/Syncx/y", "y"),
            file("/Sync/ok.txt", "ok.txt"),
        ];
        let (st, ok) = run(&root, &entries);
        assert!(ok);
        let nodes: Vec<&str> = st.nodes.values().map(|n| n.path.as_str()).collect();
        assert_eq!(nodes, ["ok.txt"]);
        let skipped: Vec<&str> = st.skipped.values().map(|(p, _)| p.as_str()).collect();
        for p in &skipped {
            assert!(
                !p.contains('/') && !p.contains("..") && !p.contains('\0'),
                "{p:?}"
            );
        }
        assert_eq!(skipped.len(), 6, "{skipped:?}");
    }
}
