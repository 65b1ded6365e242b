//! `kill -9` of the real `cloudsync` process in the middle of a multi-chunk upload to each
//! emulated cloud (Dropbox upload sessions, Google Drive resumable uploads, Baidu's
//! precreate + superfile2 blocks), then a new process: the upload resumes from the session
//! the killed one saved in its journal, so the bytes the emulator received in all stay
//! under the file size plus one chunk, and the file arrives whole.
//!
//! The binary is built by `cargo test --workspace` (or `cargo build -p cloudsync-cli`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cloudsync_core::{Kind, Tree};
use cloudsync_emulator::faults::{Fault, FaultRule};
use cloudsync_emulator::Provider;
use cloudsync_engine::remote::RemoteFactory;
use cloudsync_tests::fixtures::emulator_accepting;

const TOKEN: &str = "kill-test-token";
/// Room for the JSON bodies of the RPC calls (listings, cursors) in the byte count.
const RPC_SLACK: u64 = 64 << 10;

/// One provider's upload protocol as this test needs to know it.
struct Case {
    provider: Provider,
    /// The client's chunk (Dropbox, Drive) or block (Baidu) size.
    chunk: u64,
    /// The path of the requests that carry the file's bytes.
    upload_path: &'static str,
}

fn cloudsync(config: &std::path::Path) -> Command {
    let mut c = Command::new(cloudsync_tests::cloudsync_binary());
    c.arg("--config-dir")
        .arg(config)
        .env("CLOUDSYNC_SECRETS", "file")
        .env("KILL_TEST_TOKEN", TOKEN)
        // Baidu's folder is /apps/<app name>.
        .env("CLOUDSYNC_BAIDU_APP_NAME", "CloudSync")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn killed_upload_resumes(case: Case) {
    let id = case.provider.name();
    let size = 6 * case.chunk;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let emulator = rt.block_on(emulator_accepting(case.provider, TOKEN));
    let base = emulator.base_url.clone();
    if case.provider == Provider::Baidu {
        // Real Baidu allows about 10 listall calls a minute (tested in baidu.rs); three
        // processes listing here would wait that out for nothing.
        let r = rt
            .block_on(
                reqwest::Client::new()
                    .post(format!("{base}/__emulator/baidu/settings"))
                    .json(&serde_json::json!({"listall_per_minute": 0}))
                    .send(),
            )
            .expect("emulator settings");
        assert!(r.status().is_success(), "emulator settings: {}", r.status());
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let (config, local) = (tmp.path().join("config"), tmp.path().join("local"));
    std::fs::create_dir_all(&local).expect("local");
    let add = cloudsync(&config)
        .args(["connection", "add", id, "--name", "c", "--local"])
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
        "{id}: {}",
        String::from_utf8_lossy(&add.stderr)
    );

    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(local.join("big.bin"), &data).expect("write");
    // Slow chunks, so the process is surely mid-upload when it dies.
    emulator.context.faults.add(FaultRule {
        fault: Fault::Slow { millis: 400 },
        path_prefix: Some(case.upload_path.into()),
        times: None,
    });
    emulator.context.faults.reset_stats();
    let mut first = cloudsync(&config)
        .args(["sync", "--once", "c"])
        .spawn()
        .expect("first sync");
    let deadline = Instant::now() + Duration::from_secs(90);
    while emulator.context.faults.stats().bytes_received < 2 * case.chunk + case.chunk / 2 {
        assert!(
            Instant::now() < deadline,
            "{id}: the upload never got going"
        );
        assert!(
            first.try_wait().expect("poll").is_none(),
            "{id}: the first sync ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().expect("kill -9");
    let status = first.wait().expect("reap");
    assert!(!status.success());
    let before = emulator.context.faults.stats().bytes_received;
    emulator.context.faults.clear();

    let second = cloudsync(&config)
        .args(["sync", "--once", "c"])
        .output()
        .expect("second sync");
    assert!(
        second.status.success(),
        "{id}: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    let total = emulator.context.faults.stats().bytes_received;
    eprintln!(
        "{id}: kill -9 mid-upload: {before} bytes received before the kill, {total} in all, \
         for a {size}-byte file"
    );
    assert!(
        total <= size + case.chunk + RPC_SLACK,
        "{id}: the emulator received {total} bytes in all ({before} before the kill) for a \
         {size}-byte file: more than one chunk was sent twice"
    );

    // The file is there whole, byte for byte.
    let client = cloudsync_providers::Factory
        .open(
            id,
            &serde_json::json!({
                "api_base": base, "access_token": TOKEN, "app_key": "k",
                "app_name": "CloudSync", "listall_per_minute": 0,
            }),
        )
        .expect("client");
    let listing = rt.block_on(client.list(&Tree::new())).expect("list");
    let node = listing
        .nodes
        .iter()
        .find(|n| n.kind == Kind::File && n.path.as_str().ends_with("big.bin"))
        .unwrap_or_else(|| panic!("{id}: big.bin is not on the remote"));
    assert_eq!(node.size, size, "{id}");
    let mut remote = Vec::new();
    rt.block_on(client.download(node, &mut remote))
        .expect("download");
    assert!(
        remote == data,
        "{id}: the remote file differs from the local one"
    );
    rt.block_on(emulator.stop());
}

#[test]
fn a_killed_upload_resumes_where_dropbox_has_it() {
    killed_upload_resumes(Case {
        provider: Provider::Dropbox,
        chunk: 8 << 20,
        upload_path: "/2/files/upload_session/append",
    });
}

#[test]
fn a_killed_upload_resumes_where_google_drive_has_it() {
    killed_upload_resumes(Case {
        provider: Provider::Gdrive,
        chunk: 8 << 20,
        upload_path: "/upload/drive/v3/files",
    });
}

#[test]
fn a_killed_upload_resumes_with_the_blocks_baidu_has() {
    killed_upload_resumes(Case {
        provider: Provider::Baidu,
        chunk: 4 << 20,
        upload_path: "/rest/2.0/pcs/superfile2",
    });
}
