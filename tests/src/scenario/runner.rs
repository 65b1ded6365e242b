//! Runs a parsed scenario against the real engine, on temp folders.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloudsync_core::settings::{ConflictPolicy, Mode};
use cloudsync_core::{ConnectionSettings, RelPath};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::store::{ActivityRow, Store};
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EngineError, EventBus};

use super::cloud::CloudSide;
use super::faults::{Faults, FaultyFactory};
use super::script::{Command, Content, LogCheck, Script, Step, SyncOutcome, Where};
use super::syntax::{escape_bytes, escape_path, Pattern};
use super::tree::{compare, content_matches, pattern_byte, snapshot, Found};

/// The connection's name.
pub const CONNECTION: &str = "scn";

/// The host name the engine is given (conflict copies and tail renames carry it).
pub const HOST: &str = "testhost";

/// How long a `crash-during-sync` waits for its transfer to stall.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One scenario's world: temp folders, a runtime and an engine.
pub struct World {
    tmp: tempfile::TempDir,
    db: PathBuf,
    local: PathBuf,
    remote: PathBuf,
    rt: tokio::runtime::Runtime,
    engine: Option<Engine>,
    /// The emulated cloud provider the remote side is on, if not a folder.
    cloud: Option<CloudSide>,
    faults: Arc<Faults>,
    /// Activity rows with an id above this were written by the last sync.
    log_mark: i64,
    /// The latest modification time a write was given (ns), so every write is newer.
    last_mtime_ns: i64,
}

fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl World {
    /// Creates the folders, the engine and the connection (default settings).
    ///
    /// # Errors
    /// Setup failures, as text.
    pub fn new() -> Result<World, String> {
        World::on(None)
    }

    /// Like [`World::new`], with the remote on an emulated cloud provider when given.
    ///
    /// # Errors
    /// Setup failures, as text.
    pub fn on(provider: Option<cloudsync_emulator::Provider>) -> Result<World, String> {
        let tmp = tempfile::Builder::new()
            .prefix("cloudsync-scn-")
            .tempdir()
            .map_err(err("temp dir"))?;
        let base = std::fs::canonicalize(tmp.path()).map_err(err("canonicalize"))?;
        let local = base.join("local");
        let remote = base.join("remote");
        let db = base.join("state").join("cloudsync.db");
        for d in [&local, &remote] {
            std::fs::create_dir(d).map_err(err("create root"))?;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(err("runtime"))?;
        let faults = Arc::new(Faults::default());
        let mut world = World {
            tmp,
            db,
            local,
            remote,
            rt,
            engine: None,
            cloud: None,
            faults,
            log_mark: 0,
            last_mtime_ns: 0,
        };
        world.open_engine()?;
        let req = match provider {
            None => AddConnection {
                name: CONNECTION.into(),
                provider: "local".into(),
                local_root: world.local.clone(),
                remote: serde_json::json!({ "path": world.remote.to_string_lossy() }),
                credential: format!("local:{}", world.remote.display()),
                remote_local_dir: Some(world.remote.clone()),
                settings: ConnectionSettings::default(),
            },
            Some(p) => {
                let cloud = world.rt.block_on(CloudSide::start(p))?;
                let req = AddConnection {
                    name: CONNECTION.into(),
                    provider: cloud.provider_id().into(),
                    local_root: world.local.clone(),
                    remote: cloud.config(),
                    credential: cloud.credential(),
                    remote_local_dir: None,
                    settings: ConnectionSettings::default(),
                };
                world.cloud = Some(cloud);
                req
            }
        };
        let engine = world.engine()?;
        world
            .rt
            .block_on(engine.add_connection(req))
            .map_err(err("add connection"))?;
        Ok(world)
    }

    fn open_engine(&mut self) -> Result<(), String> {
        self.engine = None;
        let store = Store::open(&self.db).map_err(err("open store"))?;
        let ctx = Context {
            fs: Arc::new(StdFs),
            clock: Arc::new(SystemClock),
            events: EventBus::new(),
            host: HOST.into(),
        };
        let factory = Arc::new(FaultyFactory {
            faults: self.faults.clone(),
        });
        self.engine = Some(Engine::with_parts(store, ctx, factory));
        Ok(())
    }

    fn engine(&self) -> Result<&Engine, String> {
        self.engine.as_ref().ok_or_else(|| "no engine".to_string())
    }

    /// The root folder of a side.
    pub fn root(&self, side: Where) -> &Path {
        match side {
            Where::Local => &self.local,
            Where::Remote => &self.remote,
        }
    }

    fn path(&self, side: Where, rel: &[u8]) -> Result<PathBuf, String> {
        if rel.is_empty() || rel.starts_with(b"/") || rel.split(|b| *b == b'/').any(|c| c == b"..")
        {
            return Err(format!(
                "path \"{}\" must be relative and stay inside the root",
                escape_bytes(rel, false)
            ));
        }
        Ok(self.root(side).join(OsStr::from_bytes(rel)))
    }

    fn aside(&self, side: Where) -> PathBuf {
        self.tmp.path().join(format!("unmounted-{}", side.word()))
    }

    /// Runs one step.
    ///
    /// # Errors
    /// What went wrong, as text (without the line).
    pub fn step(&mut self, step: &Step) -> Result<(), String> {
        if let Some(cloud) = &self.cloud {
            let acted = match &step.command {
                Command::Write(Where::Remote, p, c) => Some(self.rt.block_on(cloud.write(p, c))),
                Command::Mkdir(Where::Remote, p) => Some(self.rt.block_on(cloud.mkdir(p))),
                Command::Delete(Where::Remote, p) => Some(self.rt.block_on(cloud.delete(p))),
                Command::Move(Where::Remote, from, to) => {
                    Some(self.rt.block_on(cloud.rename(from, to)))
                }
                _ => None,
            };
            if let Some(result) = acted {
                return result;
            }
        }
        match &step.command {
            Command::Settings(pairs) => self.settings(pairs),
            Command::Write(side, p, content) => self.write(*side, p, content),
            Command::Mkdir(side, p) => {
                let path = self.path(*side, p)?;
                std::fs::create_dir_all(&path).map_err(err("mkdir"))
            }
            Command::Delete(side, p) => {
                let path = self.path(*side, p)?;
                let meta = std::fs::symlink_metadata(&path)
                    .map_err(|e| format!("delete {}: {e}", path.display()))?;
                if meta.is_dir() {
                    std::fs::remove_dir_all(&path).map_err(err("delete folder"))
                } else {
                    std::fs::remove_file(&path).map_err(err("delete file"))
                }
            }
            Command::Move(side, from, to) => {
                let from = self.path(*side, from)?;
                let to = self.path(*side, to)?;
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(err("create parents"))?;
                }
                std::fs::rename(&from, &to)
                    .map_err(|e| format!("move {} -> {}: {e}", from.display(), to.display()))
            }
            Command::Mtime(side, p, secs) => {
                let path = self.path(*side, p)?;
                let t = if *secs >= 0 {
                    UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
                } else {
                    UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
                };
                set_mtime(&path, t)
            }
            Command::Unmount(side, leave_empty) => {
                let root = self.root(*side).to_path_buf();
                std::fs::rename(&root, self.aside(*side)).map_err(err("unmount"))?;
                if *leave_empty {
                    std::fs::create_dir(&root).map_err(err("mount point"))?;
                }
                Ok(())
            }
            Command::Mount(side) => {
                let root = self.root(*side).to_path_buf();
                if root.exists() {
                    std::fs::remove_dir(&root)
                        .map_err(|e| format!("mount: the mount point is not empty: {e}"))?;
                }
                std::fs::rename(self.aside(*side), &root).map_err(err("mount"))
            }
            Command::Refuse(text) => {
                self.faults.refuse(text);
                Ok(())
            }
            Command::Sync(outcome) => self.sync(outcome),
            Command::Approve => self
                .engine()?
                .approve(CONNECTION)
                .map(|_| ())
                .map_err(err("approve")),
            Command::Restart => self.open_engine(),
            Command::CrashDuringSync(after) => self.crash(*after),
            Command::ExpectTree(sides, entries) => {
                let mut report = String::new();
                for side in sides.list() {
                    let (found, _) = self.snapshot(side)?;
                    if let Some(diff) = compare(&found, entries) {
                        report.push_str(&format!(
                            "the {} tree does not match:\n{diff}  {} tree as found:\n{}",
                            side.word(),
                            side.word(),
                            render_tree(&found)
                        ));
                    }
                }
                if report.is_empty() {
                    Ok(())
                } else {
                    Err(report)
                }
            }
            Command::ExpectTrash(side, pat, content) => {
                self.expect_trash(*side, pat, content.as_ref())
            }
            Command::ExpectSkipped(side, pat, code) => {
                let rows = self
                    .engine()?
                    .skipped(Some(CONNECTION))
                    .map_err(err("skipped"))?;
                let hit = rows.iter().any(|r| {
                    pat.matches(&r.path)
                        && r.code == *code
                        && side.is_none_or(|s| r.side.to_string() == s.word())
                });
                if hit {
                    Ok(())
                } else {
                    let listed: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            format!(
                                "  {} {} {}: {}",
                                r.side,
                                escape_path(&r.path),
                                r.code,
                                r.reason
                            )
                        })
                        .collect();
                    Err(format!(
                        "{pat} is not skipped with {code}{}; skipped items:\n{}",
                        side.map(|s| format!(" on the {} side", s.word()))
                            .unwrap_or_default(),
                        if listed.is_empty() {
                            "  (none)".to_string()
                        } else {
                            listed.join("\n")
                        }
                    ))
                }
            }
            Command::ExpectConflicts(n) => {
                let rows = self
                    .engine()?
                    .conflicts(Some(CONNECTION))
                    .map_err(err("conflicts"))?;
                if rows.len() == *n {
                    Ok(())
                } else {
                    let listed: Vec<String> = rows
                        .iter()
                        .map(|c| format!("  {} ({}): {}", c.path, c.policy, c.loser))
                        .collect();
                    Err(format!(
                        "expected {n} conflicts, found {}:\n{}",
                        rows.len(),
                        listed.join("\n")
                    ))
                }
            }
            Command::ExpectLog(check) => self.expect_log(check),
            Command::ExpectWhy(path, text) => {
                let answer = self.engine()?.why(CONNECTION, path).map_err(err("why"))?;
                if answer.contains(text.as_str()) {
                    Ok(())
                } else {
                    Err(format!(
                        "`why {path}` answered:\n  {}\nwhich lacks {text:?}",
                        answer.replace('\n', "\n  ")
                    ))
                }
            }
            Command::ExpectTemps(sides, n) => {
                let mut bad = Vec::new();
                for side in sides.list() {
                    let (_, temps) = self.snapshot(side)?;
                    if temps != *n {
                        bad.push(format!("{} temp files on the {} side", temps, side.word()));
                    }
                }
                if bad.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "expected {n} temp files per side, found {}",
                        bad.join(", ")
                    ))
                }
            }
        }
    }

    /// A side's tree and its count of engine temp files.
    fn snapshot(&self, side: Where) -> Result<(Vec<Found>, usize), String> {
        match (&self.cloud, side) {
            (Some(cloud), Where::Remote) => self.rt.block_on(cloud.snapshot()),
            _ => snapshot(self.root(side)),
        }
    }

    fn settings(&self, pairs: &[(String, String)]) -> Result<(), String> {
        let engine = self.engine()?;
        let mut s = engine
            .connection(CONNECTION)
            .map_err(err("connection"))?
            .settings;
        for (k, v) in pairs {
            apply_setting(&mut s, k, v)?;
        }
        engine
            .set_settings(CONNECTION, s)
            .map(|_| ())
            .map_err(err("set settings"))
    }

    fn write(&mut self, side: Where, rel: &[u8], content: &Content) -> Result<(), String> {
        let path = self.path(side, rel)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(err("create parents"))?;
        }
        let mut f = File::create(&path).map_err(|e| format!("write {}: {e}", path.display()))?;
        match content {
            Content::Bytes(b) => f.write_all(b).map_err(err("write"))?,
            Content::Pattern(n) => {
                let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut f);
                let block: Vec<u8> = (0..251 * 4096).map(pattern_byte).collect();
                let mut left = *n;
                while left > 0 {
                    let k = usize::try_from(left.min(block.len() as u64)).unwrap_or(block.len());
                    w.write_all(&block[..k]).map_err(err("write"))?;
                    left -= k as u64;
                }
                w.flush().map_err(err("write"))?;
            }
            Content::Sparse(n) => f.set_len(*n).map_err(err("set_len"))?,
        }
        drop(f);
        // Every write is newer than every earlier one: two writes within the file
        // system's timestamp granularity must still look like two versions.
        let now = mtime_ns(&path)?;
        let want = now.max(self.last_mtime_ns + 1_000_000);
        if want != now {
            set_mtime(
                &path,
                UNIX_EPOCH + Duration::from_nanos(want.unsigned_abs()),
            )?;
        }
        self.last_mtime_ns = want;
        Ok(())
    }

    fn mark_log(&mut self) -> Result<(), String> {
        let rows = self.activity()?;
        self.log_mark = rows.iter().map(|r| r.id).max().unwrap_or(0);
        Ok(())
    }

    fn activity(&self) -> Result<Vec<ActivityRow>, String> {
        self.engine()?
            .log(Some(CONNECTION), None, 1_000_000)
            .map_err(err("log"))
    }

    fn last_activity(&self) -> Result<Vec<ActivityRow>, String> {
        let mut rows: Vec<ActivityRow> = self
            .activity()?
            .into_iter()
            .filter(|r| r.id > self.log_mark)
            .collect();
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// The activity of the last sync, one line each (for failure reports).
    pub fn describe_last_activity(&self) -> String {
        match self.last_activity() {
            Ok(rows) if rows.is_empty() => "  (none)\n".into(),
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    format!(
                        "  {} {}{}\n",
                        r.action,
                        escape_path(&r.path),
                        r.detail
                            .as_deref()
                            .map(|d| format!("  ({d})"))
                            .unwrap_or_default()
                    )
                })
                .collect(),
            Err(e) => format!("  (cannot read the log: {e})\n"),
        }
    }

    /// The skipped items, one line each (for failure reports).
    pub fn describe_skipped(&self) -> String {
        let rows = match self.engine().and_then(|e| {
            e.skipped(Some(CONNECTION))
                .map_err(|e| format!("cannot read skipped items: {e}"))
        }) {
            Ok(rows) => rows,
            Err(e) => return format!("  ({e})\n"),
        };
        if rows.is_empty() {
            return "  (none)\n".into();
        }
        rows.iter()
            .map(|r| format!("  {} {} {}\n", r.side, escape_path(&r.path), r.code))
            .collect()
    }

    fn sync(&mut self, outcome: &SyncOutcome) -> Result<(), String> {
        self.mark_log()?;
        let engine = self.engine()?;
        let result = self.rt.block_on(engine.sync_connection(CONNECTION));
        match (outcome, result) {
            (SyncOutcome::Ok, Ok(_)) => Ok(()),
            (SyncOutcome::Ok, Err(e)) => Err(format!("sync failed: {e}")),
            (SyncOutcome::Fails(text), Err(e)) => {
                let msg = e.to_string();
                if msg.contains(text.as_str()) {
                    Ok(())
                } else {
                    Err(format!(
                        "sync failed as expected, but with {msg:?}, which lacks {text:?}"
                    ))
                }
            }
            (SyncOutcome::NeedsApproval, Err(EngineError::NeedsApproval(..))) => Ok(()),
            (SyncOutcome::NeedsApproval, Err(e)) => {
                Err(format!("sync should wait for approval, but failed: {e}"))
            }
            (_, Ok(summary)) => Err(format!(
                "sync should not have succeeded (it ran {} rounds, {} ops)",
                summary.rounds, summary.ops
            )),
        }
    }

    fn crash(&mut self, after: u64) -> Result<(), String> {
        self.mark_log()?;
        let faults = self.faults.clone();
        faults.arm(after);
        let engine = self.engine()?;
        let outcome = self.rt.block_on(async {
            tokio::select! {
                r = engine.sync_connection(CONNECTION) => Some(match r {
                    Ok(s) => format!("the sync converged ({} ops)", s.ops),
                    Err(e) => format!("the sync failed: {e}"),
                }),
                () = faults.stalled.notified() => None,
                () = tokio::time::sleep(STALL_TIMEOUT) => {
                    Some(format!("nothing happened for {} s", STALL_TIMEOUT.as_secs()))
                }
            }
        });
        faults.disarm();
        if let Some(how) = outcome {
            return Err(format!(
                "no transfer passed {after} bytes, so nothing was interrupted: {how}"
            ));
        }
        // The sync future is gone mid-transfer; a new engine on the same database is what
        // a restarted process would have.
        self.open_engine()
    }

    fn expect_trash(
        &self,
        side: Where,
        pat: &Pattern,
        content: Option<&Content>,
    ) -> Result<(), String> {
        let trash = self.root(side).join(".cloudsync-trash");
        let found: Vec<Found> = if trash.exists() {
            snapshot(&trash)?.0
        } else {
            Vec::new()
        };
        let hit = found.iter().any(|f| {
            pat.matches_suffix(&f.path) && content.is_none_or(|c| content_matches(f, Some(c)))
        });
        if hit {
            Ok(())
        } else {
            Err(format!(
                "the {} trash holds no {pat}{}; it holds:\n{}",
                side.word(),
                if content.is_some() {
                    " with that content"
                } else {
                    ""
                },
                render_tree(&found)
            ))
        }
    }

    fn expect_log(&self, check: &LogCheck) -> Result<(), String> {
        let rows = self.last_activity()?;
        let ok = match check {
            LogCheck::Contains(action, pat) => rows
                .iter()
                .any(|r| r.action.as_str() == action && pat.matches(&r.path)),
            LogCheck::Lacks(action, pat) => !rows.iter().any(|r| {
                r.action.as_str() == action && pat.as_ref().is_none_or(|p| p.matches(&r.path))
            }),
            LogCheck::Count(action, n) => {
                rows.iter().filter(|r| r.action.as_str() == action).count() == *n
            }
        };
        if ok {
            Ok(())
        } else {
            let what = match check {
                LogCheck::Contains(a, p) => format!("no `{a} {p}`"),
                LogCheck::Lacks(a, Some(p)) => format!("a `{a} {p}`"),
                LogCheck::Lacks(a, None) => format!("a `{a}`"),
                LogCheck::Count(a, n) => format!("not exactly {n} `{a}`"),
            };
            Err(format!(
                "the last sync's activity has {what}; it was:\n{}",
                self.describe_last_activity()
            ))
        }
    }
}

