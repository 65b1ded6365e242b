//! The engine's API: connections, sync, status, skipped, why, conflicts, approval, log.
//!
//! The CLI, the daemon's control socket and the desktop app all go through [`Engine`];
//! none of them holds sync logic of its own.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cloudsync_core::rules::{RuleSet, ROOT_MARKER};
use cloudsync_core::{ConnectionSettings, Kind, RelPath};
use serde::{Deserialize, Serialize};

use crate::clock::SystemClock;
use crate::error::EngineError;
use crate::events::{Event, EventBus};
use crate::live::LiveTrees;
use crate::localfs::{EntryType, LocalFs, StdFs};
use crate::paths::ConfigDir;
use crate::remote::{Remote, RemoteFactory};
use crate::store::{
    Action, ActivityRow, ConflictRow, ConnState, Connection, NewConnection, SkippedRow, Store,
};
use crate::sync::{describe, lock, ConnectionSync, Context, PendingPlan, RoundReport};

/// Rounds `sync` runs before it gives up on converging.
pub const MAX_ROUNDS: usize = 10;

/// A request to add a connection (already validated by the provider: the remote answers
/// and `credential` names the account or target).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddConnection {
    /// Unique name.
    pub name: String,
    /// Provider id (`local`, ...).
    pub provider: String,
    /// The local folder (must exist and be empty).
    pub local_root: PathBuf,
    /// Provider configuration.
    pub remote: serde_json::Value,
    /// The account or target identity (one connection per credential).
    pub credential: String,
    /// Folders on this machine that the remote lives in (local-folder backend), which no
    /// other connection's root may contain.
    pub remote_local_dir: Option<PathBuf>,
    /// Settings.
    pub settings: ConnectionSettings,
}

/// What `sync` did for one connection.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncSummary {
    /// Rounds run.
    pub rounds: usize,
    /// Ops that changed something.
    pub ops: usize,
    /// Failures of the last round.
    pub failures: Vec<String>,
}

/// A connection's status as shown by `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConnectionStatus {
    /// Name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// `idle`, `paused`, `error`, `waiting-for-approval`.
    pub state: String,
    /// Why (error message or what waits for approval).
    pub reason: Option<String>,
    /// Local folder.
    pub local_root: PathBuf,
    /// Remote description.
    pub remote: serde_json::Value,
    /// Files in sync.
    pub synced_files: u64,
    /// Items skipped.
    pub skipped: usize,
    /// Unresolved conflicts.
    pub conflicts: usize,
    /// Last completed sync (ms since the epoch).
    pub last_sync: Option<i64>,
    /// The provider refused the stored sign-in on the last sync: signing in again
    /// (`cloudsync relink`, or the app's "Sign in again") is what mends it.
    #[serde(default)]
    pub sign_in_needed: bool,
}

/// How the user settles a listed conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Choice {
    /// The local version keeps the name; the other version goes to the trash.
    KeepLocal,
    /// The remote version takes the name; the local one goes to the trash.
    KeepRemote,
    /// Keep both files as they are.
    KeepBoth,
}

impl std::str::FromStr for Choice {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "keep-local" => Ok(Choice::KeepLocal),
            "keep-remote" => Ok(Choice::KeepRemote),
            "keep-both" => Ok(Choice::KeepBoth),
            other => Err(EngineError::Invalid(format!(
                "unknown choice {other:?}: use keep-local, keep-remote or keep-both"
            ))),
        }
    }
}

/// The engine.
pub struct Engine {
    ctx: Context,
    store: Arc<Mutex<Store>>,
    factory: Arc<dyn RemoteFactory>,
    /// Trees kept between rounds, and the lock that serialises rounds of one connection.
    live: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Option<LiveTrees>>>>>,
    /// When each connection's trash folders were last purged (seconds).
    purged: Mutex<HashMap<i64, i64>>,
    /// Each connection's open remote, with the config it was opened with. Kept between
    /// syncs so a change feed's cursor, renewed tokens and server probes carry over.
    remotes: Mutex<HashMap<i64, OpenRemote>>,
    /// Connections whose last sync failed because the provider refused the credentials.
    /// Kept in memory: after a restart the first sync finds out again.
    signed_out: Mutex<HashSet<i64>>,
}

