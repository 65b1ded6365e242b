//! The emulator over raw HTTP, answer by answer against the reference (section 3): the
//! device-code and token answers field by field, errno bodies, the precreate ->
//! superfile2 -> create flow with its block checks, the app-folder restriction, listall
//! paging and its rate limit, filemanager, dlink downloads, and the fault wording.

use std::time::Duration;

use reqwest::{Client, Url};
use serde_json::{json, Value};

use crate::server::{spawn, Emulator, Options, Provider};

use super::entries::obfuscated_md5;
use super::store::{md5_hex, BLOCK};

const TOKEN: &str = "script-token";
const APP: &str = "/apps/CloudSync";

async fn start() -> (Emulator, Client) {
    let emu = spawn(
        Provider::Baidu,
        "127.0.0.1:0".parse().expect("addr"),
        Options {
            accept_token: Some(TOKEN.into()),
            access_ttl: Duration::from_secs(2_592_000),
            ..Options::default()
        },
    )
    .await
    .expect("spawn");
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // A known app folder; learning it from the first write has its own test.
    settings(&client, &emu, json!({"app_name": "CloudSync"})).await;
    (emu, client)
}

fn url(emu: &Emulator, path: &str, params: &[(&str, &str)]) -> Url {
    Url::parse_with_params(&format!("{}{path}", emu.base_url), params).expect("url")
}

/// An `application/x-www-form-urlencoded` body.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut u = Url::parse("http://form.invalid/").expect("url");
    u.query_pairs_mut().extend_pairs(pairs);
    u.query().unwrap_or_default().to_string()
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn get(c: &Client, u: Url) -> (u16, Value) {
    json_of(c.get(u).send().await.expect("send")).await
}

async fn post(c: &Client, u: Url, body: &[(&str, &str)]) -> (u16, Value) {
    json_of(
        c.post(u)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(body))
            .send()
            .await
            .expect("send"),
    )
    .await
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    k.sort();
    k
}

async fn settings(c: &Client, emu: &Emulator, s: Value) {
    let r = c
        .post(format!("{}/__emulator/baidu/settings", emu.base_url))
        .header("content-type", "application/json")
        .body(s.to_string())
        .send()
        .await
        .expect("settings");
    assert_eq!(r.status().as_u16(), 204);
}

async fn xpan(c: &Client, emu: &Emulator, method: &str, form_body: &[(&str, &str)]) -> Value {
    post(
        c,
        url(
            emu,
            "/rest/2.0/xpan/file",
            &[("method", method), ("access_token", TOKEN)],
        ),
        form_body,
    )
    .await
    .1
}

async fn superfile2(
    c: &Client,
    emu: &Emulator,
    path: &str,
    uploadid: &str,
    partseq: usize,
    data: &[u8],
) -> Value {
    let boundary = "----emulatortest7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let seq = partseq.to_string();
    let u = url(
        emu,
        "/rest/2.0/pcs/superfile2",
        &[
            ("method", "upload"),
            ("access_token", TOKEN),
            ("type", "tmpfile"),
            ("path", path),
            ("uploadid", uploadid),
            ("partseq", &seq),
        ],
    );
    json_of(
        c.post(u)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("send"),
    )
    .await
    .1
}

