//! Which paths are never synced, and why: the spec's skip rules, the provider-specific ones
//! and the user's filters, as [`SkipRule`] data the UI can show and the engine can store.
//!
//! A [`RuleSet`] combines them for one connection. Rules are checked in a fixed order so the
//! reason given for a path is stable: the spec's rules first, then the provider's, then the
//! user's filters.
//!
//! Names ending in `.` or a space are not skipped; they are renamed (see
//! [`needs_tail_rename`] and [`crate::names::tail_character_name`]).

use std::fmt::{self, Write as _};

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::capabilities::ProviderRules;
use crate::names::case_fold;
use crate::path::RelPath;
use crate::settings::ConnectionSettings;
use crate::tree::Kind;
use crate::units::{format_bytes, format_bytes_compact};

/// Files larger than this (10 GiB) are not synced.
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024 * 1024;

/// Paths longer than this many characters (Unicode scalar values) are not synced.
pub const MAX_PATH_CHARS: usize = 2048;

/// Names longer than this many characters (Unicode scalar values) are not synced.
pub const MAX_NAME_CHARS: usize = 255;

/// Characters cloud services do not accept in a name. `/` cannot occur inside a
/// [`RelPath`] component, but raw names (for example from a remote listing) may hold it.
pub const FORBIDDEN_CHARACTERS: [char; 9] = ['*', ':', '?', '\\', '/', '"', '<', '>', '|'];

/// Name prefixes the spec excludes, most specific first so `.SYNOPPSDB` is reported rather
/// than `.`.
pub const RESERVED_PREFIXES: [&str; 4] = [".SYNOPPSDB", ".", "_", "~"];

/// Names excluded when a name is or contains one of them, compared ignoring ASCII case.
/// `Icon\r` is the macOS custom-folder-icon file, whose name ends in a carriage return.
pub const BLACKLISTED_NAMES: [&str; 9] = [
    ".ds_store",
    "desktop.ini",
    "@eadir",
    "thumbs.db",
    ".SynologyWorkingDirectory",
    "#recycle",
    "Icon\r",
    "$Recycle.Bin",
    "@sharebin",
];

/// The folder, at the top of a remote, where remotely deleted files are moved when the
/// remote's deletes are permanent. Its leading `.` keeps it out of sync by the spec rules.
pub const TRASH_DIR: &str = ".cloudsync-trash";

/// The marker file CloudSync leaves at the top of a sync root to recognise it. Its leading
/// `.` keeps it out of sync by the spec rules.
pub const ROOT_MARKER: &str = ".cloudsync-root";

/// Why one path is not synced. Serialised with its [`SkipRule::code`] as the `code` tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum SkipRule {
    /// The file is larger than [`MAX_FILE_SIZE`].
    TooLarge {
        /// The file's size in bytes.
        size: u64,
    },
    /// The name holds a character from [`FORBIDDEN_CHARACTERS`].
    ForbiddenCharacter {
        /// The first forbidden character found.
        ch: char,
    },
    /// The name starts with a prefix from [`RESERVED_PREFIXES`].
    ReservedPrefix {
        /// The most specific matching prefix.
        prefix: String,
    },
    /// The name is or contains an entry of [`BLACKLISTED_NAMES`].
    BlacklistedName {
        /// The blacklist entry found, spelled as in the list.
        name: String,
    },
    /// The whole path is longer than [`MAX_PATH_CHARS`].
    PathTooLong {
        /// The path's length in characters.
        len: usize,
    },
    /// The name is longer than [`MAX_NAME_CHARS`].
    NameTooLong {
        /// The name's length in characters.
        len: usize,
    },
    /// A Dropbox- or Baidu-specific name rule (or a similar provider restriction).
    ProviderName {
        /// The provider as users know it (`Dropbox`, `Baidu Cloud`).
        provider: String,
        /// Which names the provider refuses, as a phrase (`names containing '.dropbox'`).
        detail: String,
    },
    /// The file is larger than the provider lets this account store (Baidu: 4, 10 or
    /// 20 GB by membership).
    ProviderTooLarge {
        /// The provider as users know it (`Baidu Cloud`).
        provider: String,
        /// The account's per-file limit in bytes.
        limit: u64,
    },
    /// A Google Docs/Sheets/Slides (or other Google-native) item, which has no file content.
    GoogleNativeDocument {
        /// Its Google MIME type (`application/vnd.google-apps.document`).
        mime: String,
    },
    /// The path matches one of the user's exclude globs.
    UserExclude {
        /// The glob as the user wrote it.
        glob: String,
    },
    /// The file has an extension the user excluded.
    UserExtension {
        /// The extension as the user wrote it, without the dot.
        ext: String,
    },
    /// The file is larger than the user's size limit.
    UserMaxSize {
        /// The limit in bytes.
        limit: u64,
    },
    /// The path is, or lies inside, a remote folder the user left out (selective sync).
    SelectiveSync {
        /// The folder left out.
        folder: String,
    },
    /// A symbolic link (links are never followed or copied).
    Symlink,
    /// Neither a regular file nor a folder.
    SpecialFile {
        /// What it is: `fifo`, `socket`, `device`, ...
        what: String,
    },
    /// The entry could not be read; the only rule worth retrying.
    Unreadable {
        /// The error as reported by the system.
        error: String,
    },
    /// Another name in the same folder is equal to this one after NFC normalisation.
    UnicodeClash {
        /// The other name.
        other: String,
    },
    /// Another name in the same folder differs only in case, on a case-insensitive remote.
    CaseClash {
        /// The other name.
        other: String,
    },
    /// A remote name that is not a valid path component here.
    InvalidName {
        /// What is wrong with it.
        detail: String,
    },
}

impl SkipRule {
    /// A stable kebab-case identifier, for logs, storage and translations.
    pub fn code(&self) -> &'static str {
        match self {
            SkipRule::TooLarge { .. } => "too-large",
            SkipRule::ForbiddenCharacter { .. } => "forbidden-character",
            SkipRule::ReservedPrefix { .. } => "reserved-prefix",
            SkipRule::BlacklistedName { .. } => "blacklisted-name",
            SkipRule::PathTooLong { .. } => "path-too-long",
            SkipRule::NameTooLong { .. } => "name-too-long",
            SkipRule::ProviderName { .. } => "provider-name",
            SkipRule::ProviderTooLarge { .. } => "provider-too-large",
            SkipRule::GoogleNativeDocument { .. } => "google-native-document",
            SkipRule::UserExclude { .. } => "user-exclude",
            SkipRule::UserExtension { .. } => "user-extension",
            SkipRule::UserMaxSize { .. } => "user-max-size",
            SkipRule::SelectiveSync { .. } => "selective-sync",
            SkipRule::Symlink => "symlink",
            SkipRule::SpecialFile { .. } => "special-file",
            SkipRule::Unreadable { .. } => "unreadable",
            SkipRule::UnicodeClash { .. } => "unicode-clash",
            SkipRule::CaseClash { .. } => "case-clash",
            SkipRule::InvalidName { .. } => "invalid-name",
        }
    }

    /// True when the condition may go away by itself, so the entry should be tried again
    /// on the next scan. Every other rule holds until the user changes something.
    pub fn is_retryable(&self) -> bool {
        matches!(self, SkipRule::Unreadable { .. })
    }
}

