//! The odd-names corpus: over 200 awkward file names, each with the outcome expected on
//! every backend and server (round-trips exactly, skipped by a named rule, renamed by the
//! spec's tail-character rule, or refused by the server's own storage).
//!
//! The expectations are data, written down here and rendered to `tests/names/corpus.tsv`
//! (a test keeps that file in step), so a reader can see per name and per backend what
//! CloudSync does. `tests/tests/odd_names.rs` sends every name through the whole engine in
//! both directions and checks each outcome. Later providers reuse the corpus by adding
//! their column.

use std::fmt::Write as _;

/// Where a name is stored: the backend and the server behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The local-folder backend (Linux file system).
    Local,
    /// WebDAV on `rclone serve webdav` (a Linux folder behind it).
    RcloneWebdav,
    /// WebDAV on wsgidav (a Linux folder behind it).
    WsgiDav,
    /// S3 on `moto_server` (keys in memory).
    Moto,
    /// S3 on s3rver (keys in a folder).
    S3rver,
    /// Dropbox on the in-process Dropbox emulator (names in memory).
    Dropbox,
    /// Google Drive on the in-process Drive emulator (names in memory).
    GoogleDrive,
    /// Baidu Netdisk on the in-process Baidu emulator (names in memory).
    Baidu,
}

impl Server {
    /// Every column of the table, in order.
    pub const ALL: [Server; 8] = [
        Server::Local,
        Server::RcloneWebdav,
        Server::WsgiDav,
        Server::Moto,
        Server::S3rver,
        Server::Dropbox,
        Server::GoogleDrive,
        Server::Baidu,
    ];

    /// The column heading.
    pub fn column(self) -> &'static str {
        match self {
            Server::Local => "local",
            Server::RcloneWebdav => "webdav-rclone",
            Server::WsgiDav => "webdav-wsgidav",
            Server::Moto => "s3-moto",
            Server::S3rver => "s3-s3rver",
            Server::Dropbox => "dropbox-emulator",
            Server::GoogleDrive => "gdrive-emulator",
            Server::Baidu => "baidu-emulator",
        }
    }

    /// True when the server keeps names in a Linux folder, so a name longer than 255
    /// bytes cannot be stored there at all.
    pub fn file_backed(self) -> bool {
        !matches!(
            self,
            Server::Moto | Server::Dropbox | Server::GoogleDrive | Server::Baidu
        )
    }

    /// True when the backend's protocol cannot carry control characters in a name, so
    /// its provider rules skip them (WebDAV: rclone rewrites them to the U+2400 pictures;
    /// S3: XML 1.0 bodies cannot carry most of them). The cloud APIs take names as JSON
    /// (Dropbox, Drive) or form fields (Baidu), where any character can be escaped.
    pub fn skips_control_characters(self) -> bool {
        matches!(
            self,
            Server::RcloneWebdav | Server::WsgiDav | Server::Moto | Server::S3rver
        )
    }

    /// True when the server stores no name ending in `.` or white space, so a
    /// tail-character name can only go up (renamed first) and never be placed on the
    /// server to come down. Baidu: "文件名或路径名开头结尾不能是"."或空白字符" (reference
    /// 3.9, errno -7).
    pub fn refuses_tail_characters(self) -> bool {
        matches!(self, Server::Baidu)
    }
}

/// What happens to a name, in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Arrives on the other side under exactly the same name (bytes), with its content.
    Same,
    /// Stays where it is, listed as skipped with this rule code.
    Skipped(&'static str),
    /// Renamed on its own side to `{name}_{host}_{YYYYMMDD}_TailCharacterConflict`, then
    /// synced under that name.
    TailRenamed,
    /// The server cannot hold the name at all (its own storage refuses it), so there is
    /// nothing to sync down; a local file with it cannot exist either.
    Unstorable,
    /// The server refuses to store it (an error for that one entry, every sync), while a
    /// local file can have it: it stays local, reported as failing, and holds back nothing
    /// else.
    Refused,
}

