//! The executor: carries out a batch of ops, in parallel, without ever losing data.
//!
//! Before any destructive local step the file is checked against what the plan saw (size,
//! mtime, inode); a mismatch means the world moved on, so the op is dropped and the engine
//! plans again. Downloads are written to temp files beside their target; once every
//! download of the batch is written, one filesystem sync makes them durable and only then
//! are they renamed into place (and synced again), so after a crash every file is wholly
//! old or wholly new, at the cost of two syncs per batch rather than one per file.
//! Local deletes go to `.cloudsync-trash/` in the sync root.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cloudsync_core::plan::{MoveReason, Resolution};
use cloudsync_core::{Batch, Kind, Node, Op, RelPath, Side, SyncedNode};
use futures::StreamExt;

use crate::bandwidth::{Throttle, ThrottledReader, ThrottledWriter};
use crate::clock::Clock;
use crate::error::{EngineError, RetryClass};
use crate::events::{Direction, Event, EventBus};
use crate::hash::{HashKind, HashingReader, HashingWriter};
use crate::live::Effect;
use crate::localfs::{LocalFs, Meta};
use crate::remote::{Remote, RemoteError};
use crate::scan::{abs, TEMP_PREFIX};
use crate::store::{Action, NewActivity, NewConflict};

/// Attempts per op for temporary failures.
const ATTEMPTS: u32 = 4;

/// What the executor needs.
pub struct Executor<'a> {
    /// Local filesystem.
    pub fs: &'a dyn LocalFs,
    /// The remote.
    pub remote: &'a dyn Remote,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Event stream.
    pub events: &'a EventBus,
    /// Connection name (for events).
    pub connection: &'a str,
    /// Local sync root.
    pub root: &'a Path,
    /// This machine's name.
    pub host: &'a str,
    /// Large transfers in flight (the light lane runs [`LIGHT_LANE_FACTOR`] times as many).
    pub transfers: usize,
    /// Remote deletes go to the backend's trash folder (`false`: deleted for good).
    pub remote_trash: bool,
    /// The hash computed while transferring (the remote's kind where the engine knows it).
    pub hash_kind: HashKind,
    /// Upload cap.
    pub up: Option<Arc<Throttle>>,
    /// Download cap.
    pub down: Option<Arc<Throttle>>,
}

/// A download written to a temp file, waiting for the batch's durability barrier.
#[derive(Debug)]
struct Staged {
    key: RelPath,
    temp: PathBuf,
    target: RelPath,
    replaces: Option<Node>,
    remote: Node,
    hash: String,
    activity: Option<NewActivity>,
}

/// What one op produced.
#[derive(Debug, Default)]
struct Done {
    effects: Vec<Effect>,
    staged: Vec<Staged>,
    activity: Vec<NewActivity>,
    conflicts: Vec<NewConflict>,
}

/// Why an op did not complete.
#[derive(Debug)]
enum Failed {
    /// The world changed since the plan; plan again.
    Replan(String),
    /// A real error.
    Error(EngineError),
}

impl From<EngineError> for Failed {
    fn from(e: EngineError) -> Self {
        Failed::Error(e)
    }
}

impl From<RemoteError> for Failed {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Changed(m) | RemoteError::NotFound(m) => Failed::Replan(m),
            e => Failed::Error(e.into()),
        }
    }
}

/// The outcome of a batch.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Tree changes, in the order they happened.
    pub effects: Vec<Effect>,
    /// Activity log entries.
    pub activity: Vec<NewActivity>,
    /// Conflicts recorded.
    pub conflicts: Vec<NewConflict>,
    /// Ops dropped because the world changed (the engine plans again).
    pub replans: usize,
    /// Ops that failed, with their error.
    pub failures: Vec<(String, EngineError)>,
    /// An error that stops the connection (full disk, full quota, bad credentials).
    pub fatal: Option<EngineError>,
}

/// Files at least this large count against the `transfers` limit; smaller ones go in the
/// light lane.
pub const HEAVY_TRANSFER_BYTES: u64 = 1024 * 1024;
/// How many more ops the light lane runs at once than the `transfers` setting.
pub const LIGHT_LANE_FACTOR: usize = 4;

/// An op's key and how it went.
type Keyed = (String, Result<Done, Failed>);

