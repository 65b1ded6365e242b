//! `kill -9` of the real `cloudsync` process in the middle of a multi-chunk upload to the
//! emulated Dropbox, then a new process: the upload resumes from the session the killed
//! one saved in its journal, so the bytes the emulator received in all stay under the file
//! size plus one chunk, and the file arrives whole.
//!
//! The binary is built by `cargo test --workspace` (or `cargo build -p cloudsync-cli`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloudsync_core::Tree;
use cloudsync_emulator::{Options, Provider};
use cloudsync_engine::hash::{hash_reader_as, HashKind};
use cloudsync_engine::remote::RemoteFactory;

const TOKEN: &str = "kill-test-token";
/// The Dropbox client's session chunk (its default).
const CHUNK: u64 = 8 << 20;
/// Six chunks.
const SIZE: u64 = 6 * CHUNK;
/// Room for the JSON bodies of the RPC calls (listings, cursors) in the byte count.
const RPC_SLACK: u64 = 64 << 10;

fn cloudsync(config: &std::path::Path) -> Command {
    let mut c = Command::new(cloudsync_tests::cloudsync_binary());
    c.arg("--config-dir")
        .arg(config)
        .env("CLOUDSYNC_SECRETS", "file")
        .env("KILL_TEST_TOKEN", TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

#[test]
fn a_killed_upload_resumes_where_dropbox_has_it() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let emulator = rt
        .block_on(cloudsync_emulator::spawn(
            Provider::Dropbox,
            "127.0.0.1:0".parse().expect("address"),
            Options {
                accept_token: Some(TOKEN.into()),
                ..Options::default()
            },
        ))
        .expect("emulator");
    let base = emulator.base_url.clone();
    let tmp = tempfile::tempdir().expect("tmp");
    let (config, local) = (tmp.path().join("config"), tmp.path().join("local"));
    std::fs::create_dir_all(&local).expect("local");
    let add = cloudsync(&config)
        .args(["connection", "add", "dropbox", "--name", "d", "--local"])
        .arg(&local)
        .args([
            "--app-key",
            "k",
            "--api-base",
            &base,
            "--token-env",
            "KILL_TEST_TOKEN",
        ])
        .output()
        .expect("connection add");
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );

    let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(local.join("big.bin"), &data).expect("write");
    // Slow chunks, so the process is surely mid-upload when it dies.
    emulator
        .context
        .faults
        .add(cloudsync_emulator::faults::FaultRule {
            fault: cloudsync_emulator::faults::Fault::Slow { millis: 400 },
            path_prefix: Some("/2/files/upload_session/append".into()),
            times: None,
        });
    emulator.context.faults.reset_stats();
    let mut first = cloudsync(&config)
        .args(["sync", "--once", "d"])
        .spawn()
        .expect("first sync");
    let deadline = Instant::now() + Duration::from_secs(60);
    while emulator.context.faults.stats().bytes_received < 2 * CHUNK + CHUNK / 2 {
        assert!(Instant::now() < deadline, "the upload never got going");
        assert!(
            first.try_wait().expect("poll").is_none(),
            "the first sync ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("kill -9");
    let status = first.wait().expect("reap");
    assert!(!status.success());
    let before = emulator.context.faults.stats().bytes_received;
    emulator.context.faults.clear();

    let second = cloudsync(&config)
        .args(["sync", "--once", "d"])
        .output()
        .expect("second sync");
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let total = emulator.context.faults.stats().bytes_received;
    eprintln!("kill -9 mid-upload: {before} bytes received before the kill, {total} in all, for a {SIZE}-byte file");
    // Besides file bytes, the count holds the small JSON bodies of the listing calls.
    assert!(
        total <= SIZE + CHUNK + RPC_SLACK,
        "the emulator received {total} bytes in all ({before} before the kill) for a \
         {SIZE}-byte file: more than one chunk was sent twice"
    );

    // The file is there whole: Dropbox's content_hash of it is the local file's.
    let client = cloudsync_providers::Factory
        .open(
            "dropbox",
            &serde_json::json!({"api_base": base, "access_token": TOKEN, "app_key": "k"}),
        )
        .expect("client");
    let listing = rt.block_on(client.list(&Tree::new())).expect("list");
    let node = listing
        .nodes
        .iter()
        .find(|n| n.path.as_str() == "big.bin")
        .expect("big.bin is on Dropbox");
    let (local_hash, _) = hash_reader_as(&data[..], HashKind::Dropbox).expect("hash");
    assert_eq!(node.size, SIZE);
    assert_eq!(node.hash.as_deref(), Some(local_hash.as_str()));
    rt.block_on(emulator.stop());
}