/// The `filemetas` item of `fs_id`, with its `dlink`.
async fn filemeta_with_dlink(c: &Client, emu: &Emulator, fs_id: u64) -> Value {
    let (_, metas) = get(
        c,
        url(
            emu,
            "/rest/2.0/xpan/multimedia",
            &[
                ("method", "filemetas"),
                ("fsids", &format!("[{fs_id}]")),
                ("dlink", "1"),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    metas["list"][0].clone()
}

/// Uploads `data` at `path` in 4 MB blocks; the create answer.
async fn upload(c: &Client, emu: &Emulator, path: &str, data: &[u8], rtype: &str) -> Value {
    let blocks: Vec<String> = data.chunks(BLOCK as usize).map(md5_hex).collect();
    let list = serde_json::to_string(&blocks).expect("json");
    let size = data.len().to_string();
    let pre = xpan(
        c,
        emu,
        "precreate",
        &[
            ("path", path),
            ("size", &size),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("rtype", rtype),
            ("block_list", &list),
        ],
    )
    .await;
    assert_eq!(pre["errno"], 0, "{pre}");
    let id = pre["uploadid"].as_str().expect("uploadid").to_string();
    for (i, chunk) in data.chunks(BLOCK as usize).enumerate() {
        let r = superfile2(c, emu, path, &id, i, chunk).await;
        assert_eq!(r["md5"], md5_hex(chunk), "{r}");
    }
    xpan(
        c,
        emu,
        "create",
        &[
            ("path", path),
            ("size", &size),
            ("isdir", "0"),
            ("uploadid", &id),
            ("block_list", &list),
            ("rtype", rtype),
            ("local_mtime", "1700000000"),
        ],
    )
    .await
}

#[tokio::test]
async fn device_code_and_token_answers_have_the_documented_fields() {
    let (emu, c) = start().await;
    let (status, dc) = get(
        &c,
        url(
            &emu,
            "/oauth/2.0/device/code",
            &[
                ("response_type", "device_code"),
                ("client_id", "app-key"),
                ("scope", "basic,netdisk"),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200);
    // The reference's example: {"device_code","user_code","verification_url","qrcode_url",
    // "expires_in":1800,"interval":5}.
    assert_eq!(
        keys(&dc),
        [
            "device_code",
            "expires_in",
            "interval",
            "qrcode_url",
            "user_code",
            "verification_url"
        ]
    );
    assert_eq!(dc["expires_in"], 1800);
    assert_eq!(dc["interval"], 5);
    assert_eq!(dc["verification_url"], format!("{}/device", emu.base_url));
    let user_code = dc["user_code"].as_str().expect("user_code");
    assert!(dc["qrcode_url"]
        .as_str()
        .expect("qrcode_url")
        .ends_with(&format!("/{user_code}")));
    let device_code = dc["device_code"].as_str().expect("device_code");
    let poll = |code: String| {
        url(
            &emu,
            "/oauth/2.0/token",
            &[
                ("grant_type", "device_token"),
                ("code", &code),
                ("client_id", "app-key"),
                ("client_secret", "app-secret"),
            ],
        )
    };
    let (status, pending) = get(&c, poll(device_code.into())).await;
    assert_eq!(status, 400);
    assert_eq!(pending["error"], "authorization_pending");
    assert!(pending["error_description"].is_string());
    let (_, fast) = get(&c, poll(device_code.into())).await;
    assert_eq!(fast["error"], "slow_down");
    // The verification page takes the code and an Allow.
    let page = c
        .get(dc["qrcode_url"].as_str().expect("qr"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(page.contains(user_code) && page.contains("id=\"allow\""));
    let r = c
        .post(format!("{}/device", emu.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("user_code", "wrong123"),
            ("account", "ann"),
            ("decision", "allow"),
        ]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 400);
    let r = c
        .post(format!("{}/device", emu.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("user_code", user_code),
            ("account", "ann"),
            ("decision", "allow"),
        ]))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let (status, tok) = get(&c, poll(device_code.into())).await;
    assert_eq!(status, 200, "{tok}");
    // The reference's token example: expires_in, refresh_token, access_token,
    // session_secret, session_key, scope "basic netdisk".
    assert_eq!(
        keys(&tok),
        [
            "access_token",
            "expires_in",
            "refresh_token",
            "scope",
            "session_key",
            "session_secret"
        ]
    );
    assert_eq!(tok["expires_in"], 2_592_000);
    assert_eq!(tok["scope"], "basic netdisk");
    // The token works, for ann.
    let (_, info) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/nas",
            &[
                ("method", "uinfo"),
                ("access_token", tok["access_token"].as_str().expect("at")),
            ],
        ),
    )
    .await;
    assert_eq!(info["errno"], 0);
    assert_eq!(info["baidu_name"], "ann");
    assert!(info["uk"].as_u64().expect("uk") > 0);
    assert_eq!(info["vip_type"], 0);

    // Refresh rotates: the new refresh token works, the old one is refused.
    let rt = tok["refresh_token"].as_str().expect("rt").to_string();
    let refresh = |rt: &str, secret: Option<&str>| {
        let mut p = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", "app-key"),
        ];
        if let Some(s) = secret {
            p.push(("client_secret", s));
        }
        url(&emu, "/oauth/2.0/token", &p)
    };
    let (status, no_secret) = get(&c, refresh(&rt, None)).await;
    assert_eq!(
        (status, no_secret["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, renewed) = get(&c, refresh(&rt, Some("app-secret"))).await;
    assert_eq!(status, 200, "{renewed}");
    assert_ne!(renewed["refresh_token"], tok["refresh_token"]);
    assert_eq!(renewed["scope"], "basic netdisk");
    let (status, old) = get(&c, refresh(&rt, Some("app-secret"))).await;
    assert_eq!(
        (status, old["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    emu.stop().await;
}

#[tokio::test]
async fn authorization_code_with_a_redirect_or_oob() {
    let (emu, c) = start().await;
    let page = c
        .get(url(
            &emu,
            "/oauth/2.0/authorize",
            &[
                ("response_type", "code"),
                ("client_id", "app-key"),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("scope", "basic,netdisk"),
                ("state", "xyz"),
            ],
        ))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("text");
    assert!(page.contains("name=\"state\" value=\"xyz\""));
    let allow = |redirect: &str| {
        c.post(format!("{}/oauth/2.0/authorize", emu.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("client_id", "app-key"),
                ("redirect_uri", redirect),
                ("scope", "basic,netdisk"),
                ("state", "xyz"),
                ("account", "bob"),
                ("decision", "allow"),
            ]))
            .send()
    };
    let r = allow("http://127.0.0.1:9/cb").await.expect("allow");
    assert_eq!(r.status().as_u16(), 302);
    let location = Url::parse(
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("location"),
    )
    .expect("url");
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("xyz"));
    let code = q.get("code").expect("code").clone();
    let exchange = |code: &str, redirect: &str| {
        url(
            &emu,
            "/oauth/2.0/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", "app-key"),
                ("client_secret", "app-secret"),
                ("redirect_uri", redirect),
            ],
        )
    };
    let (status, tok) = get(&c, exchange(&code, "http://127.0.0.1:9/cb")).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(tok["scope"], "basic netdisk");
    // Codes are single-use.
    let (status, again) = get(&c, exchange(&code, "http://127.0.0.1:9/cb")).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Deny: back to the app with error=access_denied and the state.
    let r = c
        .post(format!("{}/oauth/2.0/authorize", emu.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("client_id", "app-key"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("state", "xyz"),
            ("decision", "deny"),
        ]))
        .send()
        .await
        .expect("deny");
    assert_eq!(r.status().as_u16(), 302);
    let denied = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location");
    assert_eq!(
        denied,
        "http://127.0.0.1:9/cb?error=access_denied&state=xyz"
    );
    // response_type other than code is refused.
    let (status, bad) = get(
        &c,
        url(
            &emu,
            "/oauth/2.0/authorize",
            &[
                ("response_type", "token"),
                ("client_id", "app-key"),
                ("redirect_uri", "oob"),
            ],
        ),
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("unsupported_response_type"))
    );
    // oob: the code is shown on a page.
    let r = allow("oob").await.expect("allow");
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.expect("text");
    let code = html
        .split("<code id=\"code\">")
        .nth(1)
        .and_then(|s| s.split("</code>").next())
        .expect("code on the page");
    let (status, _) = get(&c, exchange(code, "oob")).await;
    assert_eq!(status, 200);
    emu.stop().await;
}

#[tokio::test]
async fn token_errors_are_errno_bodies_in_http_200() {
    let (emu, c) = start().await;
    let list = |token: &str| {
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[("method", "list"), ("dir", "/"), ("access_token", token)],
        )
    };
    let (status, bad) = get(&c, list("made-up")).await;
    assert_eq!(status, 200);
    assert_eq!(bad["errno"], -6);
    assert_eq!(bad["errmsg"], "身份验证失败");
    assert!(bad["request_id"].is_u64());
    // A real grant, expired by the control endpoint: errno 111; PCS says 31045.
    let dc = get(
        &c,
        url(
            &emu,
            "/oauth/2.0/device/code",
            &[("response_type", "device_code"), ("client_id", "k")],
        ),
    )
    .await
    .1;
    assert!(emu
        .context
        .tokens
        .approve_device(dc["user_code"].as_str().expect("code"), "ann"));
    let tok = get(
        &c,
        url(
            &emu,
            "/oauth/2.0/token",
            &[
                ("grant_type", "device_token"),
                ("code", dc["device_code"].as_str().expect("dc")),
                ("client_id", "k"),
                ("client_secret", "s"),
            ],
        ),
    )
    .await
    .1;
    let at = tok["access_token"].as_str().expect("at").to_string();
    assert_eq!(get(&c, list(&at)).await.1["errno"], 0);
    c.post(format!("{}/__emulator/expire-tokens", emu.base_url))
        .send()
        .await
        .expect("expire");
    let (status, expired) = get(&c, list(&at)).await;
    assert_eq!((status, expired["errno"].as_i64()), (200, Some(111)));
    assert_eq!(expired["errmsg"], "access token 失效");
    let (status, pcs) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/pcs/file",
            &[("method", "locateupload"), ("access_token", &at)],
        ),
    )
    .await;
    assert_eq!((status, pcs["error_code"].as_i64()), (200, Some(31045)));
    assert_eq!(pcs["error_msg"], "access_token验证未通过");
    emu.stop().await;
}

#[tokio::test]
async fn precreate_superfile2_create_checks_every_block() {
    let (emu, c) = start().await;
    let path = format!("{APP}/docs/test.txt");
    let data: Vec<u8> = (0..BLOCK as usize + 100).map(|i| (i % 251) as u8).collect();
    let blocks = vec![
        md5_hex(&data[..BLOCK as usize]),
        md5_hex(&data[BLOCK as usize..]),
    ];
    let list = serde_json::to_string(&blocks).expect("json");
    let size = data.len().to_string();
    let pre_form = |uploadid: Option<&str>| {
        let mut f = vec![
            ("path", path.as_str()),
            ("size", size.as_str()),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("rtype", "0"),
            ("block_list", list.as_str()),
        ];
        if let Some(id) = uploadid {
            f.push(("uploadid", id));
        }
        f.into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let as_refs = |v: &[(String, String)]| {
        v.iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    let f = as_refs(&pre_form(None));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let pre = xpan(&c, &emu, "precreate", &f).await;
    // {errno, path, uploadid, return_type, block_list, request_id}
    assert_eq!(
        keys(&pre),
        [
            "block_list",
            "errno",
            "path",
            "request_id",
            "return_type",
            "uploadid"
        ]
    );
    assert_eq!(pre["return_type"], 1);
    assert_eq!(pre["block_list"], json!([0, 1]));
    let id = pre["uploadid"].as_str().expect("id").to_string();

    // A first block under 4 MB in a multi-block file: 31299.
    let r = superfile2(&c, &emu, &path, &id, 0, &data[..100]).await;
    assert_eq!(r["error_code"], 31299, "{r}");
    let r = superfile2(&c, &emu, &path, &id, 0, &data[..BLOCK as usize]).await;
    assert_eq!(keys(&r), ["md5", "request_id"]);
    assert_eq!(r["md5"], blocks[0]);
    // A block over 4 MB for a normal account: 31364.
    let r = superfile2(&c, &emu, &path, &id, 1, &vec![0u8; BLOCK as usize + 1]).await;
    assert_eq!(r["error_code"], 31364, "{r}");

    // The same precreate with the uploadid: only block 1 is still needed.
    let f = as_refs(&pre_form(Some(&id)));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let again = xpan(&c, &emu, "precreate", &f).await;
    assert_eq!(again["uploadid"], id.as_str());
    assert_eq!(again["block_list"], json!([1]));

    let create = |list: String| {
        let id = id.clone();
        let path = path.clone();
        let size = size.clone();
        let c = c.clone();
        let u = url(
            &emu,
            "/rest/2.0/xpan/file",
            &[("method", "create"), ("access_token", TOKEN)],
        );
        async move {
            post(
                &c,
                u,
                &[
                    ("path", &path),
                    ("size", &size),
                    ("isdir", "0"),
                    ("uploadid", &id),
                    ("block_list", &list),
                    ("rtype", "0"),
                    ("local_mtime", "1600000000"),
                    ("local_ctime", "1600000000"),
                ],
            )
            .await
            .1
        }
    };
    // Block 1 missing: 31363.
    assert_eq!(create(list.clone()).await["errno"], 31363);
    // A wrong block the second time: still missing (its MD5 is not the listed one).
    let r = superfile2(&c, &emu, &path, &id, 1, b"not the block").await;
    assert_eq!(r["md5"], md5_hex(b"not the block"));
    assert_eq!(create(list.clone()).await["errno"], 31363);
    superfile2(&c, &emu, &path, &id, 1, &data[BLOCK as usize..]).await;
    // A block list other than the precreate's: 31355.
    let other = serde_json::to_string(&[&blocks[1], &blocks[0]]).expect("json");
    assert_eq!(create(other).await["errno"], 31355);
    let made = create(list.clone()).await;
    assert_eq!(made["errno"], 0, "{made}");
    for k in [
        "fs_id",
        "path",
        "size",
        "md5",
        "category",
        "isdir",
        "ctime",
        "mtime",
        "from_type",
    ] {
        assert!(made.get(k).is_some(), "create answer lacks {k}: {made}");
    }
    assert_eq!(made["path"], path.as_str());
    assert_eq!(made["size"], data.len());
    assert_eq!(made["md5"], md5_hex(&data));
    assert_eq!(made["isdir"], 0);

    // The listing carries the client's mtime; the parent folder was created.
    let (_, l) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "list"),
                ("dir", &format!("{APP}/docs")),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    let item = &l["list"][0];
    assert_eq!(item["server_filename"], "test.txt");
    assert_eq!(item["local_mtime"], 1_600_000_000);
    assert_eq!(item["fs_id"], made["fs_id"]);
    assert_eq!(item["category"], 4);

    // rtype 0 on an existing path: -8; rtype 1: test(1).txt; rtype 3 replaces.
    let small = b"small".to_vec();
    assert_eq!(upload(&c, &emu, &path, &small, "0").await["errno"], -8);
    let renamed = upload(&c, &emu, &path, &small, "1").await;
    assert_eq!(renamed["path"], format!("{APP}/docs/test(1).txt"));
    let same = upload(&c, &emu, &path, &data, "2").await;
    assert_eq!(same["fs_id"], made["fs_id"], "rtype 2, same blocks: kept");
    let replaced = upload(&c, &emu, &path, &small, "3").await;
    assert_eq!(replaced["errno"], 0);
    assert_ne!(replaced["fs_id"], made["fs_id"]);
    assert_eq!(replaced["size"], 5);

    // Empty files and names Baidu refuses.
    let empty = xpan(
        &c,
        &emu,
        "precreate",
        &[
            ("path", &format!("{APP}/empty.txt")),
            ("size", "0"),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("block_list", "[\"d41d8cd98f00b204e9800998ecf8427e\"]"),
        ],
    )
    .await;
    assert_eq!(empty["errno"], 2);
    assert_eq!(
        precreate_errno(&c, &emu, &format!("{APP}/a:b.txt")).await,
        -7
    );
    assert_eq!(
        precreate_errno(&c, &emu, &format!("{APP}/.hidden")).await,
        -7
    );
    emu.stop().await;
}

async fn precreate_errno(c: &Client, emu: &Emulator, path: &str) -> i64 {
    xpan(
        c,
        emu,
        "precreate",
        &[
            ("path", path),
            ("size", "1"),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("block_list", &format!("[\"{}\"]", md5_hex(b"x"))),
        ],
    )
    .await["errno"]
        .as_i64()
        .expect("errno")
}

#[tokio::test]
async fn writes_only_below_the_app_folder_reads_anywhere() {
    let (emu, c) = start().await;
    assert_eq!(precreate_errno(&c, &emu, "/elsewhere/x.txt").await, 31064);
    assert_eq!(
        precreate_errno(&c, &emu, "/apps/OtherApp/x.txt").await,
        31064
    );
    let mk = |p: &str| {
        vec![
            ("path".to_string(), p.to_string()),
            ("size".into(), "0".into()),
            ("isdir".into(), "1".into()),
        ]
    };
    let f = mk("/outside");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = xpan(&c, &emu, "create", &f).await;
    assert_eq!(r["errno"], 31064);
    assert_eq!(r["errmsg"], "没有上传文件到该目录的权限");
    let f = mk(&format!("{APP}/made"));
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = xpan(&c, &emu, "create", &f).await;
    assert_eq!(
        (r["errno"].as_i64(), r["isdir"].as_i64()),
        (Some(0), Some(1))
    );
    // A second folder create with rtype 0: -8.
    assert_eq!(xpan(&c, &emu, "create", &f).await["errno"], -8);
    // Moving out of the app folder is a write elsewhere.
    let r = post(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "filemanager"),
                ("opera", "move"),
                ("access_token", TOKEN),
            ],
        ),
        &[
            ("async", "0"),
            (
                "filelist",
                &json!([{"path": format!("{APP}/made"), "dest": "/", "newname": "made"}])
                    .to_string(),
            ),
        ],
    )
    .await
    .1;
    assert_eq!(r["info"][0]["errno"], 31064);
    // Reads work anywhere.
    let (_, root) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[("method", "list"), ("dir", "/"), ("access_token", TOKEN)],
        ),
    )
    .await;
    assert_eq!(root["errno"], 0);
    assert_eq!(root["list"][0]["path"], "/apps");
    let (_, missing) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "list"),
                ("dir", "/nope"),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    assert_eq!(missing["errno"], -9);
    emu.stop().await;
}

