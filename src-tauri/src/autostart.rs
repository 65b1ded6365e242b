//! Starting CloudSync at login, the freedesktop way: a `cloudsync.desktop` entry in the
//! user's autostart folder (`$XDG_CONFIG_HOME/autostart`) that starts the app minimized to
//! the tray, with the config dir it runs on now.

use std::path::{Path, PathBuf};

use crate::error::AppError;

const ENTRY: &str = "cloudsync.desktop";

/// The autostart entry's path.
fn entry_path(config_home: &Path) -> PathBuf {
    config_home.join("autostart").join(ENTRY)
}

/// The user's config home (`$XDG_CONFIG_HOME`, else `~/.config`).
fn config_home() -> Result<PathBuf, AppError> {
    directories::BaseDirs::new()
        .map(|d| d.config_dir().to_path_buf())
        .ok_or_else(|| AppError::Invalid("no home folder to keep the autostart entry in".into()))
}

/// Quotes one argument for a desktop entry's `Exec` key: the quoting rule escapes
/// `"`, `` ` ``, `$` and `\` with a backslash, then the string rule doubles every
/// backslash (the Desktop Entry Specification, "The Exec key").
fn quote(arg: &str) -> String {
    let quoted: String = arg
        .chars()
        .flat_map(|c| match c {
            '"' | '`' | '$' | '\\' => vec!['\\', c],
            '%' => vec!['%', '%'],
            c => vec![c],
        })
        .collect();
    format!("\"{}\"", quoted.replace('\\', "\\\\"))
}

/// The entry's text for starting `exe` on `config_dir`.
pub fn entry_text(exe: &Path, config_dir: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=CloudSync\nComment=Keeps your folders in sync with cloud storage\nExec={} --minimized --config-dir {}\nIcon=cloudsync-app\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        quote(&exe.display().to_string()),
        quote(&config_dir.display().to_string()),
    )
}

/// Whether CloudSync starts at login.
///
/// # Errors
/// No home folder.
pub fn enabled() -> Result<bool, AppError> {
    Ok(entry_path(&config_home()?).exists())
}

/// Turns starting at login on or off.
///
/// # Errors
/// The entry cannot be written or removed.
pub fn set(on: bool, config_dir: &Path) -> Result<(), AppError> {
    set_in(&config_home()?, on, config_dir)
}

fn set_in(config_home: &Path, on: bool, config_dir: &Path) -> Result<(), AppError> {
    let path = entry_path(config_home);
    let fail = |what: &str, e: std::io::Error| {
        AppError::Engine(format!("cannot {what} {}: {e}", path.display()))
    };
    if on {
        let exe = std::env::current_exe().map_err(|e| fail("find the app for", e))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail("create the folder of", e))?;
        }
        std::fs::write(&path, entry_text(&exe, config_dir)).map_err(|e| fail("write", e))
    } else {
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(fail("remove", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_starts_the_app_minimized_on_its_config_dir_and_goes_away() {
        let home = tempfile::tempdir().expect("tempdir");
        let config = Path::new("/home/ann/My \"Cloud\" $data");
        set_in(home.path(), true, config).expect("on");
        let text = std::fs::read_to_string(entry_path(home.path())).expect("entry");
        assert!(text.starts_with("[Desktop Entry]\n"), "{text}");
        assert!(
            text.contains(r#" --minimized --config-dir "/home/ann/My \\"Cloud\\" \\$data""#),
            "{text}"
        );
        set_in(home.path(), false, config).expect("off");
        assert!(!entry_path(home.path()).exists());
        set_in(home.path(), false, config).expect("off twice is fine");
    }
}
