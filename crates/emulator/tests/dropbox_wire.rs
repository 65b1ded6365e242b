//! The Dropbox emulator over raw HTTP: the reference's verbatim request examples and test
//! vectors (provider-apis.md section 1), the error bodies field by field, paging and
//! cursors, longpoll, upload sessions and the OAuth endpoints.

use std::time::Duration;

use cloudsync_emulator::{spawn, Emulator, Options, Provider};
use serde_json::{json, Value};

const TOKEN: &str = "test-token";

async fn start() -> Emulator {
    spawn(
        Provider::Dropbox,
        "127.0.0.1:0".parse().expect("addr"),
        Options {
            accept_token: Some(TOKEN.into()),
            ..Options::default()
        },
    )
    .await
    .expect("emulator")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn result_header(&self) -> Value {
        let h = self
            .headers
            .get("dropbox-api-result")
            .expect("Dropbox-API-Result header");
        serde_json::from_slice(h.as_bytes()).expect("result JSON")
    }
}

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("body").to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// `files/list_folder` of the root with `token` as the bearer.
async fn list_root_as(e: &Emulator, token: &str) -> Answer {
    let resp = client()
        .post(format!("{}/2/files/list_folder", e.base_url))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(r#"{"path": ""}"#)
        .send()
        .await
        .expect("send");
    answer(resp).await
}

async fn rpc(e: &Emulator, route: &str, arg: &str) -> Answer {
    let resp = client()
        .post(format!("{}/2/{route}", e.base_url))
        .bearer_auth(TOKEN)
        .header("Content-Type", "application/json")
        .body(arg.to_string())
        .send()
        .await
        .expect("send");
    answer(resp).await
}

/// A content request with `arg` as the raw `Dropbox-API-Arg` header.
async fn content(e: &Emulator, route: &str, arg: &str, body: Vec<u8>) -> Answer {
    let resp = client()
        .post(format!("{}/2/{route}", e.base_url))
        .bearer_auth(TOKEN)
        .header("Dropbox-API-Arg", arg)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("send");
    answer(resp).await
}

async fn upload(e: &Emulator, path: &str, data: &[u8]) -> Value {
    let arg = json!({"path": path, "mode": "overwrite"}).to_string();
    let a = content(e, "files/upload", &arg, data.to_vec()).await;
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()
}

fn run<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("test took too long")
    });
}

#[test]
fn content_hash_of_uploads_matches_the_reference_vectors() {
    run(async {
        let e = start().await;
        let block = 4 * 1024 * 1024;
        let cases: [(Vec<u8>, &str); 4] = [
            (
                vec![],
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc".to_vec(),
                "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
            ),
            (
                vec![0; block],
                "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58",
            ),
            (
                vec![0; block + 1],
                "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6",
            ),
        ];
        for (i, (data, hash)) in cases.into_iter().enumerate() {
            let len = data.len();
            let m = upload(&e, &format!("/v{i}.bin"), &data).await;
            assert_eq!(m["content_hash"], hash);
            assert_eq!(m["size"], len);
            // A content_hash argument that does not match is refused.
            let arg = json!({"path": format!("/w{i}.bin"), "content_hash": "00".repeat(32)});
            let a = content(&e, "files/upload", &arg.to_string(), data).await;
            assert_eq!(a.status, 409);
            assert_eq!(
                a.json(),
                json!({"error_summary": "content_hash_mismatch/..", "error": {".tag": "content_hash_mismatch"}})
            );
        }
        e.stop().await;
    });
}

