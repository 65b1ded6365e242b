//! [`SimRemote`]: an in-memory cloud, and [`SimClient`], the engine's connection to it.
//!
//! The remote is a server: its state survives the engine's crashes. Entries have stable
//! ids, revisions that grow with every write, and sha256 hashes. Uploads are conditional
//! (a replacing upload must name the current revision, a new one must find the name free),
//! renames never replace, and deletes move entries into a trash the checks can search.
//! Other clients' actions (`user_*`) change the state directly.
//!
//! The client yields to the scheduler inside its calls, so the transfers of a batch
//! interleave (and the simulated user can act in between), and once the power is cut it
//! fails every call, as a dead process would.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use cloudsync_core::tree::{descendants, move_subtree};
use cloudsync_core::{Capabilities, Kind, Node, RelPath, Tree};
use cloudsync_engine::clock::{Clock, ManualClock};
use cloudsync_engine::hash::hash_bytes;
use cloudsync_engine::remote::{Listing, Remote, RemoteError, RemoteFactory};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::fs::Power;

/// One remote entry.
#[derive(Debug, Clone)]
struct Entry {
    path: RelPath,
    id: String,
    rev: u64,
    mtime_ns: i64,
    /// `None` for a folder.
    data: Option<Arc<Vec<u8>>>,
}

impl Entry {
    fn node(&self) -> Node {
        match &self.data {
            None => Node::dir(self.path.clone(), Some(self.id.clone())),
            Some(d) => Node {
                path: self.path.clone(),
                kind: Kind::File,
                size: d.len() as u64,
                mtime_ns: self.mtime_ns,
                hash: Some(hash_bytes(d)),
                id: Some(self.id.clone()),
                rev: Some(self.rev.to_string()),
            },
        }
    }

    /// True when `node` still describes this entry (same id; same revision for files).
    fn matches(&self, node: &Node) -> bool {
        let kind_ok = (node.kind == Kind::Dir) == self.data.is_none();
        let id_ok = node.id.as_deref().is_none_or(|id| id == self.id);
        let rev_ok = self.data.is_none()
            || match &node.rev {
                Some(r) => *r == self.rev.to_string(),
                None => node.hash == self.data.as_ref().map(|d| hash_bytes(d)),
            };
        kind_ok && id_ok && rev_ok
    }
}

#[derive(Debug, Default)]
struct State {
    entries: BTreeMap<RelPath, Entry>,
    /// Everything deleted through the engine, as (path, content).
    trash: Vec<(RelPath, Arc<Vec<u8>>)>,
    next: u64,
}

impl State {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn parent_is_dir(&self, path: &RelPath) -> bool {
        match path.parent() {
            None => true,
            Some(p) => self.entries.get(&p).is_some_and(|e| e.data.is_none()),
        }
    }

    fn remove_tree(&mut self, path: &RelPath) -> Vec<(RelPath, Arc<Vec<u8>>)> {
        let mut keys: Vec<RelPath> = descendants(&self.entries, path)
            .map(|(k, _)| k.clone())
            .collect();
        keys.push(path.clone());
        let mut out = Vec::new();
        for k in keys {
            if let Some(Entry {
                data: Some(d),
                path,
                ..
            }) = self.entries.remove(&k)
            {
                out.push((path, d));
            }
        }
        out
    }

    fn move_tree(&mut self, from: &RelPath, to: &RelPath) {
        move_subtree(&mut self.entries, from, to, |k, e| e.path = k.clone());
    }
}

/// The in-memory cloud.
pub struct SimRemote {
    state: Mutex<State>,
    clock: Arc<ManualClock>,
    rng: Mutex<SmallRng>,
}

impl std::fmt::Debug for SimRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimRemote")
    }
}

/// What a remote entry holds, for checks and workloads.
pub type RemoteContent = super::fs::Content;

impl SimRemote {
    /// An empty remote; `seed` drives how its calls interleave.
    pub fn new(clock: Arc<ManualClock>, seed: u64) -> SimRemote {
        SimRemote {
            state: Mutex::new(State::default()),
            clock,
            rng: Mutex::new(SmallRng::seed_from_u64(seed ^ 0x005e_ed0f_c10d)),
        }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("sim remote lock poisoned")
    }

