//! Parsing scenario files: words, escapes, wildcards and commands.
//!
//! See `tests/scenarios/README.md` for the format as users see it.

use std::fmt;

/// One piece of a word: bytes, or an unescaped `*` (a wildcard where patterns are allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Literal bytes.
    Bytes(Vec<u8>),
    /// An unescaped `*`.
    Star,
}

/// A word of a line, after escapes (and `\{N:...}` repetitions) were expanded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// Its pieces.
    pub pieces: Vec<Piece>,
    /// True when it was written in double quotes.
    pub quoted: bool,
}

impl Word {
    fn push_byte(&mut self, b: u8) {
        if let Some(Piece::Bytes(v)) = self.pieces.last_mut() {
            v.push(b);
        } else {
            self.pieces.push(Piece::Bytes(vec![b]));
        }
    }

    fn push_bytes(&mut self, bs: &[u8]) {
        for &b in bs {
            self.push_byte(b);
        }
    }

    fn push_piece(&mut self, p: Piece) {
        match p {
            Piece::Bytes(bs) => self.push_bytes(&bs),
            Piece::Star => self.pieces.push(Piece::Star),
        }
    }

    /// The bytes, a wildcard counting as a literal `*`.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Star => out.push(b'*'),
            }
        }
        out
    }

    /// The text (a wildcard counting as a literal `*`).
    ///
    /// # Errors
    /// When the bytes are not UTF-8.
    pub fn text(&self) -> Result<String, String> {
        String::from_utf8(self.bytes()).map_err(|_| format!("{self} is not valid UTF-8"))
    }

    /// The word as a pattern where `*` matches any run of characters except `/`.
    ///
    /// # Errors
    /// When the bytes are not UTF-8.
    pub fn pattern(&self) -> Result<Pattern, String> {
        let mut parts = Vec::new();
        for p in &self.pieces {
            match p {
                Piece::Bytes(b) => parts.push(Part::Lit(
                    String::from_utf8(b.clone())
                        .map_err(|_| format!("{self} is not valid UTF-8"))?,
                )),
                Piece::Star => parts.push(Part::Star),
            }
        }
        Ok(Pattern { parts })
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for p in &self.pieces {
            match p {
                Piece::Bytes(b) => s.push_str(&escape_bytes(b, false)),
                Piece::Star => s.push('*'),
            }
        }
        write!(f, "\"{s}\"")
    }
}

/// One part of a [`Pattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// Any run of characters other than `/` (possibly empty).
    Star,
}

/// A path pattern: literal text with `*` wildcards that do not cross `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The parts.
    pub parts: Vec<Part>,
}

impl Pattern {
    /// True when the pattern has a wildcard.
    pub fn has_wildcard(&self) -> bool {
        self.parts.contains(&Part::Star)
    }

    /// The literal text (wildcards as `*`).
    pub fn literal(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.as_str(),
                Part::Star => "*",
            })
            .collect()
    }

    /// True when `s` matches the whole pattern.
    pub fn matches(&self, s: &str) -> bool {
        match_parts(&self.parts, s)
    }

    /// True when `s` ends with a `/`-separated suffix matching the pattern (or is a match).
    pub fn matches_suffix(&self, s: &str) -> bool {
        if self.matches(s) {
            return true;
        }
        s.match_indices('/').any(|(i, _)| self.matches(&s[i + 1..]))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut inner = String::new();
        let mut plain = true;
        for p in &self.parts {
            match p {
                Part::Lit(s) => {
                    plain &= is_plain(s);
                    inner.push_str(&escape_bytes(s.as_bytes(), true));
                }
                Part::Star => inner.push('*'),
            }
        }
        if plain && !inner.is_empty() {
            f.write_str(&inner)
        } else {
            write!(f, "\"{inner}\"")
        }
    }
}

fn match_parts(parts: &[Part], s: &str) -> bool {
    match parts.split_first() {
        None => s.is_empty(),
        Some((Part::Lit(lit), rest)) => s
            .strip_prefix(lit.as_str())
            .is_some_and(|tail| match_parts(rest, tail)),
        Some((Part::Star, rest)) => {
            // Try every split point up to the next `/`.
            let limit = s.find('/').unwrap_or(s.len());
            s.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .take_while(|&i| i <= limit)
                .any(|i| match_parts(rest, &s[i..]))
        }
    }
}

