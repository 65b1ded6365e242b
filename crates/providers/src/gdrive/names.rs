//! From Drive's files (ids, parents, non-unique names) to the engine's tree (unique
//! paths).
//!
//! Drive allows several entries with one name in a folder; the engine's trees are keyed
//! by path. The mapping, folder by folder:
//! 1. an entry keeps the local name it had before (the previous listing, or what this
//!    client last wrote for that id) when it still fits: same folder (by id, so renaming
//!    the folder changes nothing inside), and that name is the entry's name or that
//!    name's duplicate form;
//! 2. the others, oldest first (`createdTime`, then id), take their own name when free,
//!    else the duplicate form `stem (ID8).ext` (`ID8`: the first 8 characters of the id;
//!    the whole id if that is taken too).
//!
//! So a name once given stays with its file while others come, go or are renamed; the
//! first of two same-named files keeps the plain name. Uploads and renames address files
//! by id, so a file known locally as `report (1AbCdEfG).txt` keeps its Drive name.
//!
//! Left out: Google-native documents ([`SkipRule::GoogleNativeDocument`]), names that are
//! no valid local name (`..`, `/` inside, NUL, empty: [`SkipRule::InvalidName`], reported
//! under a percent-encoded spelling, their subtree not entered), and the engine's own
//! names (root marker, temp files).

use std::collections::{HashMap, HashSet};

use cloudsync_core::rules::{google_native_document, SkipRule};
use cloudsync_core::{Node, RelPath};
use cloudsync_engine::remote::Listing;
use cloudsync_engine::scan::is_internal_name;

use super::api::DriveFile;

/// A listing with the id ↔ path mapping it used.
#[derive(Debug, Default)]
pub struct Built {
    /// What the engine gets.
    pub listing: Listing,
    /// Each listed id's path.
    pub paths: HashMap<String, RelPath>,
    /// Each listed path's key → id.
    pub ids: HashMap<RelPath, String>,
    /// Every id reached from the root (listed, skipped or ignored).
    pub reached: HashSet<String>,
}

/// The duplicate form of `name` for the entry `id`: `stem (TAG).ext`.
pub fn duplicate_name(name: &str, id: &str, whole_id: bool) -> String {
    let tag: String = if whole_id {
        id.to_string()
    } else {
        id.chars().take(8).collect()
    };
    match name.rfind('.').filter(|i| *i > 0) {
        Some(i) => format!("{} ({tag}){}", &name[..i], &name[i..]),
        None => format!("{name} ({tag})"),
    }
}

/// How an invalid remote name is shown in the skipped list.
fn shown_name(name: &str) -> String {
    if name.is_empty() {
        return "(empty name)".into();
    }
    if name == "." || name == ".." {
        return name.replace('.', "%2E");
    }
    name.replace('%', "%25")
        .replace('/', "%2F")
        .replace('\0', "%00")
}

/// Converts a file to a node at `path`.
pub fn node(path: RelPath, f: &DriveFile) -> Node {
    if f.is_folder() {
        return Node::dir(path, Some(f.id.clone()));
    }
    Node {
        path,
        kind: cloudsync_core::Kind::File,
        size: f.bytes(),
        mtime_ns: f.mtime_ns(),
        hash: f.hash(),
        id: Some(f.id.clone()),
        rev: f.rev(),
    }
}