/// A remote opened for a connection, with the provider and config it was opened with.
type OpenRemote = (String, Arc<dyn Remote>);

/// How often a running engine purges a connection's trash folders.
const PURGE_EVERY_SECS: i64 = 3600;

impl Engine {
    /// Opens the engine on a config dir with the real filesystem and clock.
    ///
    /// # Errors
    /// The store's error (a corrupt or newer database is an error, never an empty one).
    pub fn open(dir: &ConfigDir, factory: Arc<dyn RemoteFactory>) -> Result<Engine, EngineError> {
        let store = Store::open(&dir.database())?;
        let ctx = Context {
            fs: Arc::new(StdFs),
            clock: Arc::new(SystemClock),
            events: EventBus::new(),
            host: host_name(),
        };
        Ok(Engine::with_parts(store, ctx, factory))
    }

    /// Builds an engine from its parts (tests and the simulation inject their own).
    pub fn with_parts(store: Store, ctx: Context, factory: Arc<dyn RemoteFactory>) -> Engine {
        Engine {
            ctx,
            store: Arc::new(Mutex::new(store)),
            factory,
            live: Mutex::new(HashMap::new()),
            purged: Mutex::new(HashMap::new()),
            remotes: Mutex::new(HashMap::new()),
            signed_out: Mutex::new(HashSet::new()),
        }
    }

    /// The open remote of `conn`, opened anew when its provider or config changed.
    ///
    /// # Errors
    /// The factory's error.
    pub fn remote_for(&self, conn: &Connection) -> Result<Arc<dyn Remote>, EngineError> {
        let key = format!("{}\n{}", conn.provider, conn.remote);
        let mut remotes = self
            .remotes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((k, r)) = remotes.get(&conn.id) {
            if *k == key {
                return Ok(r.clone());
            }
        }
        let remote = self.factory.open(&conn.provider, &conn.remote)?;
        remote.attach_upload_sessions(Arc::new(crate::sessions::JournalSessions::new(
            self.store.clone(),
            conn.id,
        )));
        remote.attach_feed_states(Arc::new(crate::feed::StoredFeed::new(
            self.store.clone(),
            conn.id,
        )));
        remotes.insert(conn.id, (key, remote.clone()));
        Ok(remote)
    }

    /// Takes note that new credentials were stored for `name`: its remote is opened anew
    /// on the next sync and an error state is cleared (the next sync finds the truth).
    ///
    /// # Errors
    /// Unknown connection, or the store.
    pub fn relinked(&self, name: &str) -> Result<Connection, EngineError> {
        let conn = self.connection(name)?;
        self.forget_remote(conn.id);
        self.note_signed_out(conn.id, false);
        if conn.state == ConnState::Error {
            lock(&self.store)?.set_state(conn.id, ConnState::Ok, None)?;
        }
        self.ctx.events.emit(Event::Status {
            connection: conn.name.clone(),
            status: "relinked".into(),
            detail: None,
        });
        self.connection(name)
    }

    /// Records whether the provider refused `id`'s credentials on its last sync.
    fn note_signed_out(&self, id: i64, refused: bool) {
        let mut set = self
            .signed_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if refused {
            set.insert(id);
        } else {
            set.remove(&id);
        }
    }

    /// Drops the open remote of a connection, so the next sync opens it again (after an
    /// error, or a relink that stored new credentials).
    pub fn forget_remote(&self, id: i64) {
        if let Ok(mut remotes) = self.remotes.lock() {
            remotes.remove(&id);
        }
    }

    /// The event stream.
    pub fn events(&self) -> &EventBus {
        &self.ctx.events
    }