impl Outcome {
    fn describe(self) -> String {
        match self {
            Outcome::Same => "same".into(),
            Outcome::Skipped(code) => format!("skipped:{code}"),
            Outcome::TailRenamed => "renamed:TailCharacterConflict".into(),
            Outcome::Unstorable => "unstorable".into(),
            Outcome::Refused => "refused-by-server".into(),
        }
    }
}

/// One name of the corpus.
#[derive(Debug, Clone)]
pub struct NameCase {
    /// The name (a single path component, or `folder/name` for folder cases).
    pub name: String,
    /// Which family it belongs to (why it is in the corpus).
    pub family: &'static str,
    /// The whole `name` is one name even where it holds `/` (only Google Drive can store
    /// such a name; no local disk can).
    pub single: bool,
    outcome: Outcome,
    overrides: Vec<(Server, Outcome)>,
}

impl NameCase {
    /// What happens to the name on `server`.
    pub fn expect(&self, server: Server) -> Outcome {
        self.overrides
            .iter()
            .find(|(s, _)| *s == server)
            .map_or(self.outcome, |(_, o)| *o)
    }

    /// True when a local file can carry the name (Linux: at most 255 bytes a component).
    pub fn fits_local_disk(&self) -> bool {
        !(self.single && self.name.contains('/')) && self.name.split('/').all(|c| c.len() <= 255)
    }

    /// The name as a listing reports it: a name holding `/` is no valid local name, so
    /// backends list it as skipped under a percent-encoded spelling (`%` and `/` encoded).
    pub fn listed_name(&self) -> String {
        if self.single {
            self.name.replace('%', "%25").replace('/', "%2F")
        } else {
            self.name.clone()
        }
    }
}

fn case(family: &'static str, name: impl Into<String>, outcome: Outcome) -> NameCase {
    NameCase {
        name: name.into(),
        family,
        single: false,
        outcome,
        overrides: Vec::new(),
    }
}

/// The spec's forbidden characters.
const FORBIDDEN: &str = "*:?\\\"<>|";

/// Every printable ASCII character that is not a letter, digit or `/`, in three places:
/// inside a name, at its start and just before the extension.
fn ascii_punctuation() -> Vec<NameCase> {
    let mut out = Vec::new();
    for c in (b' '..=b'~').map(char::from) {
        if c.is_ascii_alphanumeric() || c == '/' {
            continue;
        }
        let forbidden = FORBIDDEN.contains(c);
        let rule = |reserved_start: bool| {
            if forbidden {
                Outcome::Skipped("forbidden-character")
            } else if reserved_start {
                Outcome::Skipped("reserved-prefix")
            } else {
                Outcome::Same
            }
        };
        out.push(case("ascii-inside", format!("a{c}b.txt"), rule(false)));
        out.push(case(
            "ascii-start",
            format!("{c}start.txt"),
            rule(matches!(c, '.' | '_' | '~')),
        ));
        out.push(case("ascii-before-ext", format!("end{c}.txt"), rule(false)));
    }
    out
}

fn percent_lookalikes() -> Vec<NameCase> {
    [
        "%20 encoded space.txt",
        "%2F encoded slash.txt",
        "%2e%2e dots.txt",
        "%00 nul.txt",
        "%% double.txt",
        "%zz not hex.txt",
        "%C3%A9 encoded e.txt",
        "100%.txt",
        "%",
        "a%2Fb%5Cc.txt",
    ]
    .into_iter()
    .map(|n| case("percent", n, Outcome::Same))
    .collect()
}

