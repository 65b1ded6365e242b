//! The remote tree from `listall` (recursive, paged with `cursor`/`has_more`), each item
//! turned into a [`Node`] or a skipped entry.
//!
//! Baidu has no change feed, so the engine diffs successive listings. listall is
//! rate-limited (about 8-10 calls a minute, errno 31034): the client paces its own calls
//! (`listall_per_minute`) and reports 31034 as `RateLimited`.
//!
//! Items are placed by their absolute `path`, which must lie below the root and end in the
//! item's `server_filename`. Items outside the root or climbing out of it with `..` are
//! dropped (they have no place here); items whose name is no valid name (`..`, a `/` or
//! NUL inside, a name that disagrees with the path) become [`SkipRule::InvalidName`] under
//! a percent-encoded spelling, so nothing is ever written outside the sync root.

use std::time::Duration;

use tokio::time::Instant;

use cloudsync_core::rules::SkipRule;
use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::{Listing, RemoteError};
use cloudsync_engine::scan::is_internal_name;
use serde_json::Value;

use super::Baidu;

/// Items per listall page (Baidu's maximum).
const PAGE: usize = 1000;

/// Where a listed item goes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Placed {
    /// A name to sync.
    Valid(RelPath),
    /// Not a valid name here, reported under an encoded spelling.
    Invalid(RelPath, String),
    /// Outside the root, or an engine-internal name: left out.
    Dropped,
}