    /// The context (filesystem, clock, host).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// All connections.
    ///
    /// # Errors
    /// The store's error.
    pub fn connections(&self) -> Result<Vec<Connection>, EngineError> {
        Ok(lock(&self.store)?.connections()?)
    }

    /// One connection by name.
    ///
    /// # Errors
    /// [`EngineError::NoSuchConnection`].
    pub fn connection(&self, name: &str) -> Result<Connection, EngineError> {
        lock(&self.store)?
            .connection_by_name(name)?
            .ok_or_else(|| EngineError::NoSuchConnection(name.to_string()))
    }

    /// Adds a connection after checking the local folder: it must exist, be empty and be
    /// writable; no root may lie inside another connection's; one connection per credential.
    /// Nothing is changed when a check fails.
    ///
    /// # Errors
    /// [`EngineError::Invalid`] with a one-line reason.
    pub async fn add_connection(&self, req: AddConnection) -> Result<Connection, EngineError> {
        if req.name.trim().is_empty() || req.name.contains(['/', '\n']) {
            return Err(EngineError::Invalid(format!(
                "invalid connection name {:?}",
                req.name
            )));
        }
        RuleSet::new(Default::default(), &req.settings)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let root = check_empty_dir(self.ctx.fs.as_ref(), &req.local_root)?;
        let existing = self.connections()?;
        if existing.iter().any(|c| c.name == req.name) {
            return Err(EngineError::Invalid(format!(
                "a connection named {:?} already exists",
                req.name
            )));
        }
        if let Some(c) = existing.iter().find(|c| c.credential == req.credential) {
            return Err(EngineError::Invalid(format!(
                "this account/target is already used by connection {:?} (one connection per credential)",
                c.name
            )));
        }
        let mut mine = vec![root.clone()];
        if let Some(r) = &req.remote_local_dir {
            mine.push(std::fs::canonicalize(r).unwrap_or_else(|_| r.clone()));
        }
        if mine.len() == 2 && (mine[0].starts_with(&mine[1]) || mine[1].starts_with(&mine[0])) {
            return Err(EngineError::Invalid(
                "the local folder and the remote folder must not lie inside each other".into(),
            ));
        }
        for c in &existing {
            let mut theirs = vec![c.local_root.clone()];
            if let Some(dir) = c.remote.get("path").and_then(|p| p.as_str()) {
                if c.provider == "local" {
                    theirs.push(PathBuf::from(dir));
                }
            }
            for a in &mine {
                for b in &theirs {
                    if a.starts_with(b) || b.starts_with(a) {
                        return Err(EngineError::Invalid(format!(
                            "{} overlaps {} of connection {:?}; sync roots must not lie inside each other",
                            a.display(),
                            b.display(),
                            c.name
                        )));
                    }
                }
            }
        }
        let remote = self.factory.open(&req.provider, &req.remote)?;
        let marker = root.join(ROOT_MARKER);
        write_marker(&marker, &req.name)?;
        if let Err(e) = remote.prepare_root().await {
            let _ = std::fs::remove_file(&marker);
            return Err(EngineError::Invalid(format!(
                "cannot prepare the remote folder: {e}"
            )));
        }
        let added = lock(&self.store)?.add_connection(&NewConnection {
            name: req.name.clone(),
            provider: req.provider.clone(),
            local_root: root,
            remote: req.remote.clone(),
            credential: req.credential.clone(),
            settings: req.settings.clone(),
        });
        match added {
            Ok(_) => self.connection(&req.name),
            Err(e) => {
                let _ = std::fs::remove_file(&marker);
                Err(EngineError::Invalid(e.to_string()))
            }
        }
    }

    /// Replaces a connection's settings.
    ///
    /// # Errors
    /// Unknown connection, invalid filters, or the store.
    pub fn set_settings(
        &self,
        name: &str,
        settings: ConnectionSettings,
    ) -> Result<Connection, EngineError> {
        let c = self.connection(name)?;
        RuleSet::new(Default::default(), &settings)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        lock(&self.store)?.update_settings(c.id, &settings)?;
        self.connection(name)
    }

