//! The connection wizard's side in Rust: which providers the app can set up, the checks
//! each step makes (an empty local folder, a remote that answers), browsing the remote's
//! folders, and turning the finished form into the engine's `add` request. The targets
//! are built by `cloudsync_providers::setup`, exactly as the CLI builds them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cloudsync_core::schedule::Schedule;
use cloudsync_core::{ConnectionSettings, RelPath};
use cloudsync_engine::remote::RemoteFactory;
use cloudsync_providers::setup::{self, Target};
use serde::{Deserialize, Serialize};

use crate::demo::DemoCloud;
use crate::error::AppError;
use crate::signin::SignedIn;
use cloudsync_providers::setup::cloud::Cloud;

/// A provider as the wizard's first step shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderInfo {
    /// Provider id.
    pub id: &'static str,
    /// Its name for people.
    pub label: &'static str,
    /// How it signs in: `none`, `form`, `browser` or `device`.
    pub sign_in: &'static str,
    /// Whether the app can set it up.
    pub available: bool,
    /// Why not, when it cannot.
    pub why_unavailable: Option<String>,
}

/// Every provider, in the order the wizard shows them; an OAuth provider is available
/// once its app key is configured (see the README), else it says how to configure one.
pub fn providers(config_dir: &Path) -> Vec<ProviderInfo> {
    let cloud = |cloud: Cloud, sign_in: &'static str| {
        let keys = crate::signin::keys_for(cloud, config_dir);
        ProviderInfo {
            id: cloud.id(),
            label: cloud.label(),
            sign_in,
            available: keys.is_ok(),
            why_unavailable: keys.err().map(|e| e.to_string()),
        }
    };
    let ready = |id, label, sign_in| ProviderInfo {
        id,
        label,
        sign_in,
        available: true,
        why_unavailable: None,
    };
    vec![
        ready("demo", "Demo cloud", "none"),
        cloud(Cloud::Dropbox, "browser"),
        cloud(Cloud::Gdrive, "browser"),
        cloud(Cloud::Baidu, "device"),
        ready("webdav", "WebDAV", "form"),
        ready("s3", "S3-compatible storage", "form"),
        ready("local", "Local or network folder", "form"),
    ]
}

/// Where the wizard's providers get what they need beyond the form.
#[derive(Default, Clone, Copy)]
pub struct Sources<'a> {
    /// The running Demo cloud (the demo provider).
    pub demo: Option<&'a DemoCloud>,
    /// The finished sign-in named by the form's `session` field (OAuth providers).
    pub signed_in: Option<&'a SignedIn>,
}

/// The wizard's form (docs/app-ipc.md `WizardForm`).
#[derive(Debug, Clone, Deserialize)]
pub struct WizardForm {
    /// Provider id.
    pub provider: String,
    /// Connection name.
    #[serde(default)]
    pub name: String,
    /// The local folder.
    #[serde(default)]
    pub local_root: String,
    /// The remote folder, relative to what browsing starts at ("" = the default).
    #[serde(default)]
    pub remote_folder: String,
    /// Options.
    #[serde(default)]
    pub settings: ConnectionSettings,
    /// The schedule in the CLI's syntax, or "always".
    #[serde(default)]
    pub schedule_text: String,
    /// Provider fields.
    #[serde(default)]
    pub fields: HashMap<String, String>,
}

impl WizardForm {
    /// A provider field, trimmed ("" when absent).
    pub fn field_value(&self, key: &str) -> &str {
        self.field(key)
    }

    fn field(&self, key: &str) -> &str {
        self.fields.get(key).map(|s| s.trim()).unwrap_or("")
    }

    fn required(&self, key: &str, what: &str) -> Result<&str, AppError> {
        let v = self.field(key);
        if v.is_empty() {
            Err(AppError::Invalid(format!("{what} is required")))
        } else {
            Ok(v)
        }
    }
}

/// A local folder's verdict for the wizard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FolderCheck {
    /// Whether it can become the sync folder.
    pub ok: bool,
    /// Why not.
    pub reason: Option<String>,
}

/// Whether `path` can become a new sync folder: an existing, empty, writable folder.
pub fn check_local_folder(path: &str) -> FolderCheck {
    if path.trim().is_empty() {
        return FolderCheck {
            ok: false,
            reason: Some("choose a folder".into()),
        };
    }
    match cloudsync_engine::engine::check_new_sync_folder(Path::new(path.trim())) {
        Ok(_) => FolderCheck {
            ok: true,
            reason: None,
        },
        Err(e) => FolderCheck {
            ok: false,
            reason: Some(e.to_string()),
        },
    }
}