async fn listall(c: &Client, emu: &Emulator, start: &str, limit: &str) -> Value {
    get(
        c,
        url(
            emu,
            "/rest/2.0/xpan/multimedia",
            &[
                ("method", "listall"),
                ("path", APP),
                ("recursion", "1"),
                ("start", start),
                ("limit", limit),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await
    .1
}

#[tokio::test]
async fn listall_pages_with_a_cursor_and_is_rate_limited() {
    let (emu, c) = start().await;
    settings(&c, &emu, json!({"listall_per_minute": 0})).await;
    for p in ["a", "a/b", "c"] {
        let r = xpan(
            &c,
            &emu,
            "create",
            &[
                ("path", &format!("{APP}/{p}")),
                ("size", "0"),
                ("isdir", "1"),
            ],
        )
        .await;
        assert_eq!(r["errno"], 0);
    }
    upload(&c, &emu, &format!("{APP}/a/b/f.txt"), b"hello", "0").await;
    let first = listall(&c, &emu, "0", "2").await;
    assert_eq!(
        (first["has_more"].as_i64(), first["cursor"].as_i64()),
        (Some(1), Some(2))
    );
    let second = listall(&c, &emu, "2", "2").await;
    assert_eq!(
        (second["has_more"].as_i64(), second["cursor"].as_i64()),
        (Some(0), Some(4))
    );
    let paths: Vec<&str> = first["list"]
        .as_array()
        .into_iter()
        .chain(second["list"].as_array())
        .flatten()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            format!("{APP}/a"),
            format!("{APP}/a/b"),
            format!("{APP}/a/b/f.txt"),
            format!("{APP}/c")
        ]
    );
    assert_eq!(first["list"][0]["dir_empty"], 0, "a holds b");
    assert_eq!(second["list"][1]["dir_empty"], 1, "c is empty");
    // The default limit (10 a minute) answers 31034 after that many calls.
    settings(&c, &emu, json!({"listall_per_minute": 3})).await;
    for _ in 0..3 {
        assert_eq!(listall(&c, &emu, "0", "100").await["errno"], 0);
    }
    let limited = listall(&c, &emu, "0", "100").await;
    assert_eq!(limited["errno"], 31034);
    assert_eq!(limited["errmsg"], "命中接口频控");
    // A missing folder: 31066.
    settings(&c, &emu, json!({"listall_per_minute": 0})).await;
    let (_, missing) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/multimedia",
            &[
                ("method", "listall"),
                ("path", "/nope"),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    assert_eq!(missing["errno"], 31066);
    emu.stop().await;
}

async fn filemanager(c: &Client, emu: &Emulator, opera: &str, list: Value, ondup: &str) -> Value {
    post(
        c,
        url(
            emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "filemanager"),
                ("opera", opera),
                ("access_token", TOKEN),
            ],
        ),
        &[
            ("async", "0"),
            ("filelist", &list.to_string()),
            ("ondup", ondup),
        ],
    )
    .await
    .1
}