fn unicode() -> Vec<NameCase> {
    let same = [
        ("nfc", "caf\u{e9}.txt"),
        ("nfd", "cafe\u{301}.txt"),
        ("nfc", "ni\u{f1}o.txt"),
        ("nfd", "nin\u{303}o.txt"),
        ("nfc", "\u{c5}ngstr\u{f6}m.txt"),
        ("nfd", "A\u{30a}ngstro\u{308}m.txt"),
        ("nfc", "\u{d55c}\u{ae00}.txt"),
        ("nfd", "\u{1112}\u{1161}\u{11ab}\u{1100}\u{1173}\u{11af}.txt"),
        ("nfc-only", "\u{212b} angstrom sign.txt"),
        ("emoji", "emoji \u{1f600}.txt"),
        (
            "emoji",
            "family \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}.txt",
        ),
        ("emoji", "thumbs \u{1f44d}\u{1f3fd}.txt"),
        ("emoji", "flag \u{1f1e9}\u{1f1ea}.txt"),
        ("emoji", "heart \u{2764}\u{fe0f}.txt"),
        ("rtl", "\u{5e2}\u{5d1}\u{5e8}\u{5d9}\u{5ea}.txt"),
        (
            "rtl",
            "\u{645}\u{631}\u{62d}\u{628}\u{627} \u{628}\u{627}\u{644}\u{639}\u{627}\u{644}\u{645}.txt",
        ),
        ("rtl", "mixed \u{5e9}\u{5dc}\u{5d5}\u{5dd} abc.txt"),
        ("bidi-control", "evil\u{202e}txt.exe"),
        ("bidi-control", "mark\u{200f}rtl.txt"),
        ("invisible", "zero\u{200b}width.txt"),
        ("invisible", "\u{feff}bom first.txt"),
        ("invisible", "joiner\u{200d}.txt"),
        ("space", "no\u{a0}break.txt"),
        ("space", "ideographic\u{3000}space.txt"),
        ("space", "line\u{2028}separator.txt"),
        ("cjk", "\u{65e5}\u{672c}\u{8a9e}\u{306e}\u{30d5}\u{30a1}\u{30a4}\u{30eb}.txt"),
        ("cjk", "\u{4e2d}\u{6587}\u{6587}\u{4ef6}.txt"),
        ("script", "\u{939}\u{93f}\u{928}\u{94d}\u{926}\u{940}.txt"),
        ("script", "\u{e44}\u{e17}\u{e22}.txt"),
        ("script", "\u{395}\u{3bb}\u{3bb}\u{3b7}\u{3bd}\u{3b9}\u{3ba}\u{3ac}.txt"),
        ("script", "\u{420}\u{443}\u{441}\u{441}\u{43a}\u{438}\u{439}.txt"),
        ("astral", "math \u{1d400}\u{1d401}\u{1d402}.txt"),
        ("astral", "old italic \u{10300}.txt"),
        ("private-use", "private \u{e000}.txt"),
        ("combining", "stacked a\u{301}\u{302}\u{303}\u{304}.txt"),
        ("fullwidth", "fullwidth \u{ff0a}\u{ff1a}\u{ff1f}\u{ff3c}.txt"),
        ("german", "\u{dc}n\u{ef}c\u{f6}d\u{e9} \u{df}.txt"),
    ];
    same.into_iter()
        .map(|(family, n)| case(family, n, Outcome::Same))
        .collect()
}

fn lengths() -> Vec<NameCase> {
    let ascii = |n: usize| format!("{}.txt", "a".repeat(n - 4));
    let mut out = vec![
        case("length", ascii(254), Outcome::Same),
        case("length", ascii(255), Outcome::Same),
        // 127 two-byte characters and one byte: exactly 255 bytes.
        case(
            "length",
            format!("{}x", "\u{e9}".repeat(127)),
            Outcome::Same,
        ),
        // 63 four-byte emoji and `.txt`-less padding: 252 + 3 = 255 bytes.
        case(
            "length",
            format!("{}abc", "\u{1f600}".repeat(63)),
            Outcome::Same,
        ),
        case(
            "length",
            format!("{}/f.txt", "d".repeat(255)),
            Outcome::Same,
        ),
    ];
    // s3rver keeps each object in a file named after the key plus a suffix of its own, so
    // a name near 255 bytes is too long for its disk: it answers 500.
    for c in &mut out {
        c.overrides.push((Server::S3rver, Outcome::Refused));
    }
    // Over 255 characters: the spec's rule, wherever the name can exist.
    let mut over = case("length", ascii(256), Outcome::Skipped("name-too-long"));
    over.overrides = file_backed_unstorable();
    out.push(over);
    // Within 255 characters but over 255 bytes: no local disk holds it.
    for name in [
        format!("{}xx", "\u{e9}".repeat(127)),
        "\u{e9}".repeat(200),
        "\u{1f600}".repeat(64),
    ] {
        let mut c = case("length-bytes", name, Outcome::Skipped("invalid-name"));
        c.overrides = file_backed_unstorable();
        out.push(c);
    }
    out
}