/// Writes text with control characters escaped (`\r`, `\n`), so a reason stays on one line
/// and an `Icon\r` is visible.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// Why the spec reserves a prefix, for the user.
fn prefix_reason(prefix: &str) -> &'static str {
    match prefix {
        ".SYNOPPSDB" => " (Synology database files)",
        "." => " (hidden files)",
        "_" => " (reserved names)",
        "~" => " (temporary files)",
        _ => "",
    }
}

/// What a blacklisted name is, for the user.
fn blacklist_reason(name: &str) -> &'static str {
    match name {
        ".ds_store" => " (macOS folder settings)",
        "desktop.ini" => " (Windows folder settings)",
        "@eadir" => " (Synology thumbnails)",
        "thumbs.db" => " (Windows thumbnail cache)",
        ".SynologyWorkingDirectory" => " (Synology working folder)",
        "#recycle" | "@sharebin" => " (Synology recycle bin)",
        "Icon\r" => " (macOS folder icon)",
        "$Recycle.Bin" => " (Windows recycle bin)",
        _ => "",
    }
}

impl fmt::Display for SkipRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipRule::TooLarge { size } => write!(
                f,
                "larger than {} ({})",
                format_bytes_compact(MAX_FILE_SIZE),
                format_bytes(*size)
            ),
            SkipRule::ForbiddenCharacter { ch } => write!(
                f,
                "name contains '{}' which cloud services do not accept",
                OneLine(ch.encode_utf8(&mut [0; 4]))
            ),
            SkipRule::ReservedPrefix { prefix } => write!(
                f,
                "names starting with '{}' are not synced{}",
                OneLine(prefix),
                prefix_reason(prefix)
            ),
            SkipRule::BlacklistedName { name } => write!(
                f,
                "names that are or contain '{}' are not synced{}",
                OneLine(name),
                blacklist_reason(name)
            ),
            SkipRule::PathTooLong { len } => write!(
                f,
                "path is {len} characters long; the limit is {MAX_PATH_CHARS}"
            ),
            SkipRule::NameTooLong { len } => write!(
                f,
                "name is {len} characters long; the limit is {MAX_NAME_CHARS}"
            ),
            SkipRule::ProviderName { provider, detail } => write!(
                f,
                "{} are not synced to {}",
                OneLine(detail),
                OneLine(provider)
            ),
            SkipRule::ProviderTooLarge { provider, limit } => write!(
                f,
                "larger than the {} per file this {} account may store",
                format_bytes_compact(*limit),
                OneLine(provider)
            ),
            SkipRule::GoogleNativeDocument { mime } => write!(
                f,
                "Google Docs, Sheets and Slides files ({}) exist only online and are not synced",
                OneLine(mime)
            ),
            SkipRule::UserExclude { glob } => write!(
                f,
                "matches the exclude pattern '{}' in your settings",
                OneLine(glob)
            ),
            SkipRule::UserExtension { ext } => {
                write!(f, "'.{}' files are excluded in your settings", OneLine(ext))
            }
            SkipRule::UserMaxSize { limit } => write!(
                f,
                "larger than the {} limit in your settings",
                format_bytes_compact(*limit)
            ),
            SkipRule::SelectiveSync { folder } => write!(
                f,
                "left out by selective sync ('{}' is not synced)",
                OneLine(folder)
            ),
            SkipRule::Symlink => f.write_str("symbolic links are not synced"),
            SkipRule::SpecialFile { what } => write!(
                f,
                "special file ({}); only regular files and folders are synced",
                OneLine(what)
            ),
            SkipRule::Unreadable { error } => {
                write!(f, "could not be read: {}; will retry", OneLine(error))
            }
            SkipRule::UnicodeClash { other } => write!(
                f,
                "same name as '{}' once Unicode normalisation is applied; only one can be synced",
                OneLine(other)
            ),
            SkipRule::CaseClash { other } => write!(
                f,
                "differs from '{}' only in letter case, which the remote treats as the same name",
                OneLine(other)
            ),
            SkipRule::InvalidName { detail } => {
                write!(f, "not a valid file name here: {}", OneLine(detail))
            }
        }
    }
}

/// True when `name` ends in `.` or a space: such names are not skipped but renamed with
/// [`crate::names::tail_character_name`], because many systems strip those characters.
pub fn needs_tail_rename(name: &str) -> bool {
    name.ends_with('.') || name.ends_with(' ')
}

/// True when `haystack` contains `needle`, ignoring ASCII case. Comparing bytes is sound
/// because every needle here is ASCII, and ASCII bytes never occur inside a multi-byte
/// UTF-8 character.
fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let needle = needle.as_bytes();
    needle.is_empty()
        || haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

