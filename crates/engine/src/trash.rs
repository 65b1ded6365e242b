//! The `.cloudsync-trash/` folder: where deleted and replaced files go instead of vanishing,
//! one subfolder per day, purged after [`KEEP_DAYS`] days.

use std::io;
use std::path::Path;

use cloudsync_core::rules::TRASH_DIR;

use crate::localfs::{EntryType, LocalFs};

/// Days a trashed entry is kept.
pub const KEEP_DAYS: i64 = 30;

/// The trash day folder name for a time (UTC date).
pub fn day_folder(now_secs: i64) -> String {
    chrono::DateTime::from_timestamp(now_secs, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown-date".into())
}

/// Moves `rel` (relative to `root`) into the trash under `day`; returns where it went,
/// relative to `root`. Never overwrites: a name taken already gets a `.N` suffix.
///
/// # Errors
/// The OS error (`NotFound` when `rel` vanished).
pub fn move_to_trash(fs: &dyn LocalFs, root: &Path, rel: &str, day: &str) -> io::Result<String> {
    let base = format!("{TRASH_DIR}/{day}/{rel}");
    let from = root.join(rel);
    for n in 1..1000 {
        let dest_rel = if n == 1 {
            base.clone()
        } else {
            format!("{base}.{n}")
        };
        let dest = root.join(&dest_rel);
        if let Some(parent) = dest.parent() {
            fs.create_dir_all(parent)?;
        }
        match fs.rename_noreplace(&from, &dest) {
            Ok(()) => return Ok(dest_rel),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "no free name in the trash for {rel}"
    )))
}

/// True when `name` is a trash day folder (`YYYY-MM-DD`) older than [`KEEP_DAYS`] at
/// `now_secs`. Anything else in the trash folder is never purged.
pub fn expired_day_folder(name: &str, now_secs: i64) -> bool {
    let b = name.as_bytes();
    let is_day = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    // Day folders are named YYYY-MM-DD, so text order is date order.
    is_day && name < day_folder(now_secs - KEEP_DAYS * 86_400).as_str()
}

/// Removes day folders older than [`KEEP_DAYS`]; returns how many went.
///
/// # Errors
/// The OS error reading the trash folder (a missing trash is not an error).
pub fn purge(root: &Path, now_secs: i64) -> io::Result<usize> {
    let trash = root.join(TRASH_DIR);
    let entries = match crate::localfs::StdFs.read_dir(&trash) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let Ok(name) = entry.name else { continue };
        if entry.meta.ty == EntryType::Dir && expired_day_folder(&name, now_secs) {
            std::fs::remove_dir_all(trash.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localfs::StdFs;

    #[test]
    fn trash_never_overwrites_and_purges_old_days() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for content in ["one", "two"] {
            std::fs::write(root.join("a.txt"), content).expect("write");
            move_to_trash(&StdFs, root, "a.txt", "2026-01-01").expect("trash");
        }
        let day = root.join(TRASH_DIR).join("2026-01-01");
        assert_eq!(
            std::fs::read_to_string(day.join("a.txt")).expect("first"),
            "one"
        );
        assert_eq!(
            std::fs::read_to_string(day.join("a.txt.2")).expect("second"),
            "two"
        );
        std::fs::create_dir_all(root.join(TRASH_DIR).join("2026-11-20")).expect("recent day");
        // 2026-11-24: the January folder is older than 30 days, the November one is not.
        let removed = purge(root, 1_795_478_400).expect("purge");
        assert_eq!(removed, 1);
        assert!(!day.exists());
        assert!(root.join(TRASH_DIR).join("2026-11-20").exists());
    }

    #[test]
    fn only_day_folders_past_the_cutoff_expire() {
        // 2026-11-24 00:00 UTC; the cutoff is 2026-10-25.
        let now = 1_795_478_400;
        assert!(expired_day_folder("2026-10-24", now));
        assert!(!expired_day_folder("2026-10-25", now));
        assert!(!expired_day_folder("2026-11-24", now));
        for not_a_day in ["2026-1-24", "notes.txt", "2026-10-2x", "1999_01_01", ""] {
            assert!(!expired_day_folder(not_a_day, now), "{not_a_day:?}");
        }
    }
}