/// `%`, `/`, `\`, NUL and other controls percent-encoded; `.` and `..` as `%2E`s.
fn encode_name(name: &str) -> String {
    if name == "." || name == ".." {
        return name.replace('.', "%2E");
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '%' || c == '/' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Places the item at absolute `path` named `name`, for the root `root` (no trailing `/`).
pub(super) fn place(root: &str, path: &str, name: &str) -> Placed {
    let Some(rest) = path.strip_prefix(root).and_then(|r| r.strip_prefix('/')) else {
        return Placed::Dropped;
    };
    if name.is_empty() {
        return Placed::Dropped;
    }
    // The folder part of the path: what precedes the name, or (when the name disagrees
    // with the path) what precedes the path's last component.
    let (parent, matches) = match rest.strip_suffix(name) {
        Some(p) if p.is_empty() || p.ends_with('/') => (p.trim_end_matches('/'), true),
        _ => (rest.rsplit_once('/').map_or("", |(p, _)| p), false),
    };
    let parent = if parent.is_empty() {
        None
    } else {
        match RelPath::new(parent) {
            Ok(p) => Some(p),
            Err(_) => return Placed::Dropped,
        }
    };
    if parent
        .as_ref()
        .is_some_and(|p| p.components().any(is_internal_name))
    {
        return Placed::Dropped;
    }
    if matches {
        if is_internal_name(name) {
            return Placed::Dropped;
        }
        if let Ok(p) = RelPath::child_of(parent.as_ref(), name) {
            return Placed::Valid(p);
        }
    }
    let detail = if matches {
        format!("the remote name {name:?} is not a valid name")
    } else {
        format!("the remote name {name:?} does not match its path")
    };
    match RelPath::child_of(parent.as_ref(), &encode_name(name)) {
        Ok(p) => Placed::Invalid(p, detail),
        Err(_) => Placed::Dropped,
    }
}

fn num(v: &Value, k: &str) -> Option<i64> {
    v.get(k).and_then(|x| {
        x.as_i64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    })
}

/// The node for a listed item at `path`.
pub(super) fn node_of(path: RelPath, v: &Value) -> Node {
    let fs_id = v.get("fs_id").map(|x| match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if num(v, "isdir") == Some(1) {
        return Node::dir(path, fs_id);
    }
    let size = num(v, "size").unwrap_or(0).max(0) as u64;
    let server_mtime = num(v, "server_mtime").unwrap_or(0);
    // local_mtime is what the uploader said; the server's times are upload times.
    let mtime = num(v, "local_mtime")
        .filter(|t| *t > 0)
        .unwrap_or(server_mtime);
    Node {
        path,
        kind: Kind::File,
        size,
        mtime_ns: mtime.saturating_mul(1_000_000_000),
        hash: None,
        rev: fs_id
            .as_ref()
            .map(|id| format!("{id}:{server_mtime}:{size}")),
        id: fs_id,
    }
}

impl Baidu {
    /// Waits until another listall call fits the client's own pace.
    async fn pace_listall(&self) {
        if self.listall_per_minute == 0 {
            return;
        }
        loop {
            let wait = {
                let mut calls = self.listall_calls.lock().await;
                let now = Instant::now();
                while calls
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
                {
                    calls.pop_front();
                }
                if calls.len() < self.listall_per_minute as usize {
                    calls.push_back(now);
                    return;
                }
                calls
                    .front()
                    .map(|t| Duration::from_secs(60).saturating_sub(now.duration_since(*t)))
                    .unwrap_or_default()
            };
            tracing::debug!("pacing Baidu listall: waiting {wait:?}");
            tokio::time::sleep(wait + Duration::from_millis(50)).await;
        }
    }

    /// Every entry below the root.
    pub(super) async fn list_tree(&self) -> Result<Listing, RemoteError> {
        let mut listing = Listing::default();
        let mut start = 0usize;
        loop {
            self.pace_listall().await;
            let s = start.to_string();
            let page = PAGE.to_string();
            let v = self
                .pan_get(
                    "/rest/2.0/xpan/multimedia",
                    &[
                        ("method", "listall"),
                        ("path", &self.root),
                        ("recursion", "1"),
                        ("start", &s),
                        ("limit", &page),
                        ("web", "1"),
                    ],
                    "listing the app folder (listall)",
                )
                .await?;
            let items = v.get("list").and_then(Value::as_array);
            for item in items.into_iter().flatten() {
                let (Some(path), Some(name)) = (
                    item.get("path").and_then(Value::as_str),
                    item.get("server_filename").and_then(Value::as_str),
                ) else {
                    continue;
                };
                match place(&self.root, path, name) {
                    Placed::Valid(p) => listing.nodes.push(node_of(p, item)),
                    Placed::Invalid(p, detail) => {
                        listing.skipped.push((p, SkipRule::InvalidName { detail }));
                    }
                    Placed::Dropped => {
                        tracing::debug!("Baidu listed an item outside the app folder; ignored");
                    }
                }
            }
            let more = num(&v, "has_more") == Some(1);
            let cursor = num(&v, "cursor").unwrap_or(0).max(0) as usize;
            if !more {
                break;
            }
            if cursor <= start {
                return Err(RemoteError::Unavailable(
                    "Baidu's listall cursor did not advance".into(),
                ));
            }
            start = cursor;
        }
        // A listed folder whose own entry was skipped must not bring its children in.
        let skipped_dirs: Vec<RelPath> = listing.skipped.iter().map(|(p, _)| p.clone()).collect();
        listing
            .nodes
            .retain(|n| !skipped_dirs.iter().any(|d| n.path.is_below(d)));
        listing.nodes.sort_by(|a, b| a.path.cmp(&b.path));
        listing.nodes.dedup_by(|a, b| a.path == b.path);
        listing.skipped.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(listing)
    }

    /// The entry at `path` (by listing its folder), or `None`.
    pub(super) async fn stat(&self, path: &RelPath) -> Result<Option<Node>, RemoteError> {
        let dir = match path.parent() {
            Some(p) => self.remote_path(&p),
            None => self.root.clone(),
        };
        let Some(items) = self
            .dir_items(&dir, false, &format!("looking up {path}"))
            .await?
        else {
            return Ok(None);
        };
        Ok(items
            .iter()
            .find(|i| i.get("server_filename").and_then(Value::as_str) == Some(path.name()))
            .map(|item| node_of(path.clone(), item)))
    }

    /// The folders directly inside `dir` (the root for `None`): `method=list` with
    /// `folder=1`, one folder's worth of requests instead of the rate-limited `listall`.
    pub(super) async fn folders_in(
        &self,
        dir: Option<&RelPath>,
    ) -> Result<Vec<String>, RemoteError> {
        let at = dir.map_or_else(|| self.root.clone(), |d| self.remote_path(d));
        let items = self
            .dir_items(&at, true, &format!("listing {at}"))
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("no Baidu folder {at}")))?;
        Ok(items
            .iter()
            .filter(|i| num(i, "isdir") == Some(1))
            .filter_map(|i| i.get("server_filename").and_then(Value::as_str))
            .map(str::to_string)
            .collect())
    }

    /// Every item of the folder `dir` (an absolute Baidu path), all pages; `None` when
    /// the folder is not there.
    async fn dir_items(
        &self,
        dir: &str,
        folders_only: bool,
        what: &str,
    ) -> Result<Option<Vec<Value>>, RemoteError> {
        let mut out = Vec::new();
        loop {
            let s = out.len().to_string();
            let page = PAGE.to_string();
            let mut query = vec![
                ("method", "list"),
                ("dir", dir),
                ("start", s.as_str()),
                ("limit", page.as_str()),
                ("web", "1"),
            ];
            if folders_only {
                query.push(("folder", "1"));
            }
            let v = match self.pan_get("/rest/2.0/xpan/file", &query, what).await {
                Ok(v) => v,
                Err(RemoteError::NotFound(_)) => return Ok(None),
                Err(e) => return Err(e),
            };
            let items = v
                .get("list")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let full_page = items.len() >= PAGE;
            out.extend(items);
            if !full_page {
                return Ok(Some(out));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/apps/CloudSync";

    fn valid(p: &str) -> Placed {
        Placed::Valid(RelPath::new(p).expect("valid"))
    }

    #[test]
    fn items_are_placed_by_path_and_name() {
        assert_eq!(
            place(ROOT, "/apps/CloudSync/a.txt", "a.txt"),
            valid("a.txt")
        );
        assert_eq!(place(ROOT, "/apps/CloudSync/d/e/f", "f"), valid("d/e/f"));
        assert_eq!(place(ROOT, "/apps/CloudSync", "CloudSync"), Placed::Dropped);
        assert_eq!(place(ROOT, "/apps/CloudSyncX/a", "a"), Placed::Dropped);
        assert_eq!(place(ROOT, "/etc/passwd", "passwd"), Placed::Dropped);
        assert_eq!(
            place(ROOT, "/apps/CloudSync/../../escape.txt", "escape.txt"),
            Placed::Dropped
        );
        assert_eq!(
            place(ROOT, "/apps/CloudSync/.cloudsync-root", ".cloudsync-root"),
            Placed::Dropped
        );
    }

    #[test]
    fn hostile_names_become_encoded_skips() {
        let cases = [
            ("/apps/CloudSync/..", "..", "%2E%2E"),
            ("/apps/CloudSync/d/a/b", "a/b", "d/a%2Fb"),
            ("/apps/CloudSync/nul\0x", "nul\0x", "nul%00x"),
            ("/apps/CloudSync/x", "/etc/shadow", "%2Fetc%2Fshadow"),
        ];
        for (path, name, shown) in cases {
            match place(ROOT, path, name) {
                Placed::Invalid(p, _) => assert_eq!(p.as_str(), shown, "{path:?}"),
                other => panic!("{path:?} gave {other:?}"),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn listall_calls_are_paced_to_the_configured_rate() {
        let b = Baidu::new(
            "CloudSync",
            Some("http://127.0.0.1:9"),
            std::sync::Arc::new(crate::auth::StaticToken::new("t")),
        )
        .expect("client")
        .with_listall_per_minute(2);
        let start = tokio::time::Instant::now();
        b.pace_listall().await;
        b.pace_listall().await;
        assert!(start.elapsed() < Duration::from_secs(1));
        b.pace_listall().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(60) && waited < Duration::from_secs(62),
            "{waited:?}"
        );
    }

    #[test]
    fn nodes_carry_fs_id_local_mtime_and_no_hash() {
        let v = serde_json::json!({
            "fs_id": 123, "path": "/apps/CloudSync/a", "server_filename": "a", "size": 5,
            "isdir": 0, "md5": "0123", "server_mtime": 1_700_000_100, "local_mtime": 1_600_000_000
        });
        let n = node_of(RelPath::new("a").expect("valid"), &v);
        assert_eq!(n.id.as_deref(), Some("123"));
        assert_eq!(n.size, 5);
        assert_eq!(n.mtime_ns, 1_600_000_000_000_000_000);
        assert_eq!(n.hash, None);
        assert_eq!(n.rev.as_deref(), Some("123:1700000100:5"));
    }
}