/// Escapes bytes for display inside double quotes: `\\`, `\"`, `\*` (only when
/// `escape_star`), control characters and non-ASCII characters as escapes, invalid UTF-8
/// as `\xNN`.
pub fn escape_bytes(b: &[u8], escape_star: bool) -> String {
    let mut out = String::new();
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                escape_str_into(s, escape_star, &mut out);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // The prefix is valid UTF-8 by construction.
                escape_str_into(&String::from_utf8_lossy(good), escape_star, &mut out);
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for byte in &bad[..n] {
                    out.push_str(&format!("\\x{byte:02x}"));
                }
                rest = &bad[n..];
            }
        }
    }
    out
}

fn escape_str_into(s: &str, escape_star: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '*' if escape_star => out.push_str("\\*"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
}

/// Shows a path as a scenario file would spell it: bare when it is plain ASCII without
/// spaces or special characters, else quoted with escapes (a literal `*` as `\*`).
pub fn escape_path(s: &str) -> String {
    if !s.is_empty() && is_plain(s) {
        s.to_string()
    } else {
        format!("\"{}\"", escape_bytes(s.as_bytes(), true))
    }
}

fn is_plain(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '*' | '#'))
}

/// Splits one line into words. `#` outside a word starts a comment.
///
/// # Errors
/// Unterminated quotes or groups, bad escapes.
pub fn split_words(line: &str) -> Result<Vec<Word>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut words = Vec::new();
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() || chars[i] == '#' {
            break;
        }
        let mut word = Word::default();
        if chars[i] == '"' {
            word.quoted = true;
            i += 1;
            parse_into(&chars, &mut i, &mut word, Stop::Quote)?;
            if i < chars.len() && !chars[i].is_whitespace() {
                return Err(format!(
                    "text after a closing quote: {:?}",
                    chars[i..].iter().collect::<String>()
                ));
            }
        } else {
            parse_into(&chars, &mut i, &mut word, Stop::Space)?;
        }
        words.push(word);
    }
    Ok(words)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// End of a bare word: whitespace or end of line.
    Space,
    /// End of a quoted word: the closing `"` (consumed).
    Quote,
    /// End of a repetition group: the closing `}` (consumed).
    Brace,
}

