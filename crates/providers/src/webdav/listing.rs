//! Listing the remote tree: one `PROPFIND Depth: infinity` where the server allows it,
//! else a walk of `Depth: 1` PROPFINDs (a bounded number in flight).
//!
//! The first listing tries `Depth: infinity` on the root; any refusal (403
//! `propfind-finite-depth`, 400, other errors) is remembered and the walk is used from
//! then on. Both paths apply the same name rules, so they give the same tree: entries
//! below an ignored or invalid folder are dropped, as the walk never descends into them.

use cloudsync_core::rules::SkipRule;
use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::{Listing, RemoteError};
use cloudsync_engine::scan::is_internal_name;
use futures::stream::{FuturesUnordered, StreamExt};

use super::propfind::Entry;
use super::{enc_all, node_from, PropfindError, WebDav};

/// How many PROPFINDs a walk keeps in flight.
const LIST_PARALLELISM: usize = 8;

/// What a listed name becomes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Child {
    /// A name to sync.
    Valid(RelPath),
    /// A name that is no valid path here, reported under its percent-encoded spelling.
    Invalid(RelPath, String),
    /// An engine-internal name (marker, trash, temp files).
    Ignored,
}

pub(super) fn child(dir: Option<&RelPath>, seg: &Result<String, String>) -> Child {
    let (raw, detail) = match seg {
        Ok(name) if is_internal_name(name) => return Child::Ignored,
        Ok(name) if !name.contains('/') => match RelPath::child_of(dir, name) {
            Ok(p) => return Child::Valid(p),
            Err(_) => (
                enc_all(name),
                format!("the remote name {name:?} is not a valid name"),
            ),
        },
        Ok(name) => (
            enc_all(name),
            format!("the remote name {name:?} contains a slash"),
        ),
        Err(raw) => (
            raw.clone(),
            "the remote name is not valid UTF-8".to_string(),
        ),
    };
    match RelPath::child_of(dir, &raw) {
        Ok(p) => Child::Invalid(p, detail),
        Err(_) => Child::Ignored,
    }
}

#[derive(Default)]
struct DirListing {
    nodes: Vec<Node>,
    skipped: Vec<(RelPath, SkipRule)>,
}

impl DirListing {
    /// Adds the entry at the decoded segments `segs` below the root, if every folder
    /// above it is a valid, synced name.
    fn add(&mut self, segs: &[Result<String, String>], e: &Entry) {
        let Some((last, parents)) = segs.split_last() else {
            return; // the root itself
        };
        let mut dir: Option<RelPath> = None;
        for seg in parents {
            match child(dir.as_ref(), seg) {
                Child::Valid(p) => dir = Some(p),
                // Reported (or ignored) at its own entry; the walk would not descend.
                Child::Invalid(..) | Child::Ignored => return,
            }
        }
        match child(dir.as_ref(), last) {
            Child::Valid(p) => self.nodes.push(node_from(p, e)),
            Child::Invalid(p, detail) => {
                self.skipped.push((p, SkipRule::InvalidName { detail }));
            }
            Child::Ignored => {}
        }
    }
}

impl WebDav {
    /// Whether the server answered a `Depth: infinity` listing (`None`: not tried yet).
    pub fn depth_infinity_supported(&self) -> Option<bool> {
        self.probes.infinity.get().copied()
    }

    /// The whole tree, by `Depth: infinity` when it works, else by the walk.
    pub(super) async fn list_tree(&self) -> Result<Listing, RemoteError> {
        let mut listing = Listing::default();
        let done = if !self.options.depth_infinity || self.depth_infinity_supported() == Some(false)
        {
            self.list_walk().await?
        } else {
            match self.list_infinity().await {
                Ok(d) => {
                    let _ = self.probes.infinity.set(true);
                    d
                }
                Err(PropfindError::Refused(why)) => {
                    tracing::debug!("WebDAV server refuses Depth: infinity ({why}); walking");
                    let _ = self.probes.infinity.set(false);
                    self.list_walk().await?
                }
                Err(PropfindError::Remote(e)) => return Err(e),
            }
        };
        listing.nodes = done.nodes;
        listing.skipped = done.skipped;
        listing.nodes.sort_by(|a, b| a.path.cmp(&b.path));
        listing.skipped.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(listing)
    }

