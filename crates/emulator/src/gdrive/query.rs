//! The `q` search syntax of `files.list`: `name = 'x'`, `name contains 'x'`,
//! `mimeType = / != '...'`, `'<id>' in parents`, `trashed = true|false`,
//! `modifiedTime` / `createdTime` comparisons, joined by `and`, `or`, `not` and
//! parentheses. Strings use `\'` and `\\` escapes. Anything else is refused as Drive does
//! (400 `invalid` on `q`).

use chrono::{DateTime, Utc};

use super::errors::DriveError;
use super::store::{Account, File};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Both hold.
    And(Box<Query>, Box<Query>),
    /// Either holds.
    Or(Box<Query>, Box<Query>),
    /// It does not hold.
    Not(Box<Query>),
    /// `'<id>' in parents`.
    InParents(String),
    /// A string field compared with an operator.
    Text(TextField, Op, String),
    /// `trashed = b` (or `!=`).
    Trashed(bool, bool),
    /// A time field compared with an operator.
    Time(TimeField, Op, DateTime<Utc>),
    /// `fullText contains 'x'` (matched against names only: there is no text index here).
    FullText(String),
}

/// String-valued fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// `name`.
    Name,
    /// `mimeType`.
    MimeType,
}

/// Time-valued fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    /// `modifiedTime`.
    Modified,
    /// `createdTime`.
    Created,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `contains`.
    Contains,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Str(String),
    Word(String),
    Op(Op),
    Open,
    Close,
}

fn invalid() -> DriveError {
    DriveError::invalid_parameter("q")
}

fn lex(q: &str) -> Result<Vec<Token>, DriveError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(invalid()),
                        Some('\\') => {
                            s.push(*chars.get(i + 1).ok_or_else(invalid)?);
                            i += 2;
                        }
                        Some(ch) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            '=' => {
                out.push(Token::Op(Op::Eq));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Token::Op(match (c, eq) {
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    (_, false) => Op::Gt,
                    (_, true) => Op::Ge,
                }));
                i += if eq { 2 } else { 1 };
            }
            c if c.is_alphanumeric() || c == '_' || c == '.' => {
                let mut w = String::new();
                while let Some(ch) = chars.get(i) {
                    if ch.is_alphanumeric() || *ch == '_' || *ch == '.' {
                        w.push(*ch);
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(w));
            }
            _ => return Err(invalid()),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn keyword(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn or(&mut self) -> Result<Query, DriveError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Query, DriveError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Query::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Query, DriveError> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Query::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let q = self.or()?;
            if self.next() != Some(Token::Close) {
                return Err(invalid());
            }
            return Ok(q);
        }
        self.term()
    }

    fn term(&mut self) -> Result<Query, DriveError> {
        match self.next() {
            Some(Token::Str(value)) => {
                if !self.keyword("in") {
                    return Err(invalid());
                }
                self.pos += 1;
                match self.next() {
                    Some(Token::Word(w)) if w == "parents" => Ok(Query::InParents(value)),
                    _ => Err(invalid()),
                }
            }
            Some(Token::Word(field)) => {
                let op = if self.keyword("contains") {
                    self.pos += 1;
                    Op::Contains
                } else {
                    match self.next() {
                        Some(Token::Op(op)) => op,
                        _ => return Err(invalid()),
                    }
                };
                let value = self.next().ok_or_else(invalid)?;
                match (field.as_str(), value) {
                    ("fullText", Token::Str(s)) if op == Op::Contains => Ok(Query::FullText(s)),
                    ("name", Token::Str(s)) if op != Op::Lt && op != Op::Gt => {
                        Ok(Query::Text(TextField::Name, op, s))
                    }
                    ("mimeType", Token::Str(s)) if matches!(op, Op::Eq | Op::Ne | Op::Contains) => {
                        Ok(Query::Text(TextField::MimeType, op, s))
                    }
                    ("trashed", Token::Word(b)) if matches!(op, Op::Eq | Op::Ne) => {
                        let value = match b.as_str() {
                            "true" => true,
                            "false" => false,
                            _ => return Err(invalid()),
                        };
                        Ok(Query::Trashed(op == Op::Eq, value))
                    }
                    ("modifiedTime" | "createdTime", Token::Str(s)) if op != Op::Contains => {
                        let t = parse_time(&s).ok_or_else(invalid)?;
                        let f = if field == "modifiedTime" {
                            TimeField::Modified
                        } else {
                            TimeField::Created
                        };
                        Ok(Query::Time(f, op, t))
                    }
                    _ => Err(invalid()),
                }
            }
            _ => Err(invalid()),
        }
    }
}