fn parse_into(chars: &[char], i: &mut usize, word: &mut Word, stop: Stop) -> Result<(), String> {
    loop {
        let Some(&c) = chars.get(*i) else {
            return match stop {
                Stop::Space => Ok(()),
                Stop::Quote => Err("unterminated quoted string".into()),
                Stop::Brace => Err("unterminated \\{N:...} repetition".into()),
            };
        };
        match (c, stop) {
            (c, Stop::Space) if c.is_whitespace() => return Ok(()),
            ('"', Stop::Quote) | ('}', Stop::Brace) => {
                *i += 1;
                return Ok(());
            }
            ('\\', _) => {
                *i += 1;
                parse_escape(chars, i, word, stop)?;
            }
            ('*', _) => {
                *i += 1;
                word.push_piece(Piece::Star);
            }
            (c, _) => {
                *i += 1;
                let mut buf = [0u8; 4];
                word.push_bytes(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

fn parse_escape(chars: &[char], i: &mut usize, word: &mut Word, stop: Stop) -> Result<(), String> {
    let Some(&c) = chars.get(*i) else {
        return Err("a `\\` at the end of the line".into());
    };
    *i += 1;
    match c {
        'n' => word.push_byte(b'\n'),
        'r' => word.push_byte(b'\r'),
        't' => word.push_byte(b'\t'),
        '0' => word.push_byte(0),
        '\\' | '"' | '*' | '#' | ' ' | '}' => word.push_byte(c as u8),
        'x' => {
            let hex: String = chars.get(*i..*i + 2).unwrap_or_default().iter().collect();
            let b = u8::from_str_radix(&hex, 16)
                .map_err(|_| format!("bad \\x escape {hex:?}: two hex digits expected"))?;
            *i += 2;
            word.push_byte(b);
        }
        'u' => {
            if chars.get(*i) != Some(&'{') {
                return Err("bad \\u escape: use \\u{HEX}".into());
            }
            let end = chars[*i..]
                .iter()
                .position(|&c| c == '}')
                .ok_or("unterminated \\u{...} escape")?;
            let hex: String = chars[*i + 1..*i + end].iter().collect();
            let ch = u32::from_str_radix(&hex, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad \\u{{{hex}}} escape"))?;
            *i += end + 1;
            let mut buf = [0u8; 4];
            word.push_bytes(ch.encode_utf8(&mut buf).as_bytes());
        }
        '{' => {
            let colon = chars[*i..]
                .iter()
                .position(|&c| c == ':')
                .ok_or("bad repetition: use \\{N:TEXT}")?;
            let n: String = chars[*i..*i + colon].iter().collect();
            let n: usize = n
                .trim()
                .parse()
                .map_err(|_| format!("bad repetition count {n:?} in \\{{N:TEXT}}"))?;
            *i += colon + 1;
            let mut inner = Word::default();
            parse_into(chars, i, &mut inner, Stop::Brace)?;
            for _ in 0..n {
                for p in &inner.pieces {
                    word.push_piece(p.clone());
                }
            }
        }
        other => {
            let _ = stop;
            return Err(format!("unknown escape \\{other}"));
        }
    }
    Ok(())
}

/// Parses a byte count: digits with an optional `KiB`, `MiB` or `GiB` unit, terms joined by
/// `+` (`10GiB+1`).
///
/// # Errors
/// When a term is not such a number.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let mut total: u64 = 0;
    for term in s.split('+') {
        let term = term.trim();
        let (num, mult) = if let Some(n) = term.strip_suffix("GiB") {
            (n, 1u64 << 30)
        } else if let Some(n) = term.strip_suffix("MiB") {
            (n, 1 << 20)
        } else if let Some(n) = term.strip_suffix("KiB") {
            (n, 1 << 10)
        } else {
            (term, 1)
        };
        let n: u64 = num
            .parse()
            .map_err(|_| format!("bad size {s:?}: use digits with an optional KiB/MiB/GiB"))?;
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("size {s:?} too large"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Word {
        let mut w = split_words(line).expect("parses");
        assert_eq!(w.len(), 1, "{line}");
        w.remove(0)
    }

    #[test]
    fn words_and_escapes() {
        let w = split_words(r#"local write "a b.txt" "x\ny" # comment"#).expect("parses");
        assert_eq!(w.len(), 4);
        assert_eq!(w[2].bytes(), b"a b.txt");
        assert_eq!(w[3].bytes(), b"x\ny");
        assert_eq!(one(r"Icon\r").bytes(), b"Icon\r");
        assert_eq!(
            one(r"cafe\u{301}.txt").text().expect("utf8"),
            "cafe\u{301}.txt"
        );
        assert_eq!(one(r"\xff\x00").bytes(), [0xff, 0]);
        assert_eq!(one(r"\{3:ab}c").bytes(), b"abababc");
        assert_eq!(one(r"\{2:\{2:x}/}y").bytes(), b"xx/xx/y");
        assert!(split_words(r#""open"#).is_err());
        assert!(split_words(r"\q").is_err());
    }

    #[test]
    fn wildcards() {
        let p = one(r#""a (conflicted copy * from *).txt""#)
            .pattern()
            .expect("utf8");
        assert!(p.has_wildcard());
        assert!(p.matches("a (conflicted copy 2026-01-01 101500 from testhost).txt"));
        assert!(!p.matches("a.txt"));
        assert!(!one("d/*").pattern().expect("utf8").matches("d/e/f"));
        let lit = one(r"a\*b").pattern().expect("utf8");
        assert!(!lit.has_wildcard());
        assert!(lit.matches("a*b"));
        assert!(!lit.matches("axb"));
        assert!(one("b/c")
            .pattern()
            .expect("utf8")
            .matches_suffix("2026-01-01/a/b/c"));
        assert!(!one("b/c").pattern().expect("utf8").matches_suffix("ab/c"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10GiB+1"), Ok((10 << 30) + 1));
        assert!(parse_size("ten").is_err());
    }

    #[test]
    fn paths_render_back() {
        for s in ["a.txt", "a b.txt", "Icon\r", "caf\u{e9}", "a*b", "q\"x"] {
            let shown = escape_path(s);
            let w = one(&shown);
            let p = w.pattern().expect("utf8");
            assert!(!p.has_wildcard(), "{shown}");
            assert_eq!(p.literal(), s, "{shown}");
        }
    }
}