/// True for a transfer large enough to be bounded by bandwidth rather than round trips.
fn is_heavy(op: &Op) -> bool {
    match op {
        Op::Upload { local, .. } => local.size >= HEAVY_TRANSFER_BYTES,
        Op::Download { remote, .. } => remote.size >= HEAVY_TRANSFER_BYTES,
        Op::Conflict { .. } => true,
        _ => false,
    }
}

impl Executor<'_> {
    /// Runs one batch.
    pub async fn run_batch(&self, batch: &Batch) -> BatchOutcome {
        let mut out = BatchOutcome::default();
        // Two lanes, as rclone's transfers and checkers: large transfers are bounded by the
        // `transfers` setting; small files and metadata ops, which wait on round trips
        // rather than bandwidth, run four times as many at once.
        let (heavy, light): (Vec<&Op>, Vec<&Op>) = batch.ops.iter().partition(|op| is_heavy(op));
        let heavy: Vec<_> = heavy.into_iter().map(|op| self.run_keyed(op)).collect();
        let light: Vec<_> = light.into_iter().map(|op| self.run_keyed(op)).collect();
        let transfers = self.transfers.max(1);
        let (mut results, light_results): (Vec<Keyed>, Vec<Keyed>) = futures::join!(
            futures::stream::iter(heavy)
                .buffer_unordered(transfers)
                .collect::<Vec<_>>(),
            futures::stream::iter(light)
                .buffer_unordered(transfers * LIGHT_LANE_FACTOR)
                .collect::<Vec<_>>()
        );
        results.extend(light_results);
        let mut staged = Vec::new();
        for (path, r) in results {
            match r {
                Ok(done) => {
                    out.effects.extend(done.effects);
                    out.activity.extend(done.activity);
                    out.conflicts.extend(done.conflicts);
                    staged.extend(done.staged);
                }
                Err(Failed::Replan(why)) => {
                    tracing::debug!(%path, %why, "op dropped, will plan again");
                    out.replans += 1;
                }
                Err(Failed::Error(e)) => self.record_failure(&mut out, path, e),
            }
        }
        if !staged.is_empty() {
            self.commit_staged(staged, &mut out);
        }
        // The durability barrier: the batch's local changes are on disk before the caller
        // records its effects. If it fails, nothing of the batch is recorded (the store
        // must never be ahead of the disk); the next round observes what is really there.
        if batch.ops.iter().any(changes_local) {
            if let Err(e) = self.fs.sync(self.root) {
                out.effects.clear();
                let e = EngineError::io("sync", self.root, e);
                self.record_failure(&mut out, String::new(), e);
            }
        }
        if let Err(e) = self.remote.flush().await {
            self.record_failure(&mut out, String::new(), e.into());
        }
        out
    }

    fn record_failure(&self, out: &mut BatchOutcome, path: String, e: EngineError) {
        self.events.emit(Event::Error {
            connection: Some(self.connection.to_string()),
            message: if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            },
        });
        if e.retry_class() == RetryClass::Persistent && out.fatal.is_none() {
            out.fatal = Some(e);
        } else {
            out.failures.push((path, e));
        }
    }

    /// Makes staged downloads durable, then renames them into place.
    fn commit_staged(&self, staged: Vec<Staged>, out: &mut BatchOutcome) {
        if let Err(e) = self.fs.sync(self.root) {
            for s in &staged {
                let _ = self.fs.remove_file(&s.temp);
            }
            self.record_failure(out, String::new(), EngineError::io("sync", self.root, e));
            return;
        }
        for s in staged {
            match self.install(&s) {
                Ok(node) => {
                    out.effects
                        .push(Effect::Put(Side::Local, s.key.clone(), node.clone()));
                    out.effects.push(Effect::PutSynced(
                        s.key.clone(),
                        SyncedNode {
                            local: node,
                            remote: s.remote.clone(),
                        },
                    ));
                    if let Some(a) = s.activity {
                        self.synced_event(a.action, &a.path);
                        out.activity.push(a);
                    }
                }
                Err(Failed::Replan(_)) => {
                    let _ = self.fs.remove_file(&s.temp);
                    out.replans += 1;
                }
                Err(Failed::Error(e)) => {
                    let _ = self.fs.remove_file(&s.temp);
                    self.record_failure(out, s.target.to_string(), e);
                }
            }
        }
        // The renames become durable at the batch's barrier in `run_batch`.
    }

    /// Renames a durable temp file into place after re-checking the target.
    fn install(&self, s: &Staged) -> Result<Node, Failed> {
        let target = abs(self.root, &s.target);
        match &s.replaces {
            Some(old) => {
                self.expect_local(&s.target, old)?;
                self.fs
                    .rename_replace(&s.temp, &target)
                    .map_err(|e| EngineError::io("replace", &target, e))?;
            }
            None => match self.fs.rename_noreplace(&s.temp, &target) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(Failed::Replan(format!("{} appeared meanwhile", s.target)));
                }
                Err(e) => return Err(EngineError::io("rename into place", &target, e).into()),
            },
        }
        let meta = self
            .fs
            .metadata(&target)
            .map_err(|e| EngineError::io("stat", &target, e))?;
        Ok(Node {
            path: s.target.clone(),
            kind: Kind::File,
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            hash: Some(s.hash.clone()),
            id: Some(meta.id()),
            rev: None,
        })
    }

    async fn run_keyed(&self, op: &Op) -> (String, Result<Done, Failed>) {
        (op.key().to_string(), self.run_with_retry(op).await)
    }

    async fn run_with_retry(&self, op: &Op) -> Result<Done, Failed> {
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match self.run_op(op).await {
                Err(Failed::Error(e))
                    if e.retry_class() == RetryClass::Temporary && attempt < ATTEMPTS =>
                {
                    let wait = match &e {
                        EngineError::Remote(RemoteError::RateLimited(Some(s))) => {
                            Duration::from_secs(*s)
                        }
                        _ => delay,
                    };
                    tracing::info!(key = %op.key(), error = %e, attempt, "retrying");
                    tokio::time::sleep(wait).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn run_op(&self, op: &Op) -> Result<Done, Failed> {
        match op {
            Op::Record { key, local, remote } => Ok(Done {
                effects: vec![Effect::PutSynced(
                    key.clone(),
                    SyncedNode {
                        local: local.clone(),
                        remote: remote.clone(),
                    },
                )],
                ..Done::default()
            }),
            Op::Forget { key } => Ok(Done {
                effects: vec![Effect::RemoveSynced(key.clone())],
                ..Done::default()
            }),
            Op::MakeDir {
                side,
                key,
                path,
                source,
            } => self.make_dir(*side, key, path, source).await,
            Op::Upload {
                key,
                local,
                remote_path,
                replaces,
            } => {
                let mut done = Done::default();
                let (sent, uploaded) = self.upload(local, remote_path, replaces.as_ref()).await?;
                let (path, size) = (uploaded.path.clone(), uploaded.size);
                done.effects.extend(uploaded_effects(key, sent, uploaded));
                done.activity
                    .push(self.activity(Action::Upload, &path, size, None));
                self.synced_event(Action::Upload, path.as_str());
                Ok(done)
            }
            Op::Download {
                key,
                remote,
                local_path,
                replaces,
            } => {
                let mut done = Done::default();
                if let Some(old) = replaces {
                    self.expect_local(local_path, old)?;
                }
                let staged = self
                    .download(key, remote, local_path, replaces.clone(), true)
                    .await?;
                done.staged.push(staged);
                Ok(done)
            }
            Op::Delete {
                side, key, node, ..
            } => self.delete(*side, key, node).await,
            Op::Move {
                side,
                from_key,
                to_key,
                node,
                to_path,
                reason,
            } => {
                self.move_entry(*side, from_key, to_key, node, to_path, *reason)
                    .await
            }
            Op::Conflict {
                key,
                local,
                remote,
                resolution,
            } => self.conflict(key, local, remote, resolution).await,
        }
    }

    async fn make_dir(
        &self,
        side: Side,
        key: &RelPath,
        path: &RelPath,
        source: &Node,
    ) -> Result<Done, Failed> {
        let made = match side {
            Side::Local => {
                let p = abs(self.root, path);
                self.fs
                    .create_dir(&p)
                    .map_err(|e| EngineError::io("create folder", &p, e))?;
                let meta = self
                    .fs
                    .metadata(&p)
                    .map_err(|e| EngineError::io("stat", &p, e))?;
                Node::dir(path.clone(), Some(meta.id()))
            }
            Side::Remote => self.remote.mkdir(path).await?,
        };
        let (local, remote) = match side {
            Side::Local => (made.clone(), source.clone()),
            Side::Remote => (source.clone(), made.clone()),
        };
        self.synced_event(Action::CreateFolder, path.as_str());
        Ok(Done {
            effects: vec![
                Effect::Put(side, key.clone(), made),
                Effect::PutSynced(key.clone(), SyncedNode { local, remote }),
            ],
            activity: vec![self.activity(Action::CreateFolder, path, 0, None)],
            ..Done::default()
        })
    }

    /// Checks that the local entry at `path` is still the version `expected`.
    fn expect_local(&self, path: &RelPath, expected: &Node) -> Result<Meta, Failed> {
        let p = abs(self.root, path);
        let meta = match self.fs.metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Failed::Replan(format!("{path} vanished")))
            }
            Err(e) => return Err(EngineError::io("stat", &p, e).into()),
        };
        let same = match expected.kind {
            Kind::Dir => meta.ty == crate::localfs::EntryType::Dir,
            Kind::File => {
                meta.ty == crate::localfs::EntryType::File
                    && meta.size == expected.size
                    && meta.mtime_ns == expected.mtime_ns
                    && expected.id.as_deref().is_none_or(|id| id == meta.id())
            }
        };
        if same {
            Ok(meta)
        } else {
            Err(Failed::Replan(format!(
                "{path} changed since it was scanned"
            )))
        }
    }

    /// Uploads a local file; returns (the local version read, the remote node).
    async fn upload(
        &self,
        local: &Node,
        remote_path: &RelPath,
        replaces: Option<&Node>,
    ) -> Result<(Node, Node), Failed> {
        let before = self.expect_local(&local.path, local)?;
        let p = abs(self.root, &local.path);
        let file = self
            .fs
            .open_read(&p)
            .map_err(|e| EngineError::io("open", &p, e))?;
        self.events.emit(Event::TransferStarted {
            connection: self.connection.to_string(),
            path: local.path.to_string(),
            direction: Direction::Upload,
            bytes: local.size,
        });
        let mut reader = HashingReader::with_kind(
            Progress::new(
                ThrottledReader::new(file, self.up.clone()),
                local.size,
                local.path.as_str(),
                Direction::Upload,
                self,
            ),
            self.hash_kind,
        );
        let result = self
            .remote
            .upload(
                remote_path,
                &mut reader,
                local.size,
                local.mtime_ns,
                replaces,
            )
            .await;
        let (hash, bytes) = reader.finish();
        self.events.emit(Event::TransferFinished {
            connection: self.connection.to_string(),
            path: local.path.to_string(),
            direction: Direction::Upload,
            bytes,
            ok: result.is_ok(),
        });
        let remote = result?;
        // The version recorded as synced is what was read. If the file changed while it was
        // read, that differs from the disk and the next round uploads it again.
        let mut sent = local.clone();
        sent.hash = Some(hash);
        sent.size = bytes;
        match self.fs.metadata(&p) {
            Ok(after) if after == before => {}
            _ => sent.mtime_ns = -1,
        }
        Ok((sent, remote))
    }

    /// Downloads `remote` into a temp file beside `local_path`.
    async fn download(
        &self,
        key: &RelPath,
        remote: &Node,
        local_path: &RelPath,
        replaces: Option<Node>,
        log: bool,
    ) -> Result<Staged, Failed> {
        let target = abs(self.root, local_path);
        let dir = target.parent().unwrap_or(self.root).to_path_buf();
        let temp = dir.join(format!(
            "{TEMP_PREFIX}{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = self
            .fs
            .create_new(&temp)
            .map_err(|e| EngineError::io("create temp file in", &dir, e))?;
        self.events.emit(Event::TransferStarted {
            connection: self.connection.to_string(),
            path: local_path.to_string(),
            direction: Direction::Download,
            bytes: remote.size,
        });
        let mut writer = HashingWriter::with_kind(
            Progress::new(
                ThrottledWriter::new(file, self.down.clone()),
                remote.size,
                local_path.as_str(),
                Direction::Download,
                self,
            ),
            self.hash_kind,
        );
        let result = self.remote.download(remote, &mut writer).await;
        let (inner, hash, bytes) = writer.finish();
        let finished = result.map_err(Failed::from).and_then(|_| {
            inner
                .into_inner()
                .into_inner()
                .finish(Some(remote.mtime_ns).filter(|t| *t > 0))
                .map_err(|e| EngineError::io("write", &temp, e).into())
        });
        let verified = finished.and_then(|()| {
            if bytes != remote.size {
                return Err(Failed::Error(
                    RemoteError::Unavailable(format!(
                        "download of {local_path} ended after {bytes} of {} bytes",
                        remote.size
                    ))
                    .into(),
                ));
            }
            match &remote.hash {
                Some(h) if self.hash_kind.is_kind_of(h) && *h != hash => Err(Failed::Error(
                    RemoteError::Unavailable(format!(
                        "download of {local_path} is corrupt (hash mismatch)"
                    ))
                    .into(),
                )),
                _ => Ok(()),
            }
        });
        self.events.emit(Event::TransferFinished {
            connection: self.connection.to_string(),
            path: local_path.to_string(),
            direction: Direction::Download,
            bytes,
            ok: verified.is_ok(),
        });
        if let Err(e) = verified {
            let _ = self.fs.remove_file(&temp);
            return Err(e);
        }
        Ok(Staged {
            key: key.clone(),
            temp,
            target: local_path.clone(),
            replaces,
            remote: remote.clone(),
            hash,
            activity: log.then(|| self.activity(Action::Download, local_path, bytes, None)),
        })
    }

    async fn delete(&self, side: Side, key: &RelPath, node: &Node) -> Result<Done, Failed> {
        let (action, detail) = match side {
            Side::Local => {
                self.expect_local(&node.path, node)?;
                let to = self.to_trash(&node.path)?;
                (Action::DeleteLocal, Some(format!("moved to {to}")))
            }
            Side::Remote if self.remote_trash => {
                self.remote.delete(node).await?;
                (Action::DeleteRemote, None)
            }
            Side::Remote => {
                self.remote.delete_permanently(node).await?;
                (
                    Action::DeleteRemote,
                    Some("deleted permanently (remote trash is off)".to_string()),
                )
            }
        };
        self.synced_event(action, node.path.as_str());
        Ok(Done {
            effects: vec![
                Effect::Remove(side, key.clone()),
                Effect::RemoveSynced(key.clone()),
            ],
            activity: vec![self.activity(action, &node.path, node.size, detail)],
            ..Done::default()
        })
    }

    /// Moves a local entry into the trash; returns where it went (relative to the root).
    fn to_trash(&self, path: &RelPath) -> Result<String, Failed> {
        let day = crate::trash::day_folder(self.clock.now_secs());
        match crate::trash::move_to_trash(self.fs, self.root, path.as_str(), &day) {
            Ok(rel) => Ok(rel),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Failed::Replan(format!("{path} vanished")))
            }
            Err(e) => Err(EngineError::io("move to trash", abs(self.root, path), e).into()),
        }
    }

    /// Renames a local entry without replacing anything.
    fn local_rename(&self, node: &Node, to: &RelPath) -> Result<(), Failed> {
        self.expect_local(&node.path, node)?;
        let from = abs(self.root, &node.path);
        let dest = abs(self.root, to);
        match self.fs.rename_noreplace(&from, &dest) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(Failed::Replan(format!("{to} appeared meanwhile")))
            }
            Err(e) => Err(EngineError::io("rename", &from, e).into()),
        }
    }

    async fn move_entry(
        &self,
        side: Side,
        from_key: &RelPath,
        to_key: &RelPath,
        node: &Node,
        to_path: &RelPath,
        reason: MoveReason,
    ) -> Result<Done, Failed> {
        let new_path = match side {
            Side::Local => {
                self.local_rename(node, to_path)?;
                to_path.clone()
            }
            Side::Remote => self.remote.rename(node, to_path).await?.path,
        };
        let detail = Some(format!("{} -> {}", node.path, new_path));
        self.synced_event(Action::Rename, new_path.as_str());
        let mut done = Done {
            activity: vec![self.activity(Action::Rename, &new_path, 0, detail)],
            ..Done::default()
        };
        // A mirrored move lands where the other side already is: the synced subtree moves
        // too. A rename the rules or a kind clash demand is new on this side only; the next
        // round propagates it.
        let mirrored = reason == MoveReason::Mirror;
        done.effects.push(Effect::Move {
            side,
            from: from_key.clone(),
            to: to_key.clone(),
            from_path: node.path.clone(),
            to_path: new_path.clone(),
            synced: mirrored,
        });
        if !mirrored {
            done.effects.push(Effect::RemoveSynced(from_key.clone()));
        }
        Ok(done)
    }

    async fn conflict(
        &self,
        key: &RelPath,
        local: &Node,
        remote: &Node,
        resolution: &Resolution,
    ) -> Result<Done, Failed> {
        if let Some(same) = self.same_by_download(key, local, remote).await? {
            return Ok(same);
        }
        let mut done = Done::default();
        let (copy_path, loser, policy) = match resolution {
            Resolution::OverwriteRemote => {
                let (sent, uploaded) = self.upload(local, &remote.path, Some(remote)).await?;
                done.effects.extend(uploaded_effects(key, sent, uploaded));
                (None, "remote revision".to_string(), "overwrite-remote")
            }
            Resolution::RemoteToCopy {
                copy,
                download_copy,
            } => {
                let remote_copy_path = copy_beside(&remote.path, copy)?;
                // Local is checked first so nothing moves remotely if the plan is stale.
                self.expect_local(&local.path, local)?;
                let moved = self.remote.rename(remote, &remote_copy_path).await?;
                done.effects.push(Effect::Remove(Side::Remote, key.clone()));
                done.effects
                    .push(Effect::Put(Side::Remote, copy.clone(), moved.clone()));
                let (sent, uploaded) = self.upload(local, &remote.path, None).await?;
                done.effects.extend(uploaded_effects(key, sent, uploaded));
                if *download_copy {
                    let local_copy = copy_beside(&local.path, copy)?;
                    done.staged.push(
                        self.download(copy, &moved, &local_copy, None, false)
                            .await?,
                    );
                }
                (
                    Some(copy.to_string()),
                    format!("conflicted copy {copy}"),
                    "remote-to-copy",
                )
            }
            Resolution::LocalToCopy { copy, upload_copy } => {
                let local_copy = copy_beside(&local.path, copy)?;
                self.local_rename(local, &local_copy)?;
                let mut moved = local.clone();
                moved.path = local_copy.clone();
                done.effects.push(Effect::Remove(Side::Local, key.clone()));
                done.effects
                    .push(Effect::Put(Side::Local, copy.clone(), moved.clone()));
                if *upload_copy {
                    let remote_copy = copy_beside(&remote.path, copy)?;
                    let (sent, uploaded) = self.upload(&moved, &remote_copy, None).await?;
                    done.effects.extend(uploaded_effects(copy, sent, uploaded));
                }
                done.staged
                    .push(self.download(key, remote, &local.path, None, false).await?);
                (
                    Some(copy.to_string()),
                    format!("conflicted copy {copy}"),
                    "local-to-copy",
                )
            }
            Resolution::LocalToTrash => {
                self.expect_local(&local.path, local)?;
                let staged = self.download(key, remote, &local.path, None, false).await?;
                let trashed = match self.to_trash(&local.path) {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = self.fs.remove_file(&staged.temp);
                        return Err(e);
                    }
                };
                done.effects.push(Effect::Remove(Side::Local, key.clone()));
                done.staged.push(staged);
                (
                    Some(trashed.clone()),
                    format!("local trash {trashed}"),
                    "local-to-trash",
                )
            }
        };
        done.activity.push(self.activity(
            Action::Conflict,
            &local.path,
            local.size,
            Some(format!(
                "both sides changed; the losing version is kept as {loser}"
            )),
        ));
        done.conflicts.push(NewConflict {
            time_ms: self.clock.now_ms(),
            path: local.path.to_string(),
            copy_path,
            policy: policy.to_string(),
            loser: loser.clone(),
        });
        self.events.emit(Event::Conflict {
            connection: self.connection.to_string(),
            path: local.path.to_string(),
            loser,
        });
        Ok(done)
    }

    fn activity(
        &self,
        action: Action,
        path: &RelPath,
        bytes: u64,
        detail: Option<String>,
    ) -> NewActivity {
        NewActivity {
            time_ms: self.clock.now_ms(),
            action,
            path: path.to_string(),
            bytes,
            detail,
        }
    }

    fn synced_event(&self, action: Action, path: &str) {
        self.events.emit(Event::Synced {
            connection: self.connection.to_string(),
            action: action.as_str().to_string(),
            path: path.to_string(),
        });
    }
}