/// RFC 3339, with or without a zone (UTC is assumed without one, as Drive does).
fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(&format!("{s}Z"))
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

impl Query {
    /// Parses `q`.
    ///
    /// # Errors
    /// 400 `invalid` (location `q`) for anything outside the supported syntax.
    pub fn parse(q: &str) -> Result<Query, DriveError> {
        let mut p = Parser {
            tokens: lex(q)?,
            pos: 0,
        };
        let query = p.or()?;
        if p.pos != p.tokens.len() {
            return Err(invalid());
        }
        Ok(query)
    }

    /// True when a `fullText` term occurs anywhere.
    pub fn has_full_text(&self) -> bool {
        match self {
            Query::And(a, b) | Query::Or(a, b) => a.has_full_text() || b.has_full_text(),
            Query::Not(a) => a.has_full_text(),
            Query::FullText(_) => true,
            _ => false,
        }
    }

    /// True when `f` matches.
    pub fn matches(&self, account: &Account, f: &File) -> bool {
        match self {
            Query::And(a, b) => a.matches(account, f) && b.matches(account, f),
            Query::Or(a, b) => a.matches(account, f) || b.matches(account, f),
            Query::Not(a) => !a.matches(account, f),
            Query::InParents(id) => f.parents.contains(&account.resolve(id)),
            Query::FullText(text) => f.name.to_lowercase().contains(&text.to_lowercase()),
            Query::Trashed(eq, value) => (account.is_trashed(&f.id) == *value) == *eq,
            Query::Text(field, op, value) => {
                let have = match field {
                    TextField::Name => &f.name,
                    TextField::MimeType => &f.mime_type,
                };
                match op {
                    Op::Eq => have == value,
                    Op::Ne => have != value,
                    // Drive matches name prefixes of words; a substring test is close enough
                    // for the clients this emulator serves.
                    Op::Contains => have.contains(value.as_str()),
                    Op::Le => have <= value,
                    Op::Ge => have >= value,
                    Op::Lt | Op::Gt => false,
                }
            }
            Query::Time(field, op, t) => {
                let have = match field {
                    TimeField::Modified => f.modified,
                    TimeField::Created => f.created,
                };
                match op {
                    Op::Eq => have == *t,
                    Op::Ne => have != *t,
                    Op::Lt => have < *t,
                    Op::Le => have <= *t,
                    Op::Gt => have > *t,
                    Op::Ge => have >= *t,
                    Op::Contains => false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples_parse() {
        // The examples of the reference (2.4 q syntax), verbatim.
        assert_eq!(
            Query::parse("name = 'hello'").expect("parse"),
            Query::Text(TextField::Name, Op::Eq, "hello".into())
        );
        assert_eq!(
            Query::parse("mimeType = 'application/vnd.google-apps.folder'").expect("parse"),
            Query::Text(
                TextField::MimeType,
                Op::Eq,
                "application/vnd.google-apps.folder".into()
            )
        );
        assert_eq!(
            Query::parse("'1234567' in parents").expect("parse"),
            Query::InParents("1234567".into())
        );
        assert!(matches!(
            Query::parse("modifiedTime > '2012-06-04T12:00:00'").expect("parse"),
            Query::Time(TimeField::Modified, Op::Gt, _)
        ));
        assert_eq!(
            Query::parse(r"name contains 'quinn\'s paper\\essay'").expect("parse"),
            Query::Text(TextField::Name, Op::Contains, r"quinn's paper\essay".into())
        );
        assert!(matches!(
            Query::parse("'abc' in parents and trashed = false").expect("parse"),
            Query::And(..)
        ));
    }

    #[test]
    fn unsupported_or_broken_queries_are_refused() {
        for q in [
            "fullText = 'x'",
            "name = ",
            "'x' in owners",
            "(name = 'a'",
            "name = 'a' and",
        ] {
            assert!(Query::parse(q).is_err(), "{q}");
        }
    }
}