/// A target with the secret it needs.
pub struct Prepared {
    /// What to store.
    pub target: Target,
    /// The secret (password, secret key), if the backend has one.
    pub secret: Option<String>,
}

fn join_remote(base: &str, sub: &str) -> String {
    let sub = sub.trim_matches('/');
    let base = base.trim_end_matches('/');
    if sub.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{sub}")
    }
}

/// The target for `form`, its remote folder `remote_folder` applied; `demo` is the
/// running Demo cloud (needed for the demo provider only).
///
/// # Errors
/// A missing or malformed field, or a provider the app cannot set up.
pub fn prepare(
    form: &WizardForm,
    remote_folder: &str,
    src: &Sources<'_>,
) -> Result<Prepared, AppError> {
    let invalid = |e: setup::SetupError| AppError::Invalid(e.to_string());
    match form.provider.as_str() {
        "demo" => {
            let demo = src
                .demo
                .ok_or_else(|| AppError::Engine("the Demo cloud is not running".into()))?;
            let mut config = demo.connection_config();
            let root = if remote_folder.trim_matches('/').is_empty() {
                "/CloudSync".to_string()
            } else {
                format!("/{}", remote_folder.trim_matches('/'))
            };
            if let Some(map) = config.as_object_mut() {
                map.insert("root".into(), serde_json::Value::String(root.clone()));
            }
            Ok(Prepared {
                target: Target {
                    provider: "dropbox",
                    config,
                    credential: format!("demo:{}{}", demo.base_url(), root.to_lowercase()),
                    remote_local_dir: None,
                    secret_field: None,
                },
                secret: None,
            })
        }
        "local" => {
            let base = form.required("path", "the remote folder")?;
            let dir = join_remote(base, remote_folder);
            Ok(Prepared {
                target: setup::local(Path::new(&dir)).map_err(invalid)?,
                secret: None,
            })
        }
        "webdav" => {
            let url = form.required("url", "the server URL")?;
            let ca = form.field("ca_file");
            let ca = (!ca.is_empty()).then(|| PathBuf::from(ca));
            let target = setup::webdav(url, Some(remote_folder), form.field("user"), ca.as_deref())
                .map_err(invalid)?;
            Ok(Prepared {
                target,
                secret: Some(form.field("password").to_string()),
            })
        }
        "s3" => {
            let prefix = join_remote(form.field("prefix"), remote_folder);
            let region = match form.field("region") {
                "" => "us-east-1",
                r => r,
            };
            let target = setup::s3(
                form.required("endpoint", "the endpoint")?,
                form.required("bucket", "the bucket")?,
                &prefix,
                region,
                form.required("access_key", "the access key")?,
            )
            .map_err(invalid)?;
            Ok(Prepared {
                target,
                secret: Some(form.required("secret_key", "the secret key")?.to_string()),
            })
        }
        other => match Cloud::from_id(other) {
            Some(cloud) => {
                let signed = src
                    .signed_in
                    .filter(|s| s.cloud == cloud)
                    .ok_or_else(|| AppError::Invalid(format!("sign in to {other} first")))?;
                let root = cloud_root(cloud, remote_folder);
                Ok(Prepared {
                    target: setup::cloud::target(
                        cloud,
                        signed.config(root.as_deref()),
                        &signed.account,
                    ),
                    secret: Some(signed.tokens.to_secret()),
                })
            }
            None => Err(AppError::Invalid(format!("unknown provider {other:?}"))),
        },
    }
}

/// The stored root for a remote folder chosen by browsing from the top (`""`: the
/// provider's default, `None` in the config).
fn cloud_root(cloud: Cloud, remote_folder: &str) -> Option<String> {
    let folder = remote_folder.trim_matches('/');
    if folder.is_empty() {
        return None;
    }
    Some(match cloud {
        Cloud::Dropbox => format!("/{folder}"),
        Cloud::Gdrive | Cloud::Baidu => folder.to_string(),
    })
}

/// The settings the form asks for, its schedule text parsed.
///
/// # Errors
/// A schedule that does not parse.
pub fn settings_of(form: &WizardForm) -> Result<ConnectionSettings, AppError> {
    let mut settings = form.settings.clone();
    settings.schedule = parse_schedule(&form.schedule_text)?;
    Ok(settings)
}

