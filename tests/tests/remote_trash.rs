//! The remote trash on every backend with deletes of its own (local folder, WebDAV on
//! `rclone serve webdav`, S3 on `moto_server`): a delete goes into `.cloudsync-trash/DAY/`,
//! a permanent delete (the trash turned off) leaves nothing behind, a changed file is not
//! deleted, and purging removes exactly the day folders older than 30 days.
//!
//! The trash is inspected through a second backend rooted at the trash folder itself.

use std::sync::Arc;

use cloudsync_core::{Kind, Node, RelPath, Tree};
use cloudsync_engine::remote::{Remote, RemoteError};
use cloudsync_engine::trash::day_folder;
use cloudsync_providers::local::LocalFolder;
use cloudsync_providers::s3::S3;
use cloudsync_providers::webdav::WebDav;
use cloudsync_tests::run_for as run;
use cloudsync_tests::servers::{moto_installed, require, MotoS3, RcloneWebdav};

fn rel(s: &str) -> RelPath {
    RelPath::new(s).expect("valid path")
}

async fn put(r: &dyn Remote, path: &str, data: &str) -> Node {
    let mut src = data.as_bytes();
    r.upload(&rel(path), &mut src, data.len() as u64, 0, None)
        .await
        .expect("upload")
}

/// Every path the backend lists, folders with a trailing `/`.
async fn paths(r: &dyn Remote) -> Vec<String> {
    let mut out: Vec<String> = r
        .list(&Tree::new())
        .await
        .expect("list")
        .nodes
        .into_iter()
        .map(|n| match n.kind {
            Kind::Dir => format!("{}/", n.path),
            _ => n.path.as_str().to_string(),
        })
        .collect();
    out.sort();
    out
}

async fn node(r: &dyn Remote, path: &str) -> Node {
    r.list(&Tree::new())
        .await
        .expect("list")
        .nodes
        .into_iter()
        .find(|n| n.path.as_str() == path)
        .unwrap_or_else(|| panic!("{path} is listed"))
}

/// The whole check, on `remote` and `trash` (a backend rooted at its trash folder).
async fn check(remote: &dyn Remote, trash: &dyn Remote) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let today = day_folder(now);
    put(remote, "keep.txt", "keep").await;
    put(remote, "gone.txt", "gone").await;
    remote.mkdir(&rel("dir")).await.expect("mkdir");
    put(remote, "dir/a.txt", "a").await;
    put(remote, "changed.txt", "v1").await;

    let gone = node(remote, "gone.txt").await;
    remote.delete_permanently(&gone).await.expect("delete");
    let dir = node(remote, "dir").await;
    remote.delete_permanently(&dir).await.expect("delete dir");
    assert_eq!(paths(remote).await, ["changed.txt", "keep.txt"]);
    assert_eq!(
        paths(trash).await,
        Vec::<String>::new(),
        "a permanent delete leaves nothing in the trash"
    );

    // A file changed since it was listed is not deleted, permanently or not.
    let stale = node(remote, "changed.txt").await;
    let fresh = node(remote, "changed.txt").await;
    let mut v2 = "version 2".as_bytes();
    remote
        .upload(&rel("changed.txt"), &mut v2, 9, 0, Some(&fresh))
        .await
        .expect("replace");
    for result in [
        remote.delete_permanently(&stale).await,
        remote.delete(&stale).await,
    ] {
        assert!(
            matches!(result, Err(RemoteError::Changed(_))),
            "deleting a changed file: {result:?}"
        );
    }

    let keep = node(remote, "keep.txt").await;
    remote.delete(&keep).await.expect("delete into the trash");
    assert_eq!(paths(remote).await, ["changed.txt"]);

    trash.mkdir(&rel("2020-01-01")).await.expect("old day");
    put(trash, "2020-01-01/old.txt", "old").await;
    put(trash, "notes.txt", "not a day folder").await;
    assert_eq!(remote.purge_trash(now).await.expect("purge"), 1);
    assert_eq!(
        paths(trash).await,
        [
            format!("{today}/"),
            format!("{today}/keep.txt"),
            "notes.txt".to_string()
        ]
    );
    assert_eq!(remote.purge_trash(now).await.expect("purge again"), 0);
}

#[test]
fn local_folder_trash() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("remote");
    std::fs::create_dir_all(root.join(".cloudsync-trash")).expect("mkdir");
    let remote = LocalFolder::new(&root);
    let trash = LocalFolder::new(root.join(".cloudsync-trash"));
    run(30, check(&remote, &trash));
}

#[test]
fn webdav_trash() {
    require("rclone");
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(tmp.path().join("root/.cloudsync-trash")).expect("mkdir");
    let server = RcloneWebdav::start(tmp.path(), "u", "p").expect("rclone serve webdav");
    let url = format!("{}/root", server.base_url());
    let remote = WebDav::new(&url, "u", Some("p".into()), "").expect("backend");
    let trash = WebDav::new(&url, "u", Some("p".into()), ".cloudsync-trash").expect("backend");
    run(60, check(&remote, &trash));
}

#[test]
fn s3_trash() {
    assert!(
        moto_installed(),
        "`moto_server` is not installed: run scripts/ensure-deps.sh"
    );
    let server = MotoS3::start().expect("moto_server");
    let config = |prefix: &str| {
        serde_json::json!({
            "endpoint": server.base_url(),
            "bucket": "trash-test",
            "prefix": prefix,
            "region": "us-east-1",
            "access_key": "AKIDTEST",
            "secret_key": "test secret",
        })
    };
    let remote = Arc::new(S3::from_config(&config("root")).expect("backend"));
    let trash = S3::from_config(&config("root/.cloudsync-trash")).expect("backend");
    run(60, async {
        remote.create_bucket().await.expect("bucket");
        check(remote.as_ref(), &trash).await;
    });
}
