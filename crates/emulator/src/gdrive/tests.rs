//! The Drive emulator over raw HTTP: the reference's verbatim error examples, the 308
//! resume protocol, paging, the change feed, partial responses, downloads with `Range`,
//! the OAuth pages, and the fault wording. Answers are checked field by field.

use std::time::Duration;

use reqwest::header::{CONTENT_RANGE, LOCATION, RANGE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::oauth::pkce_s256;
use crate::server::{spawn, Emulator, Options, Provider};

const TOKEN: &str = "test-token";

async fn start() -> (Emulator, Client) {
    let emu = spawn(
        Provider::Gdrive,
        "127.0.0.1:0".parse().expect("addr"),
        Options {
            accept_token: Some(TOKEN.into()),
            ..Options::default()
        },
    )
    .await
    .expect("emulator starts");
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    (emu, client)
}

async fn body(r: reqwest::Response) -> Value {
    r.json::<Value>().await.expect("a JSON body")
}

async fn folder(emu: &Emulator, c: &Client, name: &str, parent: &str) -> String {
    let r = c
        .post(format!("{}/drive/v3/files", emu.base_url))
        .bearer_auth(TOKEN)
        .json(&json!({"name": name, "mimeType": "application/vnd.google-apps.folder", "parents": [parent]}))
        .send()
        .await
        .expect("create folder");
    assert_eq!(r.status(), StatusCode::OK);
    body(r).await["id"].as_str().expect("id").to_string()
}

async fn multipart(emu: &Emulator, c: &Client, meta: Value, data: &[u8]) -> Value {
    let mut payload = Vec::new();
    payload.extend_from_slice(b"--xyz\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n");
    payload.extend_from_slice(meta.to_string().as_bytes());
    payload.extend_from_slice(b"\r\n--xyz\r\nContent-Type: application/octet-stream\r\n\r\n");
    payload.extend_from_slice(data);
    payload.extend_from_slice(b"\r\n--xyz--\r\n");
    let r = c
        .post(format!(
            "{}/upload/drive/v3/files?uploadType=multipart&fields=id,name,size,md5Checksum,version,headRevisionId,parents,modifiedTime,mimeType",
            emu.base_url
        ))
        .bearer_auth(TOKEN)
        .header("content-type", "multipart/related; boundary=xyz")
        .body(payload)
        .send()
        .await
        .expect("multipart upload");
    assert_eq!(r.status(), StatusCode::OK, "multipart upload");
    body(r).await
}

#[tokio::test]
async fn errors_have_drives_shape() {
    let (emu, c) = start().await;
    let r = c
        .get(format!("{}/drive/v3/files/nope", emu.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body(r).await,
        json!({"error": {"code": 404, "message": "File not found: nope.", "errors": [
            {"domain": "global", "reason": "notFound", "message": "File not found: nope.",
             "location": "fileId", "locationType": "parameter"}]}})
    );

    let r = c
        .get(format!("{}/drive/v3/files", emu.base_url))
        .bearer_auth("made-up")
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer")));
    let b = body(r).await;
    assert_eq!(b["error"]["code"], 401);
    assert_eq!(b["error"]["errors"][0]["reason"], "authError");
    assert_eq!(b["error"]["errors"][0]["location"], "Authorization");

    // The reference's first verbatim example (2.10): orderBy with a fullText query.
    let r = c
        .get(format!("{}/drive/v3/files", emu.base_url))
        .bearer_auth(TOKEN)
        .query(&[("q", "fullText contains 'x'"), ("orderBy", "name")])
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let expected: Value = serde_json::from_str(
        r#"{
  "error": {
    "code": 400,
    "errors": [
      {
        "domain": "global",
        "location": "orderBy",
        "locationType": "parameter",
        "message": "Sorting is not supported for queries with fullText terms. Results are always in descending relevance order.",
        "reason": "badRequest"
      }
    ],
    "message": "Sorting is not supported for queries with fullText terms. Results are always in descending relevance order."
  }
}"#,
    )
    .expect("verbatim example");
    assert_eq!(body(r).await, expected);

    // A broken query and a missing `fields` on about.
    let r = c
        .get(format!("{}/drive/v3/files", emu.base_url))
        .bearer_auth(TOKEN)
        .query(&[("q", "name = ")])
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b = body(r).await;
    assert_eq!(b["error"]["errors"][0]["reason"], "invalid");
    assert_eq!(b["error"]["errors"][0]["location"], "q");
    let r = c
        .get(format!("{}/drive/v3/about", emu.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("about");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    emu.stop().await;
}

#[tokio::test]
async fn keep_forever_and_the_verbatim_refusal() {
    let (emu, c) = start().await;
    let f = multipart(&emu, &c, json!({"name": "a.txt"}), b"one").await;
    let id = f["id"].as_str().expect("id");
    let rev = f["headRevisionId"].as_str().expect("rev");
    let url = format!("{}/drive/v3/files/{id}/revisions/{rev}", emu.base_url);
    let r = c
        .patch(&url)
        .bearer_auth(TOKEN)
        .query(&[("fields", "id,keepForever")])
        .json(&json!({"keepForever": true}))
        .send()
        .await
        .expect("pin");
    assert_eq!(body(r).await, json!({"id": rev, "keepForever": true}));
    let r = c
        .patch(&url)
        .bearer_auth(TOKEN)
        .json(&json!({"keepForever": false}))
        .send()
        .await
        .expect("unpin");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The reference's second verbatim example (2.10).
    let expected: Value = serde_json::from_str(
        r#"{
 "error": {
  "errors": [
   {
    "domain": "global",
    "reason": "illegalKeepForeverModification",
    "message": "Bad Request. Cannot update a revision to false that is marked as keepForever."
   }
  ],
  "code": 400,
  "message": "Bad Request. Cannot update a revision to false that is marked as keepForever."
 }
}"#,
    )
    .expect("verbatim example");
    assert_eq!(body(r).await, expected);

    let r = c
        .get(format!("{}/drive/v3/files/{id}/revisions", emu.base_url))
        .bearer_auth(TOKEN)
        .query(&[("fields", "revisions(id,keepForever,md5Checksum,size)")])
        .send()
        .await
        .expect("revisions");
    assert_eq!(
        body(r).await,
        json!({"revisions": [{"id": rev, "keepForever": true,
            "md5Checksum": "f97c5d29941bfb1b2fdab0874906ab82", "size": "3"}]})
    );
    emu.stop().await;
}

#[tokio::test]
async fn resumable_upload_answers_308_with_the_range_received() {
    let (emu, c) = start().await;
    let parent = folder(&emu, &c, "up", "root").await;
    let data: Vec<u8> = (0..(600 * 1024u32)).map(|i| (i % 251) as u8).collect();
    let total = data.len();
    let r = c
        .post(format!(
            "{}/upload/drive/v3/files?uploadType=resumable&fields=id,name,size,md5Checksum,parents",
            emu.base_url
        ))
        .bearer_auth(TOKEN)
        .header("x-upload-content-type", "application/octet-stream")
        .header("x-upload-content-length", total.to_string())
        .json(&json!({"name": "big.bin", "parents": [parent]}))
        .send()
        .await
        .expect("initiate");
    assert_eq!(r.status(), StatusCode::OK);
    let session = r
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a session URI in Location")
        .to_string();
    assert!(session.contains("upload_id="), "{session}");

    // Nothing yet: 308 without a Range header.
    let r = c
        .put(&session)
        .header(CONTENT_RANGE, format!("bytes */{total}"))
        .send()
        .await
        .expect("status");
    assert_eq!(r.status().as_u16(), 308);
    assert!(r.headers().get(RANGE).is_none());

    // A chunk that is not a multiple of 256 KiB (and not the last) is refused.
    let r = c
        .put(&session)
        .header(CONTENT_RANGE, format!("bytes 0-99999/{total}"))
        .body(data[..100_000].to_vec())
        .send()
        .await
        .expect("bad chunk");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    let chunk = 256 * 1024;
    let r = c
        .put(&session)
        .header(CONTENT_RANGE, format!("bytes 0-{}/{total}", chunk - 1))
        .body(data[..chunk].to_vec())
        .send()
        .await
        .expect("chunk 1");
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(
        r.headers().get(RANGE).and_then(|v| v.to_str().ok()),
        Some("bytes=0-262143")
    );
    // A gap is refused; the status query tells where to go on.
    let r = c
        .put(&session)
        .header(
            CONTENT_RANGE,
            format!("bytes {}-{}/{total}", 2 * chunk, total - 1),
        )
        .body(data[2 * chunk..].to_vec())
        .send()
        .await
        .expect("gap");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .put(&session)
        .header(CONTENT_RANGE, format!("bytes */{total}"))
        .send()
        .await
        .expect("status");
    assert_eq!(r.status().as_u16(), 308);
    assert_eq!(
        r.headers().get(RANGE).and_then(|v| v.to_str().ok()),
        Some("bytes=0-262143")
    );
    let r = c
        .put(&session)
        .header(
            CONTENT_RANGE,
            format!("bytes {chunk}-{}/{total}", total - 1),
        )
        .body(data[chunk..].to_vec())
        .send()
        .await
        .expect("last chunk");
    assert_eq!(r.status(), StatusCode::CREATED);
    let f = body(r).await;
    let md5: String = {
        use md5::{Digest, Md5};
        Md5::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert_eq!(f["name"], "big.bin");
    assert_eq!(f["size"], total.to_string());
    assert_eq!(f["md5Checksum"], md5);
    assert_eq!(f["parents"], json!([parent]));

    // The content, and a Range of it.
    let url = format!(
        "{}/drive/v3/files/{}?alt=media",
        emu.base_url,
        f["id"].as_str().expect("id")
    );
    let all = c.get(&url).bearer_auth(TOKEN).send().await.expect("get");
    assert_eq!(all.bytes().await.expect("bytes").as_ref(), &data[..]);
    let part = c
        .get(&url)
        .bearer_auth(TOKEN)
        .header(RANGE, "bytes=500-999")
        .send()
        .await
        .expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok()),
        Some(format!("bytes 500-999/{total}").as_str())
    );
    assert_eq!(
        part.bytes().await.expect("bytes").as_ref(),
        &data[500..1000]
    );

    // An unknown session is 404 (clients start over).
    let r = c
        .put(format!(
            "{}/upload/drive/v3/files?uploadType=resumable&upload_id=gone",
            emu.base_url
        ))
        .header(CONTENT_RANGE, "bytes */5")
        .send()
        .await
        .expect("gone");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    emu.stop().await;
}

#[tokio::test]
async fn listing_pages_filters_and_partial_fields() {
    let (emu, c) = start().await;
    let dir = folder(&emu, &c, "d", "root").await;
    for i in 0..5 {
        multipart(
            &emu,
            &c,
            json!({"name": format!("f{i}"), "parents": [dir]}),
            b"x",
        )
        .await;
    }
    // The same name twice in one folder.
    multipart(&emu, &c, json!({"name": "f0", "parents": [dir]}), b"y").await;
    let doc = c
        .post(format!("{}/drive/v3/files?fields=id,size,md5Checksum,mimeType", emu.base_url))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "notes", "mimeType": "application/vnd.google-apps.document", "parents": [dir]}))
        .send()
        .await
        .expect("doc");
    let doc = body(doc).await;
    assert!(
        doc.get("size").is_none() && doc.get("md5Checksum").is_none(),
        "{doc}"
    );

    let q = format!("'{dir}' in parents and trashed = false and mimeType != 'application/vnd.google-apps.document'");
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = c
            .get(format!("{}/drive/v3/files", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[
                ("q", q.as_str()),
                ("pageSize", "2"),
                ("fields", "nextPageToken,files(id,name,size)"),
            ]);
        if let Some(t) = &token {
            req = req.query(&[("pageToken", t.as_str())]);
        }
        let b = body(req.send().await.expect("list")).await;
        pages += 1;
        for f in b["files"].as_array().expect("files") {
            let keys: Vec<&str> = f
                .as_object()
                .expect("obj")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, ["id", "name", "size"]);
            assert!(f["size"].is_string(), "size is a string: {f}");
            names.push(f["name"].as_str().expect("name").to_string());
        }
        match b.get("nextPageToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    names.sort();
    assert_eq!(names, ["f0", "f0", "f1", "f2", "f3", "f4"]);
    assert_eq!(pages, 3);

    let b = body(
        c.get(format!("{}/drive/v3/files", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[("q", "name = 'f3'")])
            .send()
            .await
            .expect("list"),
    )
    .await;
    // The default fields of a list.
    let f = &b["files"][0];
    assert_eq!(b["kind"], "drive#fileList");
    assert_eq!(b["files"].as_array().map(Vec::len), Some(1));
    let mut keys: Vec<&str> = f
        .as_object()
        .expect("obj")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["id", "kind", "mimeType", "name"]);

    // Bad tokens and sizes.
    for (k, v) in [
        ("pageToken", "%%%"),
        ("pageSize", "0"),
        ("pageSize", "1001"),
    ] {
        let r = c
            .get(format!("{}/drive/v3/files", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[(k, v)])
            .send()
            .await
            .expect("list");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{k}={v}");
    }
    // A native document cannot be downloaded.
    let r = c
        .get(format!(
            "{}/drive/v3/files/{}?alt=media",
            emu.base_url,
            doc["id"].as_str().expect("id")
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(r).await["error"]["errors"][0]["reason"],
        "fileNotDownloadable"
    );
    emu.stop().await;
}

#[tokio::test]
async fn change_feed_pages_and_ends_with_a_new_start_token() {
    let (emu, c) = start().await;
    let start_token = body(
        c.get(format!("{}/drive/v3/changes/startPageToken", emu.base_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("start"),
    )
    .await;
    assert_eq!(start_token["kind"], "drive#startPageToken");
    let token = start_token["startPageToken"]
        .as_str()
        .expect("token")
        .to_string();

    let a = multipart(&emu, &c, json!({"name": "a"}), b"a").await;
    let b = multipart(&emu, &c, json!({"name": "b"}), b"b").await;
    let d = folder(&emu, &c, "dir", "root").await;
    let a_id = a["id"].as_str().expect("id");
    let b_id = b["id"].as_str().expect("id");
    // Move a into dir and rename it; trash b; create and delete c.
    let r = c
        .patch(format!("{}/drive/v3/files/{a_id}", emu.base_url))
        .bearer_auth(TOKEN)
        .query(&[
            ("addParents", d.as_str()),
            ("removeParents", "root"),
            ("fields", "parents,name,version"),
        ])
        .json(&json!({"name": "a2"}))
        .send()
        .await
        .expect("move");
    let moved = body(r).await;
    assert_eq!(moved["parents"], json!([d]));
    assert_eq!(moved["name"], "a2");
    assert_ne!(moved["version"], a["version"]);
    c.patch(format!("{}/drive/v3/files/{b_id}", emu.base_url))
        .bearer_auth(TOKEN)
        .json(&json!({"trashed": true}))
        .send()
        .await
        .expect("trash");
    let gone = multipart(&emu, &c, json!({"name": "c"}), b"c").await;
    let gone_id = gone["id"].as_str().expect("id");
    let r = c
        .delete(format!("{}/drive/v3/files/{gone_id}", emu.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);

    let mut token = token;
    let mut seen = Vec::new();
    let new_start = loop {
        let b = body(
            c.get(format!("{}/drive/v3/changes", emu.base_url))
                .bearer_auth(TOKEN)
                .query(&[
                    ("pageToken", token.as_str()),
                    ("pageSize", "1"),
                    ("fields", "nextPageToken,newStartPageToken,changes(fileId,removed,time,file(name,trashed,parents))"),
                ])
                .send()
                .await
                .expect("changes"),
        )
        .await;
        seen.extend(b["changes"].as_array().expect("changes").iter().cloned());
        match (b.get("nextPageToken"), b.get("newStartPageToken")) {
            (Some(n), None) => token = n.as_str().expect("token").to_string(),
            (None, Some(s)) => break s.as_str().expect("token").to_string(),
            other => panic!("exactly one token expected: {other:?}"),
        }
    };
    let by_id = |id: &str| {
        seen.iter()
            .find(|c| c["fileId"] == id)
            .cloned()
            .expect("a change")
    };
    assert_eq!(seen.len(), 4, "one change per file: {seen:?}");
    let ca = by_id(a_id);
    assert_eq!(ca["removed"], false);
    assert_eq!(ca["file"]["name"], "a2");
    assert_eq!(ca["file"]["parents"], json!([d]));
    assert!(ca["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(by_id(b_id)["file"]["trashed"], true);
    let cg = by_id(gone_id);
    assert_eq!(cg["removed"], true);
    assert!(cg.get("file").is_none());

    // Nothing new since: an empty page with the same new start token.
    let b = body(
        c.get(format!("{}/drive/v3/changes", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[("pageToken", new_start.as_str())])
            .send()
            .await
            .expect("changes"),
    )
    .await;
    assert_eq!(b["changes"], json!([]));
    assert_eq!(b["newStartPageToken"], new_start.as_str());
    let r = c
        .get(format!("{}/drive/v3/changes", emu.base_url))
        .bearer_auth(TOKEN)
        .query(&[("pageToken", "999999")])
        .send()
        .await
        .expect("changes");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(r).await["error"]["errors"][0]["location"], "pageToken");
    emu.stop().await;
}

#[tokio::test]
async fn oauth_code_flow_with_pkce_and_refresh() {
    let (emu, c) = start().await;
    let verifier = "a-verifier-long-enough-for-pkce-0123456789abcdef";
    let redirect = "http://127.0.0.1:49152/";
    let params = [
        ("client_id", "desktop-app"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "https://www.googleapis.com/auth/drive"),
        ("state", "xyz"),
        ("code_challenge", &pkce_s256(verifier)),
        ("code_challenge_method", "S256"),
        ("access_type", "offline"),
    ];
    let page = c
        .get(format!("{}/o/oauth2/v2/auth", emu.base_url))
        .query(&params)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("id=\"allow\""));
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.push(("decision", "allow"));
    form.push(("account", "ann"));
    let r = c
        .post(format!("{}/o/oauth2/v2/auth", emu.base_url))
        .form(&form)
        .send()
        .await
        .expect("allow");
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = reqwest::Url::parse(
        r.headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .expect("location"),
    )
    .expect("url");
    assert!(location.as_str().starts_with(redirect));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("xyz"));
    let code = q.get("code").expect("code").clone();

    let token = |form: Vec<(&'static str, String)>| {
        c.post(format!("{}/token", emu.base_url)).form(&form).send()
    };
    let r = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("client_id", "desktop-app".into()),
        ("client_secret", "public-desktop-secret".into()),
        ("redirect_uri", redirect.into()),
        ("code_verifier", verifier.into()),
    ])
    .await
    .expect("exchange");
    assert_eq!(r.status(), StatusCode::OK);
    let grant = body(r).await;
    assert_eq!(grant["token_type"], "Bearer");
    assert_eq!(grant["scope"], "https://www.googleapis.com/auth/drive");
    assert!(grant["expires_in"].as_u64().is_some_and(|s| s > 0));
    let access = grant["access_token"].as_str().expect("access").to_string();
    let refresh = grant["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let about = c
        .get(format!("{}/drive/v3/about?fields=user", emu.base_url))
        .bearer_auth(&access)
        .send()
        .await
        .expect("about");
    assert_eq!(body(about).await["user"]["displayName"], "ann");

    // The code works once.
    let again = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("client_id", "desktop-app".into()),
        ("redirect_uri", redirect.into()),
        ("code_verifier", verifier.into()),
    ])
    .await
    .expect("again");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(again).await["error"], "invalid_grant");

    // Expired tokens are refused with 401 until refreshed; the refresh token stays.
    c.post(format!("{}/__emulator/expire-tokens", emu.base_url))
        .send()
        .await
        .expect("expire");
    let r = c
        .get(format!("{}/drive/v3/about?fields=user", emu.base_url))
        .bearer_auth(&access)
        .send()
        .await
        .expect("about");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let r = token(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
            ("client_id", "desktop-app".into()),
        ])
        .await
        .expect("refresh");
        assert_eq!(r.status(), StatusCode::OK);
        let b = body(r).await;
        assert!(b.get("refresh_token").is_none());
        assert_eq!(b["token_type"], "Bearer");
        let r = c
            .get(format!("{}/drive/v3/about?fields=user", emu.base_url))
            .bearer_auth(b["access_token"].as_str().expect("access"))
            .send()
            .await
            .expect("about");
        assert_eq!(r.status(), StatusCode::OK);
    }

    // A non-loopback redirect gets Google's error page, not a redirect.
    let r = c
        .get(format!("{}/o/oauth2/v2/auth", emu.base_url))
        .query(&[
            ("client_id", "x"),
            ("redirect_uri", "https://evil.example/"),
            ("response_type", "code"),
        ])
        .send()
        .await
        .expect("page");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    emu.stop().await;
}

