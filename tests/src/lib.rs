//! Test support for CloudSync's integration tests.
//!
//! - [`sim`]: the deterministic simulation (in-memory filesystem with crash semantics,
//!   in-memory remote, seeded workloads);
//! - [`corpus`]: the odd-names corpus with the outcome expected per backend and server;
//! - [`scenario`]: the scenario format (act on local/remote, sync, expect trees);
//! - [`servers`]: real servers (rclone's WebDAV, WsgiDAV, moto and s3rver for S3) on free
//!   local ports, for backend tests;
//! - [`proxy`]: a TCP proxy that cuts connections mid-upload or mid-download;
//! - [`fixtures`]: what the backend tests share (an engine on a store, syncing, upload
//!   and lookup helpers, seeded data).

pub mod corpus;
pub mod fixtures;
pub mod proxy;
pub mod scenario;
pub mod servers;
pub mod sim;

use std::path::{Path, PathBuf};

/// The `cloudsync` binary, built beforehand (the process tests run the real thing).
pub fn cloudsync_binary() -> PathBuf {
    // A test runs as target/<profile>/deps/NAME-<hash>; the CLI is target/<profile>/cloudsync.
    let beside = std::env::current_exe().ok().and_then(|exe| {
        exe.parent()
            .and_then(Path::parent)
            .map(|d| d.join("cloudsync"))
    });
    if let Some(p) = beside.filter(|p| p.is_file()) {
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        });
    let p = target.join("debug").join("cloudsync");
    assert!(
        p.is_file(),
        "the cloudsync binary is not built (looked beside the test binary and at {}); \
         run `cargo build -p cloudsync-cli` first (`cargo test --workspace` builds it too)",
        p.display()
    );
    p
}

/// Runs `f` on a multi-threaded runtime, failing after `secs` (backend tests talk to real
/// servers, which must never hang a test run).
pub fn run_for<F: std::future::Future<Output = ()>>(secs: u64, f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(secs), f)
            .await
            .expect("the test took too long");
    });
}
