//! What a new connection stores for each backend, built one way for the CLI and the app:
//! the provider id, its config, the credential identity (one connection per credential)
//! and the config field its secret goes under. Only the shape is checked here; whether
//! the remote answers is the engine's check when the connection is added.

pub mod cloud;
pub mod relink;

use std::path::{Path, PathBuf};

use cloudsync_core::ConnectionSettings;
use cloudsync_engine::engine::AddConnection;

/// Why a connection cannot be set up as asked.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub(crate) String);

/// A backend target, ready to become a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Provider id.
    pub provider: &'static str,
    /// The stored config (without the secret).
    pub config: serde_json::Value,
    /// The identity that may back only one connection.
    pub credential: String,
    /// The remote's folder when it is on this machine.
    pub remote_local_dir: Option<PathBuf>,
    /// The config field that will hold the secret's reference, if the backend has one.
    pub secret_field: Option<&'static str>,
}

impl Target {
    /// The config with the secret written in place (under the stored field's name without
    /// its `_secret` suffix, which every backend also reads), for probing a target before
    /// anything is stored.
    pub fn probe_config(&self, secret: Option<&str>) -> serde_json::Value {
        let mut config = self.config.clone();
        if let (Some(field), Some(secret), Some(map)) =
            (self.secret_field, secret, config.as_object_mut())
        {
            let inline = field.trim_end_matches("_secret");
            map.insert(inline.into(), serde_json::Value::String(secret.into()));
        }
        config
    }

    /// The engine request adding this target as connection `name` synced into `local`.
    pub fn into_add(
        self,
        name: String,
        local: PathBuf,
        settings: ConnectionSettings,
    ) -> AddConnection {
        AddConnection {
            name,
            provider: self.provider.into(),
            local_root: std::path::absolute(&local).unwrap_or(local),
            remote: self.config,
            credential: self.credential,
            remote_local_dir: self.remote_local_dir,
            settings,
        }
    }
}

fn http_url(what: &str, url: &str) -> Result<(), SetupError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(SetupError(format!(
            "{what} must start with http:// or https:// (got {url:?})"
        )))
    }
}

/// Another folder on this machine (a mounted share, a USB disk).
///
/// # Errors
/// The folder is missing or not a folder.
pub fn local(remote: &Path) -> Result<Target, SetupError> {
    let dir = match std::fs::canonicalize(remote) {
        Ok(p) if p.is_dir() => p,
        Ok(p) => {
            return Err(SetupError(format!(
                "remote {} is not a folder",
                p.display()
            )))
        }
        Err(e) => {
            return Err(SetupError(format!(
                "remote folder {}: {e}",
                remote.display()
            )))
        }
    };
    Ok(Target {
        provider: "local",
        config: serde_json::json!({ "path": dir }),
        credential: format!("local:{}", dir.display()),
        remote_local_dir: Some(dir),
        secret_field: None,
    })
}

/// A WebDAV server at `url` (plus an optional folder below it), as `user`, trusting an
/// optional extra CA.
///
/// # Errors
/// Not an http(s) URL, or an unreadable CA file.
pub fn webdav(
    url: &str,
    root: Option<&str>,
    user: &str,
    ca_file: Option<&Path>,
) -> Result<Target, SetupError> {
    http_url("the WebDAV URL", url)?;
    let mut full = url.trim_end_matches('/').to_string();
    if let Some(r) = root.map(|r| r.trim_matches('/')).filter(|r| !r.is_empty()) {
        full.push('/');
        full.push_str(r);
    }
    let mut config = serde_json::json!({ "url": full, "user": user });
    if let Some(ca) = ca_file {
        // Stored absolute: the engine may run in another directory (the daemon).
        let ca = std::path::absolute(ca).unwrap_or_else(|_| ca.to_path_buf());
        crate::webdav::tls::load_ca_file(&ca).map_err(|e| SetupError(format!("CA file: {e}")))?;
        if let Some(map) = config.as_object_mut() {
            map.insert(
                "ca_file".into(),
                serde_json::Value::String(ca.to_string_lossy().into_owned()),
            );
        }
    }
    Ok(Target {
        provider: "webdav",
        credential: format!("webdav:{full}:{user}"),
        config,
        remote_local_dir: None,
        secret_field: Some("password_secret"),
    })
}

/// An S3-compatible bucket (and key prefix) at `endpoint`.
///
/// # Errors
/// Not an http(s) endpoint, or no bucket.
pub fn s3(
    endpoint: &str,
    bucket: &str,
    prefix: &str,
    region: &str,
    access_key: &str,
) -> Result<Target, SetupError> {
    http_url("the S3 endpoint", endpoint)?;
    if bucket.trim().is_empty() {
        return Err(SetupError("the S3 bucket name is empty".into()));
    }
    let endpoint = endpoint.trim_end_matches('/');
    let prefix = prefix.trim_matches('/');
    Ok(Target {
        provider: "s3",
        config: serde_json::json!({
            "endpoint": endpoint,
            "bucket": bucket,
            "prefix": prefix,
            "region": region,
            "access_key": access_key,
        }),
        credential: format!("s3:{endpoint}/{bucket}/{prefix}"),
        remote_local_dir: None,
        secret_field: Some("secret_key_secret"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webdav_joins_the_root_and_names_url_and_user() {
        let t = webdav(
            "https://dav.example/remote.php/",
            Some("/Sync/"),
            "ann",
            None,
        )
        .expect("target");
        assert_eq!(t.config["url"], "https://dav.example/remote.php/Sync");
        assert_eq!(
            t.credential,
            "webdav:https://dav.example/remote.php/Sync:ann"
        );
        assert_eq!(t.secret_field, Some("password_secret"));
        assert_eq!(t.probe_config(Some("pw"))["password"], "pw");
        assert!(t.config.get("password").is_none());
        let err = webdav("dav.example", None, "ann", None).expect_err("no scheme");
        assert!(err.to_string().contains("http:// or https://"), "{err}");
    }

    #[test]
    fn s3_trims_and_names_endpoint_bucket_and_prefix() {
        let t = s3("http://127.0.0.1:9000/", "b", "/p/q/", "us-east-1", "AK").expect("target");
        assert_eq!(t.config["endpoint"], "http://127.0.0.1:9000");
        assert_eq!(t.config["prefix"], "p/q");
        assert_eq!(t.credential, "s3:http://127.0.0.1:9000/b/p/q");
        assert!(s3("http://h", " ", "", "r", "AK").is_err());
    }

    #[test]
    fn local_needs_an_existing_folder() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let t = local(tmp.path()).expect("target");
        assert_eq!(
            t.remote_local_dir.as_deref(),
            Some(tmp.path().canonicalize().expect("c").as_path())
        );
        let file = tmp.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        assert!(local(&file)
            .expect_err("file")
            .to_string()
            .contains("is not a folder"));
        assert!(local(&tmp.path().join("missing")).is_err());
    }
}