#[tokio::test]
async fn faults_are_worded_as_drive_does() {
    let (emu, c) = start().await;
    c.post(format!("{}/__emulator/faults", emu.base_url))
        .json(&json!({"kind": "rate_limit", "retry_after": 2, "path_prefix": "/drive/v3/files", "times": 3}))
        .send()
        .await
        .expect("fault");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = c
            .get(format!("{}/drive/v3/files", emu.base_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("list");
        let status = r.status().as_u16();
        let retry = r.headers().get("retry-after").is_some();
        let b = body(r).await;
        assert_eq!(b["error"]["code"], status);
        assert_eq!(b["error"]["errors"][0]["domain"], "usageLimits");
        seen.push((
            status,
            b["error"]["errors"][0]["reason"]
                .as_str()
                .expect("reason")
                .to_string(),
            retry,
        ));
    }
    assert_eq!(
        seen,
        [
            (403, "userRateLimitExceeded".to_string(), false),
            (429, "rateLimitExceeded".to_string(), true),
            (403, "rateLimitExceeded".to_string(), false),
        ]
    );
    c.post(format!("{}/__emulator/faults", emu.base_url))
        .json(&json!({"kind": "server_error", "status": 503, "times": 1}))
        .send()
        .await
        .expect("fault");
    let r = c
        .get(format!("{}/drive/v3/files", emu.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body(r).await["error"]["errors"][0]["reason"],
        "backendError"
    );
    emu.stop().await;
}

#[tokio::test]
async fn hostile_names_appear_when_switched_on() {
    let (emu, c) = start().await;
    c.post(format!("{}/__emulator/hostile-names", emu.base_url))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .expect("switch");
    let b = body(
        c.get(format!("{}/drive/v3/files", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[("q", "'root' in parents"), ("fields", "files(name)")])
            .send()
            .await
            .expect("list"),
    )
    .await;
    let names: Vec<&str> = b["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    for hostile in ["..", "a/b", "back\\slash", "nul\0byte", "/etc/passwd"] {
        assert!(names.contains(&hostile), "{hostile:?} in {names:?}");
    }
    emu.stop().await;
}

#[tokio::test]
async fn parents_are_changed_only_through_add_and_remove() {
    let (emu, c) = start().await;
    let a = folder(&emu, &c, "a", "root").await;
    let b = folder(&emu, &c, "b", &a).await;
    let f = multipart(&emu, &c, json!({"name": "f", "parents": [a]}), b"f").await;
    let id = f["id"].as_str().expect("id");
    let url = |id: &str| format!("{}/drive/v3/files/{id}", emu.base_url);
    // A second parent is refused.
    let r = c
        .patch(url(id))
        .bearer_auth(TOKEN)
        .query(&[("addParents", b.as_str())])
        .json(&json!({}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(r).await["error"]["errors"][0]["reason"],
        "cannotAddParent"
    );
    // `parents` in the body is not writable.
    let r = c
        .patch(url(id))
        .bearer_auth(TOKEN)
        .json(&json!({"parents": [b]}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        body(r).await["error"]["errors"][0]["reason"],
        "fieldNotWritable"
    );
    // A folder cannot move below itself.
    let r = c
        .patch(url(&a))
        .bearer_auth(TOKEN)
        .query(&[("addParents", b.as_str()), ("removeParents", "root")])
        .json(&json!({}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A real move, then new content by media upload: a new head revision, same id.
    let r = c
        .patch(url(id))
        .bearer_auth(TOKEN)
        .query(&[
            ("addParents", b.as_str()),
            ("removeParents", a.as_str()),
            ("fields", "parents"),
        ])
        .json(&json!({}))
        .send()
        .await
        .expect("move");
    assert_eq!(body(r).await, json!({"parents": [b]}));
    let r = c
        .patch(format!(
            "{}/upload/drive/v3/files/{id}?uploadType=media&fields=id,size,headRevisionId",
            emu.base_url
        ))
        .bearer_auth(TOKEN)
        .body("new content")
        .send()
        .await
        .expect("media update");
    let updated = body(r).await;
    assert_eq!(updated["id"], id);
    assert_eq!(updated["size"], "11");
    assert_ne!(updated["headRevisionId"], f["headRevisionId"]);
    let revs = body(
        c.get(format!("{}/drive/v3/files/{id}/revisions", emu.base_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("revisions"),
    )
    .await;
    assert_eq!(revs["revisions"].as_array().map(Vec::len), Some(2));
    // The old revision's bytes are still there.
    let old = c
        .get(format!(
            "{}/drive/v3/files/{id}/revisions/{}?alt=media",
            emu.base_url,
            f["headRevisionId"].as_str().expect("rev")
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("old revision");
    assert_eq!(old.bytes().await.expect("bytes").as_ref(), b"f");
    emu.stop().await;
}

#[tokio::test]
async fn data_dir_keeps_files_revisions_and_changes_across_restarts() {
    let dir = std::env::temp_dir().join(format!("gdrive-emu-{}", crate::oauth::random_token("t")));
    let options = || Options {
        accept_token: Some(TOKEN.into()),
        data: Some(dir.clone()),
        ..Options::default()
    };
    let c = Client::new();
    let emu = spawn(
        Provider::Gdrive,
        "127.0.0.1:0".parse().expect("addr"),
        options(),
    )
    .await
    .expect("start");
    let f = multipart(&emu, &c, json!({"name": "kept.txt"}), b"kept bytes").await;
    let id = f["id"].as_str().expect("id").to_string();
    let start = body(
        c.get(format!("{}/drive/v3/changes/startPageToken", emu.base_url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("token"),
    )
    .await;
    emu.stop().await;

    let emu = spawn(
        Provider::Gdrive,
        "127.0.0.1:0".parse().expect("addr"),
        options(),
    )
    .await
    .expect("restart");
    let meta = body(
        c.get(format!("{}/drive/v3/files/{id}", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[("fields", "name,md5Checksum,headRevisionId")])
            .send()
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(meta["name"], "kept.txt");
    assert_eq!(meta["md5Checksum"], f["md5Checksum"]);
    assert_eq!(meta["headRevisionId"], f["headRevisionId"]);
    let bytes = c
        .get(format!("{}/drive/v3/files/{id}?alt=media", emu.base_url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("media")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(bytes.as_ref(), b"kept bytes");
    // The saved page token still reads the feed (empty: nothing changed since).
    let feed = body(
        c.get(format!("{}/drive/v3/changes", emu.base_url))
            .bearer_auth(TOKEN)
            .query(&[(
                "pageToken",
                start["startPageToken"].as_str().expect("token"),
            )])
            .send()
            .await
            .expect("changes"),
    )
    .await;
    assert_eq!(feed["changes"], json!([]));
    emu.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
