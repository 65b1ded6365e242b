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
}

impl Server {
    /// Every column of the table, in order.
    pub const ALL: [Server; 5] = [
        Server::Local,
        Server::RcloneWebdav,
        Server::WsgiDav,
        Server::Moto,
        Server::S3rver,
    ];

    /// The column heading.
    pub fn column(self) -> &'static str {
        match self {
            Server::Local => "local",
            Server::RcloneWebdav => "webdav-rclone",
            Server::WsgiDav => "webdav-wsgidav",
            Server::Moto => "s3-moto",
            Server::S3rver => "s3-s3rver",
        }
    }

    /// True when the server keeps names in a Linux folder, so a name longer than 255
    /// bytes cannot be stored there at all.
    pub fn file_backed(self) -> bool {
        !matches!(self, Server::Moto)
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
        self.name.split('/').all(|c| c.len() <= 255)
    }
}

fn case(family: &'static str, name: impl Into<String>, outcome: Outcome) -> NameCase {
    NameCase {
        name: name.into(),
        family,
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
    // Network servers rewrite or refuse control characters, so those backends skip them.
    for c in &mut out {
        c.overrides = Server::ALL
            .into_iter()
            .filter(|s| *s != Server::Local)
            .map(|s| (s, Outcome::Skipped("provider-name")))
            .collect();
    }
    out
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
         # unstorable = the server's own storage cannot hold the name (over 255 bytes);\n\
         # refused-by-server = the server refuses to store it: it stays local, reported as \
         failing, holding back nothing else.\n\
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

    #[test]
    fn visible_spelling_escapes_what_cannot_be_seen() {
        assert_eq!(visible("a\tb\\c"), "a\\tb\\\\c");
        assert_eq!(visible("cafe\u{301}"), "cafe\\u{301}");
        assert_eq!(visible("x\u{1}"), "x\\x01");
        assert_eq!(visible("caf\u{e9}"), "caf\u{e9}");
        assert_eq!(visible("a b /c "), "a b\\x20/c\\x20");
    }
}