/// True for ops that change the local side (and so need the batch's durability barrier).
fn changes_local(op: &Op) -> bool {
    match op {
        Op::MakeDir { side, .. } | Op::Delete { side, .. } | Op::Move { side, .. } => {
            *side == Side::Local
        }
        Op::Download { .. } | Op::Conflict { .. } => true,
        Op::Upload { .. } | Op::Record { .. } | Op::Forget { .. } => false,
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The tree changes of a finished upload: the remote node, both versions as synced, and,
/// when the file did not change while it was read, the local node with the hash the upload
/// computed (the scanner leaves new files unhashed and trusts this one next time).
fn uploaded_effects(key: &RelPath, sent: Node, uploaded: Node) -> Vec<Effect> {
    let mut effects = vec![Effect::Put(Side::Remote, key.clone(), uploaded.clone())];
    if sent.mtime_ns != -1 {
        effects.push(Effect::Put(Side::Local, key.clone(), sent.clone()));
    }
    effects.push(Effect::PutSynced(
        key.clone(),
        SyncedNode {
            local: sent,
            remote: uploaded,
        },
    ));
    effects
}

impl Executor<'_> {
    /// Where the remote reports no hash the engine can compare (Baidu, WebDAV, S3), two
    /// files of the same size may still be the same content: the remote one is fetched
    /// into a temp file and hashed. Equal content is simply recorded as agreed (no
    /// conflicted copy, nothing moved); `None` means a real conflict.
    async fn same_by_download(
        &self,
        key: &RelPath,
        local: &Node,
        remote: &Node,
    ) -> Result<Option<Done>, Failed> {
        let comparable = remote
            .hash
            .as_deref()
            .is_some_and(|h| self.hash_kind.is_kind_of(h));
        let local_hash = match &local.hash {
            Some(h) if self.hash_kind.is_kind_of(h) => h.clone(),
            _ => return Ok(None),
        };
        if comparable
            || local.kind != Kind::File
            || remote.kind != Kind::File
            || local.size != remote.size
        {
            return Ok(None);
        }
        let staged = self.download(key, remote, &local.path, None, false).await?;
        let _ = self.fs.remove_file(&staged.temp);
        if staged.hash != local_hash {
            return Ok(None);
        }
        Ok(Some(Done {
            effects: vec![Effect::PutSynced(
                key.clone(),
                SyncedNode {
                    local: local.clone(),
                    remote: remote.clone(),
                },
            )],
            ..Done::default()
        }))
    }
}

/// The conflicted copy's path beside `path` (same folder, the copy's name).
fn copy_beside(path: &RelPath, copy: &RelPath) -> Result<RelPath, Failed> {
    path.with_name(copy.name())
        .map_err(|e| EngineError::Invalid(format!("conflict copy name for {path}: {e}")).into())
}

/// Reports transfer progress (every MiB, for files over 4 MiB) as bytes pass through.
struct Progress<'a, T> {
    inner: T,
    done: u64,
    total: u64,
    path: &'a str,
    direction: Direction,
    exec: &'a Executor<'a>,
}

impl<'a, T> Progress<'a, T> {
    fn new(
        inner: T,
        total: u64,
        path: &'a str,
        direction: Direction,
        exec: &'a Executor<'a>,
    ) -> Self {
        Progress {
            inner,
            done: 0,
            total,
            path,
            direction,
            exec,
        }
    }

    fn into_inner(self) -> T {
        self.inner
    }

    fn advance(&mut self, n: usize) {
        let before = self.done;
        self.done += n as u64;
        if self.total > 4 << 20 && before >> 20 != self.done >> 20 {
            self.exec.events.emit(Event::TransferProgress {
                connection: self.exec.connection.to_string(),
                path: self.path.to_string(),
                direction: self.direction,
                done: self.done,
                total: self.total,
            });
        }
    }
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.advance(n);
        Ok(n)
    }
}

impl<W: std::io::Write> std::io::Write for Progress<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.advance(n);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
