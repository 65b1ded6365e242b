//! One sync round of one connection: observe both sides, plan, guard, execute, persist.
//!
//! Guards run before anything changes: both roots must be there (the local one with its
//! marker), and a plan that would delete more than half of a side's files (and at least
//! [`MASS_DELETE_MIN`]) waits for the user's approval.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cloudsync_core::planner::{plan, PlanInput};
use cloudsync_core::rules::{RuleSet, SkipRule, ROOT_MARKER};
use cloudsync_core::{Batch, Kind, Node, Op, Plan, RelPath, Side, Tree};
use serde::{Deserialize, Serialize};

use crate::bandwidth::Throttle;
use crate::clock::Clock;
use crate::error::{EngineError, RetryClass};
use crate::events::{Event, EventBus};
use crate::executor::Executor;
use crate::hash::HashKind;
use crate::live::LiveTrees;
use crate::localfs::{EntryType, LocalFs};
use crate::remote::{Remote, RemoteError};
use crate::scan::{fill_hashes, scan, skip_case_clashes};
use crate::store::{ConnState, Connection, Store, StoreError};

/// How long a listing may wait out rate limits and passing failures before the sync gives
/// up (the daemon tries again on its schedule).
const LIST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(180);

/// Deletes below this many files never need approval.
pub const MASS_DELETE_MIN: usize = 10;

/// What the engine needs from the outside world.
#[derive(Clone)]
pub struct Context {
    /// Local filesystem.
    pub fs: Arc<dyn LocalFs>,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Event stream.
    pub events: EventBus,
    /// This machine's name.
    pub host: String,
}

/// What a round did.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct RoundReport {
    /// Ops planned (records and forgets included).
    pub planned: usize,
    /// Ops that changed something on a side.
    pub effective: usize,
    /// Ops dropped because the world changed (another round follows).
    pub replans: usize,
    /// Failures, as `path: error`.
    pub failures: Vec<String>,
}

/// A summary of a plan waiting for approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingPlan {
    /// Files the plan deletes locally.
    pub deletes_local: usize,
    /// Files the plan deletes remotely.
    pub deletes_remote: usize,
    /// Files on the local side before the plan.
    pub local_files: usize,
    /// Files on the remote side before the plan.
    pub remote_files: usize,
    /// The first deleted paths, as `local: path` or `remote: path`.
    pub paths: Vec<String>,
    /// Every op of the plan, one line each (first 1,000).
    pub ops: Vec<String>,
    /// Set by `approve`: the next round may delete up to these counts.
    #[serde(default)]
    pub approved: bool,
}

/// One line describing an op, for `plan` and approval screens.
pub fn describe(op: &Op) -> String {
    match op {
        Op::MakeDir { side, path, .. } => format!("create folder {} {path}", side_word(*side)),
        Op::Upload {
            local, replaces, ..
        } => format!(
            "upload {} ({} bytes){}",
            local.path,
            local.size,
            if replaces.is_some() {
                ", replacing the remote version"
            } else {
                ""
            }
        ),
        Op::Download {
            remote, replaces, ..
        } => format!(
            "download {} ({} bytes){}",
            remote.path,
            remote.size,
            if replaces.is_some() {
                ", replacing the local version"
            } else {
                ""
            }
        ),
        Op::Delete {
            side, node, files, ..
        } => match node.kind {
            Kind::Dir => format!(
                "delete {} folder {} ({files} files)",
                side_word(*side),
                node.path
            ),
            Kind::File => format!("delete {} {}", side_word(*side), node.path),
        },
        Op::Move {
            side,
            node,
            to_path,
            ..
        } => {
            format!("rename {} {} -> {to_path}", side_word(*side), node.path)
        }
        Op::Record { key, .. } => format!("record {key} as in sync"),
        Op::Forget { key } => format!("forget {key} (gone on both sides)"),
        Op::Conflict {
            key, resolution, ..
        } => format!("conflict {key}: {resolution:?}"),
    }
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

/// Runs sync rounds for one connection.
pub struct ConnectionSync<'a> {
    /// Outside world.
    pub ctx: &'a Context,
    /// The store.
    pub store: &'a Mutex<Store>,
    /// The connection (as loaded at the start of the round).
    pub conn: Connection,
    /// Its remote.
    pub remote: Arc<dyn Remote>,
    /// Its trees, kept across rounds.
    pub trees: LiveTrees,
}

