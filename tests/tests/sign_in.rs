//! Signing in from the command line, end to end: the real `cloudsync` binary, the
//! emulator's real sign-in pages and token endpoints, and a "browser" played by this test
//! (it reads the page the CLI prints, submits its form as a user would, and follows the
//! redirect back to the CLI's loopback listener).
//!
//! Covers: the code flow with PKCE and a loopback redirect (Dropbox, Google Drive), the
//! device-code flow (Baidu), the account check (one connection per account: a second
//! connection to the same account exits 2 and saves nothing), a denied sign-in, where the
//! tokens are kept (the 0600 secrets file, never the database), a sync with the stored
//! tokens, and `relink` (another account is refused; the same one is taken).
//!
//! Baidu's device flow is played the same way: the test reads the code the CLI shows and
//! types it on the emulator's verification page.
//!
//! The binary is built by `cargo test --workspace` (or `cargo build -p cloudsync-cli`).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cloudsync_emulator::{Emulator, Options, Provider};

/// The longest a sign-in may take here.
const SIGN_IN_DEADLINE: Duration = Duration::from_secs(60);

/// Kills the child when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One user's machine: a config dir and a sync folder.
struct Machine {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    base: PathBuf,
}

impl Machine {
    fn new() -> Machine {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().to_path_buf();
        let config = base.join("config");
        std::fs::create_dir(&config).expect("config dir");
        Machine {
            _tmp: tmp,
            config,
            base,
        }
    }