    /// Drops a connection; every file stays where it is on both sides.
    ///
    /// # Errors
    /// Unknown connection or the store.
    pub fn unlink(&self, name: &str) -> Result<(), EngineError> {
        let c = self.connection(name)?;
        lock(&self.store)?.remove_connection(c.id)?;
        let _ = std::fs::remove_file(c.local_root.join(ROOT_MARKER));
        // The connection's credentials go with it.
        let refs = ["password_secret", "secret_key_secret"]
            .iter()
            .filter_map(|k| c.remote.get(*k))
            .filter_map(|v| serde_json::from_value::<crate::secrets::SecretRef>(v.clone()).ok());
        for r in refs {
            if let Err(e) = r.remove() {
                tracing::warn!(connection = %c.name, error = %e, "cannot remove the stored secret");
            }
        }
        if let Ok(mut live) = self.live.lock() {
            live.remove(&c.id);
        }
        Ok(())
    }

    /// Pauses or resumes one connection (`Some(name)`) or all; returns the names changed.
    ///
    /// # Errors
    /// Unknown connection or the store.
    pub fn set_paused(&self, name: Option<&str>, paused: bool) -> Result<Vec<String>, EngineError> {
        let targets = match name {
            Some(n) => vec![self.connection(n)?],
            None => self.connections()?,
        };
        let mut names = Vec::new();
        for c in targets {
            lock(&self.store)?.set_paused(c.id, paused)?;
            self.ctx.events.emit(Event::Status {
                connection: c.name.clone(),
                status: if paused {
                    "paused".into()
                } else {
                    "idle".into()
                },
                detail: None,
            });
            names.push(c.name);
        }
        Ok(names)
    }

    fn slot(&self, id: i64) -> Result<Arc<tokio::sync::Mutex<Option<LiveTrees>>>, EngineError> {
        let mut live = self
            .live
            .lock()
            .map_err(|_| EngineError::Invalid("engine state lock poisoned".into()))?;
        Ok(live.entry(id).or_default().clone())
    }