/// Servers that keep names in a Linux folder cannot store names over 255 bytes.
fn file_backed_unstorable() -> Vec<(Server, Outcome)> {
    Server::ALL
        .into_iter()
        .filter(|s| s.file_backed())
        .map(|s| (s, Outcome::Unstorable))
        .collect()
}

fn control_characters() -> Vec<NameCase> {
    let mut out: Vec<NameCase> = [1u8, 7, 8, 9, 10, 11, 12, 13, 27, 31, 127]
        .into_iter()
        .map(|b| {
            case(
                "control",
                format!("ctl{}{b:02x}.txt", char::from(b)),
                Outcome::Same,
            )
        })
        .collect();
    out.push(case("control", "ends in cr\r", Outcome::Same));
    // WebDAV and S3 servers rewrite or refuse control characters, so those backends skip
    // them; the cloud APIs carry them escaped and store them.
    for c in &mut out {
        c.overrides = Server::ALL
            .into_iter()
            .filter(|s| s.skips_control_characters())
            .map(|s| (s, Outcome::Skipped("provider-name")))
            .collect();
    }
    out
}

/// Letters whose lowercase differs between Unicode's full mappings and Dropbox's
/// character-by-character simple ones (reference 1.3: Dropbox compares names by Python 2's
/// `unicode.lower()`): a dotted capital I, a word-final capital sigma (here ending a
/// folder's name), a capital sharp s (newer than Dropbox's Unicode 4.1 tables) and the
/// Kelvin sign.
fn case_folding() -> Vec<NameCase> {
    [
        "\u{130}stanbul.txt",
        "\u{391}\u{3a1}\u{3a7}\u{395}\u{399}\u{391} \u{39c}\u{391}\u{3a3}/file.txt",
        "\u{1e9e} capital sharp s.txt",
        "\u{212a} kelvin sign.txt",
    ]
    .into_iter()
    .map(|n| case("case-folding", n, Outcome::Same))
    .collect()
}

/// The spec's provider rules: Dropbox skips names starting with `.dropbox` or `.cache`
/// (the spec's `.` prefix already covers those) and names containing `.dropbox`; Baidu
/// names containing `.baohe` or `.cache`. All compared ignoring ASCII case
/// (`rules::provider_name_rule`).
fn provider_rules() -> Vec<NameCase> {
    let dropbox = [
        "notes.dropbox",
        "A.DROPBOX.txt",
        "my.dropboxfolder",
        "x.dropbox dir/inside.txt",
    ];
    let baidu = [
        "x.baohe",
        "a.Baohe.txt",
        "data.cache",
        "web.CACHE.d",
        "x.baohe dir/inside.txt",
    ];
    let mut out = Vec::new();
    for n in dropbox {
        let mut c = case("provider-rule", n, Outcome::Same);
        c.overrides = vec![(Server::Dropbox, Outcome::Skipped("provider-name"))];
        out.push(c);
    }
    for n in baidu {
        let mut c = case("provider-rule", n, Outcome::Same);
        c.overrides = vec![(Server::Baidu, Outcome::Skipped("provider-name"))];
        out.push(c);
    }
    // Near misses: the rules need the dot.
    for n in ["dropbox.txt", "baohe.txt", "cache.txt"] {
        out.push(case("provider-rule", n, Outcome::Same));
    }
    out
}

