//! Transfers of one batch run in parallel: large files (1 MiB and up) bounded by the
//! connection's `transfers` setting, small ones by four times that. A remote whose
//! transfers take a while sees exactly that many in flight.

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

/// Syncs 40 new files of `size` bytes one way with `transfers` set, each transfer taking
/// 30 ms; returns the most transfers seen in flight at once.
fn max_in_flight(transfers: usize, upload: bool, size: usize) -> usize {
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
    let content = |i: usize| {
        let mut c = format!("file {i} ").into_bytes();
        c.resize(size.max(c.len()), b'x');
        c
    };
    for i in 0..FILES {
        std::fs::write(source.join(format!("f{i}.txt")), content(i)).expect("write");
    }
    runtime
        .block_on(engine.sync_connection("c"))
        .expect("sync converges");
    for i in 0..FILES {
        let got = std::fs::read(target.join(format!("f{i}.txt"))).expect("arrived");
        assert!(got == content(i), "f{i}.txt arrived whole");
    }
    faults.max_in_flight.load(Ordering::SeqCst)
}

const FILES: usize = 40;
const LARGE: usize = 1024 * 1024;
const SMALL: usize = 10;

#[test]
fn large_downloads_run_as_many_in_parallel_as_configured() {
    assert_eq!(max_in_flight(4, false, LARGE), 4);
    assert_eq!(max_in_flight(1, false, LARGE), 1);
}

#[test]
fn large_uploads_run_as_many_in_parallel_as_configured() {
    assert_eq!(max_in_flight(4, true, LARGE), 4);
    assert_eq!(max_in_flight(6, true, LARGE), 6);
}

#[test]
fn small_files_run_four_times_as_many() {
    assert_eq!(max_in_flight(4, true, SMALL), 16);
    assert_eq!(max_in_flight(2, false, SMALL), 8);
    assert_eq!(max_in_flight(1, true, SMALL), 4);
}
