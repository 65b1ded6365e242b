//! Transfers of one batch run in parallel, bounded by the connection's `transfers`
//! setting: a remote whose transfers take a while sees exactly that many in flight.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cloudsync_core::ConnectionSettings;
use cloudsync_engine::clock::SystemClock;
use cloudsync_engine::engine::AddConnection;
use cloudsync_engine::localfs::StdFs;
use cloudsync_engine::store::Store;
use cloudsync_engine::sync::Context;
use cloudsync_engine::{Engine, EventBus};
use cloudsync_tests::scenario::faults::{Faults, FaultyFactory};

/// Syncs 16 new files one way with `transfers` set, each transfer taking 30 ms; returns
/// the most transfers seen in flight at once.
fn max_in_flight(transfers: usize, upload: bool) -> usize {
    let dir = tempfile::tempdir().expect("temp dir");
    let (local, remote) = (dir.path().join("local"), dir.path().join("remote"));
    std::fs::create_dir_all(&local).expect("local dir");
    std::fs::create_dir_all(&remote).expect("remote dir");
    let faults = Arc::new(Faults::default());
    faults.transfer_delay_ms.store(30, Ordering::SeqCst);
    let store = Store::open(&dir.path().join("db")).expect("opening the store");
    let ctx = Context {
        fs: Arc::new(StdFs),
        clock: Arc::new(SystemClock),
        events: EventBus::new(),
        host: "testhost".into(),
    };
    let factory = Arc::new(FaultyFactory {
        faults: faults.clone(),
    });
    let engine = Engine::with_parts(store, ctx, factory);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(engine.add_connection(AddConnection {
            name: "c".into(),
            provider: "local".into(),
            local_root: local.clone(),
            remote: serde_json::json!({ "path": remote }),
            credential: format!("local:{}", remote.display()),
            remote_local_dir: Some(remote.clone()),
            settings: ConnectionSettings {
                transfers,
                ..ConnectionSettings::default()
            },
        }))
        .expect("adding the connection");
    let (source, target) = if upload {
        (&local, &remote)
    } else {
        (&remote, &local)
    };
    for i in 0..16 {
        std::fs::write(source.join(format!("f{i}.txt")), format!("file {i}")).expect("write");
    }
    runtime
        .block_on(engine.sync_connection("c"))
        .expect("sync converges");
    for i in 0..16 {
        let got = std::fs::read_to_string(target.join(format!("f{i}.txt"))).expect("arrived");
        assert_eq!(got, format!("file {i}"));
    }
    faults.max_in_flight.load(Ordering::SeqCst)
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