/// A schedule from its text: empty or "always" is no schedule.
///
/// # Errors
/// Text that does not parse, with the parser's reason.
pub fn parse_schedule(text: &str) -> Result<Option<Schedule>, AppError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("always") {
        return Ok(None);
    }
    let s = Schedule::parse(text).map_err(|e| AppError::Invalid(format!("schedule: {e}")))?;
    Ok((!s.is_always()).then_some(s))
}

/// What `test_connection` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Tested {
    /// The account or target identity.
    pub account: String,
    /// One line for the remote side.
    pub remote: String,
}

/// Opens the form's remote and checks it answers.
///
/// # Errors
/// The remote's own reason (wrong password, missing bucket, unreachable server).
pub async fn test(form: &WizardForm, src: &Sources<'_>) -> Result<Tested, AppError> {
    let p = prepare(form, "", src)?;
    let remote = cloudsync_providers::Factory.open(
        p.target.provider,
        &p.target.probe_config(p.secret.as_deref()),
    )?;
    remote.check_root().await.or_else(|e| match e {
        // A root that does not exist yet is made when the connection is added.
        cloudsync_engine::RemoteError::NotFound(_) => Ok(()),
        other => Err(other),
    })?;
    let account = remote
        .account_id()
        .await?
        .unwrap_or_else(|| p.target.credential.clone());
    let provider = if form.provider == "demo" {
        "demo"
    } else {
        p.target.provider
    };
    Ok(Tested {
        account,
        remote: crate::connections::describe_remote(provider, &p.target.config),
    })
}

/// The folders directly inside `path` of the form's remote (`""` = where browsing
/// starts: the whole Dropbox for the Demo cloud, the given folder, URL or prefix
/// otherwise), sorted case-insensitively.
///
/// # Errors
/// The remote's reason.
pub async fn remote_folders(
    form: &WizardForm,
    path: &str,
    src: &Sources<'_>,
) -> Result<Vec<String>, AppError> {
    let path = path.trim_matches('/');
    if form.provider == "local" {
        let base = form.required("path", "the remote folder")?;
        return folders_in("local", &serde_json::json!({ "path": base }), path).await;
    }
    {
        let (provider, config) = match Cloud::from_id(&form.provider) {
            // Browsing starts at the top of the account (Dropbox: all of it; Drive: My
            // Drive; Baidu: the app folder), not at the default folder.
            Some(cloud) => {
                let signed = src
                    .signed_in
                    .filter(|s| s.cloud == cloud)
                    .ok_or_else(|| AppError::Invalid(format!("sign in to {} first", cloud.id())))?;
                let top = if cloud == Cloud::Dropbox {
                    Some("/")
                } else {
                    None
                };
                (cloud.id(), signed.probe_config(top))
            }
            None => {
                let mut p = prepare(form, "", src)?;
                if form.provider == "demo" {
                    if let Some(map) = p.target.config.as_object_mut() {
                        map.insert("root".into(), serde_json::Value::String("/".into()));
                    }
                }
                (
                    p.target.provider,
                    p.target.probe_config(p.secret.as_deref()),
                )
            }
        };
        folders_in(provider, &config, path).await
    }
}

/// The folders directly inside `path` of the remote `provider` opens with `config`.
///
/// # Errors
/// The remote's reason.
pub async fn folders_in(
    provider: &str,
    config: &serde_json::Value,
    path: &str,
) -> Result<Vec<String>, AppError> {
    let path = path.trim_matches('/');
    let dir = if path.is_empty() {
        None
    } else {
        Some(
            RelPath::new(path)
                .map_err(|e| AppError::Invalid(format!("not a folder path: {path:?} ({e})")))?,
        )
    };
    let remote = cloudsync_providers::Factory.open(provider, config)?;
    let names = remote.child_folders(dir.as_ref()).await?;
    Ok(shown_folders(names))
}

