//! Secrets (passwords, tokens): kept out of the database, the settings and the logs.
//!
//! They go to the OS keyring when one answers ([`crate::os_keyring`]), else to
//! `secrets.json` in the config dir, readable by the owner only (0600, the folder 0700),
//! written through a temp file and a rename. A connection's stored config names only where
//! the secret is ([`SecretRef`]), so the database never holds one. `CLOUDSYNC_SECRETS=file`
//! or `=keyring` forces a home instead of choosing the keyring when it answers.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::os_keyring::KeyringError;

/// Errors of the secret store.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file could not be read or written.
    #[error("secret store {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid JSON.
    #[error("secret store {0} is damaged: {1}")]
    Corrupt(PathBuf, String),
    /// The secret is not there.
    #[error("no secret stored under {0:?} (add the connection again)")]
    Missing(String),
    /// The OS keyring could not be used.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// `CLOUDSYNC_SECRETS` names no known home.
    #[error("CLOUDSYNC_SECRETS must be \"keyring\" or \"file\", not {0:?}")]
    BadChoice(String),
}

/// Where a connection's secret is kept. Stored in the connection's config as
/// `{"keyring": SERVICE, "key": K}` or `{"store": FILE, "key": K}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretRef {
    /// In the OS keyring, under (`keyring`, `key`).
    Keyring {
        /// The keyring service name (it names the config dir).
        keyring: String,
        /// The entry's user name.
        key: String,
    },
    /// In the owner-only secrets file.
    File {
        /// The store file.
        store: PathBuf,
        /// The key in it.
        key: String,
    },
}

impl SecretRef {
    /// Where a new secret for `key` goes for the config dir `config_dir`: the OS keyring
    /// when one answers (or `CLOUDSYNC_SECRETS=keyring` insists), else the secrets file.
    ///
    /// # Errors
    /// `CLOUDSYNC_SECRETS` holds an unknown value, or insists on a keyring that is missing.
    pub fn choose(config_dir: &Path, key: &str) -> Result<SecretRef, SecretError> {
        let service = format!("cloudsync {}", config_dir.display());
        let keyring = SecretRef::Keyring {
            keyring: service.clone(),
            key: key.to_string(),
        };
        let file = SecretStore::in_dir(config_dir).reference(key);
        match std::env::var("CLOUDSYNC_SECRETS").ok().as_deref() {
            Some("file") => Ok(file),
            Some("keyring") => {
                crate::os_keyring::get(&service, "cloudsync-keyring-probe")?;
                Ok(keyring)
            }
            Some(other) if !other.is_empty() => Err(SecretError::BadChoice(other.to_string())),
            _ if crate::os_keyring::available(&service) => Ok(keyring),
            _ => Ok(file),
        }
    }

    /// The key within its home.
    pub fn key(&self) -> &str {
        match self {
            SecretRef::Keyring { key, .. } | SecretRef::File { key, .. } => key,
        }
    }

    /// Where the secret is, for messages (never the secret itself).
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Keyring { .. } => "the OS keyring".to_string(),
            SecretRef::File { store, .. } => format!("{} (owner-only)", store.display()),
        }
    }

    /// The secret, if stored.
    ///
    /// # Errors
    /// Its home cannot be read.
    pub fn get(&self) -> Result<Option<String>, SecretError> {
        match self {
            SecretRef::Keyring { keyring, key } => Ok(crate::os_keyring::get(keyring, key)?),
            SecretRef::File { store, key } => SecretStore::at(store).get(key),
        }
    }

    /// Stores `value`, replacing any earlier secret.
    ///
    /// # Errors
    /// Its home cannot be written.
    pub fn set(&self, value: &str) -> Result<(), SecretError> {
        match self {
            SecretRef::Keyring { keyring, key } => Ok(crate::os_keyring::set(keyring, key, value)?),
            SecretRef::File { store, key } => SecretStore::at(store).set(key, value),
        }
    }

    /// Removes the secret; true when there was one.
    ///
    /// # Errors
    /// Its home cannot be written.
    pub fn remove(&self) -> Result<bool, SecretError> {
        match self {
            SecretRef::Keyring { keyring, key } => Ok(crate::os_keyring::remove(keyring, key)?),
            SecretRef::File { store, key } => SecretStore::at(store).remove(key),
        }
    }

    /// Reads the secret.
    ///
    /// # Errors
    /// Its home cannot be read, or holds no such key.
    pub fn resolve(&self) -> Result<String, SecretError> {
        self.get()?
            .ok_or_else(|| SecretError::Missing(self.key().to_string()))
    }
}

