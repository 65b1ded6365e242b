//! One seeded run of the whole engine: random user actions on both sides, syncs (some with
//! the user acting in the middle of them, some cut short by a power cut followed by a
//! restart), then a final sync and the invariants.
//!
//! Invariants checked:
//! - after every crash, each local file holds a version that path really held (never a
//!   torn or empty mix), the engine's temp files aside;
//! - at the end both sides hold the same tree (paths and contents), and a further plan is
//!   empty;
//! - no user's version is lost: every version a user wrote and did not later overwrite or
//!   delete on that side is on the sides at the end; one found only in a trash means an
//!   edit lost to a delete, one found nowhere means lost content.
//!
//! Every violation message starts with [`VIOLATION`] and names the seed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cloudsync_core::rules::TRASH_DIR;
use cloudsync_core::{ConnectionSettings, RelPath, Side};
use cloudsync_engine::clock::ManualClock;
use cloudsync_engine::engine::SyncSummary;
use cloudsync_engine::events::{Event, EventBus};
use cloudsync_engine::scan::{is_internal_name, TEMP_PREFIX};
use cloudsync_engine::store::{NewConnection, Store};
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EngineError};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::broadcast;

use super::fs::{Content, Power, SimFs};
use super::remote::{SimFactory, SimRemote};

/// The local sync root inside the simulated filesystem.
pub const LOCAL_ROOT: &str = "/sim/local";
/// The connection's name.
pub const CONNECTION: &str = "sim";
/// The simulated machine's name.
pub const HOST: &str = "simhost";
/// How every invariant violation message starts.
pub const VIOLATION: &str = "INVARIANT VIOLATED";

/// Every content a user writes ends with this, so a truncated one is recognisable.
const END: &[u8] = b"~END";
/// File names users pick (the last one is renamed by the spec's tail-character rule).
const FILE_NAMES: [&str; 6] = ["a.txt", "b.txt", "c", "notes.md", "d.txt", "e."];
/// One name in its two Unicode spellings (NFC and NFD): one entry for the engine, spelled
/// as each side spells it.
const UNICODE_NAMES: [&str; 2] = ["caf\u{e9}.txt", "cafe\u{301}.txt"];
/// Folder names users pick.
const DIR_NAMES: [&str; 3] = ["x", "y", "docs"];
/// Deepest folder users create (a top-level entry has depth 1).
const MAX_DEPTH: usize = 3;
/// Sync calls the final phase may take.
const FINAL_SYNCS: usize = 8;

/// How often each kind of thing happened, by name.
pub type Coverage = BTreeMap<String, u64>;

/// What one seed's run looks like, drawn from the seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// Random steps before the final sync.
    pub steps: usize,
    /// Whether some syncs are cut short by a power cut.
    pub crashes: bool,
    /// The step at which the database is lost (deleted), if any.
    pub lose_db_at: Option<usize>,
}

impl SeedPlan {
    /// The plan of `seed`: 50 to 90 steps; crashes in about 40% of the seeds (and always
    /// when `seed % 4 == 0`, so at least a quarter of any seed range crashes).
    pub fn of(seed: u64) -> SeedPlan {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xc0ff_ee00);
        let steps = rng.gen_range(50..=90);
        let crashes = seed.is_multiple_of(4) || rng.gen_bool(0.2);
        let lose_db_at = rng.gen_bool(0.1).then(|| rng.gen_range(10..steps));
        SeedPlan {
            steps,
            crashes,
            lose_db_at,
        }
    }
}

/// Runs one seed. `Err` carries a message starting with [`VIOLATION`] when an invariant
/// broke (or a setup error).
///
/// # Errors
/// The violation, with the seed and the last steps.
pub fn run_seed(seed: u64) -> Result<Coverage, String> {
    run_seed_with_log(seed).0
}

