//! Folder browsing (`Remote::child_folders`, what the app's folder pickers show) on every
//! backend against its real server or emulator: one level at a time, folders only.
//! Every backend lists one level (Dropbox, Drive and Baidu by their one-folder calls,
//! WebDAV by a `Depth: 1` PROPFIND, S3 by the `/` delimiter, the local folder by one
//! directory read); the engine's default (the whole listing, one level kept), which a
//! backend without such a call gets, is checked on the simulated remote.

use std::sync::Arc;

use cloudsync_core::RelPath;
use cloudsync_emulator::Provider;
use cloudsync_engine::clock::ManualClock;
use cloudsync_engine::remote::{Remote, RemoteFactory};
use cloudsync_providers::Factory;
use cloudsync_tests::fixtures::emulator_accepting;
use cloudsync_tests::run_for as run;
use cloudsync_tests::servers::{require, RcloneWebdav, S3Kind};
use cloudsync_tests::sim::{Power, SimFactory, SimRemote};
use serde_json::json;

const TOKEN: &str = "browse-token";

fn rel(p: &str) -> RelPath {
    RelPath::new(p).expect("a valid path")
}

/// The folders `remote` shows inside `dir`, sorted, CloudSync's own left out (as the
/// pickers show them).
async fn shown(remote: &dyn Remote, dir: Option<&str>) -> Vec<String> {
    let dir = dir.map(rel);
    let mut names = remote
        .child_folders(dir.as_ref())
        .await
        .unwrap_or_else(|e| panic!("folders in {dir:?}: {e}"));
    names.retain(|n| !n.starts_with(".cloudsync"));
    names.sort();
    names
}

/// Builds a small tree through the backend itself, then browses it level by level.
async fn browse(provider: &str, config: serde_json::Value) {
    let remote = Factory.open(provider, &config).expect("the backend");
    browse_remote(provider, remote).await;
}

async fn browse_remote(provider: &str, remote: Arc<dyn Remote>) {
    remote.prepare_root().await.expect("preparing the root");
    for dir in [
        "Alpha",
        "Alpha/Inner",
        "Alpha/Inner/Deep",
        "Beta",
        "Beta Two",
    ] {
        remote.mkdir(&rel(dir)).await.expect(dir);
    }
    for file in ["top.txt", "Alpha/file.txt", "Alpha/Inner/Deep/deeper.txt"] {
        let mut body: &[u8] = b"x";
        remote
            .upload(&rel(file), &mut body, 1, 0, None)
            .await
            .expect(file);
    }
    let r = remote.as_ref();
    assert_eq!(
        shown(r, None).await,
        ["Alpha", "Beta", "Beta Two"],
        "{provider}"
    );
    assert_eq!(shown(r, Some("Alpha")).await, ["Inner"], "{provider}");
    assert_eq!(shown(r, Some("Alpha/Inner")).await, ["Deep"], "{provider}");
    assert!(shown(r, Some("Beta")).await.is_empty(), "{provider}");
}

#[test]
fn the_default_keeps_one_level_of_the_whole_listing() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let sim = Arc::new(SimRemote::new(clock, 7));
    let remote = SimFactory::new(sim, Arc::new(Power::default()))
        .open("sim", &json!({}))
        .expect("the simulated remote");
    run(60, browse_remote("sim", remote));
}

#[test]
fn the_local_folder_backend_lists_one_level() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let remote = tmp.path().join("remote");
    std::fs::create_dir_all(&remote).expect("remote dir");
    run(60, browse("local", json!({ "path": remote })));
}

#[test]
fn webdav_lists_one_level() {
    require("rclone");
    let tmp = tempfile::tempdir().expect("temp dir");
    let served = tmp.path().join("served");
    std::fs::create_dir_all(served.join("root")).expect("served root");
    let server = RcloneWebdav::start(&served, "u", "p").expect("rclone serve webdav");
    let config =
        json!({"url": format!("{}/root", server.base_url()), "user": "u", "password": "p"});
    run(60, browse("webdav", config));
}

fn s3_browse(kind: S3Kind) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let running = kind.start(&tmp.path().join("s3-data"));
    let (access, secret) = kind.credentials();
    let config = json!({
        "endpoint": running.base_url(),
        "bucket": "browse",
        "prefix": "root",
        "region": "us-east-1",
        "access_key": access,
        "secret_key": secret,
    });
    run(60, async {
        cloudsync_providers::s3::S3::from_config(&config)
            .expect("backend")
            .create_bucket()
            .await
            .expect("bucket");
        browse("s3", config).await;
    });
}

#[test]
fn s3_lists_one_level_on_moto() {
    s3_browse(S3Kind::Moto);
}

#[test]
fn s3_lists_one_level_on_s3rver() {
    s3_browse(S3Kind::S3rver);
}

fn on_emulator(provider: Provider, name: &str, config: impl FnOnce(&str) -> serde_json::Value) {
    run(60, async {
        let emu = emulator_accepting(provider, TOKEN).await;
        browse(name, config(&emu.base_url)).await;
        emu.stop().await;
    });
}

#[test]
fn dropbox_lists_one_level() {
    on_emulator(
        Provider::Dropbox,
        "dropbox",
        |base| json!({"api_base": base, "access_token": TOKEN, "root": "/CloudSync"}),
    );
}

#[test]
fn google_drive_lists_one_level() {
    on_emulator(
        Provider::Gdrive,
        "gdrive",
        |base| json!({"api_base": base, "app_key": "browse", "access_token": TOKEN, "root": "CloudSync"}),
    );
}

#[test]
fn baidu_lists_one_level() {
    on_emulator(Provider::Baidu, "baidu", |base| {
        json!({"app_name": "CloudSync", "api_base": base, "access_token": TOKEN,
               "listall_per_minute": 0})
    });
}