/// True when `name` starts with `prefix`, ignoring ASCII case.
fn starts_with_ignore_ascii_case(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// The spec's rules for one name (files and folders alike), in this order: forbidden
/// character, reserved prefix, blacklisted name, name length. `None` when the name may sync.
pub fn spec_name_rule(name: &str) -> Option<SkipRule> {
    if let Some(ch) = name.chars().find(|c| FORBIDDEN_CHARACTERS.contains(c)) {
        return Some(SkipRule::ForbiddenCharacter { ch });
    }
    if let Some(prefix) = RESERVED_PREFIXES
        .iter()
        .find(|p| starts_with_ignore_ascii_case(name, p))
    {
        return Some(SkipRule::ReservedPrefix {
            prefix: (*prefix).to_string(),
        });
    }
    if let Some(entry) = BLACKLISTED_NAMES
        .iter()
        .find(|b| contains_ignore_ascii_case(name, b))
    {
        return Some(SkipRule::BlacklistedName {
            name: (*entry).to_string(),
        });
    }
    let len = name.chars().count();
    if len > MAX_NAME_CHARS {
        return Some(SkipRule::NameTooLong { len });
    }
    None
}

/// The provider-specific name rules from the spec (prefixes first, then "contains"), all
/// compared ignoring ASCII case. Google Drive and plain remotes add none here; Google-native
/// documents are recognised by type with [`google_native_document`].
pub fn provider_name_rule(provider: ProviderRules, name: &str) -> Option<SkipRule> {
    let (display, prefixes, contained): (&str, &[&str], &[&str]) = match provider {
        ProviderRules::Dropbox => ("Dropbox", &[".dropbox", ".cache"], &[".dropbox"]),
        ProviderRules::Baidu => ("Baidu Cloud", &["."], &[".baohe", ".cache"]),
        ProviderRules::GoogleDrive | ProviderRules::None => return None,
        // Servers rewrite control characters (rclone maps them to the U+2400 pictures, so
        // the name listed back differs) or refuse them (S3 clients; XML 1.0 bodies cannot
        // carry most of them): such a name could never round-trip.
        ProviderRules::WebDav | ProviderRules::S3 => {
            let display = if provider == ProviderRules::WebDav {
                "WebDAV"
            } else {
                "S3"
            };
            return name
                .chars()
                .any(|c| c.is_ascii_control())
                .then(|| SkipRule::ProviderName {
                    provider: display.to_string(),
                    detail: "names with control characters".to_string(),
                });
        }
    };
    let hit = |detail: String| SkipRule::ProviderName {
        provider: display.to_string(),
        detail,
    };
    if let Some(p) = prefixes
        .iter()
        .find(|p| starts_with_ignore_ascii_case(name, p))
    {
        return Some(hit(format!("names starting with '{p}'")));
    }
    if let Some(c) = contained
        .iter()
        .find(|c| contains_ignore_ascii_case(name, c))
    {
        return Some(hit(format!("names containing '{c}'")));
    }
    // Dropbox refuses names with characters beyond the Basic Multilingual Plane (most
    // emoji) with `disallowed_name`; skipping them says why instead of failing each sync.
    (provider == ProviderRules::Dropbox && name.chars().any(|c| u32::from(c) > 0xFFFF))
        .then(|| hit("names with emoji or other characters beyond U+FFFF".to_string()))
}

/// Baidu refuses paths longer than this (characters, below the app folder's own path).
pub const BAIDU_MAX_PATH_CHARS: usize = 1000;

/// What a provider refuses to store beyond its name rules: Baidu stores no empty files,
/// no name that starts with white space or ends with white space other than a space (a
/// trailing space gets the tail-character rename), and no path over
/// [`BAIDU_MAX_PATH_CHARS`] characters (its upload and filemanager calls answer errno 2
/// or -7). Skipping them up front gives the user the reason instead of a failure on every
/// sync.
pub fn provider_limit_rule(
    provider: ProviderRules,
    path: &RelPath,
    kind: Kind,
    size: u64,
) -> Option<SkipRule> {
    if provider != ProviderRules::Baidu {
        return None;
    }
    let hit = |detail: &str| SkipRule::ProviderName {
        provider: "Baidu Cloud".to_string(),
        detail: detail.to_string(),
    };
    let name = path.name();
    // A trailing space (or dot) gets the spec's tail-character rename instead.
    let trailing = name.ends_with(|c: char| c.is_whitespace() && c != ' ');
    if name.starts_with(char::is_whitespace) || trailing {
        return Some(hit("names starting or ending with white space"));
    }
    // The app folder's own path (`/apps/<name>/`) counts too; 40 characters leave room
    // for a typical app name.
    if path.as_str().chars().count() + 40 > BAIDU_MAX_PATH_CHARS {
        return Some(hit(
            "paths longer than about 960 characters below the app folder",
        ));
    }
    (kind == Kind::File && size == 0).then(|| hit("empty files"))
}

/// The provider as users know it, for skip reasons.
fn provider_display_name(provider: ProviderRules) -> &'static str {
    match provider {
        ProviderRules::Baidu => "Baidu Cloud",
        ProviderRules::Dropbox => "Dropbox",
        ProviderRules::GoogleDrive => "Google Drive",
        ProviderRules::WebDav => "WebDAV",
        ProviderRules::S3 => "S3",
        ProviderRules::None => "remote",
    }
}

/// Google's MIME type for folders, which are synced like any folder.
const GOOGLE_FOLDER_MIME: &str = "application/vnd.google-apps.folder";

/// The skip reason for a Google Drive item of type `mime`, when it is a Google-native
/// document (Docs, Sheets, Slides, Forms, shortcuts, ...) rather than an uploaded file or a
/// folder: those have no file content to download.
pub fn google_native_document(mime: &str) -> Option<SkipRule> {
    (mime.starts_with("application/vnd.google-apps.") && mime != GOOGLE_FOLDER_MIME).then(|| {
        SkipRule::GoogleNativeDocument {
            mime: mime.to_string(),
        }
    })
}

/// Why a connection's filters could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// An exclude glob is malformed.
    #[error("bad exclude pattern {glob:?}: {reason}")]
    BadGlob {
        /// The glob as written.
        glob: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An excluded extension is empty (or only a dot).
    #[error("excluded extension {0:?} is empty")]
    EmptyExtension(String),
}

/// The rules of one connection: the spec's, its provider's and the user's filters.
///
/// Exclude globs use `globset` syntax with `*` not crossing `/` (use `**` for that) and are
/// case-sensitive. A glob excludes a path when it matches the whole relative path or the
/// name alone; a glob starting with `/` is anchored and matches the whole path only
/// (`/build` excludes the top-level `build`, not `src/build`). Paths are matched in NFC.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Provider-specific name rules.
    provider: ProviderRules,
    /// The user's globs as written, indexed like the glob sets.
    globs: Vec<String>,
    /// Every glob, matched against the whole path.
    path_globs: GlobSet,
    /// The unanchored globs, matched against the name alone.
    name_globs: GlobSet,
    /// For each glob of `name_globs`, its index in `globs`.
    name_glob_index: Vec<usize>,
    /// Excluded extensions: as written (no dot) and case-folded with the dot.
    extensions: Vec<(String, String)>,
    /// The user's size limit.
    max_size: Option<u64>,
    /// The provider's per-file limit for this account, where it is below the spec's.
    provider_max_file: Option<u64>,
    /// Folders left out by selective sync, as NFC keys.
    skip_folders: Vec<RelPath>,
}