/// Runs one seed and also returns the log of every step and engine action.
pub fn run_seed_with_log(seed: u64) -> (Result<Coverage, String>, Vec<String>) {
    // One thread, so a seed replays the same interleaving; paused time, so the engine's
    // retry back-offs pass instantly and in a fixed order.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return (
                Err(format!("seed {seed}: cannot build a runtime: {e}")),
                Vec::new(),
            )
        }
    };
    rt.block_on(async move {
        let mut sim = match Sim::new(seed) {
            Ok(sim) => sim,
            Err(e) => return (Err(e), Vec::new()),
        };
        let result = sim.run().await;
        let result = match result {
            Ok(()) => Ok(std::mem::take(&mut sim.cov)),
            Err(msg) => Err(format!(
                "{msg}\n--- seed {seed}, last steps ---\n{}\n--- rerun: SIM_SEED={seed} cargo test -p cloudsync-tests --release --test simulation -- --nocapture",
                sim.log_tail(if std::env::var_os("SIM_SEED").is_some() { usize::MAX } else { 60 })
            )),
        };
        (result, std::mem::take(&mut sim.log))
    })
}

/// One side as the user sees it: path -> content.
type View = BTreeMap<RelPath, Content>;

struct Sim {
    seed: u64,
    rng: SmallRng,
    plan: SeedPlan,
    clock: Arc<ManualClock>,
    power: Arc<Power>,
    fs: SimFs,
    remote: Arc<SimRemote>,
    db: PathBuf,
    _dir: tempfile::TempDir,
    engine: Option<Engine>,
    events: Option<broadcast::Receiver<Event>>,
    /// Versions users wrote and did not overwrite or delete since.
    live: HashSet<Vec<u8>>,
    /// True while the user acts in the middle of a sync.
    concurrent: bool,
    /// Versions the user wrote or moved in the middle of a sync: a folder delete racing
    /// with them may take them to the trash (deletes of folders are not conditional on the
    /// folder's contents), so for these the trash is as good as a side.
    raced: HashSet<Vec<u8>>,
    written: u64,
    cov: Coverage,
    log: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(LOCAL_ROOT)
}

fn abs(p: &RelPath) -> PathBuf {
    root().join(p.as_str())
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Local => "local",
        Side::Remote => "remote",
    }
}

/// `path`, or the spelling of the entry `view` has under the same NFC key.
fn spelled(view: &View, path: RelPath) -> RelPath {
    let key = path.key();
    view.keys()
        .find(|p| p.key() == key)
        .cloned()
        .unwrap_or(path)
}

/// True when `view` has an entry under the NFC key of `path` (in any spelling).
fn taken(view: &View, path: &RelPath) -> bool {
    let key = path.key();
    view.keys().any(|p| p.key() == key)
}

/// A view keyed by NFC key, keeping each entry's spelling.
fn keyed(view: View) -> BTreeMap<RelPath, (RelPath, Content)> {
    view.into_iter().map(|(p, c)| (p.key(), (p, c))).collect()
}

/// The short name of a content (`L12`, `R7`) for the step log.
fn short(c: &[u8]) -> String {
    String::from_utf8_lossy(c)
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string()
}

fn show(c: &Content) -> String {
    match c {
        Content::Dir => "<dir>".into(),
        Content::File(d) => String::from_utf8_lossy(d).into_owned(),
    }
}

/// Creates the database with the connection (two-way, keep-local, 4 transfers), bypassing
/// `Engine::add_connection`, which checks the real filesystem.
fn add_connection(db: &Path) -> Result<(), String> {
    let mut store = Store::open(db).map_err(|e| format!("open store: {e}"))?;
    let settings = ConnectionSettings {
        transfers: 4,
        ..ConnectionSettings::default()
    };
    store
        .add_connection(&NewConnection {
            name: CONNECTION.into(),
            provider: "sim".into(),
            local_root: root(),
            remote: serde_json::json!({}),
            credential: "sim".into(),
            settings,
        })
        .map_err(|e| format!("add connection: {e}"))?;
    Ok(())
}