/// Names holding `/`: Google Drive stores them ("names are case-sensitive and may contain
/// `/`", reference 2.3); no other server and no local disk can. The Drive backend lists
/// them as skipped (`invalid-name`) under an encoded spelling, so a `/` never becomes a
/// path separator here.
fn slash_names() -> Vec<NameCase> {
    ["either/or.txt", "/etc/passwd", "../up a level.txt"]
        .into_iter()
        .map(|n| {
            let mut c = case("slash", n, Outcome::Unstorable);
            c.single = true;
            c.overrides = vec![(Server::GoogleDrive, Outcome::Skipped("invalid-name"))];
            c
        })
        .collect()
}

/// Dropbox refuses names with characters beyond the Basic Multilingual Plane (emoji and
/// the like; reference 1.1 "Dropbox rejects emoji in names ... the client must treat such
/// names as unsyncable", 1.3 "Emoji (non-BMP) rejected"; the emulator answers
/// `disallowed_name`): the Dropbox rule skips a local file with one, and the server cannot
/// hold one at all.
fn dropbox_refuses_astral(all: &mut [NameCase]) {
    for c in all {
        if !c.name.chars().any(|ch| u32::from(ch) > 0xFFFF) {
            continue;
        }
        let on_dropbox = match c.expect(Server::Dropbox) {
            Outcome::Same => Outcome::Skipped("provider-name"),
            Outcome::Skipped("invalid-name") => Outcome::Unstorable,
            other => other,
        };
        c.overrides.push((Server::Dropbox, on_dropbox));
    }
}

/// Baidu stores no name starting with white space or ending with white space other than a
/// space (reference 3.9; `rules::provider_limit_rule` skips them up front).
fn baidu_skips_white_space_edges(all: &mut [NameCase]) {
    for c in all {
        let edge = c.name.split('/').any(|n| {
            n.starts_with(char::is_whitespace)
                || n.ends_with(|ch: char| ch.is_whitespace() && ch != ' ')
        });
        if edge && c.expect(Server::Baidu) == Outcome::Same {
            c.overrides
                .push((Server::Baidu, Outcome::Skipped("provider-name")));
        }
    }
}

fn tail_characters() -> Vec<NameCase> {
    [
        "trailing dot.",
        "trailing space ",
        "two dots..",
        "dot then space. ",
        "space then dot .",
        "tail-folder./inside.txt",
        "tail-folder-space /inside.txt",
    ]
    .into_iter()
    .map(|n| case("tail", n, Outcome::TailRenamed))
    .collect()
}

fn windows_reserved() -> Vec<NameCase> {
    [
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "COM1",
        "COM9",
        "LPT1",
        "LPT9",
        "con.txt",
        "nul.tar.gz",
        "Aux.Log",
        "CONIN$",
        "CLOCK$",
        "com1 .txt",
    ]
    .into_iter()
    .map(|n| case("windows-reserved", n, Outcome::Same))
    .collect()
}

fn spec_rules() -> Vec<NameCase> {
    let mut out: Vec<NameCase> = [
        ".DS_Store",
        "desktop.ini",
        "Desktop.INI",
        "Thumbs.db",
        "@eaDir",
        "#recycle",
        "$Recycle.Bin",
        "@sharebin",
        "Icon\r",
        "my desktop.ini backup.txt",
        "old thumbs.db.bak",
        ".SynologyWorkingDirectory",
    ]
    .into_iter()
    .map(|n| {
        let code = if n.starts_with('.') {
            "reserved-prefix"
        } else {
            "blacklisted-name"
        };
        case("blacklisted", n, Outcome::Skipped(code))
    })
    .collect();
    for n in [
        ".hidden",
        "_under",
        "~tilde",
        ".SYNOPPSDB",
        ".SYNOPPSDB-journal",
    ] {
        out.push(case(
            "reserved-prefix",
            n,
            Outcome::Skipped("reserved-prefix"),
        ));
    }
    out
}