impl RuleSet {
    /// Compiles the rules for a connection to a remote with `provider`'s name rules.
    ///
    /// # Errors
    /// [`RuleError::BadGlob`] naming a malformed glob, [`RuleError::EmptyExtension`] for an
    /// empty excluded extension.
    pub fn new(
        provider: ProviderRules,
        settings: &ConnectionSettings,
    ) -> Result<RuleSet, RuleError> {
        let mut path_globs = GlobSetBuilder::new();
        let mut name_globs = GlobSetBuilder::new();
        let mut name_glob_index = Vec::new();
        for (i, glob) in settings.exclude.iter().enumerate() {
            let bad = |reason: String| RuleError::BadGlob {
                glob: glob.clone(),
                reason,
            };
            let (anchored, pattern) = match glob.strip_prefix('/') {
                Some(rest) => (true, rest),
                None => (false, glob.as_str()),
            };
            if pattern.is_empty() {
                return Err(bad("empty pattern".to_string()));
            }
            let compiled = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| bad(e.kind().to_string()))?;
            path_globs.add(compiled.clone());
            if !anchored {
                name_globs.add(compiled);
                name_glob_index.push(i);
            }
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|e| RuleError::BadGlob {
                glob: e.glob().unwrap_or_default().to_string(),
                reason: e.kind().to_string(),
            })
        };
        let extensions = settings
            .exclude_extensions
            .iter()
            .map(|raw| {
                let ext = raw.trim().trim_start_matches('.');
                if ext.is_empty() {
                    Err(RuleError::EmptyExtension(raw.clone()))
                } else {
                    Ok((ext.to_string(), format!(".{}", case_fold(ext))))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RuleSet {
            provider,
            globs: settings.exclude.clone(),
            path_globs: build(path_globs)?,
            name_globs: build(name_globs)?,
            name_glob_index,
            extensions,
            max_size: settings.max_size,
            provider_max_file: None,
            skip_folders: settings
                .skip_remote_folders
                .iter()
                .map(RelPath::key)
                .collect(),
        })
    }

    /// The spec's rules only: no provider rules, no user filters.
    pub fn default_rules() -> RuleSet {
        RuleSet {
            provider: ProviderRules::None,
            globs: Vec::new(),
            path_globs: GlobSet::empty(),
            name_globs: GlobSet::empty(),
            name_glob_index: Vec::new(),
            extensions: Vec::new(),
            max_size: None,
            provider_max_file: None,
            skip_folders: Vec::new(),
        }
    }

    /// Adds the provider's per-file size limit for the signed-in account (Baidu's depends
    /// on the membership, so it is known only once the remote is reached).
    #[must_use]
    pub fn with_provider_max_file(mut self, limit: Option<u64>) -> RuleSet {
        self.provider_max_file = limit;
        self
    }

    /// The provider rules in force.
    pub fn provider(&self) -> ProviderRules {
        self.provider
    }

    /// Why the entry at `path` is not synced, judging its own name only (callers walk
    /// trees top-down and do not descend into skipped folders, so ancestors were checked
    /// already; use [`RuleSet::check_path`] otherwise). `size` is ignored for folders.
    ///
    /// Order: the spec's name rules ([`spec_name_rule`]), path length, 10 GiB size; then
    /// the provider's name rules; then the user's globs, extensions, size limit and
    /// selective sync.
    pub fn check_entry(&self, path: &RelPath, kind: Kind, size: u64) -> Option<SkipRule> {
        let name = path.name();
        if let Some(rule) = spec_name_rule(name) {
            return Some(rule);
        }
        let len = path.as_str().chars().count();
        if len > MAX_PATH_CHARS {
            return Some(SkipRule::PathTooLong { len });
        }
        if kind == Kind::File && size > MAX_FILE_SIZE {
            return Some(SkipRule::TooLarge { size });
        }
        if let Some(rule) = provider_name_rule(self.provider, name) {
            return Some(rule);
        }
        if let Some(rule) = provider_limit_rule(self.provider, path, kind, size) {
            return Some(rule);
        }
        if let Some(limit) = self
            .provider_max_file
            .filter(|l| kind == Kind::File && size > *l)
        {
            return Some(SkipRule::ProviderTooLarge {
                provider: provider_display_name(self.provider).to_string(),
                limit,
            });
        }
        self.user_rule(path, kind, size)
    }

    /// Like [`RuleSet::check_entry`], but also checks every ancestor (as a folder),
    /// outermost first, and returns the first hit: the answer to "why is this path not
    /// synced?" for an arbitrary path.
    pub fn check_path(&self, path: &RelPath, kind: Kind, size: u64) -> Option<SkipRule> {
        path.ancestors()
            .iter()
            .find_map(|a| self.check_entry(a, Kind::Dir, 0))
            .or_else(|| self.check_entry(path, kind, size))
    }

    /// The user's filters: globs, extensions and size limit (files only), selective sync.
    fn user_rule(&self, path: &RelPath, kind: Kind, size: u64) -> Option<SkipRule> {
        let key = path.key();
        if let Some(glob) = self.matching_glob(&key) {
            return Some(SkipRule::UserExclude { glob });
        }
        if kind == Kind::File {
            let folded = case_fold(key.name());
            if let Some((ext, _)) = self.extensions.iter().find(|(_, dotted)| {
                folded.len() > dotted.len() && folded.ends_with(dotted.as_str())
            }) {
                return Some(SkipRule::UserExtension { ext: ext.clone() });
            }
            if let Some(limit) = self.max_size.filter(|&limit| size > limit) {
                return Some(SkipRule::UserMaxSize { limit });
            }
        }
        self.skip_folders
            .iter()
            .find(|folder| key.is_within(folder))
            .map(|folder| SkipRule::SelectiveSync {
                folder: folder.to_string(),
            })
    }

    /// The first glob, in the user's order, matching the whole `key` or its name.
    fn matching_glob(&self, key: &RelPath) -> Option<String> {
        if self.globs.is_empty() {
            return None;
        }
        let by_path = self
            .path_globs
            .matches_candidate(&Candidate::new(key.as_str()))
            .into_iter()
            .min();
        let by_name = self
            .name_globs
            .matches_candidate(&Candidate::new(key.name()))
            .into_iter()
            .filter_map(|i| self.name_glob_index.get(i).copied())
            .min();
        let first = match (by_path, by_name) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        self.globs.get(first).cloned()
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet::default_rules()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::value::{Error as DeError, MapDeserializer};

    const GIB: u64 = 1024 * 1024 * 1024;

    fn path(s: &str) -> RelPath {
        RelPath::new(s).expect("valid test path")
    }

    fn rules_with(provider: ProviderRules, f: impl FnOnce(&mut ConnectionSettings)) -> RuleSet {
        let mut settings = ConnectionSettings::default();
        f(&mut settings);
        RuleSet::new(provider, &settings).expect("valid settings")
    }

    fn file(rules: &RuleSet, p: &str) -> Option<SkipRule> {
        rules.check_entry(&path(p), Kind::File, 1)
    }

    fn code(rule: Option<SkipRule>) -> &'static str {
        rule.as_ref().map_or("synced", SkipRule::code)
    }

    fn every_rule() -> Vec<SkipRule> {
        let s = |x: &str| x.to_string();
        vec![
            SkipRule::TooLarge { size: 12 * GIB },
            SkipRule::ForbiddenCharacter { ch: ':' },
            SkipRule::ReservedPrefix { prefix: s("~") },
            SkipRule::BlacklistedName { name: s("Icon\r") },
            SkipRule::PathTooLong { len: 3000 },
            SkipRule::NameTooLong { len: 300 },
            SkipRule::ProviderName {
                provider: s("Dropbox"),
                detail: s("names containing '.dropbox'"),
            },
            SkipRule::ProviderTooLarge {
                provider: s("Baidu Cloud"),
                limit: 4 * GIB,
            },
            SkipRule::GoogleNativeDocument {
                mime: s("application/vnd.google-apps.document"),
            },
            SkipRule::UserExclude { glob: s("*.tmp") },
            SkipRule::UserExtension { ext: s("iso") },
            SkipRule::UserMaxSize { limit: GIB },
            SkipRule::SelectiveSync {
                folder: s("Photos"),
            },
            SkipRule::Symlink,
            SkipRule::SpecialFile { what: s("fifo") },
            SkipRule::Unreadable {
                error: s("permission denied\nsecond line"),
            },
            SkipRule::UnicodeClash {
                other: s("cafe\u{301}"),
            },
            SkipRule::CaseClash { other: s("README") },
            SkipRule::InvalidName {
                detail: s("contains a NUL"),
            },
        ]
    }

    #[test]
    fn codes_are_stable_unique_kebab_case() {
        let codes: Vec<&str> = every_rule().iter().map(SkipRule::code).collect();
        assert_eq!(
            codes,
            [
                "too-large",
                "forbidden-character",
                "reserved-prefix",
                "blacklisted-name",
                "path-too-long",
                "name-too-long",
                "provider-name",
                "provider-too-large",
                "google-native-document",
                "user-exclude",
                "user-extension",
                "user-max-size",
                "selective-sync",
                "symlink",
                "special-file",
                "unreadable",
                "unicode-clash",
                "case-clash",
                "invalid-name",
            ]
        );
    }

    #[test]
    fn serde_tag_is_the_code() {
        let de = |pairs: Vec<(&'static str, &'static str)>| {
            SkipRule::deserialize(MapDeserializer::<_, DeError>::new(pairs.into_iter()))
        };
        assert_eq!(de(vec![("code", "symlink")]), Ok(SkipRule::Symlink));
        assert_eq!(
            de(vec![("code", "blacklisted-name"), ("name", "thumbs.db")]),
            Ok(SkipRule::BlacklistedName {
                name: "thumbs.db".into()
            })
        );
        assert_eq!(
            de(vec![("code", "forbidden-character"), ("ch", ":")]),
            Ok(SkipRule::ForbiddenCharacter { ch: ':' })
        );
        for rule in every_rule() {
            let fields: Vec<(&'static str, &'static str)> = match &rule {
                SkipRule::ReservedPrefix { .. } => vec![("prefix", "~")],
                SkipRule::GoogleNativeDocument { .. } => {
                    vec![("mime", "application/vnd.google-apps.document")]
                }
                SkipRule::UserExclude { .. } => vec![("glob", "*.tmp")],
                SkipRule::UserExtension { .. } => vec![("ext", "iso")],
                SkipRule::SelectiveSync { .. } => vec![("folder", "Photos")],
                SkipRule::SpecialFile { .. } => vec![("what", "fifo")],
                SkipRule::UnicodeClash { .. } => vec![("other", "cafe\u{301}")],
                SkipRule::CaseClash { .. } => vec![("other", "README")],
                SkipRule::InvalidName { .. } => vec![("detail", "contains a NUL")],
                _ => continue,
            };
            let mut pairs = vec![("code", rule.code())];
            pairs.extend(fields);
            assert_eq!(de(pairs), Ok(rule.clone()), "{}", rule.code());
        }
    }

    #[test]
    fn display_is_one_human_line() {
        for rule in every_rule() {
            let text = rule.to_string();
            assert!(!text.is_empty());
            assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
        }
        assert_eq!(
            SkipRule::ForbiddenCharacter { ch: ':' }.to_string(),
            "name contains ':' which cloud services do not accept"
        );
        assert_eq!(
            SkipRule::ReservedPrefix { prefix: "~".into() }.to_string(),
            "names starting with '~' are not synced (temporary files)"
        );
        assert_eq!(
            SkipRule::TooLarge {
                size: 12 * GIB + 300 * 1024 * 1024
            }
            .to_string(),
            "larger than 10 GiB (12.3 GiB)"
        );
        assert_eq!(
            SkipRule::BlacklistedName {
                name: "Icon\r".into()
            }
            .to_string(),
            "names that are or contain 'Icon\\r' are not synced (macOS folder icon)"
        );
        assert_eq!(
            SkipRule::UserMaxSize {
                limit: 100 * 1024 * 1024
            }
            .to_string(),
            "larger than the 100 MiB limit in your settings"
        );
        assert_eq!(
            SkipRule::ProviderName {
                provider: "Dropbox".into(),
                detail: "names containing '.dropbox'".into()
            }
            .to_string(),
            "names containing '.dropbox' are not synced to Dropbox"
        );
        assert_eq!(
            SkipRule::Unreadable {
                error: "permission denied".into()
            }
            .to_string(),
            "could not be read: permission denied; will retry"
        );
    }

    #[test]
    fn only_unreadable_is_retryable() {
        for rule in every_rule() {
            assert_eq!(
                rule.is_retryable(),
                rule.code() == "unreadable",
                "{}",
                rule.code()
            );
        }
    }

    #[test]
    fn forbidden_characters() {
        let r = RuleSet::default_rules();
        for ch in ['*', ':', '?', '\\', '"', '<', '>', '|'] {
            let name = format!("a{ch}b.txt");
            assert_eq!(
                file(&r, &name),
                Some(SkipRule::ForbiddenCharacter { ch }),
                "{name}"
            );
        }
        assert_eq!(
            spec_name_rule("a/b"),
            Some(SkipRule::ForbiddenCharacter { ch: '/' })
        );
        assert_eq!(
            spec_name_rule("a:b?c"),
            Some(SkipRule::ForbiddenCharacter { ch: ':' }),
            "the first one is reported"
        );
        for ok in [
            "a-b_c.txt",
            "a b",
            "a@b",
            "a#b",
            "a$b",
            "(1)",
            "caf\u{e9}",
            "\u{65e5}\u{672c}",
        ] {
            assert_eq!(file(&r, ok), None, "{ok}");
        }
    }

    #[test]
    fn reserved_prefixes_report_the_most_specific() {
        let r = RuleSet::default_rules();
        let prefix = |p: &str| {
            Some(SkipRule::ReservedPrefix {
                prefix: p.to_string(),
            })
        };
        assert_eq!(file(&r, ".bashrc"), prefix("."));
        assert_eq!(file(&r, "_draft.doc"), prefix("_"));
        assert_eq!(file(&r, "~$report.docx"), prefix("~"));
        assert_eq!(file(&r, ".SYNOPPSDB"), prefix(".SYNOPPSDB"));
        assert_eq!(file(&r, ".SYNOPPSDB_x"), prefix(".SYNOPPSDB"));
        assert_eq!(file(&r, ".synoppsdb-wal"), prefix(".SYNOPPSDB"));
        // Folders too, and the prefix rule only looks at the start.
        assert_eq!(r.check_entry(&path("a/.git"), Kind::Dir, 0), prefix("."));
        assert_eq!(file(&r, "a.b_c~d"), None);
    }

    #[test]
    fn blacklisted_names_are_matched_anywhere_ignoring_case() {
        let r = RuleSet::default_rules();
        let black = |n: &str| {
            Some(SkipRule::BlacklistedName {
                name: n.to_string(),
            })
        };
        assert_eq!(file(&r, "Thumbs.db"), black("thumbs.db"));
        assert_eq!(file(&r, "THUMBS.DB"), black("thumbs.db"));
        assert_eq!(file(&r, "old-thumbs.db.bak"), black("thumbs.db"));
        assert_eq!(file(&r, "desktop.ini"), black("desktop.ini"));
        assert_eq!(file(&r, "Desktop.INI"), black("desktop.ini"));
        assert_eq!(
            r.check_entry(&path("x/@eaDir"), Kind::Dir, 0),
            black("@eadir")
        );
        assert_eq!(file(&r, "#recycle"), black("#recycle"));
        assert_eq!(file(&r, "my#Recycle"), black("#recycle"));
        assert_eq!(file(&r, "Icon\r"), black("Icon\r"));
        assert_eq!(file(&r, "$RECYCLE.BIN"), black("$Recycle.Bin"));
        assert_eq!(file(&r, "@sharebin"), black("@sharebin"));
        assert_eq!(file(&r, "a.ds_store"), black(".ds_store"));
        assert_eq!(
            file(&r, "x.synologyworkingdirectory"),
            black(".SynologyWorkingDirectory")
        );
        // A leading dot is caught by the prefix rule first.
        assert_eq!(
            file(&r, ".DS_Store"),
            Some(SkipRule::ReservedPrefix { prefix: ".".into() })
        );
        // Near misses sync.
        for ok in [
            "Icon",
            "Icon.png",
            "thumbs-db.txt",
            "desktop-ini",
            "eadir",
            "recycle",
        ] {
            assert_eq!(file(&r, ok), None, "{ok:?}");
        }
    }

    #[test]
    fn length_limits_count_characters_not_bytes() {
        let r = RuleSet::default_rules();
        let n255 = "\u{e9}".repeat(255);
        assert!(n255.len() > 255, "multi-byte on purpose");
        assert_eq!(file(&r, &n255), None);
        let n256 = "\u{e9}".repeat(256);
        assert_eq!(file(&r, &n256), Some(SkipRule::NameTooLong { len: 256 }));

        // 8 folders of 255 chars + 7 slashes = 2047; a 1-char name makes 2049.
        let folder = "d".repeat(255);
        let deep = [folder.as_str(); 8].join("/");
        assert_eq!(deep.chars().count(), 2047);
        assert_eq!(r.check_entry(&path(&deep), Kind::Dir, 0), None);
        assert_eq!(
            file(&r, &format!("{deep}/x")),
            Some(SkipRule::PathTooLong { len: 2049 })
        );
        let exactly = format!("{}/x", &deep[1..]);
        assert_eq!(exactly.chars().count(), 2048);
        assert_eq!(file(&r, &exactly), None);
    }

    #[test]
    fn size_limit_is_strictly_larger_than_10_gib_and_files_only() {
        let r = RuleSet::default_rules();
        let p = path("big.iso");
        assert_eq!(MAX_FILE_SIZE, 10 * GIB);
        assert_eq!(r.check_entry(&p, Kind::File, MAX_FILE_SIZE), None);
        assert_eq!(
            r.check_entry(&p, Kind::File, MAX_FILE_SIZE + 1),
            Some(SkipRule::TooLarge {
                size: MAX_FILE_SIZE + 1
            })
        );
        assert_eq!(r.check_entry(&p, Kind::Dir, u64::MAX), None);
    }

    #[test]
    fn tail_characters_are_renamed_not_skipped() {
        let r = RuleSet::default_rules();
        for name in ["report.", "notes ", "a. .", "x.."] {
            assert!(needs_tail_rename(name), "{name:?}");
            assert_eq!(file(&r, name), None, "{name:?}");
        }
        for name in ["report", "a.b", " lead", "tab\t"] {
            assert!(!needs_tail_rename(name), "{name:?}");
        }
    }

    #[test]
    fn dropbox_rules() {
        let r = rules_with(ProviderRules::Dropbox, |_| {});
        let dropbox = |d: &str| {
            Some(SkipRule::ProviderName {
                provider: "Dropbox".into(),
                detail: d.to_string(),
            })
        };
        assert_eq!(
            file(&r, "my.dropbox"),
            dropbox("names containing '.dropbox'")
        );
        assert_eq!(
            file(&r, "a.DROPBOX.b"),
            dropbox("names containing '.dropbox'")
        );
        assert_eq!(
            file(&r, "x.cache"),
            None,
            "Dropbox only refuses a leading .cache"
        );
        assert_eq!(file(&r, "dropbox"), None);
        assert_eq!(
            file(&r, "party \u{1f389}.txt"),
            dropbox("names with emoji or other characters beyond U+FFFF")
        );
        // An emoji made of BMP characters (U+2764 U+FE0F) is a name Dropbox takes.
        assert_eq!(file(&r, "heart \u{2764}\u{fe0f}.txt"), None);
        assert_eq!(
            provider_name_rule(ProviderRules::GoogleDrive, "party \u{1f389}.txt"),
            None
        );
        // Names starting with '.' are already refused by the spec rules.
        assert_eq!(code(file(&r, ".dropbox.cache")), "reserved-prefix");
        // The provider rule on its own, for remotes that report raw names.
        assert_eq!(
            provider_name_rule(ProviderRules::Dropbox, ".dropbox.attr"),
            dropbox("names starting with '.dropbox'")
        );
        assert_eq!(
            provider_name_rule(ProviderRules::Dropbox, ".Cache"),
            dropbox("names starting with '.cache'")
        );
    }

    #[test]
    fn baidu_rules() {
        let r = rules_with(ProviderRules::Baidu, |_| {});
        let baidu = |d: &str| {
            Some(SkipRule::ProviderName {
                provider: "Baidu Cloud".into(),
                detail: d.to_string(),
            })
        };
        assert_eq!(file(&r, "a.baohe"), baidu("names containing '.baohe'"));
        assert_eq!(file(&r, "web.CACHE.db"), baidu("names containing '.cache'"));
        assert_eq!(file(&r, "my.dropbox"), None, "Dropbox rules do not apply");
        assert_eq!(
            provider_name_rule(ProviderRules::Baidu, ".hidden"),
            baidu("names starting with '.'")
        );
        assert_eq!(code(file(&r, ".baohe")), "reserved-prefix");
    }

    #[test]
    fn baidu_limits_are_skips_with_their_reason() {
        let r = rules_with(ProviderRules::Baidu, |_| {});
        let detail = |rule: Option<SkipRule>| match rule {
            Some(SkipRule::ProviderName { detail, .. }) => detail,
            other => format!("{other:?}"),
        };
        assert_eq!(
            detail(r.check_entry(&path("empty.txt"), Kind::File, 0)),
            "empty files"
        );
        assert_eq!(r.check_entry(&path("empty-dir"), Kind::Dir, 0), None);
        assert_eq!(r.check_entry(&path("one.txt"), Kind::File, 1), None);
        assert_eq!(
            detail(r.check_entry(&path(" leading"), Kind::File, 1)),
            "names starting or ending with white space"
        );
        assert_eq!(
            detail(r.check_entry(&path("trailing\u{3000}"), Kind::File, 1)),
            "names starting or ending with white space"
        );
        // A trailing space is renamed by the tail-character rule, not skipped.
        assert_eq!(r.check_entry(&path("trailing "), Kind::File, 1), None);
        let long = format!("{}/f", vec!["d".repeat(200); 5].join("/"));
        assert!(detail(r.check_entry(&path(&long), Kind::File, 1)).contains("paths longer"));
        let other = rules_with(ProviderRules::Dropbox, |_| {});
        assert_eq!(other.check_entry(&path("empty.txt"), Kind::File, 0), None);
    }

    #[test]
    fn an_accounts_per_file_limit_skips_larger_files_only() {
        let limit = 4 * GIB;
        let r = rules_with(ProviderRules::Baidu, |_| {}).with_provider_max_file(Some(limit));
        let rule = r.check_entry(&path("disk.img"), Kind::File, limit + 1);
        assert_eq!(
            rule,
            Some(SkipRule::ProviderTooLarge {
                provider: "Baidu Cloud".into(),
                limit
            })
        );
        assert_eq!(
            rule.map(|r| r.to_string()).unwrap_or_default(),
            "larger than the 4 GiB per file this Baidu Cloud account may store"
        );
        assert_eq!(r.check_entry(&path("fits.img"), Kind::File, limit), None);
        assert_eq!(r.check_entry(&path("folder"), Kind::Dir, limit + 1), None);
        // Over the spec's own 10 GiB, the spec's rule is the one reported.
        assert_eq!(
            code(r.check_entry(&path("huge.img"), Kind::File, 11 * GIB)),
            "too-large"
        );
        let unlimited = rules_with(ProviderRules::Baidu, |_| {});
        assert_eq!(
            unlimited.check_entry(&path("disk.img"), Kind::File, limit + 1),
            None
        );
    }

    #[test]
    fn webdav_and_s3_refuse_control_characters_only() {
        for (provider, display) in [(ProviderRules::WebDav, "WebDAV"), (ProviderRules::S3, "S3")] {
            let r = rules_with(provider, |_| {});
            for name in [
                "tab\there",
                "new\nline",
                "bell\u{7}",
                "del\u{7f}",
                "cr\r.txt",
            ] {
                assert_eq!(
                    file(&r, name),
                    Some(SkipRule::ProviderName {
                        provider: display.into(),
                        detail: "names with control characters".into(),
                    }),
                    "{name:?}"
                );
            }
            for name in [
                "my.dropbox",
                "a.baohe",
                "caf\u{e9} \u{1f600}",
                "pictures \u{2401}",
            ] {
                assert_eq!(file(&r, name), None, "{provider:?} {name:?}");
            }
        }
        // The local folder backend keeps them.
        assert_eq!(provider_name_rule(ProviderRules::None, "tab\there"), None);
    }

    #[test]
    fn google_drive_and_local_folders_add_no_name_rules() {
        for provider in [ProviderRules::GoogleDrive, ProviderRules::None] {
            let r = rules_with(provider, |_| {});
            for name in ["my.dropbox", "a.baohe", "x.cache"] {
                assert_eq!(file(&r, name), None, "{provider:?} {name}");
                assert_eq!(provider_name_rule(provider, name), None);
            }
        }
    }

    #[test]
    fn google_native_documents() {
        assert_eq!(
            google_native_document("application/vnd.google-apps.spreadsheet"),
            Some(SkipRule::GoogleNativeDocument {
                mime: "application/vnd.google-apps.spreadsheet".into()
            })
        );
        assert!(google_native_document("application/vnd.google-apps.shortcut").is_some());
        assert_eq!(google_native_document(GOOGLE_FOLDER_MIME), None);
        assert_eq!(google_native_document("application/pdf"), None);
        assert_eq!(google_native_document("text/plain"), None);
    }

    #[test]
    fn user_globs_match_the_path_or_the_name() {
        let r = rules_with(ProviderRules::None, |s| {
            s.exclude = vec![
                "*.tmp".into(),
                "build".into(),
                "docs/*.md".into(),
                "/out".into(),
                "**/cache/**".into(),
            ];
        });
        let by = |g: &str| {
            Some(SkipRule::UserExclude {
                glob: g.to_string(),
            })
        };
        assert_eq!(file(&r, "a.tmp"), by("*.tmp"));
        assert_eq!(
            file(&r, "deep/er/a.tmp"),
            by("*.tmp"),
            "matched on the name"
        );
        assert_eq!(r.check_entry(&path("src/build"), Kind::Dir, 0), by("build"));
        assert_eq!(file(&r, "docs/readme.md"), by("docs/*.md"));
        assert_eq!(file(&r, "docs/sub/readme.md"), None, "* does not cross /");
        assert_eq!(file(&r, "readme.md"), None);
        assert_eq!(r.check_entry(&path("out"), Kind::Dir, 0), by("/out"));
        assert_eq!(
            r.check_entry(&path("src/out"), Kind::Dir, 0),
            None,
            "anchored"
        );
        assert_eq!(file(&r, "a/cache/b"), by("**/cache/**"));
        assert_eq!(file(&r, "a.TMP"), None, "globs are case-sensitive");
        assert_eq!(file(&r, "buildings"), None);
    }

    #[test]
    fn the_first_matching_glob_in_user_order_is_reported() {
        let r = rules_with(ProviderRules::None, |s| {
            s.exclude = vec!["a/*".into(), "*.log".into()];
        });
        assert_eq!(
            file(&r, "a/x.log"),
            Some(SkipRule::UserExclude { glob: "a/*".into() })
        );
        let r = rules_with(ProviderRules::None, |s| {
            s.exclude = vec!["*.log".into(), "a/*".into()];
        });
        assert_eq!(
            file(&r, "a/x.log"),
            Some(SkipRule::UserExclude {
                glob: "*.log".into()
            })
        );
    }

    #[test]
    fn globs_match_nfc_spellings() {
        let r = rules_with(ProviderRules::None, |s| {
            s.exclude = vec!["caf\u{e9}".into()]
        });
        assert_eq!(
            file(&r, "cafe\u{301}"),
            Some(SkipRule::UserExclude {
                glob: "caf\u{e9}".into()
            })
        );
    }

    #[test]
    fn bad_globs_and_extensions_are_reported() {
        let mut settings = ConnectionSettings {
            exclude: vec!["ok".into(), "a[".into()],
            ..ConnectionSettings::default()
        };
        let err = RuleSet::new(ProviderRules::None, &settings).expect_err("unclosed class");
        assert!(
            matches!(&err, RuleError::BadGlob { glob, .. } if glob == "a["),
            "{err:?}"
        );
        assert!(err.to_string().contains("\"a[\""), "{err}");

        settings.exclude = vec!["/".into()];
        assert!(matches!(
            RuleSet::new(ProviderRules::None, &settings),
            Err(RuleError::BadGlob { .. })
        ));

        settings.exclude.clear();
        settings.exclude_extensions = vec!["iso".into(), ".".into()];
        assert_eq!(
            RuleSet::new(ProviderRules::None, &settings).map(|_| ()),
            Err(RuleError::EmptyExtension(".".into()))
        );
    }

    #[test]
    fn extensions_are_case_insensitive_without_the_dot_and_files_only() {
        let r = rules_with(ProviderRules::None, |s| {
            s.exclude_extensions = vec!["ISO".into(), ".tmp".into(), "tar.gz".into()];
        });
        let ext = |e: &str| Some(SkipRule::UserExtension { ext: e.to_string() });
        assert_eq!(file(&r, "disk.iso"), ext("ISO"));
        assert_eq!(file(&r, "disk.IsO"), ext("ISO"));
        assert_eq!(file(&r, "x/y.tmp"), ext("tmp"));
        assert_eq!(file(&r, "a.tar.gz"), ext("tar.gz"));
        assert_eq!(file(&r, "a.gz"), None);
        assert_eq!(file(&r, "iso"), None);
        assert_eq!(file(&r, "diskiso"), None);
        assert_eq!(r.check_entry(&path("stuff.iso"), Kind::Dir, 0), None);
    }

    #[test]
    fn user_size_limit_applies_to_files_only() {
        let r = rules_with(ProviderRules::None, |s| s.max_size = Some(1000));
        let p = path("f.bin");
        assert_eq!(r.check_entry(&p, Kind::File, 1000), None);
        assert_eq!(
            r.check_entry(&p, Kind::File, 1001),
            Some(SkipRule::UserMaxSize { limit: 1000 })
        );
        assert_eq!(r.check_entry(&p, Kind::Dir, 5000), None);
        // The spec's limit wins when both apply.
        assert_eq!(
            code(r.check_entry(&p, Kind::File, MAX_FILE_SIZE + 1)),
            "too-large"
        );
    }

    #[test]
    fn selective_sync_covers_the_folder_and_below() {
        let r = rules_with(ProviderRules::None, |s| {
            s.skip_remote_folders = vec![path("Photos/2019"), path("caf\u{e9}")];
        });
        let sel = |f: &str| {
            Some(SkipRule::SelectiveSync {
                folder: f.to_string(),
            })
        };
        assert_eq!(
            r.check_entry(&path("Photos/2019"), Kind::Dir, 0),
            sel("Photos/2019")
        );
        assert_eq!(file(&r, "Photos/2019/a.jpg"), sel("Photos/2019"));
        assert_eq!(file(&r, "Photos/2019x/a.jpg"), None);
        assert_eq!(r.check_entry(&path("Photos"), Kind::Dir, 0), None);
        assert_eq!(file(&r, "cafe\u{301}/menu.txt"), sel("caf\u{e9}"));
    }

    #[test]
    fn order_is_spec_then_provider_then_user() {
        let r = rules_with(ProviderRules::Dropbox, |s| {
            s.exclude = vec!["*".into()];
            s.exclude_extensions = vec!["dropbox".into()];
            s.max_size = Some(0);
        });
        assert_eq!(code(file(&r, "a:b")), "forbidden-character");
        assert_eq!(code(file(&r, "a.dropbox")), "provider-name");
        assert_eq!(code(file(&r, "plain")), "user-exclude");
        let r = rules_with(ProviderRules::None, |s| {
            s.exclude_extensions = vec!["txt".into()];
            s.max_size = Some(0);
            s.skip_remote_folders = vec![path("a")];
        });
        assert_eq!(code(file(&r, "a/x.txt")), "user-extension");
        assert_eq!(code(file(&r, "a/x.bin")), "user-max-size");
        assert_eq!(
            code(r.check_entry(&path("a/x.bin"), Kind::File, 0)),
            "selective-sync"
        );
    }

    #[test]
    fn check_entry_looks_at_the_last_name_only_but_check_path_at_all() {
        let r = RuleSet::default_rules();
        let p = path(".hidden/_tmp/file.txt");
        assert_eq!(r.check_entry(&p, Kind::File, 1), None);
        assert_eq!(
            r.check_path(&p, Kind::File, 1),
            Some(SkipRule::ReservedPrefix { prefix: ".".into() }),
            "the outermost hit is reported"
        );
        let p = path("ok/thumbs.db/x");
        assert_eq!(code(r.check_path(&p, Kind::File, 1)), "blacklisted-name");
        assert_eq!(r.check_path(&path("a/b/c"), Kind::File, 1), None);
        assert_eq!(
            code(r.check_path(&path("a/b/c"), Kind::File, MAX_FILE_SIZE + 1)),
            "too-large"
        );
        let sel = rules_with(ProviderRules::None, |s| {
            s.skip_remote_folders = vec![path("a")]
        });
        assert_eq!(
            code(sel.check_path(&path("a/b/c"), Kind::File, 1)),
            "selective-sync"
        );
    }

    #[test]
    fn cloudsync_own_files_are_never_synced() {
        assert!(TRASH_DIR.starts_with('.') && ROOT_MARKER.starts_with('.'));
        for provider in [
            ProviderRules::None,
            ProviderRules::Dropbox,
            ProviderRules::Baidu,
            ProviderRules::GoogleDrive,
        ] {
            let r = rules_with(provider, |_| {});
            let dot = Some(SkipRule::ReservedPrefix { prefix: ".".into() });
            assert_eq!(r.check_entry(&path(TRASH_DIR), Kind::Dir, 0), dot);
            assert_eq!(r.check_entry(&path(ROOT_MARKER), Kind::File, 0), dot);
            let inside = path(TRASH_DIR).join("old.txt").expect("valid name");
            assert_eq!(r.check_path(&inside, Kind::File, 3), dot);
            let nested = path("sub").join(TRASH_DIR).expect("valid name");
            assert_eq!(r.check_entry(&nested, Kind::Dir, 0), dot);
        }
    }

    #[test]
    fn default_rules_equal_rules_from_default_settings() {
        let a = RuleSet::default_rules();
        let b = RuleSet::new(ProviderRules::None, &ConnectionSettings::default())
            .expect("defaults are valid");
        for p in ["a", ".a", "a/b.tmp", "x:y", "Thumbs.db"] {
            assert_eq!(file(&a, p), file(&b, p), "{p}");
        }
        assert_eq!(a.provider(), ProviderRules::None);
        assert_eq!(RuleSet::default().provider(), ProviderRules::None);
    }

    proptest! {
        #[test]
        fn any_name_with_a_forbidden_character_is_skipped(
            head in "[a-z]{1,10}",
            ch in proptest::sample::select(vec!['*', ':', '?', '\\', '"', '<', '>', '|']),
            tail in "[a-z]{0,10}",
        ) {
            let name = format!("{head}{ch}{tail}");
            prop_assert_eq!(
                RuleSet::default_rules().check_entry(&path(&name), Kind::File, 0),
                Some(SkipRule::ForbiddenCharacter { ch })
            );
        }

        #[test]
        fn plain_names_sync(name in "[A-Za-z0-9][A-Za-z0-9 .()-]{0,40}[A-Za-z0-9]") {
            let r = RuleSet::default_rules();
            prop_assert_eq!(r.check_path(&path(&format!("dir/{name}")), Kind::File, 1), None);
        }

        #[test]
        fn check_path_never_panics_and_agrees_with_check_entry_on_top_level(
            name in "[^/\u{0}]{1,300}",
        ) {
            prop_assume!(name != "." && name != "..");
            let r = rules_with(ProviderRules::Baidu, |s| s.exclude = vec!["*.x".into()]);
            let p = path(&name);
            let entry = r.check_entry(&p, Kind::File, 5);
            prop_assert_eq!(r.check_path(&p, Kind::File, 5), entry.clone());
            if let Some(rule) = entry {
                let text = rule.to_string();
                prop_assert!(!text.contains('\n') && !text.contains('\r'));
            }
        }
    }
}
