//! Transfers of one batch run in parallel, bounded by the connection's `transfers`
//! setting: a remote whose transfers take a while sees exactly that many in flight.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::{Capabilities, ConnectionSettings, Node, RelPath, Tree};
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::remote::{Listing, Remote, RemoteError, RemoteFactory};
use cloudsync_engine::store::Store;
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};

/// Counts transfers in flight; each one takes a little while (as on a network).
#[derive(Default)]
struct Meter {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Meter {
    async fn around<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(30)).await;
        let out = work.await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

struct Slow {
    inner: Arc<dyn Remote>,
    meter: Arc<Meter>,
}

#[async_trait]
impl Remote for Slow {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn check_root(&self) -> Result<(), RemoteError> {
        self.inner.check_root().await
    }
    async fn prepare_root(&self) -> Result<(), RemoteError> {
        self.inner.prepare_root().await
    }
    async fn list(&self, previous: &Tree) -> Result<Listing, RemoteError> {
        self.inner.list(previous).await
    }
    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.meter.around(self.inner.download(node, sink)).await
    }
    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        self.meter
            .around(self.inner.upload(path, source, size, mtime_ns, replaces))
            .await
    }
    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        self.inner.mkdir(path).await
    }
    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.inner.rename(node, to).await
    }
    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.inner.delete(node).await
    }
}

struct SlowFactory(Arc<Meter>);

impl RemoteFactory for SlowFactory {
    fn open(
        &self,
        provider: &str,
        config: &serde_json::Value,
    ) -> Result<Arc<dyn Remote>, RemoteError> {
        let inner = cloudsync_providers::Factory.open(provider, config)?;
        Ok(Arc::new(Slow {
            inner,
            meter: self.0.clone(),
        }))
    }
}

fn engine(dir: &Path, meter: Arc<Meter>) -> Engine {
    let store = Store::open(&dir.join("db")).expect("opening the store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: "testhost".into(),
    };
    Engine::with_parts(store, ctx, Arc::new(SlowFactory(meter)))
}

fn max_in_flight(transfers: usize, upload: bool) -> usize {
    let dir = tempfile::tempdir().expect("temp dir");
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    std::fs::create_dir_all(&local).expect("local dir");
    std::fs::create_dir_all(&remote).expect("remote dir");
    let meter = Arc::new(Meter::default());
    let engine = engine(dir.path(), meter.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let settings = ConnectionSettings {
        transfers,
        ..ConnectionSettings::default()
    };
    runtime
        .block_on(engine.add_connection(AddConnection {
            name: "c".into(),
            provider: "local".into(),
            local_root: local.clone(),
            remote: serde_json::json!({ "path": remote }),
            credential: format!("local:{}", remote.display()),
            remote_local_dir: Some(remote.clone()),
            settings,
        }))
        .expect("adding the connection");
    let source = if upload { &local } else { &remote };
    for i in 0..16 {
        std::fs::write(source.join(format!("f{i}.txt")), format!("file {i}")).expect("write");
    }
    runtime
        .block_on(engine.sync_connection("c"))
        .expect("sync converges");
    let target = if upload { &remote } else { &local };
    for i in 0..16 {
        let got = std::fs::read_to_string(target.join(format!("f{i}.txt"))).expect("file arrived");
        assert_eq!(got, format!("file {i}"));
    }
    meter.max.load(Ordering::SeqCst)
}

#[test]
fn downloads_run_as_many_in_parallel_as_configured() {
    assert_eq!(max_in_flight(4, false), 4);
    assert_eq!(max_in_flight(1, false), 1);
}

#[test]
fn uploads_run_as_many_in_parallel_as_configured() {
    assert_eq!(max_in_flight(4, true), 4);
    assert_eq!(max_in_flight(6, true), 6);
}