fn folders_and_lookalikes() -> Vec<NameCase> {
    let same = [
        "dir with space/inner file.txt",
        "dir%25/x#y&z.txt",
        "dir #1/a+b.txt",
        "a b/c d/e f.txt",
        "emoji \u{1f600} dir/\u{1f4c4}.txt",
        "caf\u{e9} nfc dir/file.txt",
        "cafe\u{301} nfd dir/file.txt",
        "MiXeD Case.txt",
        "UPPER.TXT",
        "file.TXT",
        "no extension",
        "a.b.c.d",
        "a..b",
        "-",
        "--help",
        "-rf",
        "null",
        "undefined",
        "&amp;",
        "&lt;not a tag&gt;",
        "&#x41;",
        "{{template}}",
        "$HOME",
        "${PATH}",
        "`whoami`",
        "it's.txt",
        "'single quoted'.txt",
        "multiple   spaces.txt",
        " leading space.txt",
    ];
    let mut out: Vec<NameCase> = same
        .into_iter()
        .map(|n| case("lookalike", n, Outcome::Same))
        .collect();
    out.push(case(
        "lookalike",
        "]]>",
        Outcome::Skipped("forbidden-character"),
    ));
    out.push(case(
        "folder",
        "skipped?dir/inside.txt",
        Outcome::Skipped("forbidden-character"),
    ));
    out.push(case(
        "folder",
        "_reserved dir/inside.txt",
        Outcome::Skipped("reserved-prefix"),
    ));
    out
}

/// The whole corpus.
pub fn corpus() -> Vec<NameCase> {
    let mut all = Vec::new();
    all.extend(ascii_punctuation());
    all.extend(percent_lookalikes());
    all.extend(unicode());
    all.extend(lengths());
    all.extend(control_characters());
    all.extend(tail_characters());
    all.extend(windows_reserved());
    all.extend(spec_rules());
    all.extend(folders_and_lookalikes());
    all.extend(case_folding());
    all.extend(provider_rules());
    all.extend(slash_names());
    dropbox_refuses_astral(&mut all);
    baidu_skips_white_space_edges(&mut all);
    all
}