#[test]
fn the_dropbox_api_arg_header_is_ascii_with_escapes() {
    run(async {
        let e = start().await;
        // The json-encoding page's escapes, in a path.
        let arg = r#"{"path": "/some_\u00fc\u00f1\u00eec\u00f8d\u00e9_and_\u007f.txt"}"#;
        let a = content(&e, "files/upload", arg, b"x".to_vec()).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["name"], "some_üñîcødé_and_\u{7f}.txt");
        // The download answers with the metadata in a header that is itself escaped.
        let a = content(&e, "files/download", arg, vec![]).await;
        assert_eq!(a.status, 200);
        let raw = a.headers["dropbox-api-result"].as_bytes();
        assert!(raw.is_ascii());
        assert!(String::from_utf8_lossy(raw).contains(r"some_\u00fc\u00f1"));
        assert_eq!(a.result_header()["name"], "some_üñîcødé_and_\u{7f}.txt");
        assert_eq!(a.body, b"x");

        // Raw UTF-8 in the header is refused with Dropbox's plain-text 400.
        let resp = client()
            .post(format!("{}/2/files/upload", e.base_url))
            .bearer_auth(TOKEN)
            .header(
                "Dropbox-API-Arg",
                reqwest::header::HeaderValue::from_bytes("{\"path\": \"/ü.txt\"}".as_bytes())
                    .expect("header"),
            )
            .header("Content-Type", "application/octet-stream")
            .body("x")
            .send()
            .await
            .expect("send");
        let a = answer(resp).await;
        assert_eq!(a.status, 400);
        assert_eq!(
            a.text(),
            "Error in call to API function \"files/upload\": HTTP header \"Dropbox-API-Arg\": could not decode input as JSON"
        );

        // A surrogate pair is one character beyond the BMP: Dropbox refuses such names.
        let a = content(
            &e,
            "files/upload",
            r#"{"path": "/\ud83d\ude00.txt"}"#,
            b"x".to_vec(),
        )
        .await;
        assert_eq!(a.status, 409);
        assert_eq!(a.json()["error_summary"], "path/disallowed_name/..");

        // The `arg` URL parameter instead of the header (form-encoded UTF-8).
        let resp = client()
            .post(format!(
                "{}/2/files/download?arg=%7B%22path%22%3A+%22%2Fsome_%C3%BC%C3%B1%C3%AEc%C3%B8d%C3%A9_and_%7F.txt%22%7D",
                e.base_url
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("send");
        let a = answer(resp).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.body, b"x");
        e.stop().await;
    });
}