#[tokio::test]
async fn filemanager_moves_renames_copies_and_deletes() {
    let (emu, c) = start().await;
    let a = upload(&c, &emu, &format!("{APP}/a.txt"), b"aaa", "0").await;
    upload(&c, &emu, &format!("{APP}/b.txt"), b"bbb", "0").await;
    // rename onto an existing name with ondup fail: errno 12, the item -8.
    let r = filemanager(
        &c,
        &emu,
        "rename",
        json!([{"path": format!("{APP}/a.txt"), "newname": "b.txt"}]),
        "fail",
    )
    .await;
    assert_eq!(r["errno"], 12);
    assert_eq!(r["info"][0]["errno"], -8);
    assert_eq!(r["info"][0]["path"], format!("{APP}/a.txt"));
    let r = filemanager(
        &c,
        &emu,
        "rename",
        json!([{"path": format!("{APP}/a.txt"), "newname": "c.txt"}]),
        "fail",
    )
    .await;
    assert_eq!(r["errno"], 0, "{r}");
    let r = filemanager(
        &c,
        &emu,
        "move",
        json!([{"path": format!("{APP}/c.txt"), "dest": format!("{APP}/sub"), "newname": "c.txt", "ondup": "fail"}]),
        "fail",
    )
    .await;
    assert_eq!(r["errno"], 0, "{r}");
    // fs_id survives the rename and the move.
    let id = a["fs_id"].as_u64().expect("id").to_string();
    let (_, metas) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/multimedia",
            &[
                ("method", "filemetas"),
                ("fsids", &format!("[{id}]")),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    assert_eq!(metas["list"][0]["path"], format!("{APP}/sub/c.txt"));
    assert_eq!(metas["list"][0]["filename"], "c.txt");
    // copy with newcopy onto a taken name: b(1).txt.
    let r = filemanager(
        &c,
        &emu,
        "copy",
        json!([{"path": format!("{APP}/sub/c.txt"), "dest": APP, "newname": "b.txt"}]),
        "newcopy",
    )
    .await;
    assert_eq!(r["errno"], 0);
    let r = filemanager(
        &c,
        &emu,
        "delete",
        json!([format!("{APP}/b(1).txt"), format!("{APP}/nope")]),
        "fail",
    )
    .await;
    assert_eq!(r["errno"], 12);
    assert_eq!(r["info"][0]["errno"], 0);
    assert_eq!(r["info"][1]["errno"], -9);
    // ondup=overwrite replaces the target.
    upload(&c, &emu, &format!("{APP}/o1.txt"), b"one", "0").await;
    upload(&c, &emu, &format!("{APP}/o2.txt"), b"two", "0").await;
    let r = filemanager(
        &c,
        &emu,
        "move",
        json!([{"path": format!("{APP}/o1.txt"), "dest": APP, "newname": "o2.txt"}]),
        "overwrite",
    )
    .await;
    assert_eq!(r["errno"], 0, "{r}");
    let (_, l) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[("method", "list"), ("dir", APP), ("access_token", TOKEN)],
        ),
    )
    .await;
    let o2 = l["list"]
        .as_array()
        .expect("list")
        .iter()
        .find(|e| e["server_filename"] == "o2.txt")
        .expect("o2")
        .clone();
    assert_eq!(o2["size"], 3);
    assert_eq!(o2["md5"], obfuscated_md5(&md5_hex(b"one")));
    assert!(!l["list"]
        .as_array()
        .expect("list")
        .iter()
        .any(|e| e["server_filename"] == "o1.txt"));
    // async=2: a taskid.
    let r = post(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "filemanager"),
                ("opera", "delete"),
                ("access_token", TOKEN),
            ],
        ),
        &[
            ("async", "2"),
            ("filelist", &json!([format!("{APP}/b.txt")]).to_string()),
        ],
    )
    .await
    .1;
    assert_eq!(r["errno"], 0);
    assert!(r["taskid"].is_u64());
    emu.stop().await;
}