    fn now_ns(&self) -> i64 {
        self.clock.now_ms() * 1_000_000
    }

    /// Every entry with what it holds.
    pub fn tree(&self) -> Vec<(RelPath, RemoteContent)> {
        self.st()
            .entries
            .values()
            .map(|e| {
                let c = match &e.data {
                    None => RemoteContent::Dir,
                    Some(d) => RemoteContent::File(d.clone()),
                };
                (e.path.clone(), c)
            })
            .collect()
    }

    /// Contents the engine deleted (the remote's trash).
    pub fn trash(&self) -> Vec<(RelPath, Arc<Vec<u8>>)> {
        self.st().trash.clone()
    }

    /// Another client writes `content` at `path` (its folder must exist); returns the
    /// content replaced, or `None` when nothing was written.
    pub fn user_write(&self, path: &RelPath, content: &[u8]) -> Option<Option<Arc<Vec<u8>>>> {
        let now = self.now_ns();
        let mut st = self.st();
        if !st.parent_is_dir(path) {
            return None;
        }
        let old = st.entries.get(path).cloned();
        if old.as_ref().is_some_and(|e| e.data.is_none()) {
            return None;
        }
        let rev = st.next();
        let id = match &old {
            Some(e) => e.id.clone(),
            None => format!("id{}", st.next()),
        };
        st.entries.insert(
            path.clone(),
            Entry {
                path: path.clone(),
                id,
                rev,
                mtime_ns: now,
                data: Some(Arc::new(content.to_vec())),
            },
        );
        Some(old.and_then(|e| e.data))
    }

    /// Another client makes a folder; false when it cannot.
    pub fn user_mkdir(&self, path: &RelPath) -> bool {
        let now = self.now_ns();
        let mut st = self.st();
        if st.entries.contains_key(path) || !st.parent_is_dir(path) {
            return false;
        }
        let id = format!("id{}", st.next());
        let rev = st.next();
        st.entries.insert(
            path.clone(),
            Entry {
                path: path.clone(),
                id,
                rev,
                mtime_ns: now,
                data: None,
            },
        );
        true
    }

    /// Another client deletes `path` with its subtree; returns the contents removed.
    pub fn user_delete(&self, path: &RelPath) -> Vec<Arc<Vec<u8>>> {
        self.st()
            .remove_tree(path)
            .into_iter()
            .map(|(_, d)| d)
            .collect()
    }

    /// Another client renames or moves `from` to `to`; false when it cannot.
    pub fn user_rename(&self, from: &RelPath, to: &RelPath) -> bool {
        let mut st = self.st();
        if !st.entries.contains_key(from)
            || st.entries.contains_key(to)
            || !st.parent_is_dir(to)
            || to.is_within(from)
        {
            return false;
        }
        st.move_tree(from, to);
        true
    }

    /// Yields to the scheduler zero to two times, so concurrent calls interleave.
    async fn interleave(&self) {
        let n = self.rng.lock().map(|mut r| r.gen_range(0..3)).unwrap_or(0);
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    }

    fn list(&self) -> Vec<Node> {
        self.st().entries.values().map(Entry::node).collect()
    }

    fn find(&self, node: &Node) -> Result<Entry, RemoteError> {
        let st = self.st();
        match st.entries.get(&node.path) {
            None => Err(RemoteError::NotFound(node.path.to_string())),
            Some(e) if e.matches(node) => Ok(e.clone()),
            Some(_) => Err(RemoteError::Changed(format!(
                "{} changed since it was listed",
                node.path
            ))),
        }
    }

    fn put(
        &self,
        path: &RelPath,
        data: Vec<u8>,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let now = self.now_ns();
        let mut st = self.st();
        if !st.parent_is_dir(path) {
            return Err(RemoteError::NotFound(format!("folder of {path}")));
        }
        let id = match (replaces, st.entries.get(path)) {
            (Some(old), Some(cur)) if cur.matches(old) && cur.data.is_some() => cur.id.clone(),
            (Some(_), Some(_)) => {
                return Err(RemoteError::Changed(format!(
                    "{path} is no longer the version replaced"
                )))
            }
            (Some(_), None) => return Err(RemoteError::NotFound(path.to_string())),
            (None, Some(_)) => return Err(RemoteError::Changed(format!("{path} exists already"))),
            (None, None) => format!("id{}", st.next()),
        };
        let rev = st.next();
        let e = Entry {
            path: path.clone(),
            id,
            rev,
            mtime_ns: if mtime_ns > 0 { mtime_ns } else { now },
            data: Some(Arc::new(data)),
        };
        let node = e.node();
        st.entries.insert(path.clone(), e);
        Ok(node)
    }

    fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        let now = self.now_ns();
        let mut st = self.st();
        match st.entries.get(path) {
            Some(e) if e.data.is_none() => return Ok(e.node()),
            Some(_) => return Err(RemoteError::Changed(format!("{path} is a file"))),
            None => {}
        }
        if !st.parent_is_dir(path) {
            return Err(RemoteError::NotFound(format!("folder of {path}")));
        }
        let id = format!("id{}", st.next());
        let rev = st.next();
        let e = Entry {
            path: path.clone(),
            id,
            rev,
            mtime_ns: now,
            data: None,
        };
        let node = e.node();
        st.entries.insert(path.clone(), e);
        Ok(node)
    }

    fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.find(node)?;
        let mut st = self.st();
        if st.entries.contains_key(to) {
            return Err(RemoteError::Changed(format!("{to} exists already")));
        }
        if !st.parent_is_dir(to) {
            return Err(RemoteError::NotFound(format!("folder of {to}")));
        }
        if to.is_within(&node.path) {
            return Err(RemoteError::Other(format!(
                "cannot move {} into itself",
                node.path
            )));
        }
        st.move_tree(&node.path, to);
        Ok(st
            .entries
            .get(to)
            .map(Entry::node)
            .expect("just moved there"))
    }

    fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.find(node)?;
        let mut st = self.st();
        let removed = st.remove_tree(&node.path);
        st.trash.extend(removed);
        Ok(())
    }
}

/// The engine's connection to a [`SimRemote`]; it goes dark with the power.
#[derive(Debug, Clone)]
pub struct SimClient {
    remote: Arc<SimRemote>,
    power: Arc<Power>,
}

impl SimClient {
    fn alive(&self) -> Result<(), RemoteError> {
        if self.power.remote_down() {
            Err(RemoteError::Other(
                "simulated power cut: the client is dead".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Remote for SimClient {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            hash_kind: Some("sha256".into()),
            ..Capabilities::local_folder()
        }
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        self.alive()
    }

    async fn list(&self, _previous: &Tree) -> Result<Listing, RemoteError> {
        self.remote.interleave().await;
        self.alive()?;
        Ok(Listing {
            nodes: self.remote.list(),
            skipped: Vec::new(),
        })
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.alive()?;
        let e = self.remote.find(node)?;
        let data = e
            .data
            .ok_or_else(|| RemoteError::Other(format!("{} is a folder", node.path)))?;
        // Two chunks with a pause between them, so a power cut can tear the temp file.
        let mid = data.len() / 2;
        sink.write_all(&data[..mid])?;
        self.remote.interleave().await;
        self.alive()?;
        sink.write_all(&data[mid..])?;
        Ok(data.len() as u64)
    }

    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        _size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        self.alive()?;
        let mut data = Vec::new();
        source.read_to_end(&mut data)?;
        self.remote.interleave().await;
        self.alive()?;
        self.remote.put(path, data, mtime_ns, replaces)
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        self.remote.interleave().await;
        self.alive()?;
        self.remote.mkdir(path)
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.remote.interleave().await;
        self.alive()?;
        self.remote.rename(node, to)
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.remote.interleave().await;
        self.alive()?;
        self.remote.delete(node)
    }
}

/// Hands every connection the same [`SimRemote`].
#[derive(Debug, Clone)]
pub struct SimFactory {
    client: SimClient,
}

impl SimFactory {
    /// A factory for `remote`, whose client goes dark with `power`.
    pub fn new(remote: Arc<SimRemote>, power: Arc<Power>) -> SimFactory {
        SimFactory {
            client: SimClient { remote, power },
        }
    }
}

impl RemoteFactory for SimFactory {
    fn open(
        &self,
        _provider: &str,
        _config: &serde_json::Value,
    ) -> Result<Arc<dyn Remote>, RemoteError> {
        Ok(Arc::new(self.client.clone()))
    }
}