    async fn list_infinity(&self) -> Result<DirListing, PropfindError> {
        let entries = self
            .propfind_raw(self.url(None, true), "infinity")
            .await?
            .ok_or_else(|| {
                PropfindError::Remote(RemoteError::NotFound(format!("remote root {}", self.root)))
            })?;
        let mut out = DirListing::default();
        for e in &entries {
            if let Some(segs) = self.relative_segments(&e.href) {
                out.add(&segs, e);
            }
        }
        Ok(out)
    }

    async fn list_walk(&self) -> Result<DirListing, RemoteError> {
        let mut out = DirListing::default();
        let mut pending: Vec<Option<RelPath>> = vec![None];
        let mut in_flight = FuturesUnordered::new();
        loop {
            while in_flight.len() < LIST_PARALLELISM {
                let Some(dir) = pending.pop() else { break };
                in_flight.push(self.list_dir(dir));
            }
            let Some(done) = in_flight.next().await else {
                break;
            };
            let done = done?;
            for n in &done.nodes {
                if n.kind == Kind::Dir {
                    pending.push(Some(n.path.clone()));
                }
            }
            out.nodes.extend(done.nodes);
            out.skipped.extend(done.skipped);
        }
        Ok(out)
    }

    /// The folders directly inside `dir`: one `Depth: 1` PROPFIND.
    pub(super) async fn folders_in(
        &self,
        dir: Option<&RelPath>,
    ) -> Result<Vec<String>, RemoteError> {
        let listed = self.list_dir(dir.cloned()).await?;
        Ok(listed
            .nodes
            .into_iter()
            .filter(|n| n.kind == Kind::Dir)
            .map(|n| n.path.name().to_string())
            .collect())
    }

    /// Lists the direct children of the collection `dir` (`None`: the root).
    async fn list_dir(&self, dir: Option<RelPath>) -> Result<DirListing, RemoteError> {
        let entries = self
            .propfind(self.url(dir.as_ref(), true), "1")
            .await?
            .ok_or_else(|| {
                RemoteError::NotFound(match &dir {
                    Some(d) => format!("folder {d} vanished during listing"),
                    None => format!("remote root {}", self.root),
                })
            })?;
        let depth = dir.as_ref().map_or(0, RelPath::depth);
        let mut out = DirListing::default();
        for e in &entries {
            let Some(segs) = self.relative_segments(&e.href) else {
                continue;
            };
            if segs.len() != depth + 1 {
                continue; // the folder itself (or a server answering deeper than asked)
            }
            if segs[..depth].iter().any(Result::is_err) {
                continue;
            }
            match child(dir.as_ref(), &segs[depth]) {
                Child::Valid(p) => out.nodes.push(node_from(p, e)),
                Child::Invalid(p, detail) => {
                    out.skipped.push((p, SkipRule::InvalidName { detail }));
                }
                Child::Ignored => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_names_are_validated() {
        let dir = RelPath::new("d").expect("valid");
        assert_eq!(
            child(Some(&dir), &Ok("a b.txt".into())),
            Child::Valid(RelPath::new("d/a b.txt").expect("valid"))
        );
        for internal in [".cloudsync-root", ".cloudsync-trash", ".cloudsync-tmp-12"] {
            assert_eq!(child(None, &Ok(internal.into())), Child::Ignored);
        }
        for (bad, shown) in [("..", "d/%2E%2E"), ("a/b", "d/a%2Fb"), (".", "d/%2E")] {
            match child(Some(&dir), &Ok(bad.into())) {
                Child::Invalid(p, _) => assert_eq!(p.as_str(), shown),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(matches!(
            child(None, &Err("x%FF".into())),
            Child::Invalid(p, _) if p.as_str() == "x%FF"
        ));
    }

    #[test]
    fn deep_entries_below_skipped_folders_are_dropped() {
        let mut d = DirListing::default();
        let e = Entry::default();
        let seg = |s: &str| Ok::<String, String>(s.to_string());
        d.add(&[seg("a"), seg("b")], &e);
        d.add(&[seg(".cloudsync-trash"), seg("x")], &e);
        d.add(&[Err("x%FF".into()), seg("y")], &e);
        d.add(&[Err("x%FF".into())], &e);
        let paths: Vec<&str> = d.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, vec!["a/b"]);
        assert_eq!(d.skipped.len(), 1);
    }
}