#[tokio::test]
async fn dlink_downloads_need_the_user_agent_and_take_ranges() {
    let (emu, c) = start().await;
    let made = upload(&c, &emu, &format!("{APP}/d.bin"), b"0123456789", "0").await;
    let id = made["fs_id"].as_u64().expect("id");
    let item = &filemeta_with_dlink(&c, &emu, id).await;
    for k in [
        "fs_id",
        "filename",
        "path",
        "size",
        "isdir",
        "md5",
        "category",
        "server_mtime",
        "dlink",
    ] {
        assert!(item.get(k).is_some(), "filemetas item lacks {k}");
    }
    let dlink = format!(
        "{}&access_token={TOKEN}",
        item["dlink"].as_str().expect("dlink")
    );
    let r = c.get(&dlink).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 403, "no User-Agent");
    let r = c
        .get(&dlink)
        .header("user-agent", "pan.baidu.com")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 302);
    let cdn = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    let r = c
        .get(&cdn)
        .header("user-agent", "pan.baidu.com")
        .send()
        .await
        .expect("get");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"0123456789");
    let r = c
        .get(&cdn)
        .header("user-agent", "pan.baidu.com")
        .header("range", "bytes=4-")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 206);
    assert_eq!(
        r.headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok()),
        Some("bytes 4-9/10")
    );
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"456789");
    // Replaced since: the old fs_id's link answers 404.
    upload(&c, &emu, &format!("{APP}/d.bin"), b"new", "3").await;
    let r = c
        .get(&cdn)
        .header("user-agent", "pan.baidu.com")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 404);
    emu.stop().await;
}