#[test]
fn auth_errors_are_worded_as_documented() {
    run(async {
        let e = start().await;
        let resp = client()
            .post(format!("{}/2/files/list_folder", e.base_url))
            .header("Content-Type", "application/json")
            .body(r#"{"path": ""}"#)
            .send()
            .await
            .expect("send");
        let a = answer(resp).await;
        assert_eq!(a.status, 400);
        assert!(
            a.text()
                .contains("Must provide HTTP header \"Authorization\""),
            "{}",
            a.text()
        );

        let a = list_root_as(&e, "made-up").await;
        assert_eq!(a.status, 401);
        assert_eq!(
            a.json(),
            json!({"error_summary": "invalid_access_token/", "error": {".tag": "invalid_access_token"}})
        );

        // A token from the token endpoint, then expired by the control endpoint.
        let grant = sign_in(&e, None).await;
        let access = grant["access_token"].as_str().expect("token").to_string();
        client()
            .post(format!("{}/__emulator/expire-tokens", e.base_url))
            .send()
            .await
            .expect("expire");
        let a = list_root_as(&e, &access).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            a.json(),
            json!({"error_summary": "expired_access_token/", "error": {".tag": "expired_access_token"}})
        );

        // The account revokes the app: its access and refresh tokens stop working.
        let grant = sign_in(&e, None).await;
        let access = grant["access_token"].as_str().expect("token").to_string();
        let refresh = grant["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_string();
        let resp = client()
            .post(format!("{}/__emulator/revoke", e.base_url))
            .json(&json!({"account": "ann"}))
            .send()
            .await
            .expect("revoke");
        assert_eq!(resp.status(), 204);
        let a = list_root_as(&e, &access).await;
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["error"][".tag"], "invalid_access_token");
        let resp = client()
            .post(format!("{}/oauth2/token", e.base_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=refresh_token&refresh_token={refresh}&client_id=app-key"
            ))
            .send()
            .await
            .expect("refresh");
        let a = answer(resp).await;
        assert_eq!(a.status, 400);
        assert_eq!(a.json()["error"], "invalid_grant");

        // A wrong Content-Type on an RPC route is a plain-text 400.
        let resp = client()
            .post(format!("{}/2/files/list_folder", e.base_url))
            .bearer_auth(TOKEN)
            .header("Content-Type", "text/plain")
            .body(r#"{"path": ""}"#)
            .send()
            .await
            .expect("send");
        let a = answer(resp).await;
        assert_eq!(a.status, 400);
        assert!(a.text().starts_with(
            "Error in call to API function \"files/list_folder\": Bad HTTP \"Content-Type\" header"
        ));
        e.stop().await;
    });
}

#[test]
fn the_stone_examples_and_their_errors() {
    run(async {
        let e = start().await;
        // create_folder_v2's example, then again: conflict/folder.
        let a = rpc(
            &e,
            "files/create_folder_v2",
            r#"{"path": "/Homework/math", "autorename": false}"#,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let folder = a.json()["metadata"].clone();
        assert_eq!(folder[".tag"], "folder");
        assert_eq!(folder["name"], "math");
        assert_eq!(folder["path_lower"], "/homework/math");
        assert_eq!(folder["path_display"], "/Homework/math");
        assert!(folder["id"].as_str().expect("id").starts_with("id:"));
        let a = rpc(
            &e,
            "files/create_folder_v2",
            r#"{"path": "/homework/MATH", "autorename": false}"#,
        )
        .await;
        assert_eq!(a.status, 409);
        assert_eq!(
            a.json(),
            json!({"error_summary": "path/conflict/folder/..", "error": {".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "folder"}}}})
        );

        // upload's first example (add, autorename), twice with different content.
        let add = r#"{"path": "/Homework/math/Matrices.txt", "mode": "add", "autorename": true, "mute": false, "strict_conflict": false}"#;
        let a = content(&e, "files/upload", add, b"one".to_vec()).await;
        assert_eq!(a.status, 200);
        let first = a.json();
        for key in [
            "id",
            "client_modified",
            "server_modified",
            "rev",
            "size",
            "is_downloadable",
            "content_hash",
        ] {
            assert!(
                first.get(key).is_some(),
                "FileMetadata lacks {key}: {first}"
            );
        }
        let rev = first["rev"].as_str().expect("rev");
        assert!(rev.len() >= 9 && rev.chars().all(|c| c.is_ascii_hexdigit()));
        let a = content(&e, "files/upload", add, b"two".to_vec()).await;
        assert_eq!(a.json()["name"], "Matrices (1).txt");

        // upload's second example: update a rev that is not the file's rev.
        let update = r#"{"path": "/Homework/math/Matrices.txt", "mode": {".tag": "update", "update": "a1c10ce0dd78"}, "autorename": false}"#;
        let a = content(&e, "files/upload", update, b"three".to_vec()).await;
        assert_eq!(a.status, 409);
        let body = a.json();
        assert_eq!(body["error_summary"], "path/conflict/file/..");
        assert_eq!(body["error"][".tag"], "path");
        assert_eq!(
            body["error"]["reason"],
            json!({".tag": "conflict", "conflict": {".tag": "file"}})
        );
        assert!(body["error"]["upload_session_id"].is_string());

        // list_folder's example.
        let a = rpc(
            &e,
            "files/list_folder",
            r#"{"path": "/Homework/math", "recursive": false}"#,
        )
        .await;
        assert_eq!(a.status, 200);
        let list = a.json();
        assert_eq!(list["has_more"], false);
        assert!(list["cursor"].is_string());
        let names: Vec<&str> = list["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|m| m["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["Matrices (1).txt", "Matrices.txt"]);

        // get_metadata's example, case-insensitively; the root is not supported.
        let a = rpc(&e, "files/get_metadata", r#"{"path": "/HOMEWORK/Math"}"#).await;
        assert_eq!(a.json(), folder);
        let a = rpc(&e, "files/get_metadata", r#"{"path": ""}"#).await;
        assert_eq!(a.status, 400);
        let a = rpc(&e, "files/get_metadata", r#"{"path": "/Homework/nothing"}"#).await;
        assert_eq!(
            a.json(),
            json!({"error_summary": "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}})
        );

        // move_v2's example keeps the id; the old path is gone.
        let a = rpc(
            &e,
            "files/move_v2",
            r#"{"from_path": "/Homework/math", "to_path": "/Homework/algebra"}"#,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let moved = a.json()["metadata"].clone();
        assert_eq!(moved["id"], folder["id"]);
        assert_eq!(moved["path_display"], "/Homework/algebra");
        let a = rpc(
            &e,
            "files/get_metadata",
            &json!({"path": first["id"]}).to_string(),
        )
        .await;
        assert_eq!(a.json()["path_display"], "/Homework/algebra/Matrices.txt");
        let a = rpc(
            &e,
            "files/move_v2",
            r#"{"from_path": "/Homework/math", "to_path": "/x"}"#,
        )
        .await;
        assert_eq!(a.json()["error_summary"], "from_lookup/not_found/..");
        let a = rpc(&e, "files/move_v2", r#"{"from_path": "/Homework/algebra/Matrices.txt", "to_path": "/Homework/algebra/Matrices (1).txt"}"#).await;
        assert_eq!(
            a.json()["error"],
            json!({".tag": "to", "to": {".tag": "conflict", "conflict": {".tag": "file"}}})
        );

        // list_revisions' example: the replaced version stays a revision.
        upload(&e, "/root/word.docx", b"v1").await;
        let v2 = upload(&e, "/root/word.docx", b"v2").await;
        let a = rpc(
            &e,
            "files/list_revisions",
            r#"{"path": "/root/word.docx", "mode": "path", "limit": 10}"#,
        )
        .await;
        let revs = a.json();
        assert_eq!(revs["is_deleted"], false);
        assert_eq!(revs["has_more"], false);
        let entries = revs["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["rev"], v2["rev"]);
        let old = entries[1]["rev"].as_str().expect("rev");
        let a = content(
            &e,
            "files/download",
            &json!({"path": format!("rev:{old}")}).to_string(),
            vec![],
        )
        .await;
        assert_eq!(a.body, b"v1");

        // delete_v2 answers the metadata the file had; parent_rev must match.
        let a = rpc(
            &e,
            "files/delete_v2",
            r#"{"path": "/root/word.docx", "parent_rev": "a1c10ce0dd78"}"#,
        )
        .await;
        assert_eq!(a.status, 409);
        assert_eq!(a.json()["error_summary"], "path_write/conflict/file/..");
        let a = rpc(&e, "files/delete_v2", r#"{"path": "/root/word.docx"}"#).await;
        assert_eq!(a.json()["metadata"]["rev"], v2["rev"]);
        let a = rpc(&e, "files/delete_v2", r#"{"path": "/root/word.docx"}"#).await;
        assert_eq!(a.json()["error_summary"], "path_lookup/not_found/..");
        let a = rpc(&e, "files/list_revisions", r#"{"path": "/root/word.docx"}"#).await;
        assert_eq!(a.json()["is_deleted"], true);
        let a = rpc(
            &e,
            "files/get_metadata",
            r#"{"path": "/root/word.docx", "include_deleted": true}"#,
        )
        .await;
        assert_eq!(
            a.json(),
            json!({".tag": "deleted", "name": "word.docx", "path_lower": "/root/word.docx", "path_display": "/root/word.docx"})
        );

        // list_folder/continue's example cursor is not one of ours: reset.
        let a = rpc(
            &e,
            "files/list_folder/continue",
            r#"{"cursor": "ZtkX9_EHj3x7PMkVuFIhwKYXEpwpLwyxp9vMKomUhllil9q7eWiAu"}"#,
        )
        .await;
        assert_eq!(a.status, 409);
        assert_eq!(
            a.json(),
            json!({"error_summary": "reset/..", "error": {".tag": "reset"}})
        );
        e.stop().await;
    });
}

#[test]
fn download_ranges_and_folders() {
    run(async {
        let e = start().await;
        upload(&e, "/r.txt", b"0123456789").await;
        let resp = client()
            .post(format!("{}/2/files/download", e.base_url))
            .bearer_auth(TOKEN)
            .header("Dropbox-API-Arg", r#"{"path": "/r.txt"}"#)
            .header("Range", "bytes=2-4")
            .send()
            .await
            .expect("send");
        let a = answer(resp).await;
        assert_eq!(a.status, 206);
        assert_eq!(a.body, b"234");
        assert_eq!(a.headers["content-range"], "bytes 2-4/10");
        assert_eq!(a.result_header()["size"], 10);
        // GET with the arg in the URL, and If-None-Match with the ETag: 304.
        let url = format!(
            "{}/2/files/download?arg=%7B%22path%22%3A%22%2Fr.txt%22%7D",
            e.base_url
        );
        let a = answer(
            client()
                .get(&url)
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!((a.status, a.body.as_slice()), (200, &b"0123456789"[..]));
        let etag = a.headers["etag"].clone();
        let a = answer(
            client()
                .get(&url)
                .bearer_auth(TOKEN)
                .header("If-None-Match", etag)
                .send()
                .await
                .expect("get"),
        )
        .await;
        assert_eq!(a.status, 304);
        assert!(a.body.is_empty());
        rpc(&e, "files/create_folder_v2", r#"{"path": "/d"}"#).await;
        let a = content(&e, "files/download", r#"{"path": "/d"}"#, vec![]).await;
        assert_eq!(a.json()["error_summary"], "path/not_file/..");
        e.stop().await;
    });
}

#[test]
fn paging_cursors_and_deltas() {
    run(async {
        let e = start().await;
        for i in 0..5 {
            upload(&e, &format!("/top/f{i}.txt"), format!("{i}").as_bytes()).await;
        }
        let mut seen = Vec::new();
        let a = rpc(
            &e,
            "files/list_folder",
            r#"{"path": "/top", "recursive": true, "limit": 2}"#,
        )
        .await;
        let mut page = a.json();
        loop {
            for m in page["entries"].as_array().expect("entries") {
                seen.push(m["path_display"].as_str().expect("path").to_string());
            }
            if page["has_more"] == false {
                break;
            }
            let c = json!({"cursor": page["cursor"]}).to_string();
            page = rpc(&e, "files/list_folder/continue", &c).await.json();
        }
        // The recursive listing starts with the folder itself.
        assert_eq!(
            seen,
            [
                "/top",
                "/top/f0.txt",
                "/top/f1.txt",
                "/top/f2.txt",
                "/top/f3.txt",
                "/top/f4.txt"
            ]
        );
        let cursor = page["cursor"].clone();
        let c = json!({"cursor": cursor}).to_string();
        let a = rpc(&e, "files/list_folder/continue", &c).await.json();
        assert_eq!(a["entries"], json!([]));
        assert_eq!(a["has_more"], false);

        // Changes: a delete shows as `deleted`, an edit as the new file, nothing outside.
        rpc(&e, "files/delete_v2", r#"{"path": "/top/f0.txt"}"#).await;
        upload(&e, "/top/f1.txt", b"edited").await;
        upload(&e, "/elsewhere.txt", b"x").await;
        let a = rpc(&e, "files/list_folder/continue", &c).await.json();
        let entries = a["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(
            entries[0],
            json!({".tag": "deleted", "name": "f0.txt", "path_lower": "/top/f0.txt", "path_display": "/top/f0.txt"})
        );
        assert_eq!(entries[1]["size"], 6);

        // Cursors reset by the control endpoint answer `reset`.
        client()
            .post(format!("{}/__emulator/dropbox/reset-cursors", e.base_url))
            .send()
            .await
            .expect("reset");
        let a = rpc(&e, "files/list_folder/continue", &c).await;
        assert_eq!(a.status, 409);
        assert_eq!(a.json()["error"], json!({".tag": "reset"}));

        // Limits are checked.
        let a = rpc(&e, "files/list_folder", r#"{"path": "", "limit": 0}"#).await;
        assert_eq!(a.status, 400);
        let a = rpc(&e, "files/list_folder", r#"{"path": "/top/f1.txt"}"#).await;
        assert_eq!(a.json()["error_summary"], "path/not_folder/..");
        e.stop().await;
    });
}

#[test]
fn longpoll_wakes_on_a_change_without_auth() {
    run(async {
        let e = start().await;
        rpc(&e, "files/create_folder_v2", r#"{"path": "/watched"}"#).await;
        let c = rpc(
            &e,
            "files/list_folder/get_latest_cursor",
            r#"{"path": "/watched", "recursive": true}"#,
        )
        .await
        .json()["cursor"]
            .clone();
        let url = format!("{}/2/files/list_folder/longpoll", e.base_url);
        let poll = |timeout: u64| {
            let url = url.clone();
            let body = json!({"cursor": c, "timeout": timeout}).to_string();
            async move {
                answer(
                    client()
                        .post(url)
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("send"),
                )
                .await
            }
        };
        assert_eq!(poll(10).await.status, 400, "timeout below 30 is refused");
        let waiting = tokio::spawn(poll(30));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // A change elsewhere does not wake it.
        upload(&e, "/other.txt", b"x").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished());
        let t = std::time::Instant::now();
        upload(&e, "/watched/new.txt", b"x").await;
        let a = waiting.await.expect("join");
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(a.status, 200);
        assert_eq!(a.json(), json!({"changes": true}));

        // When the service wants fewer polls, its answers carry a backoff.
        client()
            .post(format!(
                "{}/__emulator/dropbox/longpoll-backoff",
                e.base_url
            ))
            .header("Content-Type", "application/json")
            .body(r#"{"seconds": 5}"#)
            .send()
            .await
            .expect("switch");
        let a = poll(30).await;
        assert_eq!(a.json(), json!({"changes": true, "backoff": 5}));
        e.stop().await;
    });
}

#[test]
fn upload_session_offsets() {
    run(async {
        let e = start().await;
        let a = content(
            &e,
            "files/upload_session/start",
            r#"{"close": false}"#,
            b"abc".to_vec(),
        )
        .await;
        let id = a.json()["session_id"].as_str().expect("id").to_string();
        assert!(id.starts_with("pid_upload_session:"));
        // The chunk again at offset 0, as a client that lost the answer would send it.
        let arg = json!({"cursor": {"session_id": id, "offset": 0}, "close": false}).to_string();
        let a = content(&e, "files/upload_session/append_v2", &arg, b"abc".to_vec()).await;
        assert_eq!(a.status, 409);
        assert_eq!(
            a.json(),
            json!({"error_summary": "incorrect_offset/..", "error": {".tag": "incorrect_offset", "correct_offset": 3}})
        );
        let arg = json!({"cursor": {"session_id": id, "offset": 3}, "close": false}).to_string();
        let a = content(&e, "files/upload_session/append_v2", &arg, b"def".to_vec()).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.json(), Value::Null);
        let finish = |offset: u64| {
            json!({"cursor": {"session_id": id, "offset": offset}, "commit": {"path": "/s.txt", "mode": "add"}})
                .to_string()
        };
        let a = content(&e, "files/upload_session/finish", &finish(3), b"g".to_vec()).await;
        assert_eq!(
            a.json(),
            json!({"error_summary": "lookup_failed/incorrect_offset/..", "error": {".tag": "lookup_failed", "lookup_failed": {".tag": "incorrect_offset", "correct_offset": 6}}})
        );
        let a = content(&e, "files/upload_session/finish", &finish(6), b"g".to_vec()).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["size"], 7);
        let a = content(&e, "files/download", r#"{"path": "/s.txt"}"#, vec![]).await;
        assert_eq!(a.body, b"abcdefg");
        let a = content(&e, "files/upload_session/append_v2", &arg, b"h".to_vec()).await;
        assert_eq!(a.json()["error"], json!({".tag": "not_found"}));

        // A closed session takes no more data, but is finished with an empty body.
        let a = content(
            &e,
            "files/upload_session/start",
            r#"{"close": true}"#,
            b"xyz".to_vec(),
        )
        .await;
        let id = a.json()["session_id"].as_str().expect("id").to_string();
        let arg = json!({"cursor": {"session_id": id, "offset": 3}, "close": false}).to_string();
        let a = content(&e, "files/upload_session/append_v2", &arg, b"more".to_vec()).await;
        assert_eq!(a.json()["error"], json!({".tag": "closed"}));
        let commit =
            json!({"cursor": {"session_id": id, "offset": 3}, "commit": {"path": "/closed.txt"}})
                .to_string();
        let a = content(&e, "files/upload_session/finish", &commit, b"more".to_vec()).await;
        assert_eq!(a.json()["error_summary"], "lookup_failed/closed/..");
        let a = content(&e, "files/upload_session/finish", &commit, vec![]).await;
        assert_eq!(a.status, 200, "{}", a.text());
        assert_eq!(a.json()["size"], 3);
        e.stop().await;
    });
}

#[test]
fn rate_limits_carry_retry_after() {
    run(async {
        let e = start().await;
        client()
            .post(format!("{}/__emulator/faults", e.base_url))
            .header("Content-Type", "application/json")
            .body(r#"{"kind":"rate_limit","retry_after":7,"path_prefix":"/2/files/list_folder","times":1}"#)
            .send()
            .await
            .expect("fault");
        let a = rpc(&e, "files/list_folder", r#"{"path": ""}"#).await;
        assert_eq!(a.status, 429);
        assert_eq!(a.headers["retry-after"], "7");
        assert_eq!(
            a.json(),
            json!({"error_summary": "too_many_requests/..", "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 7}})
        );
        assert_eq!(
            rpc(&e, "files/list_folder", r#"{"path": ""}"#).await.status,
            200
        );
        e.stop().await;
    });
}

#[test]
fn write_contention_is_too_many_write_operations_as_429_or_route_error() {
    run(async {
        let e = start().await;
        upload(&e, "/busy.txt", b"x").await;
        for rule in [
            r#"{"kind":"write_contention","retry_after":3,"path_prefix":"/2/files/upload","times":1}"#,
            r#"{"kind":"write_contention","retry_after":3,"endpoint_error":true,"path_prefix":"/2/files/delete_v2","times":1}"#,
            r#"{"kind":"write_contention","retry_after":3,"endpoint_error":true,"path_prefix":"/2/files/upload","times":1}"#,
        ] {
            client()
                .post(format!("{}/__emulator/faults", e.base_url))
                .header("Content-Type", "application/json")
                .body(rule)
                .send()
                .await
                .expect("fault");
        }
        // The 429 form, as in the reference's forum example (no retry_after in the body;
        // the header is there, as on every rate-limited answer).
        let arg = json!({"path": "/new.txt", "mode": "add"}).to_string();
        let a = content(&e, "files/upload", &arg, b"y".to_vec()).await;
        assert_eq!(a.status, 429);
        assert_eq!(a.headers["retry-after"], "3");
        assert_eq!(
            a.json(),
            json!({"error_summary": "too_many_write_operations/", "error": {"reason": {".tag": "too_many_write_operations"}}})
        );
        // DeleteError has the tag itself.
        let a = rpc(&e, "files/delete_v2", r#"{"path": "/busy.txt"}"#).await;
        assert_eq!(a.status, 409);
        assert_eq!(
            a.json(),
            json!({"error_summary": "too_many_write_operations/..", "error": {".tag": "too_many_write_operations"}})
        );
        // UploadError: path -> UploadWriteFailed { reason: WriteError, upload_session_id }.
        let a = content(&e, "files/upload", &arg, b"y".to_vec()).await;
        assert_eq!(a.status, 409);
        let body = a.json();
        assert_eq!(body["error_summary"], "path/too_many_write_operations/..");
        assert_eq!(body["error"][".tag"], "path");
        assert_eq!(body["error"]["reason"][".tag"], "too_many_write_operations");
        assert!(body["error"]["upload_session_id"].is_string());
        // Nothing was written or deleted by the refused calls; the next ones go through.
        assert_eq!(
            rpc(&e, "files/delete_v2", r#"{"path": "/busy.txt"}"#)
                .await
                .status,
            200
        );
        assert_eq!(
            content(&e, "files/upload", &arg, b"y".to_vec())
                .await
                .status,
            200
        );
        e.stop().await;
    });
}

#[test]
fn hostile_names_appear_in_listings_when_switched_on() {
    run(async {
        let e = start().await;
        upload(&e, "/ok.txt", b"x").await;
        client()
            .post(format!("{}/__emulator/hostile-names", e.base_url))
            .header("Content-Type", "application/json")
            .body(r#"{"enabled": true}"#)
            .send()
            .await
            .expect("switch");
        let a = rpc(
            &e,
            "files/list_folder",
            r#"{"path": "", "recursive": true}"#,
        )
        .await
        .json();
        let names: Vec<&str> = a["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|m| m["name"].as_str().expect("name"))
            .collect();
        for n in ["ok.txt", "..", "a/b", "back\\slash", "nul\0name", "passwd"] {
            assert!(names.contains(&n), "{n:?} missing from {names:?}");
        }
        e.stop().await;
    });
}

/// The code flow with PKCE and no redirect (the code shown on a page), exchanged without a
/// secret. Returns the token answer.
async fn sign_in(e: &Emulator, redirect: Option<&str>) -> Value {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let mut q = format!(
        "client_id=app-key&response_type=code&token_access_type=offline&state=st8&code_challenge={challenge}&code_challenge_method=S256"
    );
    if let Some(r) = redirect {
        q.push_str(&format!(
            "&redirect_uri={}",
            form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
        ));
    }
    let page = answer(
        client()
            .get(format!("{}/oauth2/authorize?{q}", e.base_url))
            .send()
            .await
            .expect("page"),
    )
    .await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("id=\"allow\""));
    let resp = client()
        .post(format!("{}/oauth2/authorize", e.base_url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("{q}&account=ann&decision=allow"))
        .send()
        .await
        .expect("allow");
    let a = answer(resp).await;
    let code = match redirect {
        Some(r) => {
            assert_eq!(a.status, 302);
            let loc = a.headers["location"]
                .to_str()
                .expect("location")
                .to_string();
            assert!(loc.starts_with(r), "{loc}");
            assert!(loc.contains("state=st8"), "{loc}");
            let code = loc
                .split("code=")
                .nth(1)
                .expect("code")
                .split('&')
                .next()
                .expect("code");
            code.replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_")
        }
        None => {
            let t = a.text();
            let start = t.find("<code id=\"code\">").expect("code page") + 16;
            t[start..].split('<').next().expect("code").to_string()
        }
    };
    let mut form = format!(
        "grant_type=authorization_code&code={code}&client_id=app-key&code_verifier={verifier}"
    );
    if let Some(r) = redirect {
        form.push_str(&format!(
            "&redirect_uri={}",
            form_urlencoded::byte_serialize(r.as_bytes()).collect::<String>()
        ));
    }
    let a = answer(
        client()
            .post(format!("{}/oauth2/token", e.base_url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("token"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    a.json()
}

#[test]
fn oauth_code_flow_with_pkce_and_refresh() {
    run(async {
        let e = start().await;
        let grant = sign_in(&e, Some("http://127.0.0.1:9/cb")).await;
        assert_eq!(grant["token_type"], "bearer");
        assert_eq!(grant["expires_in"], 14400);
        for k in [
            "access_token",
            "refresh_token",
            "account_id",
            "uid",
            "scope",
        ] {
            assert!(grant[k].is_string(), "{k} missing: {grant}");
        }
        let access = grant["access_token"].as_str().expect("access");
        let me = answer(
            client()
                .post(format!("{}/2/users/get_current_account", e.base_url))
                .bearer_auth(access)
                .send()
                .await
                .expect("me"),
        )
        .await
        .json();
        assert_eq!(me["account_id"], grant["account_id"]);

        // Refresh: a new access token, no new refresh token, the old one still works.
        let refresh = grant["refresh_token"].as_str().expect("refresh");
        for _ in 0..2 {
            let a = answer(
                client()
                    .post(format!("{}/oauth2/token", e.base_url))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(format!(
                        "grant_type=refresh_token&refresh_token={refresh}&client_id=app-key"
                    ))
                    .send()
                    .await
                    .expect("refresh"),
            )
            .await;
            assert_eq!(a.status, 200, "{}", a.text());
            let j = a.json();
            assert!(j.get("refresh_token").is_none());
            assert_eq!(j["expires_in"], 14400);
        }

        // Without the verifier a PKCE code is refused; a used code is refused.
        let a = answer(
            client()
                .post(format!("{}/oauth2/token", e.base_url))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("grant_type=authorization_code&code=nope&client_id=app-key")
                .send()
                .await
                .expect("token"),
        )
        .await;
        assert_eq!(a.status, 401);
        assert_eq!(a.json()["error"], "invalid_client");

        // Revoking the access token ends it and its refresh token.
        let a = answer(
            client()
                .post(format!("{}/2/auth/token/revoke", e.base_url))
                .bearer_auth(access)
                .send()
                .await
                .expect("revoke"),
        )
        .await;
        assert_eq!(a.status, 200);
        let a = answer(
            client()
                .post(format!("{}/oauth2/token", e.base_url))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!(
                    "grant_type=refresh_token&refresh_token={refresh}&client_id=app-key"
                ))
                .send()
                .await
                .expect("refresh"),
        )
        .await;
        assert_eq!(a.status, 400);
        assert_eq!(a.json()["error"], "invalid_grant");
        e.stop().await;
    });
}

#[test]
fn state_in_a_data_folder_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let tmp = dir.path().to_path_buf();
    run(async {
        let options = Options {
            accept_token: Some(TOKEN.into()),
            data: Some(tmp.clone()),
            ..Options::default()
        };
        let addr = "127.0.0.1:0".parse().expect("addr");
        let e = spawn(Provider::Dropbox, addr, options.clone())
            .await
            .expect("emulator");
        let first = upload(&e, "/Keep/a.txt", b"one").await;
        upload(&e, "/Keep/a.txt", b"two").await;
        let cursor = rpc(
            &e,
            "files/list_folder/get_latest_cursor",
            r#"{"path": "", "recursive": true}"#,
        )
        .await
        .json()["cursor"]
            .clone();
        e.stop().await;

        let e = spawn(Provider::Dropbox, addr, options)
            .await
            .expect("restarted");
        let a = content(&e, "files/download", r#"{"path": "/keep/A.txt"}"#, vec![]).await;
        assert_eq!(a.body, b"two");
        assert_eq!(a.result_header()["id"], first["id"]);
        let revs = rpc(&e, "files/list_revisions", r#"{"path": "/Keep/a.txt"}"#)
            .await
            .json();
        assert_eq!(revs["entries"].as_array().map(Vec::len), Some(2));
        // Cursors from before the restart go on.
        upload(&e, "/Keep/b.txt", b"three").await;
        let page = rpc(
            &e,
            "files/list_folder/continue",
            &json!({"cursor": cursor}).to_string(),
        )
        .await
        .json();
        assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{page}");
        e.stop().await;
    });
}
