//! Names CloudSync generates: the spec's `TailCharacterConflict` rename for names ending in
//! `.` or a space, conflicted-copy names, the host-name sanitiser both use, and the case
//! folding used to compare names on case-insensitive remotes.

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;

use crate::path::RelPath;
use crate::rules::{needs_tail_rename, MAX_NAME_CHARS};

/// Longest host part put into a generated name (a DNS label's limit), so a long host name
/// cannot crowd out the file's own name.
const MAX_HOST_CHARS: usize = 63;

/// Characters the spec forbids in names, plus `/`, which cannot occur in one.
const FORBIDDEN: [char; 9] = ['*', ':', '?', '\\', '/', '"', '<', '>', '|'];

/// Sanitises a machine's host name for use inside a file name: `/`, the spec's forbidden
/// characters (`* : ? \ " < > |`), whitespace and control characters become `-`; the result
/// is cut to 63 characters; an empty or blank host becomes `host`.
pub fn host_name_for_names(raw: &str) -> String {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| {
            if FORBIDDEN.contains(&c) || c.is_whitespace() || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .take(MAX_HOST_CHARS)
        .collect();
    if cleaned.is_empty() {
        "host".to_string()
    } else {
        cleaned
    }
}

/// The spec's new name for a name ending in `.` or a space:
/// `{name}_{host}_{YYYYMMDD}_TailCharacterConflict`, the date being the file's modification
/// time in UTC (`report.` modified 2026-11-24 on `nas` becomes
/// `report._nas_20261124_TailCharacterConflict`). `None` when the name needs no rename.
///
/// The host is sanitised with [`host_name_for_names`]. When the result would pass 255
/// characters the original name is shortened, so the renamed entry is not skipped for
/// length instead.
pub fn tail_character_name(name: &str, host: &str, mtime_ns: i64) -> Option<String> {
    if !needs_tail_rename(name) {
        return None;
    }
    let date = DateTime::<Utc>::from_timestamp_nanos(mtime_ns).format("%Y%m%d");
    let suffix = format!(
        "_{}_{date}_TailCharacterConflict",
        host_name_for_names(host)
    );
    let budget = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
    let kept: String = name.chars().take(budget).collect();
    Some(format!("{kept}{suffix}"))
}

/// The name of a conflicted copy of `name`, made on `host` at `when_secs` (Unix seconds,
/// shown in UTC): `report (conflicted copy 2026-11-24 101500 from nas).txt`.
///
/// The marker goes before the last extension (`archive.tar.gz` gives
/// `archive.tar (conflicted copy ...).gz`); a name without one, a leading-dot name such as
/// `.bashrc`, or a "extension" containing whitespace (`Mr. Smith`) gets it at the end.
/// For `n >= 2` the number is added inside the parenthesis (`... from nas 2)`). The result
/// is at most 255 characters: the part before the marker is shortened if needed.
pub fn conflict_copy_name(name: &str, host: &str, when_secs: i64, n: u32) -> String {
    let when = DateTime::<Utc>::from_timestamp(when_secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d %H%M%S");
    let host = host_name_for_names(host);
    let marker = if n >= 2 {
        format!(" (conflicted copy {when} from {host} {n})")
    } else {
        format!(" (conflicted copy {when} from {host})")
    };
    let (stem, ext) = split_extension(name);
    let marker_len = marker.chars().count();
    let ext_len = ext.chars().count();
    // Keep at least one character of the stem; if the extension is so long that it leaves
    // none, treat the whole name as the stem and shorten that instead.
    let (stem, ext) = if marker_len + ext_len < MAX_NAME_CHARS {
        (stem, ext)
    } else {
        (name, "")
    };
    let budget = MAX_NAME_CHARS.saturating_sub(marker_len + ext.chars().count());
    let stem: String = stem.chars().take(budget).collect();
    format!("{stem}{marker}{ext}")
}

/// The path of a conflicted copy of `path`: the first `n = 1, 2, ...` whose
/// [`conflict_copy_name`] is not `taken`, so a conflicted copy never overwrites anything.
/// The caller's `taken` decides what counts as the same path (exact, by NFC key, or
/// case-insensitively).
pub fn conflict_copy_path(
    path: &RelPath,
    host: &str,
    when_secs: i64,
    taken: impl Fn(&RelPath) -> bool,
) -> RelPath {
    let mut last = None;
    for n in 1..=u32::MAX {
        // The generated name keeps the original's characters and adds only sanitised
        // ones, so it is always a valid component; a failure just moves on to the next n.
        let Ok(candidate) = path.with_name(&conflict_copy_name(path.name(), host, when_secs, n))
        else {
            continue;
        };
        if !taken(&candidate) {
            return candidate;
        }
        last = Some(candidate);
    }
    // Four billion taken copies cannot happen; returning the last candidate keeps the
    // function total without a panic.
    last.unwrap_or_else(|| path.clone())
}

/// Folds a string for case-insensitive comparison: NFC, then lowercase (then NFC again,
/// since lowercasing can leave a non-composed sequence).
pub fn case_fold(s: &str) -> String {
    let lower = s.nfc().collect::<String>().to_lowercase();
    lower.nfc().collect()
}

/// Each character by its simple lowercase mapping, the way Dropbox lowercases names and
/// paths (`path_lower`; Python 2's `unicode.lower()`, reference 1.3). Rust's `to_lowercase`
/// differs for a final `Σ` (`ς`, Dropbox `σ`) and for `İ` (`i̇`, Dropbox `i`), so names
/// compared the way Dropbox compares them must be folded this way.
pub fn simple_lowercase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut full = c.to_lowercase();
            match (full.next(), full.next()) {
                (Some(l), None) => l,
                _ if c == '\u{130}' => 'i',
                _ => c,
            }
        })
        .collect()
}