#[tokio::test]
async fn quota_uinfo_faults_and_hostile_names() {
    let (emu, c) = start().await;
    upload(&c, &emu, &format!("{APP}/q.txt"), b"12345", "0").await;
    let (_, q) = get(
        &c,
        url(
            &emu,
            "/api/quota",
            &[("access_token", TOKEN), ("checkfree", "1")],
        ),
    )
    .await;
    assert_eq!(q["errno"], 0);
    assert_eq!(q["used"], 5);
    assert_eq!(q["free"], q["total"].as_u64().expect("total") - 5);
    // A full drive: -10 at precreate.
    settings(&c, &emu, json!({"quota": 6})).await;
    assert_eq!(
        precreate_errno(&c, &emu, &format!("{APP}/more.txt")).await,
        0
    );
    let r = xpan(
        &c,
        &emu,
        "precreate",
        &[
            ("path", &format!("{APP}/big.txt")),
            ("size", "2"),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("block_list", &format!("[\"{}\"]", md5_hex(b"xx"))),
        ],
    )
    .await;
    assert_eq!(r["errno"], -10);
    // Faults: rate limit is errno 31034 in a 200 (error_code on PCS), 5xx is plain.
    let add = |rule: Value| {
        c.post(format!("{}/__emulator/faults", emu.base_url))
            .header("content-type", "application/json")
            .body(rule.to_string())
            .send()
    };
    add(json!({"kind": "rate_limit", "retry_after": 1, "path_prefix": "/rest/2.0/xpan/", "times": 1}))
        .await
        .expect("fault");
    let (status, r) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/nas",
            &[("method", "uinfo"), ("access_token", TOKEN)],
        ),
    )
    .await;
    assert_eq!((status, r["errno"].as_i64()), (200, Some(31034)));
    add(json!({"kind": "rate_limit", "retry_after": 1, "path_prefix": "/rest/2.0/pcs/", "times": 1}))
        .await
        .expect("fault");
    let (status, r) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/pcs/file",
            &[("method", "locateupload"), ("access_token", TOKEN)],
        ),
    )
    .await;
    assert_eq!((status, r["error_code"].as_i64()), (200, Some(31034)));
    add(json!({"kind": "server_error", "status": 503, "times": 1}))
        .await
        .expect("fault");
    let r = c
        .get(url(&emu, "/api/quota", &[("access_token", TOKEN)]))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 503);
    // Hostile names ride along in listings.
    emu.context
        .hostile_names
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let (_, l) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[("method", "list"), ("dir", APP), ("access_token", TOKEN)],
        ),
    )
    .await;
    let names: Vec<&str> = l["list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["server_filename"].as_str())
        .collect();
    for bad in ["..", "a/b", "a\\b", "nul\0name"] {
        assert!(names.contains(&bad), "{bad:?} missing from {names:?}");
    }
    assert!(l["list"]
        .as_array()
        .expect("list")
        .iter()
        .any(|e| e["path"] == "/etc/passwd"));
    emu.stop().await;
}