/// A name spelled so that every character is visible: `\\`, control characters, format
/// and invisible characters, combining marks and a space ending a name are escaped (`\t`,
/// `\x01`, `\u{301}`, `\x20`).
pub fn visible(name: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            // A space that ends a name would be lost to the eye.
            ' ' if matches!(chars.peek(), None | Some('/')) => out.push_str("\\x20"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn invisible(c: char) -> bool {
    unicode_normalization::char::is_combining_mark(c)
        || matches!(
            c,
            '\u{a0}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{3000}'
                | '\u{feff}'
                | '\u{fe0f}'
                | '\u{e000}'..='\u{f8ff}'
        )
        || c.is_control()
}

/// The table `tests/names/corpus.tsv` holds: one row per name, one column per server.
pub fn render_table() -> String {
    let mut out = String::from(
        "# The odd-names corpus (tests/src/corpus.rs) and what CloudSync does with each\n\
         # name on each backend. Generated: UPDATE_CORPUS=1 cargo test -p cloudsync-tests \
         --test odd_names\n\
         # same = round-trips exactly; skipped:RULE = left alone, listed by `cloudsync \
         skipped` with that rule;\n\
         # renamed:TailCharacterConflict = renamed on its side to \
         NAME_HOST_YYYYMMDD_TailCharacterConflict;\n\
         # unstorable = the server cannot hold the name at all (over 255 bytes on a \
         file-backed server, a `/` inside, emoji on Dropbox);\n\
         # refused-by-server = the server refuses to store it: it stays local, reported as \
         failing, holding back nothing else.\n\
         # baidu-emulator stores no name ending in `.` or white space: such names only go \
         up (renamed first).\n\
         # Names are shown with \\t \\n \\r \\xNN \\u{...} escapes for invisible \
         characters.\n",
    );
    out.push_str("name\tfamily");
    for s in Server::ALL {
        out.push('\t');
        out.push_str(s.column());
    }
    out.push('\n');
    for c in corpus() {
        out.push_str(&visible(&c.name));
        out.push('\t');
        out.push_str(c.family);
        for s in Server::ALL {
            out.push('\t');
            out.push_str(&c.expect(s).describe());
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn corpus_is_large_and_has_no_duplicates() {
        let all = corpus();
        assert!(all.len() >= 200, "only {} names", all.len());
        let distinct: BTreeSet<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(distinct.len(), all.len(), "a name appears twice");
    }

    fn find(name: &str) -> NameCase {
        corpus()
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} is in the corpus"))
    }

    #[test]
    fn dropbox_refuses_the_names_beyond_the_basic_multilingual_plane_only() {
        assert_eq!(
            find("emoji \u{1f600}.txt").expect(Server::Dropbox),
            Outcome::Skipped("provider-name")
        );
        assert_eq!(
            find("emoji \u{1f600}.txt").expect(Server::GoogleDrive),
            Outcome::Same
        );
        // U+2764 U+FE0F: an emoji made of BMP characters only.
        assert_eq!(
            find("heart \u{2764}\u{fe0f}.txt").expect(Server::Dropbox),
            Outcome::Same
        );
        assert_eq!(
            find(&"\u{1f600}".repeat(64)).expect(Server::Dropbox),
            Outcome::Unstorable
        );
        // Names holding `/` are unstorable everywhere but on Drive, emoji or not.
        for c in corpus().into_iter().filter(|c| !c.single) {
            let astral = c.name.chars().any(|ch| u32::from(ch) > 0xFFFF);
            let on_dropbox = c.expect(Server::Dropbox);
            if astral {
                assert!(
                    matches!(
                        on_dropbox,
                        Outcome::Skipped("provider-name") | Outcome::Unstorable
                    ),
                    "{}",
                    visible(&c.name)
                );
            } else {
                assert_ne!(on_dropbox, Outcome::Unstorable, "{}", visible(&c.name));
            }
            assert_ne!(on_dropbox, Outcome::Refused, "{}", visible(&c.name));
        }
    }

    #[test]
    fn names_holding_a_slash_exist_on_drive_only() {
        let slashed: Vec<NameCase> = corpus().into_iter().filter(|c| c.single).collect();
        assert!(!slashed.is_empty());
        for c in slashed {
            assert!(!c.fits_local_disk());
            for s in Server::ALL {
                let want = if s == Server::GoogleDrive {
                    Outcome::Skipped("invalid-name")
                } else {
                    Outcome::Unstorable
                };
                assert_eq!(c.expect(s), want, "{} on {}", c.name, s.column());
            }
        }
        assert_eq!(find("either/or.txt").listed_name(), "either%2For.txt");
        assert_eq!(find("a b/c d/e f.txt").listed_name(), "a b/c d/e f.txt");
    }

    #[test]
    fn provider_rules_apply_to_their_own_provider_only() {
        let c = find("A.DROPBOX.txt");
        assert_eq!(c.expect(Server::Dropbox), Outcome::Skipped("provider-name"));
        assert_eq!(c.expect(Server::Baidu), Outcome::Same);
        let c = find("data.cache");
        assert_eq!(c.expect(Server::Baidu), Outcome::Skipped("provider-name"));
        assert_eq!(c.expect(Server::Dropbox), Outcome::Same);
        let c = find(" leading space.txt");
        assert_eq!(c.expect(Server::Baidu), Outcome::Skipped("provider-name"));
        assert_eq!(c.expect(Server::GoogleDrive), Outcome::Same);
        let c = find("ends in cr\r");
        assert_eq!(c.expect(Server::Baidu), Outcome::Skipped("provider-name"));
        assert_eq!(c.expect(Server::Dropbox), Outcome::Same);
        assert_eq!(c.expect(Server::Moto), Outcome::Skipped("provider-name"));
    }

    #[test]
    fn visible_spelling_escapes_what_cannot_be_seen() {
        assert_eq!(visible("a\tb\\c"), "a\\tb\\\\c");
        assert_eq!(visible("cafe\u{301}"), "cafe\\u{301}");
        assert_eq!(visible("x\u{1}"), "x\\x01");
        assert_eq!(visible("caf\u{e9}"), "caf\u{e9}");
        assert_eq!(visible("a b /c "), "a b\\x20/c\\x20");
    }
}
