//! Listing: the first time a full walk (one `files.list` per folder, several in flight),
//! with the change feed's start token taken before it; afterwards `changes.list` from the
//! saved token, applied to the entries known from before. A folder that enters the tree
//! (created, moved in, untrashed) is walked, since Drive reports the folder and not what
//! it holds. A token Drive refuses means a full walk again: a relist, never deletes.
//!
//! The token and the entries it is current to are kept across restarts through
//! [`crate::feed`], so a restarted client goes on from the feed instead of walking again
//! (a state kept for another root folder is ignored). Between syncs the feed is
//! polled for changes below the root (`wait_for_change`), since Drive's push channel
//! (`changes.watch`) needs a public HTTPS webhook.

use std::collections::HashMap;
use std::time::Duration;

use cloudsync_core::{RelPath, Tree};
use cloudsync_engine::remote::{Listing, RemoteError};
use futures::stream::{FuturesUnordered, StreamExt};
use serde::Deserialize;

use super::api::{error_body, error_of, network, q_string, DriveFile, FILE_FIELDS};
use super::names;
use super::GoogleDrive;

/// How many folder listings a walk keeps in flight.
const WALK_PARALLELISM: usize = 8;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileList {
    #[serde(default)]
    files: Vec<DriveFile>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    file_id: Option<String>,
    #[serde(default)]
    removed: bool,
    file: Option<DriveFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeList {
    #[serde(default)]
    changes: Vec<Change>,
    next_page_token: Option<String>,
    new_start_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartToken {
    start_page_token: String,
}

/// Why reading the change feed stopped.
enum FeedError {
    /// Drive refused the saved token: walk again.
    TokenRefused,
    /// Anything else.
    Remote(RemoteError),
}

/// The listing state kept across restarts (see [`crate::feed`]): the entries below the root
/// with the local path each was given (so duplicate names keep their suffixes) and the
/// change token they are current to.
#[derive(serde::Deserialize)]
struct KeptFeed {
    entries: HashMap<String, DriveFile>,
    paths: HashMap<String, RelPath>,
    page_token: String,
}

#[derive(serde::Serialize)]
struct KeptFeedRef<'a> {
    entries: &'a HashMap<String, DriveFile>,
    paths: &'a HashMap<String, RelPath>,
    page_token: &'a str,
}

impl GoogleDrive {
    /// Every non-trashed child of `folder` (all pages).
    pub(super) async fn children(
        &self,
        folder: &str,
        extra_q: Option<&str>,
    ) -> Result<Vec<DriveFile>, RemoteError> {
        let mut q = format!("{} in parents and trashed = false", q_string(folder));
        if let Some(extra) = extra_q {
            q.push_str(" and ");
            q.push_str(extra);
        }
        let fields = format!("nextPageToken,files({FILE_FIELDS})");
        let url = self.api.url("/drive/v3/files");
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page: FileList = self
                .api
                .json("files.list", |c| {
                    let mut r = c.get(&url).query(&[
                        ("q", q.as_str()),
                        ("fields", fields.as_str()),
                        ("pageSize", "1000"),
                        ("spaces", "drive"),
                    ]);
                    if let Some(t) = &token {
                        r = r.query(&[("pageToken", t.as_str())]);
                    }
                    r
                })
                .await?;
            out.extend(page.files);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// Everything below `folder`, by id.
    async fn walk(&self, folder: &str) -> Result<HashMap<String, DriveFile>, RemoteError> {
        let mut found = HashMap::new();
        let mut waiting = vec![folder.to_string()];
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < WALK_PARALLELISM {
                let Some(next) = waiting.pop() else { break };
                running.push(async move { self.children(&next, None).await });
            }
            let Some(result) = running.next().await else {
                return Ok(found);
            };
            for f in result? {
                if f.is_folder() && !found.contains_key(&f.id) {
                    waiting.push(f.id.clone());
                }
                found.insert(f.id.clone(), f);
            }
        }
    }

    async fn start_token(&self) -> Result<String, RemoteError> {
        let url = self.api.url("/drive/v3/changes/startPageToken");
        let t: StartToken = self
            .api
            .json("changes.getStartPageToken", |c| c.get(&url))
            .await?;
        Ok(t.start_page_token)
    }

    /// Every change since `token`, and the token to use next time.
    async fn changes_since(&self, token: &str) -> Result<(Vec<Change>, String), FeedError> {
        let url = self.api.url("/drive/v3/changes");
        let fields =
            format!("nextPageToken,newStartPageToken,changes(fileId,removed,file({FILE_FIELDS}))");
        let mut token = token.to_string();
        let mut all = Vec::new();
        loop {
            let r = self
                .api
                .send_raw(|c| {
                    c.get(&url).query(&[
                        ("pageToken", token.as_str()),
                        ("fields", fields.as_str()),
                        ("pageSize", "1000"),
                        ("spaces", "drive"),
                        ("includeRemoved", "true"),
                    ])
                })
                .await
                .map_err(FeedError::Remote)?;
            let status = r.status().as_u16();
            if status == 400 || status == 404 || status == 410 {
                let body = error_body(r).await;
                if status != 400 || body.location == "pageToken" || body.reason == "invalid" {
                    return Err(FeedError::TokenRefused);
                }
                return Err(FeedError::Remote(RemoteError::Other(format!(
                    "changes.list: HTTP {status} {} {}",
                    body.reason, body.message
                ))));
            }
            if !r.status().is_success() {
                return Err(FeedError::Remote(error_of(r, "changes.list").await));
            }
            let bytes = r.bytes().await.map_err(|e| FeedError::Remote(network(e)))?;
            let page: ChangeList = serde_json::from_slice(&bytes).map_err(|e| {
                FeedError::Remote(RemoteError::Unavailable(format!(
                    "changes.list: unexpected answer: {e}"
                )))
            })?;
            all.extend(page.changes);
            match (page.next_page_token, page.new_start_page_token) {
                (Some(next), _) => token = next,
                (None, Some(new_start)) => return Ok((all, new_start)),
                (None, None) => {
                    return Err(FeedError::Remote(RemoteError::Unavailable(
                        "changes.list: neither nextPageToken nor newStartPageToken".into(),
                    )))
                }
            }
        }
    }

    /// The whole tree below the root.
    pub(super) async fn list_tree(&self, previous: &Tree) -> Result<Listing, RemoteError> {
        let root = self.root_id().await?;
        let mut saved = self.state().page_token.clone();
        if saved.is_none() {
            // After a restart, the state kept for this root folder stands in.
            if let Some(kept) = self.feed.load::<KeptFeed>(&root) {
                let mut st = self.state();
                st.entries = kept.entries;
                st.paths = kept.paths;
                st.page_token = Some(kept.page_token.clone());
                saved = Some(kept.page_token);
            }
        }
        let mut fresh = None;
        let mut changed = false;
        if let Some(token) = saved {
            match self.changes_since(&token).await {
                Ok((changes, next)) => {
                    changed = !changes.is_empty();
                    let entered = self.apply_changes(changes, &root);
                    let mut walked = HashMap::new();
                    for folder in entered {
                        walked.extend(self.walk(&folder).await?);
                    }
                    let mut st = self.state();
                    st.entries.extend(walked);
                    st.page_token = Some(next);
                    st.peek_token = None;
                }
                Err(FeedError::TokenRefused) => {
                    tracing::info!("Drive refused the saved change token; listing everything");
                    fresh = Some(());
                }
                Err(FeedError::Remote(e)) => return Err(e),
            }
        } else {
            fresh = Some(());
        }
        if fresh.is_some() {
            changed = true;
            // The token first: whatever changes during the walk shows up next time.
            let token = self.start_token().await?;
            let entries = self.walk(&root).await?;
            let mut st = self.state();
            st.entries = entries;
            st.page_token = Some(token);
            st.peek_token = None;
        }
        let mut st = self.state();
        let mut prior: HashMap<String, RelPath> = previous
            .values()
            .filter_map(|n| n.id.clone().map(|id| (id, n.path.clone())))
            .collect();
        prior.extend(st.paths.iter().map(|(k, v)| (k.clone(), v.clone())));
        let built = names::build(&st.entries, &root, &prior);
        // Entries no longer below the root are forgotten (a folder moving back in is walked).
        st.entries.retain(|id, _| built.reached.contains(id));
        st.paths = built.paths;
        st.ids = built.ids;
        if let Some(page_token) = st.page_token.as_deref() {
            let kept = KeptFeedRef {
                entries: &st.entries,
                paths: &st.paths,
                page_token,
            };
            self.feed.listed(&root, &kept, changed);
        }
        Ok(built.listing)
    }

    /// Polls the change feed (Drive has no push channel a desktop can use) until a change
    /// touches the tree below the root, or `timeout` passes. The saved token is left for
    /// [`GoogleDrive::list_tree`]; changes elsewhere in the Drive only move a peek token on.
    pub(super) async fn poll_for_change(&self, timeout: Duration) -> Result<bool, RemoteError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let root = match self.root.lock().await.clone() {
            Some(r) => r,
            None => {
                tokio::time::sleep(timeout).await;
                return Ok(false);
            }
        };
        let url = self.api.url("/drive/v3/changes");
        let fields = "nextPageToken,newStartPageToken,changes(fileId,removed,file(id,parents))";
        loop {
            let token = {
                let st = self.state();
                st.peek_token.clone().or_else(|| st.page_token.clone())
            };
            let Some(token) = token else {
                tokio::time::sleep_until(deadline).await;
                return Ok(false);
            };
            let page: ChangeList = self
                .api
                .json("changes.list", |c| {
                    c.get(&url).query(&[
                        ("pageToken", token.as_str()),
                        ("fields", fields),
                        ("pageSize", "100"),
                        ("spaces", "drive"),
                    ])
                })
                .await?;
            {
                let mut st = self.state();
                let touches = page.changes.iter().any(|c| {
                    let id = c.file_id.as_deref().unwrap_or_default();
                    let parent = c.file.as_ref().and_then(|f| f.parents.first());
                    st.entries.contains_key(id)
                        || parent.is_some_and(|p| *p == root || st.entries.contains_key(p))
                });
                if touches {
                    st.peek_token = None;
                    return Ok(true);
                }
                st.peek_token = page.next_page_token.or(page.new_start_page_token);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            tokio::time::sleep((deadline - now).min(self.change_poll)).await;
        }
    }

    /// Applies changes to the known entries; returns the folders that entered the tree.
    fn apply_changes(&self, changes: Vec<Change>, root: &str) -> Vec<String> {
        let mut st = self.state();
        let mut entered = Vec::new();
        for c in changes {
            match (c.removed, c.file) {
                (false, Some(f)) if !f.trashed => {
                    let inside = f
                        .parents
                        .first()
                        .is_some_and(|p| p == root || st.entries.contains_key(p));
                    if inside && f.is_folder() && !st.entries.contains_key(&f.id) {
                        entered.push(f.id.clone());
                    }
                    st.entries.insert(f.id.clone(), f);
                }
                (_, f) => {
                    if let Some(id) = c.file_id.or(f.map(|f| f.id)) {
                        st.entries.remove(&id);
                    }
                }
            }
        }
        entered
    }
}