#[tokio::test]
async fn locateupload_names_this_server_and_superfile2_takes_a_raw_body() {
    let (emu, c) = start().await;
    let (status, loc) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/pcs/file",
            &[
                ("method", "locateupload"),
                ("appid", "250528"),
                ("upload_version", "2.0"),
                ("path", &format!("{APP}/x")),
                ("uploadid", "N1-x"),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(loc["error_code"], 0);
    assert_eq!(loc["servers"][0]["server"], emu.base_url.as_str());
    assert!(loc["bak_servers"].is_array() && loc["quic_servers"].is_array());

    // BaiduNetdiskNode sends the block as a raw PUT body.
    let path = format!("{APP}/raw.txt");
    let list = format!("[\"{}\"]", md5_hex(b"raw body"));
    let pre = xpan(
        &c,
        &emu,
        "precreate",
        &[
            ("path", &path),
            ("size", "8"),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("block_list", &list),
        ],
    )
    .await;
    let id = pre["uploadid"].as_str().expect("id");
    let r = c
        .put(url(
            &emu,
            "/rest/2.0/pcs/superfile2",
            &[
                ("method", "upload"),
                ("type", "tmpfile"),
                ("path", &path),
                ("uploadid", id),
                ("partseq", "0"),
                ("access_token", TOKEN),
            ],
        ))
        .body("raw body")
        .send()
        .await
        .expect("put");
    let (_, r) = json_of(r).await;
    assert_eq!(r["md5"], md5_hex(b"raw body"));
    let made = xpan(
        &c,
        &emu,
        "create",
        &[
            ("path", &path),
            ("size", "8"),
            ("isdir", "0"),
            ("uploadid", id),
            ("block_list", &list),
        ],
    )
    .await;
    assert_eq!(made["errno"], 0, "{made}");
    // A block for an upload id nobody issued: 31023.
    let r = superfile2(&c, &emu, &path, "N1-unknown", 0, b"x").await;
    assert_eq!(r["error_code"], 31023);
    emu.stop().await;
}

#[tokio::test]
async fn list_pages_one_folder_with_folders_first() {
    let (emu, c) = start().await;
    for name in ["b.txt", "a.txt"] {
        upload(&c, &emu, &format!("{APP}/{name}"), name.as_bytes(), "0").await;
    }
    xpan(
        &c,
        &emu,
        "create",
        &[
            ("path", &format!("{APP}/z-dir")),
            ("size", "0"),
            ("isdir", "1"),
        ],
    )
    .await;
    upload(&c, &emu, &format!("{APP}/z-dir/deep.txt"), b"deep", "0").await;
    let page = |start: &'static str, limit: &'static str| {
        url(
            &emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "list"),
                ("dir", APP),
                ("start", start),
                ("limit", limit),
                ("access_token", TOKEN),
            ],
        )
    };
    let names = |v: &Value| -> Vec<String> {
        v["list"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|e| e["server_filename"].as_str().map(str::to_string))
            .collect()
    };
    let (_, all) = get(&c, page("0", "1000")).await;
    assert_eq!(names(&all), ["z-dir", "a.txt", "b.txt"]);
    assert_eq!(all["list"][0]["isdir"], 1);
    assert_eq!(all["list"][0]["dir_empty"], 0);
    assert!(all["list"][0].get("md5").is_none());
    // Listings spell the MD5 obfuscated (reference 3.4).
    assert_eq!(all["list"][1]["md5"], obfuscated_md5(&md5_hex(b"a.txt")));
    let (_, second) = get(&c, page("1", "1")).await;
    assert_eq!(names(&second), ["a.txt"]);
    let (_, past) = get(&c, page("3", "10")).await;
    assert_eq!((past["errno"].as_i64(), names(&past).len()), (Some(0), 0));
    emu.stop().await;
}