    /// Syncs one connection until both sides agree.
    ///
    /// # Errors
    /// Paused, guards, a fatal error, or no convergence within [`MAX_ROUNDS`].
    pub async fn sync_connection(&self, name: &str) -> Result<SyncSummary, EngineError> {
        let conn = self.connection(name)?;
        if conn.paused {
            return Err(EngineError::Paused(conn.name));
        }
        let slot = self.slot(conn.id)?;
        let mut guard = slot.lock().await;
        let trees = match guard.take() {
            Some(t) => t,
            None => ConnectionSync::load(&self.store, conn.id)?,
        };
        let remote = self.remote_for(&conn)?;
        self.purge_trashes(&conn, remote.as_ref()).await;
        let mut sync = ConnectionSync {
            ctx: &self.ctx,
            store: &self.store,
            conn: conn.clone(),
            remote,
            trees,
        };
        let mut summary = SyncSummary::default();
        let mut result: Result<(), EngineError> = Ok(());
        let mut last: Option<RoundReport> = None;
        for _ in 0..MAX_ROUNDS {
            summary.rounds += 1;
            match sync.round().await {
                Ok(r) => {
                    summary.ops += r.effective;
                    let done = r.planned == 0;
                    // The same plan failing the same way as in the round before (each op
                    // already retried with backoff): another round now would only repeat
                    // it. The daemon tries again on its schedule.
                    // (Paths only, as a set: messages may carry timings, and ops finish in
                    // any order.)
                    let failing = |rep: &RoundReport| -> std::collections::BTreeSet<String> {
                        rep.failures
                            .iter()
                            .map(|f| f.split(": ").next().unwrap_or_default().to_string())
                            .collect()
                    };
                    let stuck = !r.failures.is_empty()
                        && last
                            .as_ref()
                            .is_some_and(|p| p.planned == r.planned && failing(p) == failing(&r));
                    summary.failures = r.failures.clone();
                    last = Some(r);
                    if done || stuck {
                        break;
                    }
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            // Re-read settings and approval state between rounds.
            sync.conn = self.connection(name)?;
        }
        *guard = Some(sync.trees);
        drop(guard);
        if result.is_err() {
            // Credentials may have been renewed elsewhere, or the remote is in a bad state.
            self.forget_remote(conn.id);
        }
        if !matches!(result, Err(EngineError::NeedsApproval(..))) {
            let refused = result
                .as_ref()
                .err()
                .is_some_and(EngineError::is_credentials_refused);
            self.note_signed_out(conn.id, refused);
        }
        let now = self.ctx.clock.now_ms();
        match result {
            Ok(()) if last.as_ref().is_some_and(|r| r.planned == 0) => {
                let mut s = lock(&self.store)?;
                s.set_state(conn.id, ConnState::Ok, None)?;
                s.set_last_sync(conn.id, now)?;
                drop(s);
                // Only a change of state is news; a quiet poll says nothing.
                if summary.ops > 0 || conn.state != ConnState::Ok {
                    self.ctx.events.emit(Event::Status {
                        connection: conn.name.clone(),
                        status: "idle".into(),
                        detail: None,
                    });
                }
                Ok(summary)
            }
            Ok(()) => {
                let left = last.map(|r| r.planned).unwrap_or(0);
                let first_failure = summary.failures.first().cloned();
                let e = EngineError::NotConverged(
                    conn.name.clone(),
                    summary.rounds,
                    left,
                    first_failure,
                );
                lock(&self.store)?.set_state(conn.id, ConnState::Error, Some(&e.to_string()))?;
                Err(e)
            }
            Err(e) => {
                if !matches!(e, EngineError::NeedsApproval(..)) {
                    lock(&self.store)?.set_state(
                        conn.id,
                        ConnState::Error,
                        Some(&e.to_string()),
                    )?;
                    self.ctx.events.emit(Event::Status {
                        connection: conn.name.clone(),
                        status: "error".into(),
                        detail: Some(e.to_string()),
                    });
                }
                Err(e)
            }
        }
    }

    /// Purges trash day folders older than 30 days, locally and on the remote, at most once
    /// per [`PURGE_EVERY_SECS`] per connection. Failures are logged: a trash that cannot be
    /// purged now is purged on a later round.
    async fn purge_trashes(&self, conn: &Connection, remote: &dyn Remote) {
        let now = self.ctx.clock.now_secs();
        match self.purged.lock() {
            Ok(mut purged) => {
                let last = purged.entry(conn.id).or_insert(i64::MIN);
                if now.saturating_sub(*last) < PURGE_EVERY_SECS {
                    return;
                }
                *last = now;
            }
            Err(_) => return,
        }
        if let Err(e) = crate::trash::purge(&conn.local_root, now) {
            tracing::warn!(connection = %conn.name, error = %e, "cannot purge the local trash");
        }
        match remote.purge_trash(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(connection = %conn.name, days = n, "purged remote trash"),
            Err(e) => {
                tracing::warn!(connection = %conn.name, error = %e, "cannot purge the remote trash")
            }
        }
    }

    /// What a sync of `name` would do now (nothing is changed), plus any plan waiting for
    /// approval.
    ///
    /// # Errors
    /// As observing both sides.
    pub async fn plan(
        &self,
        name: &str,
    ) -> Result<(Vec<String>, Option<PendingPlan>), EngineError> {
        let conn = self.connection(name)?;
        let pending = conn
            .pending_plan
            .as_deref()
            .and_then(|p| serde_json::from_str::<PendingPlan>(p).ok());
        let slot = self.slot(conn.id)?;
        let mut guard = slot.lock().await;
        let trees = match guard.take() {
            Some(t) => t,
            None => ConnectionSync::load(&self.store, conn.id)?,
        };
        let remote = self.remote_for(&conn)?;
        let mut sync = ConnectionSync {
            ctx: &self.ctx,
            store: &self.store,
            conn,
            remote,
            trees,
        };
        let plan = sync.observe_and_plan().await;
        *guard = Some(sync.trees);
        let plan = plan?;
        Ok((plan.ops().map(describe).collect(), pending))
    }

    /// Approves the plan waiting for approval; the next sync carries it out.
    ///
    /// # Errors
    /// Unknown connection, or nothing waits for approval.
    pub fn approve(&self, name: &str) -> Result<PendingPlan, EngineError> {
        let conn = self.connection(name)?;
        let mut pending: PendingPlan = conn
            .pending_plan
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .filter(|_| conn.state == ConnState::Approval)
            .ok_or_else(|| {
                EngineError::Invalid(format!(
                    "connection {name:?} has no plan waiting for approval"
                ))
            })?;
        pending.approved = true;
        let json = serde_json::to_string(&pending).map_err(crate::store::StoreError::from)?;
        let mut s = lock(&self.store)?;
        s.set_pending_plan(conn.id, Some(&json))?;
        s.set_state(conn.id, ConnState::Ok, None)?;
        Ok(pending)
    }

    /// Status of every connection.
    ///
    /// # Errors
    /// The store's error.
    pub fn status(&self) -> Result<Vec<ConnectionStatus>, EngineError> {
        let signed_out = self
            .signed_out
            .lock()
            .map(|set| set.clone())
            .unwrap_or_default();
        let s = lock(&self.store)?;
        let mut out = Vec::new();
        for c in s.connections()? {
            let counts = s.counts(c.id)?;
            let skipped = s.skipped(Some(c.id))?.len();
            let conflicts = s.conflicts(Some(c.id), false)?.len();
            let state = if c.paused {
                "paused"
            } else {
                match c.state {
                    ConnState::Ok => "idle",
                    ConnState::Error => "error",
                    ConnState::Approval => "waiting-for-approval",
                }
            };
            out.push(ConnectionStatus {
                name: c.name,
                provider: c.provider,
                state: state.into(),
                reason: c.state_reason,
                local_root: c.local_root,
                remote: c.remote,
                synced_files: counts.synced_files,
                skipped,
                conflicts,
                last_sync: c.last_sync,
                sign_in_needed: c.state == ConnState::Error && signed_out.contains(&c.id),
            });
        }
        Ok(out)
    }

    /// Skipped items of one connection or all.
    ///
    /// # Errors
    /// Unknown connection or the store.
    pub fn skipped(&self, name: Option<&str>) -> Result<Vec<SkippedRow>, EngineError> {
        let id = name.map(|n| self.connection(n).map(|c| c.id)).transpose()?;
        Ok(lock(&self.store)?.skipped(id)?)
    }

    /// Conflicts of one connection or all (unresolved only).
    ///
    /// # Errors
    /// Unknown connection or the store.
    pub fn conflicts(&self, name: Option<&str>) -> Result<Vec<ConflictRow>, EngineError> {
        let id = name.map(|n| self.connection(n).map(|c| c.id)).transpose()?;
        Ok(lock(&self.store)?.conflicts(id, false)?)
    }

    /// The activity log, newest first.
    ///
    /// # Errors
    /// Unknown connection or the store.
    pub fn log(
        &self,
        name: Option<&str>,
        action: Option<Action>,
        limit: usize,
    ) -> Result<Vec<ActivityRow>, EngineError> {
        let id = name.map(|n| self.connection(n).map(|c| c.id)).transpose()?;
        Ok(lock(&self.store)?.activity(id, action, limit)?)
    }

    /// Answers "why isn't this synced?" for one path.
    ///
    /// # Errors
    /// Unknown connection, an invalid path, or the store.
    pub fn why(&self, name: &str, path: &str) -> Result<String, EngineError> {
        let conn = self.connection(name)?;
        let rel = relative_to(&conn.local_root, path)?;
        let s = lock(&self.store)?;
        let mut lines = Vec::new();
        if conn.paused {
            lines.push(format!("connection {name:?} is paused"));
        }
        match conn.state {
            ConnState::Error => lines.push(format!(
                "connection is in error: {}",
                conn.state_reason.clone().unwrap_or_default()
            )),
            ConnState::Approval => lines.push(format!(
                "connection is {}",
                conn.state_reason
                    .clone()
                    .unwrap_or_else(|| "waiting for approval".into())
            )),
            ConnState::Ok => {}
        }
        let mut probe = Some(rel.clone());
        while let Some(p) = probe {
            if let Some(row) = s.skipped_path(conn.id, p.as_str())? {
                if p == rel {
                    lines.push(format!(
                        "skipped ({}, {} side): {}",
                        row.code, row.side, row.reason
                    ));
                } else {
                    lines.push(format!(
                        "inside skipped folder {p} ({}, {} side): {}",
                        row.code, row.side, row.reason
                    ));
                }
                return Ok(lines.join("\n"));
            }
            probe = p.parent();
        }
        if let Some(c) = s.conflict_by_path(conn.id, rel.as_str())? {
            lines.push(format!(
                "conflict: both sides changed it; the losing version is kept as {}",
                c.loser
            ));
        }
        let key = rel.key();
        let local = s.node(conn.id, cloudsync_core::Side::Local, &key)?;
        let remote = s.node(conn.id, cloudsync_core::Side::Remote, &key)?;
        let synced = s.synced_node(conn.id, &key)?;
        let line = match (&local, &remote, &synced) {
            (Some(l), Some(r), Some(sy))
                if l.same_version(&sy.local) && r.same_version(&sy.remote) =>
            {
                "in sync".to_string()
            }
            (None, None, None) => {
                let rules = RuleSet::new(Default::default(), &conn.settings)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
                match rules.check_path(&rel, Kind::File, 0) {
                    Some(rule) => {
                        format!("not found; a file by that name would be skipped: {rule}")
                    }
                    None => "not found on either side at the last scan".to_string(),
                }
            }
            _ => format!(
                "waiting to sync (local: {}, remote: {}, synced before: {})",
                if local.is_some() { "present" } else { "absent" },
                if remote.is_some() {
                    "present"
                } else {
                    "absent"
                },
                if synced.is_some() { "yes" } else { "no" }
            ),
        };
        lines.push(line);
        Ok(lines.join("\n"))
    }

    /// Settles a listed conflict; the next sync propagates the result.
    ///
    /// # Errors
    /// Unknown connection or conflict, or a file operation failing.
    pub fn resolve(&self, name: &str, path: &str, choice: Choice) -> Result<String, EngineError> {
        let conn = self.connection(name)?;
        let rel = relative_to(&conn.local_root, path)?;
        let row = lock(&self.store)?
            .conflict_by_path(conn.id, rel.as_str())?
            .ok_or_else(|| {
                EngineError::Invalid(format!("no open conflict for {rel} in {name:?}"))
            })?;
        let root = &conn.local_root;
        let fs = self.ctx.fs.as_ref();
        let copy = row.copy_path.clone();
        let day = crate::trash::day_folder(self.ctx.clock.now_secs());
        let trash = |p: &str| -> Result<(), EngineError> {
            crate::trash::move_to_trash(fs, root, p, &day)
                .map(|_| ())
                .map_err(|e| EngineError::io("move to trash", root.join(p), e))
        };
        // The copy holds the remote version for remote-to-copy, the local version for
        // local-to-copy; local-to-trash kept the local version in the trash.
        let message = match (row.policy.as_str(), choice, copy.as_deref()) {
            (_, Choice::KeepBoth, _) => "kept both versions".to_string(),
            ("remote-to-copy", Choice::KeepLocal, Some(c))
            | ("local-to-copy", Choice::KeepRemote, Some(c)) => {
                trash(c)?;
                format!("moved {c} to the trash; {rel} stays")
            }
            ("remote-to-copy", Choice::KeepRemote, Some(c))
            | ("local-to-copy", Choice::KeepLocal, Some(c)) => {
                trash(rel.as_str())?;
                let from = root.join(c);
                fs.rename_noreplace(&from, &root.join(rel.as_str()))
                    .map_err(|e| EngineError::io("rename", &from, e))?;
                format!("{c} now takes the name {rel}; the other version is in the trash")
            }
            ("local-to-trash", Choice::KeepLocal, Some(t)) => {
                trash(rel.as_str())?;
                let from = root.join(t);
                fs.rename_noreplace(&from, &root.join(rel.as_str()))
                    .map_err(|e| EngineError::io("restore from trash", &from, e))?;
                format!("restored the local version of {rel} from the trash")
            }
            ("local-to-trash", Choice::KeepRemote, _)
            | ("overwrite-remote", Choice::KeepLocal, _) => {
                format!("{rel} already holds that version")
            }
            ("overwrite-remote", Choice::KeepRemote, _) => {
                return Err(EngineError::Invalid(
                    "the remote version is a revision at the provider; restore it there".into(),
                ))
            }
            (policy, _, _) => {
                return Err(EngineError::Invalid(format!(
                    "cannot resolve a conflict of kind {policy}"
                )))
            }
        };
        lock(&self.store)?.write(|tx| tx.resolve_conflict(row.id))?;
        Ok(message)
    }
}

/// Interprets a user-given path: absolute inside the root, or relative to it.
fn relative_to(root: &Path, path: &str) -> Result<RelPath, EngineError> {
    let p = Path::new(path);
    let rel = if p.is_absolute() {
        p.strip_prefix(root)
            .map_err(|_| EngineError::Invalid(format!("{path} is not inside {}", root.display())))?
            .to_string_lossy()
            .into_owned()
    } else {
        path.trim_start_matches("./")
            .trim_end_matches('/')
            .to_string()
    };
    RelPath::new(rel).map_err(|e| EngineError::Invalid(e.to_string()))
}

/// Whether `dir` may become a new connection's sync folder (an existing, empty, writable
/// folder), by the same check `add_connection` makes; the canonical path when it may.
/// The wizard uses it to say why a folder is refused before anything is added.
///
/// # Errors
/// [`EngineError::Invalid`] with the one-line reason.
pub fn check_new_sync_folder(dir: &Path) -> Result<PathBuf, EngineError> {
    check_empty_dir(&crate::localfs::StdFs, dir)
}

/// Checks that `dir` exists, is an empty folder and is writable; returns it canonical.
fn check_empty_dir(fs: &dyn LocalFs, dir: &Path) -> Result<PathBuf, EngineError> {
    let meta = fs.metadata(dir).map_err(|e| {
        EngineError::Invalid(format!(
            "local folder {} cannot be used: {e}",
            dir.display()
        ))
    })?;
    if meta.ty != EntryType::Dir {
        return Err(EngineError::Invalid(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let entries = fs
        .read_dir(dir)
        .map_err(|e| EngineError::Invalid(format!("cannot read {}: {e}", dir.display())))?;
    if !entries.is_empty() {
        return Err(EngineError::Invalid(format!(
            "local folder {} is not empty ({} entries); only an empty folder can become a sync folder",
            dir.display(),
            entries.len()
        )));
    }
    let canonical = std::fs::canonicalize(dir)
        .map_err(|e| EngineError::Invalid(format!("cannot resolve {}: {e}", dir.display())))?;
    let probe = canonical.join(".cloudsync-write-test");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            EngineError::Invalid(format!(
                "local folder {} is not writable: {e}",
                dir.display()
            ))
        })?;
    Ok(canonical)
}

fn write_marker(path: &Path, name: &str) -> Result<(), EngineError> {
    std::fs::write(
        path,
        format!("CloudSync root of connection {name}. Do not delete: without it the folder is treated as unmounted.\n"),
    )
    .map_err(|e| EngineError::io("write marker", path, e))
}

/// This machine's name, for conflict copies and renames.
pub fn host_name() -> String {
    gethostname::gethostname()
        .into_string()
        .ok()
        .map(|h| h.split('.').next().unwrap_or("").to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}
