//! What the backend tests (`webdav`, `s3`, `conformance`) share: an engine over the real
//! providers on a store of its own, a sync that must succeed, byte-slice uploads and path
//! lookups on a remote, seeded pseudo-random content, an in-memory upload-session store
//! standing in for the engine's journal (the cloud tests resume uploads in a new client),
//! and the check that a revoked sign-in stops a sync.

use std::path::Path;
use std::sync::Arc;

use cloudsync_core::{Node, RelPath, Tree};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::store::Store;
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};

/// The host name the test engines report (it shows in conflict copy names).
pub const HOST: &str = "testhost";

/// A fresh engine over the real providers, on the local file system, with its store at
/// `db`.
///
/// # Panics
/// When the store cannot be opened.
pub fn engine(db: &Path) -> Engine {
    let store = Store::open(db).expect("opening the store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: HOST.into(),
    };
    Engine::with_parts(store, ctx, Arc::new(cloudsync_providers::Factory))
}

/// Syncs the connection `name`; the sync and every operation in it must succeed. Returns
/// how many operations changed something.
///
/// # Panics
/// When the sync fails or any operation in it failed.
pub async fn sync(engine: &Engine, name: &str) -> usize {
    let s = engine.sync_connection(name).await.expect("sync");
    assert!(s.failures.is_empty(), "sync failures: {:?}", s.failures);
    s.ops
}

/// `s` as a path, which the test knows to be valid.
///
/// # Panics
/// When it is not a valid relative path.
pub fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid path")
}

/// Uploads `data` to `path`: a new file, or replacing the version `replaces`.
pub async fn upload_bytes<R: Remote + ?Sized>(
    r: &R,
    path: &str,
    data: &[u8],
    replaces: Option<&Node>,
) -> Result<Node, RemoteError> {
    let mut src = data;
    r.upload(&rel(path), &mut src, data.len() as u64, 0, replaces)
        .await
}

/// The entry the remote lists at `path`, if any.
///
/// # Panics
/// When the remote cannot be listed.
pub async fn node_at<R: Remote + ?Sized>(r: &R, path: &str) -> Option<Node> {
    r.list(&Tree::new())
        .await
        .expect("list")
        .nodes
        .into_iter()
        .find(|n| n.path.as_str() == path)
}

/// An emulator of `provider` on a free port of 127.0.0.1 that takes `token` without a
/// sign-in.
///
/// # Panics
/// When it cannot start (a test fixture).
pub async fn emulator_accepting(
    provider: cloudsync_emulator::Provider,
    token: &str,
) -> cloudsync_emulator::Emulator {
    cloudsync_emulator::spawn(
        provider,
        "127.0.0.1:0".parse().expect("address"),
        cloudsync_emulator::Options {
            accept_token: Some(token.into()),
            ..cloudsync_emulator::Options::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("the {} emulator starts: {e}", provider.name()))
}

/// `len` bytes from `seed` (xorshift): content that does not compress and that the test
/// can make again.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Upload sessions kept in memory, standing in for the engine's journal across a restart.
/// The map is public so tests can look at or plant what a client saved.
#[derive(Default)]
pub struct MemorySessions(
    pub std::sync::Mutex<std::collections::HashMap<String, serde_json::Value>>,
);

impl cloudsync_engine::sessions::UploadSessions for MemorySessions {
    fn load(&self, key: &str) -> Option<serde_json::Value> {
        self.0.lock().ok()?.get(key).cloned()
    }
    fn save(&self, key: &str, _path: &RelPath, state: &serde_json::Value) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(key.into(), state.clone());
        }
    }
    fn forget(&self, key: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(key);
        }
    }
}

/// Syncs connection `name` once and checks that its credentials are refused (a revoked
/// sign-in): the round fails, the reason names the credentials, and the status asks for a
/// new sign-in (what the app's "Sign in again" panel shows on).
///
/// # Panics
/// When the sync goes through, or fails for another reason.
pub async fn assert_credentials_refused(engine: &Engine, name: &str) {
    let reason = match engine.sync_connection(name).await {
        Ok(s) => panic!(
            "a revoked sign-in must not sync (failures: {:?})",
            s.failures
        ),
        Err(err) => err.to_string(),
    };
    assert!(reason.contains("credentials"), "{reason}");
    assert!(
        sign_in_needed(engine, name),
        "the status must ask for a new sign-in"
    );
}

/// Whether connection `name`'s status asks for a new sign-in.
///
/// # Panics
/// When the engine has no status for it.
pub fn sign_in_needed(engine: &Engine, name: &str) -> bool {
    engine
        .status()
        .expect("status")
        .into_iter()
        .find(|s| s.name == name)
        .expect("a status for the connection")
        .sign_in_needed
}