#[tokio::test]
async fn the_references_request_examples_verbatim() {
    let (emu, c) = start().await;
    // The reference's examples use the app folder /apps/x.
    settings(&c, &emu, json!({"app_name": "x"})).await;
    // precreate with the reference's block_list example: two blocks, both needed.
    let pre = xpan(
        &c,
        &emu,
        "precreate",
        &[
            ("path", "/apps/x/a.txt"),
            ("size", &(BLOCK + 1).to_string()),
            ("isdir", "0"),
            ("autoinit", "1"),
            ("rtype", "0"),
            (
                "block_list",
                r#"["98d02a0f54781a93e354b1fc85caf488","ca5273571daefb8ea01a42bfa5d02220"]"#,
            ),
        ],
    )
    .await;
    assert_eq!(pre["errno"], 0, "{pre}");
    assert_eq!(pre["return_type"], 1);
    assert_eq!(pre["block_list"], json!([0, 1]));
    assert_eq!(pre["path"], "/apps/x/a.txt");

    upload(&c, &emu, "/apps/x/a.txt", b"content of a", "0").await;
    let fm = |opera: &'static str, filelist: &'static str| {
        let c = c.clone();
        let u = url(
            &emu,
            "/rest/2.0/xpan/file",
            &[
                ("method", "filemanager"),
                ("opera", opera),
                ("access_token", TOKEN),
            ],
        );
        async move {
            post(
                &c,
                u,
                &[("async", "0"), ("filelist", filelist), ("ondup", "fail")],
            )
            .await
            .1
        }
    };
    let moved = fm(
        "move",
        r#"[{"path":"/apps/x/a.txt","dest":"/apps/x/sub","newname":"a.txt","ondup":"fail"}]"#,
    )
    .await;
    assert_eq!(moved["errno"], 0, "{moved}");
    assert_eq!(
        moved["info"],
        json!([{"errno": 0, "path": "/apps/x/a.txt"}])
    );
    let copied = fm(
        "copy",
        r#"[{"path":"/apps/x/sub/a.txt","dest":"/apps/x","newname":"a.txt","ondup":"fail"}]"#,
    )
    .await;
    assert_eq!(copied["errno"], 0, "{copied}");
    let renamed = fm("rename", r#"[{"path":"/apps/x/a.txt","newname":"b.txt"}]"#).await;
    assert_eq!(renamed["errno"], 0, "{renamed}");
    // The delete example names a.txt, which the rename just moved away: -9 in its item.
    let deleted = fm("delete", r#"["/apps/x/a.txt"]"#).await;
    assert_eq!(deleted["errno"], 12);
    assert_eq!(deleted["info"][0]["errno"], -9);
    let deleted = fm("delete", r#"["/apps/x/b.txt"]"#).await;
    assert_eq!(deleted["errno"], 0, "{deleted}");
    let (_, l) = get(
        &c,
        url(
            &emu,
            "/rest/2.0/xpan/multimedia",
            &[
                ("method", "listall"),
                ("path", "/apps/x"),
                ("recursion", "1"),
                ("access_token", TOKEN),
            ],
        ),
    )
    .await;
    let paths: Vec<&str> = l["list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(paths, ["/apps/x/sub", "/apps/x/sub/a.txt"]);
    emu.stop().await;
}

#[tokio::test]
async fn rapid_upload_when_the_account_already_has_the_content() {
    let (emu, c) = start().await;
    let data = b"known content".to_vec();
    upload(&c, &emu, &format!("{APP}/first.txt"), &data, "0").await;
    let list = format!("[\"{}\"]", md5_hex(&data));
    let size = data.len().to_string();
    let pre = |path: String, content_md5: String| {
        let c = c.clone();
        let u = url(
            &emu,
            "/rest/2.0/xpan/file",
            &[("method", "precreate"), ("access_token", TOKEN)],
        );
        let (list, size, slice) = (list.clone(), size.clone(), md5_hex(&data));
        async move {
            post(
                &c,
                u,
                &[
                    ("path", &path),
                    ("size", &size),
                    ("isdir", "0"),
                    ("autoinit", "1"),
                    ("rtype", "0"),
                    ("block_list", &list),
                    ("content-md5", &content_md5),
                    ("slice-md5", &slice),
                ],
            )
            .await
            .1
        }
    };
    let rapid = pre(format!("{APP}/second.txt"), md5_hex(&data)).await;
    assert_eq!(rapid["errno"], 0, "{rapid}");
    assert_eq!(rapid["return_type"], 2);
    assert_eq!(rapid["info"]["path"], format!("{APP}/second.txt"));
    assert_eq!(rapid["info"]["size"], data.len());
    assert_eq!(rapid["info"]["md5"], md5_hex(&data));
    // Unknown content: an ordinary precreate.
    let normal = pre(format!("{APP}/third.txt"), md5_hex(b"other")).await;
    assert_eq!(normal["return_type"], 1);
    assert_eq!(normal["block_list"], json!([0]));
    emu.stop().await;
}

#[tokio::test]
async fn without_a_configured_name_the_first_app_folder_written_is_the_accounts() {
    let (emu, c) = start().await;
    settings(&c, &emu, json!({"app_name": ""})).await;
    // A first write outside /apps/<name> teaches nothing.
    assert_eq!(precreate_errno(&c, &emu, "/outside.txt").await, 31064);
    assert_eq!(precreate_errno(&c, &emu, "/apps/x.txt").await, 31064);
    assert_eq!(precreate_errno(&c, &emu, "/apps/Bench/a.txt").await, 0);
    assert_eq!(precreate_errno(&c, &emu, "/apps/Bench/sub/b.txt").await, 0);
    assert_eq!(precreate_errno(&c, &emu, "/apps/Other/b.txt").await, 31064);
    emu.stop().await;
}

#[tokio::test]
async fn data_dir_keeps_files_ids_and_the_app_folder_across_restarts() {
    let dir = tempfile::tempdir().expect("tmp");
    let options = || Options {
        accept_token: Some(TOKEN.into()),
        data: Some(dir.path().to_path_buf()),
        ..Options::default()
    };
    let c = Client::new();
    let addr = "127.0.0.1:0".parse().expect("addr");
    let emu = spawn(Provider::Baidu, addr, options())
        .await
        .expect("start");
    // No configured app name: the first write teaches the account its app folder.
    let made = upload(&c, &emu, &format!("{APP}/kept.txt"), b"kept bytes", "0").await;
    assert_eq!(made["errno"], 0, "{made}");
    let first_id = made["fs_id"].as_u64().expect("fs_id");
    emu.stop().await;

    let emu = spawn(Provider::Baidu, addr, options())
        .await
        .expect("restart");
    let item = &filemeta_with_dlink(&c, &emu, first_id).await;
    assert_eq!(item["path"], format!("{APP}/kept.txt"));
    assert_eq!(item["md5"], md5_hex(b"kept bytes"));
    let dlink = format!(
        "{}&access_token={TOKEN}",
        item["dlink"].as_str().expect("dlink")
    );
    let body = c
        .get(&dlink)
        .header("user-agent", "pan.baidu.com")
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(body.as_ref(), b"kept bytes");
    // Ids keep growing, and the learned app folder still holds: writes elsewhere fail.
    let second = upload(&c, &emu, &format!("{APP}/next.txt"), b"next", "0").await;
    assert!(
        second["fs_id"].as_u64().expect("fs_id") > first_id,
        "{second}"
    );
    let elsewhere = xpan(
        &c,
        &emu,
        "create",
        &[("path", "/apps/Other/dir"), ("size", "0"), ("isdir", "1")],
    )
    .await;
    assert_eq!(elsewhere["errno"], 31064, "{elsewhere}");
    emu.stop().await;
}
