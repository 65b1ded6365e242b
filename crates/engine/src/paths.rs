//! Where CloudSync keeps its data: `--config-dir`, else `CLOUDSYNC_HOME`, else the XDG
//! data directory.

use std::path::{Path, PathBuf};

/// The files inside a config dir.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    root: PathBuf,
}

impl ConfigDir {
    /// Resolves the config dir from an explicit choice, `CLOUDSYNC_HOME`, or XDG.
    pub fn resolve(explicit: Option<PathBuf>) -> ConfigDir {
        let root = explicit
            .or_else(|| std::env::var_os("CLOUDSYNC_HOME").map(PathBuf::from))
            .or_else(|| {
                directories::ProjectDirs::from("org", "CloudSync", "cloudsync")
                    .map(|d| d.data_dir().to_path_buf())
            })
            .unwrap_or_else(|| PathBuf::from(".cloudsync"));
        ConfigDir { root }
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("cloudsync.db")
    }

    /// The lock a running engine holds.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("engine.lock")
    }

    /// The control socket of a running engine.
    pub fn socket(&self) -> PathBuf {
        self.root.join("control.sock")
    }
}