fn render_tree(found: &[Found]) -> String {
    if found.is_empty() {
        return "    (empty)\n".into();
    }
    found
        .iter()
        .map(|f| format!("    {}\n", f.render()))
        .collect()
}

fn mtime_ns(path: &Path) -> Result<i64, String> {
    let t = std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .map_err(err("stat"))?;
    let d = t.duration_since(UNIX_EPOCH).map_err(err("mtime"))?;
    i64::try_from(d.as_nanos()).map_err(err("mtime"))
}

fn set_mtime(path: &Path, t: SystemTime) -> Result<(), String> {
    // Opening read-only is enough for the owner to set times, and works for folders.
    File::open(path)
        .and_then(|f| f.set_modified(t))
        .map_err(|e| format!("set mtime of {}: {e}", path.display()))
}

fn parse_bool(k: &str, v: &str) -> Result<bool, String> {
    match v {
        "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{k} takes true or false, not {v:?}")),
    }
}

fn parse_opt_size(k: &str, v: &str) -> Result<Option<u64>, String> {
    if v == "none" {
        Ok(None)
    } else {
        super::syntax::parse_size(v)
            .map(Some)
            .map_err(|e| format!("{k}: {e}"))
    }
}

/// Applies one `key=value` of the `settings` command.
///
/// # Errors
/// Unknown keys or values.
pub fn apply_setting(s: &mut ConnectionSettings, k: &str, v: &str) -> Result<(), String> {
    match k {
        "reset" => *s = ConnectionSettings::default(),
        "mode" => {
            s.mode = match v {
                "two-way" => Mode::TwoWay,
                "upload-only" => Mode::UploadOnly,
                "download-only" => Mode::DownloadOnly,
                _ => {
                    return Err(format!(
                        "mode is two-way, upload-only or download-only, not {v:?}"
                    ))
                }
            }
        }
        "no-delete" => s.no_delete = parse_bool(k, v)?,
        "conflict" => {
            s.conflict = match v {
                "keep-local" => ConflictPolicy::KeepLocal,
                "keep-remote" => ConflictPolicy::KeepRemote,
                "keep-both" => ConflictPolicy::KeepBoth,
                "newer-wins" => ConflictPolicy::NewerWins,
                _ => {
                    return Err(format!(
                        "conflict is keep-local, keep-remote, keep-both or newer-wins, not {v:?}"
                    ))
                }
            }
        }
        "exclude" if v.is_empty() => s.exclude.clear(),
        "exclude" => s.exclude.push(v.to_string()),
        "exclude-ext" if v.is_empty() => s.exclude_extensions.clear(),
        "exclude-ext" => s.exclude_extensions.push(v.to_string()),
        "max-size" => s.max_size = parse_opt_size(k, v)?,
        "skip-remote-folder" if v.is_empty() => s.skip_remote_folders.clear(),
        "skip-remote-folder" => s
            .skip_remote_folders
            .push(RelPath::new(v).map_err(|e| format!("skip-remote-folder: {e}"))?),
        "bwlimit-up" => s.bwlimit_up = parse_opt_size(k, v)?,
        "bwlimit-down" => s.bwlimit_down = parse_opt_size(k, v)?,
        "transfers" => {
            s.transfers = v
                .parse()
                .map_err(|_| format!("transfers takes a number, not {v:?}"))?
        }
        "remote-trash" => s.remote_trash = parse_bool(k, v)?,
        other => {
            return Err(format!(
            "unknown setting {other:?} (reset, mode, no-delete, conflict, exclude, exclude-ext, \
                 max-size, skip-remote-folder, bwlimit-up, bwlimit-down, transfers, remote-trash)"
        ))
        }
    }
    Ok(())
}