/// Splits `name` into stem and extension (with its dot) at the last dot, when that dot is
/// neither the first nor the last character and the extension has no whitespace.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 && i + 1 < name.len() && !name[i..].chars().any(char::is_whitespace) => {
            name.split_at(i)
        }
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{spec_name_rule, RuleSet};
    use crate::tree::Kind;
    use std::collections::HashSet;

    /// 2026-11-24 10:15:00 UTC.
    const WHEN: i64 = 1_795_515_300;

    fn path(s: &str) -> RelPath {
        RelPath::new(s).expect("valid test path")
    }

    #[test]
    fn the_test_timestamp_is_what_the_tests_claim() {
        let t = DateTime::<Utc>::from_timestamp(WHEN, 0).expect("in range");
        assert_eq!(
            t.format("%Y-%m-%d %H:%M:%S").to_string(),
            "2026-11-24 10:15:00"
        );
    }

    #[test]
    fn tail_names_follow_the_spec_format() {
        let ns = WHEN * 1_000_000_000;
        assert_eq!(
            tail_character_name("report.", "nas", ns).as_deref(),
            Some("report._nas_20261124_TailCharacterConflict")
        );
        assert_eq!(
            tail_character_name("notes ", "nas", ns).as_deref(),
            Some("notes _nas_20261124_TailCharacterConflict")
        );
        assert_eq!(
            tail_character_name("a..", "DiskStation", 0).as_deref(),
            Some("a.._DiskStation_19700101_TailCharacterConflict")
        );
        assert_eq!(tail_character_name("report.txt", "nas", ns), None);
        assert_eq!(tail_character_name("report", "nas", ns), None);
    }

    #[test]
    fn tail_names_use_utc_and_handle_negative_times() {
        // 23:30 UTC on the 24th is still the 24th, whatever the machine's zone.
        let late = (WHEN + 13 * 3600 + 15 * 60) * 1_000_000_000;
        assert_eq!(
            tail_character_name("x.", "h", late).as_deref(),
            Some("x._h_20261124_TailCharacterConflict")
        );
        assert_eq!(
            tail_character_name("x.", "h", -1).as_deref(),
            Some("x._h_19691231_TailCharacterConflict")
        );
        assert!(tail_character_name("x.", "h", i64::MIN).is_some());
        assert!(tail_character_name("x.", "h", i64::MAX).is_some());
    }

    #[test]
    fn tail_names_sanitise_the_host_and_stay_valid() {
        let got = tail_character_name("a.", "bad/host:name", 0).expect("renamed");
        assert_eq!(got, "a._bad-host-name_19700101_TailCharacterConflict");
        assert_eq!(
            tail_character_name("a.", "", 0).as_deref(),
            Some("a._host_19700101_TailCharacterConflict")
        );
        let long = format!("{}.", "x".repeat(300));
        let got = tail_character_name(&long, "nas", 0).expect("renamed");
        assert_eq!(got.chars().count(), MAX_NAME_CHARS);
        assert!(got.ends_with("_nas_19700101_TailCharacterConflict"));
        assert!(RelPath::from_name(&got).is_ok());
        assert!(
            !needs_tail_rename(&got),
            "the new name must not need another rename"
        );
        assert_eq!(spec_name_rule(&got), None);
    }

    #[test]
    fn host_sanitiser() {
        assert_eq!(host_name_for_names("nas"), "nas");
        assert_eq!(host_name_for_names("nas.local"), "nas.local");
        assert_eq!(host_name_for_names("  "), "host");
        assert_eq!(host_name_for_names(""), "host");
        assert_eq!(host_name_for_names("My NAS"), "My-NAS");
        assert_eq!(
            host_name_for_names("a*b:c?d\\e\"f<g>h|i/j"),
            "a-b-c-d-e-f-g-h-i-j"
        );
        assert_eq!(host_name_for_names("a\u{0}b\rc"), "a-b-c");
        assert_eq!(host_name_for_names("caf\u{e9}"), "caf\u{e9}");
        assert_eq!(host_name_for_names(&"h".repeat(100)).chars().count(), 63);
    }

    #[test]
    fn conflict_names_go_before_the_last_extension() {
        assert_eq!(
            conflict_copy_name("report.txt", "nas", WHEN, 1),
            "report (conflicted copy 2026-11-24 101500 from nas).txt"
        );
        assert_eq!(
            conflict_copy_name("archive.tar.gz", "nas", WHEN, 1),
            "archive.tar (conflicted copy 2026-11-24 101500 from nas).gz"
        );
        assert_eq!(
            conflict_copy_name("Makefile", "nas", WHEN, 1),
            "Makefile (conflicted copy 2026-11-24 101500 from nas)"
        );
        assert_eq!(
            conflict_copy_name(".bashrc", "nas", WHEN, 1),
            ".bashrc (conflicted copy 2026-11-24 101500 from nas)"
        );
        assert_eq!(
            conflict_copy_name(".config.json", "nas", WHEN, 1),
            ".config (conflicted copy 2026-11-24 101500 from nas).json"
        );
        assert_eq!(
            conflict_copy_name("odd.", "nas", WHEN, 1),
            "odd. (conflicted copy 2026-11-24 101500 from nas)"
        );
        assert_eq!(
            conflict_copy_name("Mr. Smith", "nas", WHEN, 1),
            "Mr. Smith (conflicted copy 2026-11-24 101500 from nas)"
        );
    }

    #[test]
    fn conflict_names_number_from_two_and_sanitise_the_host() {
        assert_eq!(
            conflict_copy_name("report.txt", "nas", WHEN, 2),
            "report (conflicted copy 2026-11-24 101500 from nas 2).txt"
        );
        assert_eq!(
            conflict_copy_name("report.txt", "nas", WHEN, 0),
            conflict_copy_name("report.txt", "nas", WHEN, 1)
        );
        assert_eq!(
            conflict_copy_name("r.txt", "my/box", WHEN, 1),
            "r (conflicted copy 2026-11-24 101500 from my-box).txt"
        );
        assert_eq!(
            conflict_copy_name("r", "h", 0, 1),
            "r (conflicted copy 1970-01-01 000000 from h)"
        );
        // Out-of-range times fall back to the epoch rather than failing.
        assert_eq!(
            conflict_copy_name("r", "h", i64::MAX, 1),
            "r (conflicted copy 1970-01-01 000000 from h)"
        );
    }

    #[test]
    fn conflict_names_stay_within_the_name_limit() {
        let long = format!("{}.txt", "\u{e9}".repeat(300));
        let got = conflict_copy_name(&long, &"h".repeat(100), WHEN, u32::MAX);
        assert_eq!(got.chars().count(), MAX_NAME_CHARS);
        assert!(got.ends_with(&format!(" {}).txt", u32::MAX)), "{got}");
        assert!(got.starts_with('\u{e9}'));

        let huge_ext = format!("a.{}", "e".repeat(300));
        let got = conflict_copy_name(&huge_ext, "h", WHEN, 1);
        assert_eq!(got.chars().count(), MAX_NAME_CHARS);
        assert!(got.ends_with("from h)"));

        let just_fits = "s".repeat(200);
        let got = conflict_copy_name(&just_fits, "h", WHEN, 1);
        assert!(got.starts_with(&just_fits), "short names are not cut");
    }

    #[test]
    fn conflict_paths_never_reuse_a_taken_path() {
        let p = path("docs/report.txt");
        let first = conflict_copy_path(&p, "nas", WHEN, |_| false);
        assert_eq!(
            first.as_str(),
            "docs/report (conflicted copy 2026-11-24 101500 from nas).txt"
        );
        let taken: HashSet<String> = [
            first.as_str().to_string(),
            "docs/report (conflicted copy 2026-11-24 101500 from nas 2).txt".to_string(),
        ]
        .into_iter()
        .collect();
        let third = conflict_copy_path(&p, "nas", WHEN, |c| taken.contains(c.as_str()));
        assert_eq!(
            third.as_str(),
            "docs/report (conflicted copy 2026-11-24 101500 from nas 3).txt"
        );
        let top = conflict_copy_path(&path("a"), "nas", WHEN, |_| false);
        assert_eq!(top.parent(), None);
    }

    #[test]
    fn conflict_copies_are_synced_not_skipped() {
        let rules = RuleSet::default_rules();
        for name in ["report.txt", "archive.tar.gz", "Makefile", "x y.z"] {
            let copy = conflict_copy_path(&path(name), "nas", WHEN, |_| false);
            assert_eq!(rules.check_entry(&copy, Kind::File, 1), None, "{copy}");
            assert!(!needs_tail_rename(copy.name()), "{copy}");
        }
    }

    #[test]
    fn case_fold_equates_case_and_normal_forms() {
        assert_eq!(case_fold("Report.TXT"), "report.txt");
        assert_eq!(case_fold("CAF\u{c9}"), case_fold("cafe\u{301}"));
        assert_eq!(case_fold("cafe\u{301}"), "caf\u{e9}");
        assert_ne!(case_fold("a"), case_fold("b"));
        assert_eq!(case_fold(""), "");
        assert_eq!(
            case_fold("\u{130}"),
            case_fold(&case_fold("\u{130}")),
            "idempotent"
        );
    }
}