/// Locks the store, mapping a poisoned lock to an error.
pub fn lock(store: &Mutex<Store>) -> Result<std::sync::MutexGuard<'_, Store>, EngineError> {
    store
        .lock()
        .map_err(|_| EngineError::Store(StoreError::Corrupt("store lock poisoned".into())))
}

/// Checks the local root and its marker.
///
/// # Errors
/// [`EngineError::LocalRootMissing`].
pub fn check_local_root(fs: &dyn LocalFs, root: &Path) -> Result<(), EngineError> {
    let ok = matches!(fs.metadata(root), Ok(m) if m.ty == EntryType::Dir)
        && matches!(fs.metadata(&root.join(ROOT_MARKER)), Ok(m) if m.ty == EntryType::File);
    if ok {
        Ok(())
    } else {
        Err(EngineError::LocalRootMissing(root.to_path_buf()))
    }
}

impl ConnectionSync<'_> {
    /// Loads the trees of `conn` from the store.
    ///
    /// # Errors
    /// The store's error.
    pub fn load(store: &Mutex<Store>, conn_id: i64) -> Result<LiveTrees, EngineError> {
        let s = lock(store)?;
        Ok(LiveTrees::new(
            s.load_tree(conn_id, Side::Local)?,
            s.load_tree(conn_id, Side::Remote)?,
            s.load_synced(conn_id)?,
        ))
    }

    /// Checks the remote root, trying again after a short pause when the error may pass
    /// (a dropped connection), so one network hiccup does not fail a whole sync.
    async fn check_remote_root(&self) -> Result<(), EngineError> {
        let mut pause = std::time::Duration::from_millis(500);
        let mut attempt = 1;
        loop {
            match self.remote.check_root().await {
                Ok(()) => return Ok(()),
                Err(e)
                    if attempt < 3
                        && e.retry_class() == RetryClass::Temporary
                        && !matches!(e, RemoteError::NotFound(_)) =>
                {
                    tracing::debug!("checking the remote root: {e}; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                // Refused credentials are no missing folder: they say so, and what mends it.
                Err(e @ RemoteError::Auth(_)) => return Err(e.into()),
                Err(e) => return Err(EngineError::RemoteRootMissing(e.to_string())),
            }
        }
    }

    /// Lists the remote, waiting out a rate limit (as long as the provider asks, else with
    /// growing pauses) and retrying a passing failure a few times, so a busy provider
    /// (Baidu allows about 10 listings a minute) slows a sync down instead of failing it.
    async fn list_remote(&self) -> Result<crate::remote::Listing, EngineError> {
        let mut pause = std::time::Duration::from_secs(2);
        let mut waited = std::time::Duration::ZERO;
        loop {
            match self.remote.list(&self.trees.remote).await {
                Ok(l) => return Ok(l),
                Err(e) if e.retry_class() == RetryClass::Temporary && waited < LIST_PATIENCE => {
                    let wait = match &e {
                        RemoteError::RateLimited(Some(secs)) => {
                            std::time::Duration::from_secs((*secs).clamp(1, 60))
                        }
                        _ => pause,
                    };
                    tracing::info!(
                        "listing the remote: {e}; trying again in {} s",
                        wait.as_secs()
                    );
                    tokio::time::sleep(wait).await;
                    waited += wait;
                    pause = (pause * 2).min(std::time::Duration::from_secs(30));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Observes both sides and plans; returns the plan and the count of files per side.
    ///
    /// # Errors
    /// A missing root, an unreadable local root, a failed listing, or the store.
    pub async fn observe_and_plan(&mut self) -> Result<Plan, EngineError> {
        let root = self.conn.local_root.clone();
        check_local_root(self.ctx.fs.as_ref(), &root)?;
        self.check_remote_root().await?;
        let caps = self.remote.capabilities();
        let rules = RuleSet::new(caps.rules, &self.conn.settings)
            .map_err(|e| EngineError::Invalid(e.to_string()))?
            .with_provider_max_file(self.remote.max_file_size());
        let kind = HashKind::for_remote(caps.hash_kind.as_deref());
        let mut scanned = scan(self.ctx.fs.as_ref(), &root, &rules, &self.trees.local, kind)
            .map_err(|e| EngineError::io("scan", &root, e))?;
        for temp in &scanned.stale_temps {
            let _ = self.ctx.fs.remove_file(temp);
        }
        let listing = self.list_remote().await?;
        let (remote_tree, mut remote_skipped) = filter_remote(listing.nodes, &rules);
        remote_skipped.extend(listing.skipped);
        let synced = &self.trees.synced;
        if caps.case_insensitive {
            let clashes = skip_case_clashes(&mut scanned.tree, |key| {
                synced.contains_key(key) || remote_tree.contains_key(key)
            });
            scanned.skipped.extend(clashes);
        }
        let (_, unreadable) = fill_hashes(
            self.ctx.fs.as_ref(),
            &root,
            &mut scanned.tree,
            kind,
            |key| {
                remote_tree.get(key).is_some_and(|n| n.kind == Kind::File)
                    || synced.contains_key(key)
            },
        );
        scanned.skipped.extend(unreadable);
        let ignored: BTreeSet<RelPath> = scanned
            .skipped
            .iter()
            .chain(remote_skipped.iter())
            // A Unicode clash shares its key with the entry that is synced.
            .filter(|(_, rule)| !matches!(rule, SkipRule::UnicodeClash { .. }))
            .map(|(p, _)| p.key())
            .collect();
        self.trees.observe(Side::Local, scanned.tree);
        self.trees.observe(Side::Remote, remote_tree);
        self.announce_skipped(&scanned.skipped, &remote_skipped)?;
        {
            let conn = self.conn.id;
            let mut s = lock(self.store)?;
            let trees = &mut self.trees;
            s.write(|tx| {
                trees.flush(tx, conn)?;
                tx.replace_skipped(conn, Side::Local, &skip_rows(&scanned.skipped))?;
                tx.replace_skipped(conn, Side::Remote, &skip_rows(&remote_skipped))?;
                Ok(())
            })?;
        }
        Ok(plan(&PlanInput {
            local: &self.trees.local,
            remote: &self.trees.remote,
            synced: &self.trees.synced,
            settings: &self.conn.settings,
            caps: &caps,
            host: &self.ctx.host,
            now_secs: self.ctx.clock.now_secs(),
            ignored: &ignored,
        }))
    }

    /// Emits a `skipped` event for each entry newly left out (not for those already known,
    /// also across restarts: the first round starts from the stored list).
    fn announce_skipped(
        &mut self,
        local: &[(RelPath, SkipRule)],
        remote: &[(RelPath, SkipRule)],
    ) -> Result<(), EngineError> {
        if self.trees.skipped.is_none() {
            let rows = lock(self.store)?.skipped(Some(self.conn.id))?;
            self.trees.skipped = Some(rows.into_iter().map(|r| (r.side, r.path)).collect());
        }
        let now: BTreeSet<(Side, String)> = local
            .iter()
            .map(|(p, _)| (Side::Local, p.to_string()))
            .chain(remote.iter().map(|(p, _)| (Side::Remote, p.to_string())))
            .collect();
        let known = self.trees.skipped.get_or_insert_with(BTreeSet::new);
        for (side, items) in [(Side::Local, local), (Side::Remote, remote)] {
            for (path, rule) in items {
                if !known.contains(&(side, path.to_string())) {
                    self.ctx.events.emit(Event::Skipped {
                        connection: self.conn.name.clone(),
                        path: path.to_string(),
                        reason: format!("{rule} ({side} side)"),
                    });
                }
            }
        }
        *known = now;
        Ok(())
    }

    /// The mass-delete guard: `Some(summary)` when the plan needs approval first.
    pub fn needs_approval(&self, plan: &Plan) -> Option<PendingPlan> {
        let files = |t: &Tree| t.values().filter(|n| n.kind == Kind::File).count();
        let local_files = files(&self.trees.local);
        let remote_files = files(&self.trees.remote);
        let deletes_local = plan.deletes_on(Side::Local);
        let deletes_remote = plan.deletes_on(Side::Remote);
        let too_many =
            |deletes: usize, total: usize| deletes >= MASS_DELETE_MIN && deletes * 2 > total;
        if !too_many(deletes_local, local_files) && !too_many(deletes_remote, remote_files) {
            return None;
        }
        let paths = plan
            .ops()
            .filter_map(|op| match op {
                Op::Delete { side, node, .. } => {
                    Some(format!("{}: {}", side_word(*side), node.path))
                }
                _ => None,
            })
            .take(100)
            .collect();
        Some(PendingPlan {
            deletes_local,
            deletes_remote,
            local_files,
            remote_files,
            paths,
            ops: plan.ops().take(1000).map(describe).collect(),
            approved: false,
        })
    }

    /// One round: observe, plan, guard, execute.
    ///
    /// # Errors
    /// Guards ([`EngineError::NeedsApproval`], missing roots), a fatal executor error
    /// (full disk, full quota, credentials) or the store.
    pub async fn round(&mut self) -> Result<RoundReport, EngineError> {
        let plan = self.observe_and_plan().await?;
        let mut report = RoundReport {
            planned: plan.ops().count(),
            effective: plan.effective_len(),
            ..RoundReport::default()
        };
        if report.planned == 0 {
            return Ok(report);
        }
        let approved = self
            .conn
            .pending_plan
            .as_deref()
            .and_then(|p| serde_json::from_str::<PendingPlan>(p).ok())
            .filter(|p| p.approved);
        if let Some(pending) = self.needs_approval(&plan) {
            let within = approved.as_ref().is_some_and(|a| {
                pending.deletes_local <= a.deletes_local
                    && pending.deletes_remote <= a.deletes_remote
            });
            if !within {
                let what = format!(
                    "{} local and {} remote files",
                    pending.deletes_local, pending.deletes_remote
                );
                let json = serde_json::to_string(&pending).map_err(StoreError::from)?;
                {
                    let mut s = lock(self.store)?;
                    s.set_pending_plan(self.conn.id, Some(&json))?;
                    s.set_state(
                        self.conn.id,
                        ConnState::Approval,
                        Some(&format!("waiting for approval: would delete {what}")),
                    )?;
                }
                self.ctx.events.emit(Event::Status {
                    connection: self.conn.name.clone(),
                    status: "approval".into(),
                    detail: Some(format!("waiting for approval: would delete {what}")),
                });
                return Err(EngineError::NeedsApproval(self.conn.name.clone(), what));
            }
        }
        self.ctx.events.emit(Event::Status {
            connection: self.conn.name.clone(),
            status: "syncing".into(),
            detail: Some(format!("{} operations", report.effective)),
        });
        let exec = Executor {
            fs: self.ctx.fs.as_ref(),
            remote: self.remote.as_ref(),
            clock: self.ctx.clock.as_ref(),
            events: &self.ctx.events,
            connection: &self.conn.name,
            root: &self.conn.local_root,
            host: &self.ctx.host,
            transfers: self.conn.settings.transfers.max(1),
            remote_trash: self.conn.settings.remote_trash,
            hash_kind: HashKind::for_remote(self.remote.capabilities().hash_kind.as_deref()),
            up: self
                .conn
                .settings
                .bwlimit_up
                .map(|r| Arc::new(Throttle::new(r))),
            down: self
                .conn
                .settings
                .bwlimit_down
                .map(|r| Arc::new(Throttle::new(r))),
        };
        let mut fatal = None;
        // Keys whose op failed this round: later ops on them, below or above them wait for
        // the next round, while everything unrelated goes on (one file the server refuses
        // must not hold back the rest).
        let mut failed: Vec<RelPath> = Vec::new();
        for planned in &plan.batches {
            let kept;
            let batch = if failed.is_empty() {
                planned
            } else {
                kept = Batch {
                    ops: planned
                        .ops
                        .iter()
                        .filter(|op| !failed.iter().any(|f| op.touches_tree_of(f)))
                        .cloned()
                        .collect(),
                };
                &kept
            };
            let outcome = exec.run_batch(batch).await;
            for effect in outcome.effects {
                self.trees.apply(effect);
            }
            report.replans += outcome.replans;
            report
                .failures
                .extend(outcome.failures.iter().map(|(p, e)| format!("{p}: {e}")));
            let conn = self.conn.id;
            let trees = &mut self.trees;
            lock(self.store)?.write(|tx| {
                trees.flush(tx, conn)?;
                for a in &outcome.activity {
                    tx.add_activity(conn, a)?;
                }
                for c in &outcome.conflicts {
                    tx.add_conflict(conn, c)?;
                }
                Ok(())
            })?;
            if let Some(e) = outcome.fatal {
                fatal = Some(e);
                break;
            }
            // A batch whose ops were dropped may leave later batches standing on a changed
            // world; plan again rather than push on. So does a failure of no single op (the
            // durability barrier, a flush).
            if outcome.replans > 0 || outcome.failures.iter().any(|(p, _)| p.is_empty()) {
                break;
            }
            for (path, _) in &outcome.failures {
                failed.extend(
                    batch
                        .ops
                        .iter()
                        .filter(|op| op.key().as_str() == path)
                        .flat_map(|op| op.keys().into_iter().cloned()),
                );
            }
        }
        if approved.is_some() {
            lock(self.store)?.set_pending_plan(self.conn.id, None)?;
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        self.ctx.events.emit(Event::RoundFinished {
            connection: self.conn.name.clone(),
            ops: report.effective,
        });
        Ok(report)
    }
}

fn skip_rows(items: &[(RelPath, SkipRule)]) -> Vec<(String, String, String)> {
    items
        .iter()
        .map(|(p, r)| (p.to_string(), r.code().to_string(), r.to_string()))
        .collect()
}

/// Longest file name, in bytes, that local file systems hold (`NAME_MAX` on Linux's ext4,
/// btrfs, xfs and tmpfs; 255 UTF-16 units on APFS and NTFS).
const LOCAL_NAME_MAX_BYTES: usize = 255;

/// A remote name within the spec's 255 characters can still be longer than 255 bytes,
/// which no local disk can hold: it is skipped rather than failing every download.
fn too_long_for_local_disks(name: &str) -> Option<SkipRule> {
    (name.len() > LOCAL_NAME_MAX_BYTES).then(|| SkipRule::InvalidName {
        detail: format!(
            "the name is {} bytes long in UTF-8; local file systems hold at most \
             {LOCAL_NAME_MAX_BYTES}",
            name.len()
        ),
    })
}

/// Applies the rules to a remote listing, top-down: a skipped folder hides its subtree,
/// and two names equal after NFC keep only the first.
pub fn filter_remote(mut nodes: Vec<Node>, rules: &RuleSet) -> (Tree, Vec<(RelPath, SkipRule)>) {
    nodes.sort_by(|a, b| a.path.cmp(&b.path));
    let mut tree = Tree::new();
    let mut skipped: Vec<(RelPath, SkipRule)> = Vec::new();
    let mut hidden: BTreeSet<RelPath> = BTreeSet::new();
    for node in nodes {
        if node.path.ancestors().iter().any(|a| hidden.contains(a)) {
            continue;
        }
        if crate::scan::is_internal_name(node.path.name()) {
            hidden.insert(node.path.clone());
            continue;
        }
        if let Some(rule) = rules
            .check_entry(&node.path, node.kind, node.size)
            .or_else(|| too_long_for_local_disks(node.path.name()))
        {
            hidden.insert(node.path.clone());
            skipped.push((node.path.clone(), rule));
            continue;
        }
        let key = node.path.key();
        if let Some(other) = tree.get(&key) {
            hidden.insert(node.path.clone());
            skipped.push((
                node.path.clone(),
                SkipRule::UnicodeClash {
                    other: other.path.to_string(),
                },
            ));
            continue;
        }
        tree.insert(key, node);
    }
    (tree, skipped)
}