/// Runs a whole script; on failure, the message names the line.
///
/// # Errors
/// `LINE: what went wrong`, with trees and the last sync's activity where they help.
pub fn run_script(script: &Script) -> Result<(), String> {
    run_script_on(script, None)
}

/// Runs a whole script with the remote on an emulated provider (or a folder: `None`).
///
/// # Errors
/// As [`run_script`].
pub fn run_script_on(
    script: &Script,
    provider: Option<cloudsync_emulator::Provider>,
) -> Result<(), String> {
    let mut world = World::on(provider)?;
    for step in &script.steps {
        if let Err(e) = world.step(step) {
            let activity = world.describe_last_activity();
            let skipped = world.describe_skipped();
            return Err(format!(
                "{}: {e}\nactivity of the last sync:\n{activity}skipped items:\n{skipped}",
                step.line
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_apply() {
        let mut s = ConnectionSettings::default();
        apply_setting(&mut s, "mode", "upload-only").expect("ok");
        apply_setting(&mut s, "exclude", "*.tmp").expect("ok");
        apply_setting(&mut s, "max-size", "1MiB").expect("ok");
        apply_setting(&mut s, "no-delete", "true").expect("ok");
        assert_eq!(s.mode, Mode::UploadOnly);
        assert_eq!(s.exclude, ["*.tmp"]);
        assert_eq!(s.max_size, Some(1 << 20));
        assert!(s.no_delete);
        assert!(apply_setting(&mut s, "colour", "blue").is_err());
    }
}