impl Sim {
    fn new(seed: u64) -> Result<Sim, String> {
        // The database file is real SQLite (committed transactions survive the simulated
        // crashes); on tmpfs where there is one, since its fsyncs are not what is tested.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::Builder::new()
                .prefix("cloudsync-sim-")
                .tempdir_in(shm)
                .or_else(|_| tempfile::tempdir())
        } else {
            tempfile::tempdir()
        }
        .map_err(|e| format!("seed {seed}: temp dir: {e}"))?;
        let db = dir.path().join("cloudsync.db");
        let clock = Arc::new(ManualClock::new(1_795_000_000_000));
        let power = Arc::new(Power::default());
        let fs = SimFs::new(clock.clone(), power.clone());
        let made = fs.user_mkdir(Path::new("/sim"))
            && fs.user_mkdir(&root())
            && fs
                .user_write(
                    &root().join(cloudsync_core::rules::ROOT_MARKER),
                    b"CloudSync root (simulation)\n",
                    false,
                )
                .is_some();
        if !made {
            return Err(format!("seed {seed}: cannot prepare the local root"));
        }
        let remote = Arc::new(SimRemote::new(clock.clone(), seed));
        add_connection(&db).map_err(|e| format!("seed {seed}: {e}"))?;
        let mut sim = Sim {
            seed,
            rng: SmallRng::seed_from_u64(seed),
            plan: SeedPlan::of(seed),
            clock,
            power,
            fs,
            remote,
            db,
            _dir: dir,
            engine: None,
            events: None,
            live: HashSet::new(),
            concurrent: false,
            raced: HashSet::new(),
            written: 0,
            cov: Coverage::new(),
            log: Vec::new(),
        };
        sim.open_engine()?;
        Ok(sim)
    }

    fn count(&mut self, what: &str) {
        self.add(what, 1);
    }

    fn add(&mut self, what: &str, n: u64) {
        *self.cov.entry(what.to_string()).or_default() += n;
    }

    fn note(&mut self, line: String) {
        self.log.push(line);
    }

    fn log_tail(&self, n: usize) -> String {
        let start = self.log.len().saturating_sub(n);
        self.log[start..].join("\n")
    }

    fn violation(&self, what: &str, detail: String) -> String {
        format!("{VIOLATION}: {what} (seed {})\n{detail}", self.seed)
    }

    /// The database is lost (deleted with the engine stopped): the new one knows the
    /// connection but no synced state, so both sides must be merged as if both had been
    /// empty before: conflicts, never deletes.
    fn lose_database(&mut self) -> Result<(), String> {
        self.drain_events();
        self.engine = None;
        self.events = None;
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", self.db.display()));
            if p.exists() {
                std::fs::remove_file(&p)
                    .map_err(|e| format!("seed {}: remove {}: {e}", self.seed, p.display()))?;
            }
        }
        add_connection(&self.db).map_err(|e| format!("seed {}: {e}", self.seed))?;
        self.count("databases lost");
        self.note("DATABASE LOST; a new one is created".into());
        self.open_engine()
    }

    /// Opens the engine on the database file (at the start and after each crash).
    fn open_engine(&mut self) -> Result<(), String> {
        let store =
            Store::open(&self.db).map_err(|e| format!("seed {}: reopen store: {e}", self.seed))?;
        let events = EventBus::new();
        self.events = Some(events.subscribe());
        let ctx = Context {
            fs: Arc::new(self.fs.clone()),
            clock: self.clock.clone(),
            events,
            host: HOST.into(),
        };
        let factory = Arc::new(SimFactory::new(self.remote.clone(), self.power.clone()));
        self.engine = Some(Engine::with_parts(store, ctx, factory));
        Ok(())
    }

    fn drain_events(&mut self) {
        let mut seen: Vec<(String, String)> = Vec::new();
        if let Some(rx) = self.events.as_mut() {
            loop {
                match rx.try_recv() {
                    Ok(Event::Conflict { path, loser, .. }) => seen.push((
                        "engine conflicts".into(),
                        format!("  engine: conflict {path}, loser kept as {loser}"),
                    )),
                    Ok(Event::Synced { action, path, .. }) => seen.push((
                        format!("engine {action}"),
                        format!("  engine: {action} {path}"),
                    )),
                    Ok(Event::Error { message, .. }) => seen.push((
                        "engine op errors".into(),
                        format!("  engine: error {message}"),
                    )),
                    Ok(_) => {}
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {
                        seen.push(("events lagged".into(), "  (events lagged)".into()))
                    }
                    Err(_) => break,
                }
            }
        }
        for (what, line) in seen {
            self.count(&what);
            self.note(line);
        }
    }

    // -----------------------------------------------------------------------------------
    // The two sides as the user sees them
    // -----------------------------------------------------------------------------------

    fn view(&self, side: Side) -> View {
        match side {
            Side::Local => {
                let base = root();
                self.fs
                    .tree(&base)
                    .into_iter()
                    .filter_map(|(p, c)| {
                        let r = p.strip_prefix(&base).ok()?.to_str()?.to_string();
                        let r = RelPath::new(r).ok()?;
                        if r.components().any(is_internal_name) {
                            return None;
                        }
                        Some((r, c))
                    })
                    .collect()
            }
            Side::Remote => self.remote.tree().into_iter().collect(),
        }
    }

    fn local_trash(&self) -> Vec<Arc<Vec<u8>>> {
        self.fs
            .tree(&root().join(TRASH_DIR))
            .into_iter()
            .filter_map(|(_, c)| match c {
                Content::File(d) => Some(d),
                Content::Dir => None,
            })
            .collect()
    }

    fn new_content(&mut self, side: Side) -> Vec<u8> {
        self.written += 1;
        let tag: u64 = self.rng.gen();
        let mut c = format!(
            "{}{} of seed {} {tag:016x}",
            if side == Side::Local { 'L' } else { 'R' },
            self.written,
            self.seed
        )
        .into_bytes();
        c.extend_from_slice(END);
        c
    }

    // -----------------------------------------------------------------------------------
    // User actions
    // -----------------------------------------------------------------------------------

    /// Writes `content` at `path` on `side`; true when written.
    fn write(&mut self, side: Side, path: &RelPath, content: Vec<u8>) -> bool {
        let replaced = match side {
            Side::Local => {
                let in_place = self.rng.gen_bool(0.5);
                self.fs.user_write(&abs(path), &content, in_place)
            }
            Side::Remote => self.remote.user_write(path, &content),
        };
        match replaced {
            None => false,
            Some(old) => {
                if let Some(old) = old {
                    self.live.remove(old.as_slice());
                }
                if self.concurrent {
                    self.raced.insert(content.clone());
                }
                self.live.insert(content);
                true
            }
        }
    }

    fn remove(&mut self, side: Side, path: &RelPath) {
        let gone = match side {
            Side::Local => self.fs.user_remove(&abs(path)),
            Side::Remote => self.remote.user_delete(path),
        };
        for c in gone {
            self.live.remove(c.as_slice());
        }
    }

    fn rename(&mut self, side: Side, from: &RelPath, to: &RelPath) -> bool {
        if self.concurrent {
            for (p, c) in self.view(side) {
                if let (true, Content::File(d)) = (p.is_within(from), c) {
                    self.raced.insert(d.to_vec());
                }
            }
        }
        match side {
            Side::Local => self.fs.user_rename(&abs(from), &abs(to)),
            Side::Remote => self.remote.user_rename(from, to),
        }
    }

    fn mkdir(&mut self, side: Side, path: &RelPath) -> bool {
        match side {
            Side::Local => self.fs.user_mkdir(&abs(path)),
            Side::Remote => self.remote.user_mkdir(path),
        }
    }

    fn file_name(&mut self) -> &'static str {
        match self.rng.gen_range(0..100) {
            0..=3 => FILE_NAMES[FILE_NAMES.len() - 1],
            4..=9 => UNICODE_NAMES[self.rng.gen_range(0..UNICODE_NAMES.len())],
            _ => FILE_NAMES[self.rng.gen_range(0..FILE_NAMES.len() - 1)],
        }
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            None
        } else {
            Some(items[self.rng.gen_range(0..items.len())].clone())
        }
    }

    /// One random user action on `side`.
    fn user_action(&mut self, side: Side) {
        let view = self.view(side);
        let dirs: Vec<RelPath> = view
            .iter()
            .filter(|(_, c)| **c == Content::Dir)
            .map(|(p, _)| p.clone())
            .collect();
        let files: Vec<RelPath> = view
            .iter()
            .filter(|(_, c)| **c != Content::Dir)
            .map(|(p, _)| p.clone())
            .collect();
        let mut parents: Vec<Option<RelPath>> = vec![None];
        parents.extend(
            dirs.iter()
                .filter(|d| d.depth() < MAX_DEPTH)
                .cloned()
                .map(Some),
        );
        let s = side_name(side);
        let roll = self.rng.gen_range(0..100);
        let done: Option<String> = match roll {
            0..=24 => {
                let parent = self.pick(&parents).flatten();
                let name = self.file_name();
                let path = RelPath::child_of(parent.as_ref(), name).expect("valid name");
                // An existing entry spelled otherwise is the same name: the user opens it.
                let path = spelled(&view, path);
                let existed = view.contains_key(&path);
                let content = self.new_content(side);
                let tag = short(&content);
                self.write(side, &path, content).then(|| {
                    if existed {
                        format!("{s} modify {path} = {tag}")
                    } else {
                        format!("{s} create {path} = {tag}")
                    }
                })
            }
            25..=44 => match self.pick(&files) {
                Some(path) => {
                    let content = self.new_content(side);
                    let tag = short(&content);
                    self.write(side, &path, content)
                        .then(|| format!("{s} modify {path} = {tag}"))
                }
                None => None,
            },
            45..=54 => self.pick(&files).map(|path| {
                self.remove(side, &path);
                format!("{s} delete {path}")
            }),
            55..=61 => self.pick(&dirs).map(|path| {
                self.remove(side, &path);
                format!("{s} delete-dir {path}")
            }),
            62..=73 => match self.pick(&files) {
                Some(from) => {
                    let name = self.file_name();
                    let to = from.with_name(name).expect("valid name");
                    (!taken(&view, &to) && self.rename(side, &from, &to))
                        .then(|| format!("{s} rename {from} -> {to}"))
                }
                None => None,
            },
            74..=81 => match (self.pick(&files), self.pick(&parents)) {
                (Some(from), Some(parent)) => {
                    let name = if self.rng.gen_bool(0.5) {
                        from.name().to_string()
                    } else {
                        self.file_name().to_string()
                    };
                    let to = RelPath::child_of(parent.as_ref(), &name).expect("valid name");
                    (!taken(&view, &to) && self.rename(side, &from, &to))
                        .then(|| format!("{s} move {from} -> {to}"))
                }
                _ => None,
            },
            82..=87 => match (self.pick(&dirs), self.pick(&parents)) {
                (Some(from), Some(parent)) => {
                    let name = DIR_NAMES[self.rng.gen_range(0..DIR_NAMES.len())];
                    let to = RelPath::child_of(parent.as_ref(), name).expect("valid name");
                    let deep = view
                        .keys()
                        .filter(|k| k.is_within(&from))
                        .map(|k| k.depth() - from.depth() + to.depth())
                        .max()
                        .unwrap_or(0);
                    (deep <= MAX_DEPTH + 1 && !taken(&view, &to) && self.rename(side, &from, &to))
                        .then(|| format!("{s} move-dir {from} -> {to}"))
                }
                _ => None,
            },
            _ => {
                let parent = self.pick(&parents).flatten();
                let name = DIR_NAMES[self.rng.gen_range(0..DIR_NAMES.len())];
                let path = RelPath::child_of(parent.as_ref(), name).expect("valid name");
                (!taken(&view, &path) && self.mkdir(side, &path))
                    .then(|| format!("{s} mkdir {path}"))
            }
        };
        if let Some(line) = done {
            let kind = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
            self.count(&kind);
            self.note(line);
        }
    }

    /// Files both sides hold with the same content, as (local path, remote path).
    fn shared_files(&self) -> Vec<(RelPath, RelPath)> {
        let remote = keyed(self.view(Side::Remote));
        self.view(Side::Local)
            .into_iter()
            .filter_map(|(p, c)| match remote.get(&p.key()) {
                Some((rp, rc)) if c != Content::Dir && *rc == c => Some((p, rp.clone())),
                _ => None,
            })
            .collect()
    }

    /// One side edits a synced file while the other deletes it (the edit must win).
    fn edit_delete_race(&mut self) {
        let shared = self.shared_files();
        let Some((local, remote)) = self.pick(&shared) else {
            return self.user_action(Side::Local);
        };
        let (editor, path, other) = if self.rng.gen_bool(0.5) {
            (Side::Local, local, remote)
        } else {
            (Side::Remote, remote, local)
        };
        let content = self.new_content(editor);
        let tag = short(&content);
        if self.write(editor, &path, content) {
            self.remove(editor.other(), &other);
            self.count("race edit-vs-delete");
            self.note(format!(
                "race: {} edits {path} = {tag}, {} deletes it",
                side_name(editor),
                side_name(editor.other())
            ));
        }
    }

    /// Both sides edit the same synced file differently (a conflict).
    fn both_edit(&mut self) {
        let shared = self.shared_files();
        let Some((path, remote_path)) = self.pick(&shared) else {
            return self.user_action(Side::Remote);
        };
        let a = self.new_content(Side::Local);
        let b = self.new_content(Side::Remote);
        let tags = format!("local {}, remote {}", short(&a), short(&b));
        if self.write(Side::Local, &path, a) && self.write(Side::Remote, &remote_path, b) {
            self.count("race both-edit");
            self.note(format!("race: both sides edit {path}: {tags}"));
        }
    }

    // -----------------------------------------------------------------------------------
    // Syncs
    // -----------------------------------------------------------------------------------

    fn engine(&self) -> &Engine {
        self.engine
            .as_ref()
            .expect("the engine is open between steps")
    }

    fn note_sync(&mut self, what: &str, r: &Result<SyncSummary, EngineError>) {
        let line = match r {
            Ok(s) => format!("{what}: ok, {} rounds, {} ops", s.rounds, s.ops),
            Err(e) => format!("{what}: error: {e}"),
        };
        match r {
            Ok(s) => {
                self.count("sync ok");
                self.add("sync ops", s.ops as u64);
            }
            Err(EngineError::NeedsApproval(..)) => self.count("sync needs approval"),
            Err(EngineError::NotConverged(..)) => self.count("sync not converged"),
            Err(_) => self.count("sync other errors"),
        }
        self.note(line);
        self.drain_events();
    }

    /// Approves a plan waiting for approval (as a user would, most of the time).
    fn maybe_approve(&mut self, r: &Result<SyncSummary, EngineError>, p: f64) {
        if matches!(r, Err(EngineError::NeedsApproval(..)))
            && self.rng.gen_bool(p)
            && self.engine().approve(CONNECTION).is_ok()
        {
            self.count("approvals given");
            self.note("user approves the mass delete".into());
        }
    }

    async fn sync(&mut self) {
        let r = self.engine().sync_connection(CONNECTION).await;
        self.note_sync("sync", &r);
        self.maybe_approve(&r, 0.7);
    }

    /// A sync during which the user keeps acting on both sides.
    async fn sync_with_user(&mut self) {
        let engine = self.engine.take().expect("engine open");
        let acts = self.rng.gen_range(1..=4);
        self.concurrent = true;
        let (r, ()) = {
            let sync = engine.sync_connection(CONNECTION);
            let user = async {
                for _ in 0..acts {
                    let waits = self.rng.gen_range(1..=6);
                    for _ in 0..waits {
                        tokio::task::yield_now().await;
                    }
                    let side = if self.rng.gen_bool(0.5) {
                        Side::Local
                    } else {
                        Side::Remote
                    };
                    self.clock.advance(1);
                    self.user_action(side);
                }
            };
            tokio::join!(sync, user)
        };
        self.concurrent = false;
        self.engine = Some(engine);
        self.count("sync with user acting");
        self.note_sync("sync (user acting meanwhile)", &r);
        self.maybe_approve(&r, 0.7);
    }

    /// A sync the power cut stops after a random number of filesystem changes; then the
    /// machine restarts from what was durable and a new engine opens the same database.
    async fn crash_sync(&mut self) -> Result<(), String> {
        let calls = self.rng.gen_range(0..24);
        let remote_too = self.rng.gen_bool(0.5);
        self.power.set_remote_too(remote_too);
        self.fs.set_fault(Some(calls));
        let r = self.engine().sync_connection(CONNECTION).await;
        self.note_sync(&format!("sync with power cut after {calls} fs changes"), &r);
        if !self.power.is_down() {
            self.fs.set_fault(None);
            self.count("crash armed but sync finished first");
            return Ok(());
        }
        self.engine = None;
        self.events = None;
        let torn = self.rng.gen_bool(0.6);
        let kept = self.fs.crash(&mut self.rng, torn);
        self.count("crashes");
        if remote_too {
            self.count("crashes with remote cut too");
        }
        self.add("torn temp files kept", kept as u64);
        self.note(format!(
            "CRASH (remote cut too: {remote_too}, torn files kept: {kept}); restart"
        ));
        self.check_after_crash()?;
        self.open_engine()
    }

    /// After a crash every local file holds a version its path really held.
    fn check_after_crash(&self) -> Result<(), String> {
        let mut bad = Vec::new();
        for (path, c) in self.fs.tree(&root()) {
            let Content::File(data) = c else {
                continue;
            };
            let temp = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(TEMP_PREFIX));
            if temp {
                continue;
            }
            if !self.fs.has_held(&path, &data) {
                bad.push(format!(
                    "{}: {:?}",
                    path.display(),
                    String::from_utf8_lossy(&data)
                ));
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(self.violation(
                "after a crash a file holds a version its path never held (torn write)",
                bad.join("\n"),
            ))
        }
    }

    // -----------------------------------------------------------------------------------
    // The run
    // -----------------------------------------------------------------------------------

    async fn run(&mut self) -> Result<(), String> {
        let steps = self.plan.steps;
        let crashes = self.plan.crashes;
        let mut crashed = false;
        for step in 0..steps {
            let ms = if self.rng.gen_bool(0.03) {
                self.rng.gen_range(3_600_000..90_000_000)
            } else {
                self.rng.gen_range(1..3_000)
            };
            self.clock.advance(ms);
            let roll = self.rng.gen_range(0..100);
            self.note(format!("step {step}:"));
            match roll {
                0..=29 => self.user_action(Side::Local),
                30..=59 => self.user_action(Side::Remote),
                60..=64 => self.edit_delete_race(),
                65..=68 => self.both_edit(),
                69..=84 => self.sync().await,
                85..=90 => self.sync_with_user().await,
                _ if crashes => {
                    self.crash_sync().await?;
                    crashed |= self.cov.contains_key("crashes");
                }
                _ => self.sync().await,
            }
            if self.plan.lose_db_at == Some(step) {
                self.lose_database()?;
            }
        }
        // A crash seed crashes at least once: a few more actions, then a sync with the
        // power cut early enough to land in it.
        let mut tries = 0;
        while crashes && !crashed && tries < 10 {
            tries += 1;
            for _ in 0..3 {
                let side = if self.rng.gen_bool(0.5) {
                    Side::Local
                } else {
                    Side::Remote
                };
                self.clock.advance(1_000);
                self.user_action(side);
            }
            self.crash_sync().await?;
            crashed = self.cov.contains_key("crashes");
        }
        if crashed {
            self.count("seeds with a crash");
        }
        self.settle().await
    }

    /// The final sync, then the end-state invariants.
    async fn settle(&mut self) -> Result<(), String> {
        self.fs.set_fault(None);
        self.note("final sync:".into());
        let mut converged = false;
        for _ in 0..FINAL_SYNCS {
            self.clock.advance(1_000);
            let r = self.engine().sync_connection(CONNECTION).await;
            self.note_sync("final sync", &r);
            match &r {
                Ok(s) if s.ops == 0 => {
                    converged = true;
                    break;
                }
                Err(EngineError::NeedsApproval(..)) => self.maybe_approve(&r, 1.0),
                _ => {}
            }
        }
        if !converged {
            return Err(self.violation(
                "no convergence",
                format!("{FINAL_SYNCS} final syncs did not reach a sync with nothing to do"),
            ));
        }
        let planned = self
            .engine()
            .plan(CONNECTION)
            .await
            .map_err(|e| self.violation("plan after convergence failed", e.to_string()))?;
        if !planned.0.is_empty() {
            return Err(self.violation("plan not empty after convergence", planned.0.join("\n")));
        }
        self.check_same_trees()?;
        let remote = keyed(self.view(Side::Remote));
        let respelled = keyed(self.view(Side::Local))
            .into_iter()
            .filter(|(k, (p, _))| remote.get(k).is_some_and(|(rp, _)| rp != p))
            .count();
        self.add(
            "entries spelled differently on the two sides (NFC/NFD)",
            respelled as u64,
        );
        self.check_nothing_lost()
    }

    /// Both sides hold the same tree: the same entries (names compared in NFC, as the
    /// engine pairs them; each side keeps its own spelling) with the same contents.
    fn check_same_trees(&self) -> Result<(), String> {
        let content = |v: View| -> BTreeMap<RelPath, Content> {
            keyed(v).into_iter().map(|(k, (_, c))| (k, c)).collect()
        };
        let local = content(self.view(Side::Local));
        let remote = content(self.view(Side::Remote));
        if local == remote {
            for (p, c) in &local {
                if let Content::File(d) = c {
                    if !d.ends_with(END) {
                        return Err(self.violation(
                            "a synced file holds a truncated version",
                            format!("{p}: {:?}", String::from_utf8_lossy(d)),
                        ));
                    }
                }
            }
            return Ok(());
        }
        let mut diff = Vec::new();
        for (p, c) in &local {
            match remote.get(p) {
                None => diff.push(format!("only local: {p} {}", show(c))),
                Some(r) if r != c => {
                    diff.push(format!("differs: {p} local {} remote {}", show(c), show(r)))
                }
                _ => {}
            }
        }
        for (p, c) in &remote {
            if !local.contains_key(p) {
                diff.push(format!("only remote: {p} {}", show(c)));
            }
        }
        Err(self.violation("the sides differ after the final sync", diff.join("\n")))
    }

    fn check_nothing_lost(&mut self) -> Result<(), String> {
        let mut on_sides: HashSet<Vec<u8>> = HashSet::new();
        for side in [Side::Local, Side::Remote] {
            for c in self.view(side).into_values() {
                if let Content::File(d) = c {
                    on_sides.insert(d.to_vec());
                }
            }
        }
        let mut in_trash: HashSet<Vec<u8>> =
            self.local_trash().iter().map(|d| d.to_vec()).collect();
        in_trash.extend(self.remote.trash().into_iter().map(|(_, d)| d.to_vec()));
        let mut trashed = Vec::new();
        let mut lost = Vec::new();
        let mut raced = 0;
        for c in &self.live {
            if on_sides.contains(c) {
                continue;
            }
            let s = String::from_utf8_lossy(c).into_owned();
            if in_trash.contains(c) {
                if self.raced.contains(c) {
                    raced += 1;
                } else {
                    trashed.push(s);
                }
            } else {
                lost.push(s);
            }
        }
        self.add(
            "versions written mid-sync trashed by a racing folder delete",
            raced,
        );
        if !lost.is_empty() {
            lost.sort();
            return Err(self.violation(
                "content lost: a version a user wrote is nowhere",
                lost.join("\n"),
            ));
        }
        if !trashed.is_empty() {
            trashed.sort();
            return Err(self.violation(
                "an edit lost to a delete: a version a user wrote is only in a trash",
                trashed.join("\n"),
            ));
        }
        Ok(())
    }
}