/// Folder names as the browser shows them: CloudSync's own folders left out, sorted
/// case-insensitively, each name once (Drive allows two folders of one name).
fn shown_folders(mut names: Vec<String>) -> Vec<String> {
    names.retain(|n| !n.starts_with(".cloudsync"));
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(provider: &str, fields: &[(&str, &str)]) -> WizardForm {
        WizardForm {
            provider: provider.into(),
            name: "n".into(),
            local_root: String::new(),
            remote_folder: String::new(),
            settings: ConnectionSettings::default(),
            schedule_text: String::new(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn only_an_existing_empty_folder_passes_the_check() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert!(check_local_folder(&tmp.path().display().to_string()).ok);
        std::fs::write(tmp.path().join("x"), b"1").expect("write");
        let c = check_local_folder(&tmp.path().display().to_string());
        assert!(!c.ok);
        assert!(
            c.reason.as_deref().unwrap_or("").contains("not empty"),
            "{c:?}"
        );
        let missing = check_local_folder(&tmp.path().join("nope").display().to_string());
        assert!(!missing.ok);
        assert!(!check_local_folder("  ").ok);
    }

    #[test]
    fn forms_become_targets_with_their_remote_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("Music")).expect("mkdir");
        let base = tmp.path().display().to_string();
        let p = prepare(
            &form("local", &[("path", &base)]),
            "Music",
            &Sources::default(),
        )
        .expect("local");
        assert_eq!(p.target.provider, "local");
        assert!(p.target.config["path"]
            .as_str()
            .unwrap_or("")
            .ends_with("/Music"));

        let p = prepare(
            &form(
                "webdav",
                &[
                    ("url", "http://127.0.0.1:1/dav"),
                    ("user", "u"),
                    ("password", "pw"),
                ],
            ),
            "Sync",
            &Sources::default(),
        )
        .expect("webdav");
        assert_eq!(p.target.config["url"], "http://127.0.0.1:1/dav/Sync");
        assert_eq!(p.secret.as_deref(), Some("pw"));

        let p = prepare(
            &form(
                "s3",
                &[
                    ("endpoint", "http://127.0.0.1:1"),
                    ("bucket", "b"),
                    ("prefix", "p"),
                    ("access_key", "a"),
                    ("secret_key", "s"),
                ],
            ),
            "q",
            &Sources::default(),
        )
        .expect("s3");
        assert_eq!(p.target.config["prefix"], "p/q");
        assert_eq!(p.target.config["region"], "us-east-1");

        let e = prepare(
            &form("s3", &[("endpoint", "http://h")]),
            "",
            &Sources::default(),
        )
        .err()
        .expect("missing bucket");
        assert_eq!(e.to_string(), "the bucket is required");
        let e = prepare(&form("dropbox", &[]), "", &Sources::default())
            .err()
            .expect("no sign-in yet");
        assert_eq!(e.to_string(), "sign in to dropbox first");
        assert!(prepare(&form("ftp", &[]), "", &Sources::default()).is_err());
    }

    #[test]
    fn a_signed_in_cloud_becomes_a_target_holding_its_tokens() {
        let signed = SignedIn {
            cloud: Cloud::Dropbox,
            keys: cloudsync_providers::setup::cloud::AppKeys {
                key: "k".into(),
                secret: None,
                name: None,
                api_base: Some("http://127.0.0.1:9".into()),
                redirect_port: None,
            },
            tokens: cloudsync_providers::oauth::stored::StoredTokens::parse("tok"),
            account: "dbid:1".into(),
        };
        let src = Sources {
            demo: None,
            signed_in: Some(&signed),
        };
        let p = prepare(&form("dropbox", &[("session", "s")]), "Work/Docs", &src).expect("target");
        assert_eq!(p.target.credential, "dropbox:dbid:1");
        assert_eq!(p.target.config["root"], "/Work/Docs");
        assert_eq!(p.target.config["api_base"], "http://127.0.0.1:9");
        assert_eq!(p.target.secret_field, Some("token_secret"));
        assert!(p.secret.as_deref().unwrap_or("").contains("tok"));
        let default = prepare(&form("dropbox", &[]), "", &src).expect("default root");
        assert!(default.target.config.get("root").is_none());
        // A sign-in to another provider does not count.
        assert!(prepare(&form("gdrive", &[]), "", &src).is_err());
    }

    #[test]
    fn schedule_text_parses_or_says_why() {
        assert_eq!(parse_schedule("always").expect("always"), None);
        assert_eq!(parse_schedule("").expect("empty"), None);
        assert!(parse_schedule("nonsense at noon").is_err());
    }

    #[test]
    fn local_folders_are_listed_without_files_or_cloudsync_folders() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for d in ["b", "A", ".cloudsync-trash"] {
            std::fs::create_dir(tmp.path().join(d)).expect("mkdir");
        }
        std::fs::write(tmp.path().join("file.txt"), b"x").expect("write");
        let f = form("local", &[("path", &tmp.path().display().to_string())]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let names = rt
            .block_on(remote_folders(&f, "", &Sources::default()))
            .expect("list");
        assert_eq!(names, vec!["A", "b"]);
    }
}