    fn folder(&self, name: &str) -> PathBuf {
        let p = self.base.join(name);
        std::fs::create_dir_all(&p).expect("folder");
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(cloudsync_tests::cloudsync_binary());
        c.arg("--config-dir")
            .arg(&self.config)
            .args(args)
            .env("CLOUDSYNC_SECRETS", "file")
            .env("CLOUDSYNC_NO_BROWSER", "1")
            .env("CLOUDSYNC_BAIDU_APP_SECRET", "test-secret-key")
            .env("CLOUDSYNC_BAIDU_APP_NAME", "CloudSyncTest")
            .env_remove("CLOUDSYNC_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs a command to its end; (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(args).output().expect("running cloudsync");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn connections(&self) -> serde_json::Value {
        let (code, out, err) = self.run(&["connection", "list", "--json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).expect("list JSON")
    }
}

/// A running sign-in: the child, and its stderr lines as they come.
struct SignIn {
    child: Guard,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl SignIn {
    fn start(machine: &Machine, args: &[&str]) -> SignIn {
        let mut child = machine.command(args).spawn().expect("starting cloudsync");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        SignIn {
            child: Guard(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// The first stderr line containing `marker`.
    fn line_with(&mut self, marker: &str) -> String {
        loop {
            match self.lines.recv_timeout(SIGN_IN_DEADLINE) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(marker) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "the CLI printed no line with {marker:?}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the exit code; the rest of stderr.
    fn finish(mut self) -> (i32, String) {
        let status = self.child.0.wait().expect("waiting for cloudsync");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code().unwrap_or(-1), self.seen.join("\n"))
    }
}

/// An HTML form as the sign-in pages write it.
#[derive(Debug)]
struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in one tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + len]))
}

/// The page's form: where it posts and its hidden fields.
fn parse_form(html: &str) -> Form {
    let form_at = html.find("<form").expect("the page has a form");
    let form_tag = &html[form_at..form_at + html[form_at..].find('>').expect("form tag end")];
    let action = attribute(form_tag, "action").expect("the form has an action");
    let mut fields = Vec::new();
    let mut rest = &html[form_at..];
    while let Some(i) = rest.find("<input") {
        let tag = &rest[i..i + rest[i..].find('>').expect("input tag end")];
        if attribute(tag, "type").as_deref() == Some("hidden") {
            if let (Some(n), Some(v)) = (attribute(tag, "name"), attribute(tag, "value")) {
                fields.push((n, v));
            }
        }
        rest = &rest[i + 6..];
    }
    Form { action, fields }
}

/// Plays the browser: opens `url`, submits the sign-in form as `account` with `decision`
/// and follows the redirect, if any, to the app's listener.
async fn browse(url: &str, account: &str, decision: &str) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = match http.get(url).send().await {
        Ok(r) if r.status().is_success() => r.text().await.expect("page"),
        Ok(r) => panic!("opening the sign-in page {url}: HTTP {}", r.status()),
        Err(e) => panic!("opening the sign-in page {url}: {e}"),
    };
    let form = parse_form(&page);
    let action = if form.action.starts_with("http") {
        form.action.clone()
    } else {
        let origin_end = url[8..].find('/').map_or(url.len(), |i| i + 8);
        format!("{}{}", &url[..origin_end], form.action)
    };
    let mut fields: Vec<(String, String)> = form.fields.clone();
    fields.push(("account".into(), account.into()));
    fields.push(("decision".into(), decision.into()));
    let answer = http
        .post(&action)
        .form(&fields)
        .send()
        .await
        .unwrap_or_else(|e| panic!("submitting the sign-in form to {action}: {e}"));
    if answer.status().is_redirection() {
        let to = answer.headers()["location"]
            .to_str()
            .expect("Location")
            .to_string();
        // The app's listener answers the browser with a page of its own.
        let back = http.get(&to).send().await.expect("following the redirect");
        assert!(
            back.status().is_success() || decision != "allow",
            "the app's listener answered {}",
            back.status()
        );
    }
}

/// The emulator, on its own runtime thread for the life of the test.
struct Running {
    emulator: Option<Emulator>,
    rt: tokio::runtime::Runtime,
}

impl Running {
    fn start(provider: Provider) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let emulator = rt
            .block_on(cloudsync_emulator::spawn(
                provider,
                "127.0.0.1:0".parse().expect("address"),
                Options::default(),
            ))
            .expect("starting the emulator");
        Running {
            emulator: Some(emulator),
            rt,
        }
    }

    fn base_url(&self) -> String {
        self.emulator
            .as_ref()
            .map(|e| e.base_url.clone())
            .unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(e) = self.emulator.take() {
            self.rt.block_on(e.stop());
        }
    }
}

/// `connection add <provider>` arguments for a sign-in against `base`.
fn add_args<'a>(provider: &'a str, name: &'a str, local: &'a Path, base: &'a str) -> Vec<String> {
    let mut args: Vec<String> = [
        "connection",
        "add",
        provider,
        "--name",
        name,
        "--local",
        &local.to_string_lossy(),
        "--app-key",
        "test-app-key",
        "--api-base",
        base,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if provider == "dropbox" {
        // Any free port: the emulator does not check registered redirect URIs.
        args.extend(["--redirect-port".to_string(), "0".to_string()]);
    }
    args
}

/// Runs `connection add` (or `relink`) and signs in as `account` through the browser.
fn browser_sign_in(
    emulator: &Running,
    machine: &Machine,
    args: &[String],
    account: &str,
    decision: &str,
) -> (i32, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut run = SignIn::start(machine, &args);
    let line = run.line_with("Sign in on this page: ");
    let url = line
        .split("Sign in on this page: ")
        .nth(1)
        .expect("URL")
        .trim()
        .to_string();
    emulator.rt.block_on(browse(&url, account, decision));
    run.finish()
}

/// The whole story for a provider signed in to through the browser.
fn browser_provider_story(provider: Provider) {
    let id = provider.name();
    let emulator = Running::start(provider);
    let base = emulator.base_url();
    let machine = Machine::new();

    // A denied sign-in saves nothing.
    let local = machine.folder("denied");
    let (code, err) = browser_sign_in(
        &emulator,
        &machine,
        &add_args(id, "denied", &local, &base),
        "alice",
        "deny",
    );
    assert_eq!(code, 2, "a denied sign-in exits 2: {err}");
    assert!(err.contains("access_denied"), "{err}");
    assert_eq!(machine.connections().as_array().map(Vec::len), Some(0));

    // Alice signs in.
    let local = machine.folder("alice");
    let (code, err) = browser_sign_in(
        &emulator,
        &machine,
        &add_args(id, "work", &local, &base),
        "alice",
        "allow",
    );
    assert_eq!(code, 0, "signing in: {err}");
    let list = machine.connections();
    let credential = list[0]["credential"]
        .as_str()
        .expect("credential")
        .to_string();
    assert!(credential.starts_with(&format!("{id}:")), "{credential}");

    // Where the tokens went: the owner-only secrets file, not the database.
    let secrets = machine.config.join("secrets.json");
    let mode = std::fs::metadata(&secrets)
        .expect("secrets file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&secrets).expect("read")).expect("JSON");
    let text = stored.to_string();
    assert!(
        text.contains("refresh_token"),
        "the refresh token is kept: {text}"
    );
    let tokens_json: Vec<String> = stored
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let access = tokens_json
        .iter()
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .find_map(|t| t["access_token"].as_str().map(str::to_string))
        .expect("an access token is stored");
    for entry in std::fs::read_dir(&machine.config)
        .expect("config dir")
        .flatten()
    {
        if entry.path() == secrets || entry.path().is_dir() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !bytes.windows(access.len()).any(|w| w == access.as_bytes()),
            "{} holds the access token",
            entry.path().display()
        );
    }

    // The stored tokens work: a file goes up.
    std::fs::write(local.join("hello.txt"), b"hello").expect("write");
    let (code, _, err) = machine.run(&["sync", "--once", "work"]);
    assert_eq!(code, 0, "sync with the stored tokens: {err}");

    // The same account again: refused, nothing saved.
    let other = machine.folder("alice-again");
    let (code, err) = browser_sign_in(
        &emulator,
        &machine,
        &add_args(id, "again", &other, &base),
        "alice",
        "allow",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already used"), "{err}");
    assert_eq!(machine.connections().as_array().map(Vec::len), Some(1));

    // Relink as somebody else: refused; as alice: taken.
    let relink: Vec<String> = ["relink", "work"]
        .iter()
        .map(|s| s.to_string())
        .chain(if id == "dropbox" {
            vec!["--redirect-port".to_string(), "0".to_string()]
        } else {
            Vec::new()
        })
        .collect();
    let (code, err) = browser_sign_in(&emulator, &machine, &relink, "mallory", "allow");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let (code, err) = browser_sign_in(&emulator, &machine, &relink, "alice", "allow");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = machine.run(&["sync", "--once", "work"]);
    assert_eq!(code, 0, "sync after relink: {err}");
}

#[test]
fn dropbox_sign_in_from_the_command_line() {
    browser_provider_story(Provider::Dropbox);
}

#[test]
fn gdrive_sign_in_from_the_command_line() {
    browser_provider_story(Provider::Gdrive);
}

/// Runs `connection add baidu` (or `relink`) and approves its device code as `account` on
/// the verification page, as the user would on another device.
fn device_sign_in(
    emulator: &Running,
    machine: &Machine,
    args: &[String],
    account: &str,
) -> (i32, String) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut run = SignIn::start(machine, &args);
    let line = run.line_with("enter the code");
    // "On any device, open URL and enter the code CODE (valid N minutes)."
    let url = line
        .split("open ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("verification URL")
        .to_string();
    let code = line
        .split("enter the code ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("user code")
        .to_string();
    emulator.rt.block_on(async {
        let http = reqwest::Client::new();
        let page = http.get(&url).send().await.expect("verification page");
        assert!(page.status().is_success());
        let approved = http
            .post(&url)
            .form(&[
                ("user_code", code.as_str()),
                ("account", account),
                ("decision", "allow"),
            ])
            .send()
            .await
            .expect("approving");
        assert!(
            approved.status().is_success(),
            "approving the code: {}",
            approved.status()
        );
    });
    run.finish()
}

#[test]
fn baidu_device_sign_in_from_the_command_line() {
    let emulator = Running::start(Provider::Baidu);
    let base = emulator.base_url();
    // Poll every second rather than Baidu's five.
    emulator.rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}/__emulator/baidu/settings"))
            .json(&serde_json::json!({"device_interval": 1}))
            .send()
            .await
            .expect("settings");
        assert!(r.status().is_success());
    });
    let machine = Machine::new();
    let local = machine.folder("alice");
    let (code, err) = device_sign_in(
        &emulator,
        &machine,
        &add_args("baidu", "work", &local, &base),
        "alice",
    );
    assert_eq!(code, 0, "signing in with a device code: {err}");
    let credential = machine.connections()[0]["credential"]
        .as_str()
        .expect("credential")
        .to_string();
    assert!(credential.starts_with("baidu:"), "{credential}");

    std::fs::write(local.join("hello.txt"), b"hello").expect("write");
    let (code, _, err) = machine.run(&["sync", "--once", "work"]);
    assert_eq!(code, 0, "sync with the stored tokens: {err}");

    let other = machine.folder("alice-again");
    let (code, err) = device_sign_in(
        &emulator,
        &machine,
        &add_args("baidu", "again", &other, &base),
        "alice",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already used"), "{err}");

    let relink = vec!["relink".to_string(), "work".to_string()];
    let (code, err) = device_sign_in(&emulator, &machine, &relink, "mallory");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let (code, err) = device_sign_in(&emulator, &machine, &relink, "alice");
    assert_eq!(code, 0, "{err}");
}