/// A secret stored for a connection that is being added: if adding fails, it is taken
/// back and whatever was stored under the key before is put back.
#[derive(Debug)]
pub struct PendingSecret {
    home: SecretRef,
    had: Option<String>,
}

impl PendingSecret {
    /// Stores `value` for `key` in the config dir's secret home (see [`SecretRef::choose`]).
    ///
    /// # Errors
    /// No home can be chosen, read or written.
    pub fn store(config_dir: &Path, key: &str, value: &str) -> Result<PendingSecret, SecretError> {
        let home = SecretRef::choose(config_dir, key)?;
        let had = home.get()?;
        home.set(value)?;
        Ok(PendingSecret { home, had })
    }

    /// Where it went, for the connection's config.
    pub fn reference(&self) -> &SecretRef {
        &self.home
    }

    /// Takes the secret back (adding the connection failed).
    ///
    /// # Errors
    /// The home cannot be written.
    pub fn roll_back(self) -> Result<(), SecretError> {
        match self.had {
            Some(old) => self.home.set(&old),
            None => self.home.remove().map(|_| ()),
        }
    }
}

/// The owner-only secrets file.
#[derive(Debug, Clone)]
pub struct SecretStore {
    path: PathBuf,
}

impl SecretStore {
    /// The store in `config_dir`.
    pub fn in_dir(config_dir: &Path) -> SecretStore {
        SecretStore::at(&config_dir.join("secrets.json"))
    }

    /// The store at `path`.
    pub fn at(path: &Path) -> SecretStore {
        SecretStore {
            path: path.to_path_buf(),
        }
    }

    /// A reference to `key` in this store.
    pub fn reference(&self, key: &str) -> SecretRef {
        SecretRef::File {
            store: self.path.clone(),
            key: key.to_string(),
        }
    }

    fn io(&self, source: std::io::Error) -> SecretError {
        SecretError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn load(&self) -> Result<BTreeMap<String, String>, SecretError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| SecretError::Corrupt(self.path.clone(), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(self.io(e)),
        }
    }

    fn save(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        let temp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let json = serde_json::to_vec_pretty(map).map_err(|e| self.io(e.into()))?;
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::options()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&temp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            self.io(e)
        })
    }

    /// The secret under `key`, if any.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        Ok(self.load()?.remove(key))
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    /// The store cannot be read or written.
    pub fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        let mut map = self.load()?;
        map.insert(key.to_string(), value.to_string());
        self.save(&map)
    }

    /// Removes `key`; true when it was there.
    ///
    /// # Errors
    /// The store cannot be read or written.
    pub fn remove(&self, key: &str) -> Result<bool, SecretError> {
        let mut map = self.load()?;
        let had = map.remove(key).is_some();
        if had {
            self.save(&map)?;
        }
        Ok(had)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn references_keep_their_stored_shape() {
        // Connections stored before the keyring existed name a file.
        let old: SecretRef =
            serde_json::from_str(r#"{"store":"/c/secrets.json","key":"webdav:u"}"#).expect("old");
        assert_eq!(
            old,
            SecretRef::File {
                store: "/c/secrets.json".into(),
                key: "webdav:u".into()
            }
        );
        let in_keyring = SecretRef::Keyring {
            keyring: "cloudsync /c".into(),
            key: "webdav:u".into(),
        };
        let json = serde_json::to_string(&in_keyring).expect("json");
        assert_eq!(json, r#"{"keyring":"cloudsync /c","key":"webdav:u"}"#);
        assert_eq!(
            serde_json::from_str::<SecretRef>(&json).expect("back"),
            in_keyring
        );
    }

    #[test]
    fn file_references_read_write_and_remove() {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = SecretStore::in_dir(dir.path()).reference("k");
        assert_eq!(r.get().expect("get"), None);
        assert!(matches!(r.resolve(), Err(SecretError::Missing(_))));
        r.set("v").expect("set");
        assert_eq!(r.resolve().expect("resolve"), "v");
        assert!(r.remove().expect("remove"));
        assert!(!r.remove().expect("remove again"));
    }

    #[test]
    fn secrets_round_trip_in_an_owner_only_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SecretStore::in_dir(&dir.path().join("cfg"));
        assert_eq!(store.get("k").expect("empty store reads"), None);
        store.set("k", "s3cr3t").expect("set");
        store.set("other", "x").expect("set");
        let r = store.reference("k");
        assert_eq!(r.resolve().expect("resolve"), "s3cr3t");
        let mode = std::fs::metadata(dir.path().join("cfg/secrets.json"))
            .expect("file exists")
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(store.remove("k").expect("remove"));
        assert!(matches!(r.resolve(), Err(SecretError::Missing(_))));
        assert_eq!(store.get("other").expect("get").as_deref(), Some("x"));
    }
}