/// Builds the tree below `root` from `files` (every known entry by id), keeping the paths
/// in `prior` (id → path) where they still fit.
pub fn build(
    files: &HashMap<String, DriveFile>,
    root: &str,
    prior: &HashMap<String, RelPath>,
) -> Built {
    let mut children: HashMap<&str, Vec<&DriveFile>> = HashMap::new();
    for f in files.values() {
        if f.trashed {
            continue;
        }
        if let Some(p) = f.parents.first() {
            children.entry(p.as_str()).or_default().push(f);
        }
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| (&a.created_time, &a.id).cmp(&(&b.created_time, &b.id)));
    }
    // Which id each prior path belonged to, to recognise a folder after its rename.
    let prior_ids: HashMap<&RelPath, &str> = prior.iter().map(|(id, p)| (p, id.as_str())).collect();
    let mut out = Built::default();
    let mut queue: Vec<(String, Option<RelPath>)> = vec![(root.to_string(), None)];
    while let Some((folder, dir)) = queue.pop() {
        let Some(list) = children.get(folder.as_str()) else {
            continue;
        };
        let mut taken: HashSet<RelPath> = HashSet::new();
        let mut placed: Vec<(&DriveFile, RelPath)> = Vec::new();
        let mut pending: Vec<&DriveFile> = Vec::new();
        for f in list {
            if !out.reached.insert(f.id.clone()) {
                continue; // a cycle; Drive prevents them, but never loop
            }
            if is_internal_name(&f.name) {
                continue;
            }
            let valid = !f.name.contains('/') && RelPath::child_of(dir.as_ref(), &f.name).is_ok();
            if !valid {
                let shown = shown_name(&f.name);
                if let Ok(p) = RelPath::child_of(dir.as_ref(), &shown) {
                    let detail = format!("the Drive name {:?} is not a valid local name", f.name);
                    out.listing
                        .skipped
                        .push((p, SkipRule::InvalidName { detail }));
                }
                continue;
            }
            if let Some(rule) = google_native_document(&f.mime_type) {
                if let Ok(p) = RelPath::child_of(dir.as_ref(), &f.name) {
                    out.listing.skipped.push((p, rule));
                }
                continue;
            }
            // Rule 1: the path it had, if it still fits.
            let kept = prior.get(&f.id).filter(|p| {
                // Same folder: by id, so a renamed folder keeps its children's names.
                let same_folder = match p.parent() {
                    None => folder == root,
                    Some(pp) => prior_ids.get(&pp).is_some_and(|id| *id == folder),
                };
                same_folder
                    && (p.name() == f.name
                        || p.name() == duplicate_name(&f.name, &f.id, false)
                        || p.name() == duplicate_name(&f.name, &f.id, true))
            });
            let kept = kept.and_then(|p| RelPath::child_of(dir.as_ref(), p.name()).ok());
            match kept {
                Some(p) if !taken.contains(&p.key()) => {
                    taken.insert(p.key());
                    placed.push((f, p));
                }
                _ => pending.push(f),
            }
        }
        // Rule 2: the rest, oldest first.
        for f in pending {
            let candidates = [
                f.name.clone(),
                duplicate_name(&f.name, &f.id, false),
                duplicate_name(&f.name, &f.id, true),
            ];
            let free = candidates.iter().find_map(|n| {
                RelPath::child_of(dir.as_ref(), n)
                    .ok()
                    .filter(|p| !taken.contains(&p.key()))
            });
            match free {
                Some(p) => {
                    taken.insert(p.key());
                    placed.push((f, p));
                }
                None => {
                    if let Ok(p) = RelPath::child_of(dir.as_ref(), &f.name) {
                        let detail = format!(
                            "another Drive entry already uses every local name for {:?}",
                            f.name
                        );
                        out.listing
                            .skipped
                            .push((p, SkipRule::InvalidName { detail }));
                    }
                }
            }
        }
        for (f, p) in placed {
            out.paths.insert(f.id.clone(), p.clone());
            out.ids.insert(p.key(), f.id.clone());
            if f.is_folder() {
                queue.push((f.id.clone(), Some(p.clone())));
            }
            out.listing.nodes.push(node(p, f));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str, name: &str, parent: &str, created: &str) -> DriveFile {
        DriveFile {
            id: id.into(),
            name: name.into(),
            mime_type: "text/plain".into(),
            parents: vec![parent.into()],
            size: Some(serde_json::json!("1")),
            md5_checksum: Some("00".into()),
            sha256_checksum: None,
            modified_time: None,
            created_time: Some(created.into()),
            version: None,
            head_revision_id: None,
            trashed: false,
            app_properties: HashMap::new(),
        }
    }

    fn all(files: &[DriveFile]) -> HashMap<String, DriveFile> {
        files.iter().map(|f| (f.id.clone(), f.clone())).collect()
    }

    fn paths(b: &Built) -> Vec<String> {
        let mut v: Vec<String> = b.listing.nodes.iter().map(|n| n.path.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn duplicates_get_stable_suffixed_names() {
        let a = file(
            "AAAAAAAAAAAA",
            "report.txt",
            "root",
            "2026-01-01T00:00:00.000Z",
        );
        let b = file(
            "BBBBBBBBBBBB",
            "report.txt",
            "root",
            "2026-01-02T00:00:00.000Z",
        );
        let built = build(&all(&[a.clone(), b.clone()]), "root", &HashMap::new());
        assert_eq!(paths(&built), ["report (BBBBBBBB).txt", "report.txt"]);
        // A third, older one arrives: the names given stay.
        let c = file(
            "CCCCCCCCCCCC",
            "report.txt",
            "root",
            "2025-01-01T00:00:00.000Z",
        );
        let again = build(&all(&[a.clone(), b.clone(), c]), "root", &built.paths);
        assert_eq!(
            paths(&again),
            [
                "report (BBBBBBBB).txt",
                "report (CCCCCCCC).txt",
                "report.txt"
            ]
        );
        // The plain one goes: the suffixed ones keep their names.
        let gone = build(&all(&[b]), "root", &again.paths);
        assert_eq!(paths(&gone), ["report (BBBBBBBB).txt"]);
        assert_eq!(
            duplicate_name("noext", "XYZXYZXYZ", false),
            "noext (XYZXYZXY)"
        );
        assert_eq!(duplicate_name(".hidden", "XYZ", false), ".hidden (XYZ)");
    }

    #[test]
    fn hostile_and_native_entries_are_skipped_not_listed() {
        let mut doc = file("D", "notes", "root", "1");
        doc.mime_type = "application/vnd.google-apps.document".into();
        let mut evil_dir = file("E", "..", "root", "1");
        evil_dir.mime_type = super::super::api::FOLDER_MIME.into();
        let inside = file("I", "escape.txt", "E", "1");
        let files = all(&[
            doc,
            evil_dir,
            inside,
            file("S", "a/b", "root", "1"),
            file("N", "nul\0", "root", "1"),
            file("Z", "", "root", "1"),
            file("OK", "fine.txt", "root", "1"),
        ]);
        let built = build(&files, "root", &HashMap::new());
        assert_eq!(paths(&built), ["fine.txt"]);
        let mut skipped: Vec<(String, &str)> = built
            .listing
            .skipped
            .iter()
            .map(|(p, r)| (p.to_string(), r.code()))
            .collect();
        skipped.sort();
        assert_eq!(
            skipped,
            [
                ("%2E%2E".to_string(), "invalid-name"),
                ("(empty name)".to_string(), "invalid-name"),
                ("a%2Fb".to_string(), "invalid-name"),
                ("notes".to_string(), "google-native-document"),
                ("nul%00".to_string(), "invalid-name"),
            ]
        );
    }
}
