//! Secrets (passwords, tokens): kept out of the database, the settings and the logs.
//!
//! They live in `secrets.json` in the config dir, readable by the owner only (0600, the
//! folder 0700), written through a temp file and a rename. A connection's stored config
//! names only the file and the key ([`SecretRef`]), so the database never holds a secret.
//! (On desktops with a keyring, the keyring is the better home; that comes with the app.)

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
}

/// Where a connection's secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The store file.
    pub store: PathBuf,
    /// The key in it.
    pub key: String,
}

impl SecretRef {
    /// Reads the secret.
    ///
    /// # Errors
    /// The store cannot be read, or holds no such key.
    pub fn resolve(&self) -> Result<String, SecretError> {
        SecretStore::at(&self.store)
            .get(&self.key)?
            .ok_or_else(|| SecretError::Missing(self.key.clone()))
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
        SecretRef {
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
