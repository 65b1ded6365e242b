//! Scenario files as a list of commands.

use super::syntax::{parse_size, split_words, Pattern, Word};

/// Which side a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// The local sync root.
    Local,
    /// The remote folder.
    Remote,
}

impl Where {
    fn parse(w: &str) -> Option<Where> {
        match w {
            "local" => Some(Where::Local),
            "remote" => Some(Where::Remote),
            _ => None,
        }
    }

    /// `local` or `remote`.
    pub fn word(self) -> &'static str {
        match self {
            Where::Local => "local",
            Where::Remote => "remote",
        }
    }
}

/// Which sides an expectation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sides {
    /// One side.
    One(Where),
    /// Both sides.
    Both,
}

impl Sides {
    fn parse(w: &str) -> Option<Sides> {
        match w {
            "both" => Some(Sides::Both),
            other => Where::parse(other).map(Sides::One),
        }
    }

    /// The sides, local first.
    pub fn list(self) -> Vec<Where> {
        match self {
            Sides::One(w) => vec![w],
            Sides::Both => vec![Where::Local, Where::Remote],
        }
    }
}

/// What a file holds, when written or expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Exactly these bytes (`"text"`).
    Bytes(Vec<u8>),
    /// N bytes of the runner's fixed pattern (`size=N`).
    Pattern(u64),
    /// N bytes, written as a sparse file; only the size is compared (`sparse=N`).
    Sparse(u64),
}

/// One expected entry of a tree.
#[derive(Debug, Clone)]
pub struct ExpectedEntry {
    /// Line in the scenario file.
    pub line: usize,
    /// The path (folders without their trailing `/`).
    pub path: Pattern,
    /// `None` for a folder.
    pub content: Option<Content>,
}

/// How a `sync` is expected to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Converged without error.
    Ok,
    /// Failed with an error containing the text.
    Fails(String),
    /// Stopped by the mass-delete guard.
    NeedsApproval,
}

/// An expectation about the activity of the last sync.
#[derive(Debug, Clone)]
pub enum LogCheck {
    /// Some entry has the action and a matching path.
    Contains(String, Pattern),
    /// No entry has the action (and a matching path, if given).
    Lacks(String, Option<Pattern>),
    /// Exactly N entries have the action.
    Count(String, usize),
}

/// One command.
#[derive(Debug, Clone)]
pub enum Command {
    /// Change connection settings (`key=value` pairs, applied in order).
    Settings(Vec<(String, String)>),
    /// Write a file (parents are created).
    Write(Where, Vec<u8>, Content),
    /// Create a folder (and its parents).
    Mkdir(Where, Vec<u8>),
    /// Delete a file or a folder with its contents.
    Delete(Where, Vec<u8>),
    /// Rename or move (parents of the target are created).
    Move(Where, Vec<u8>, Vec<u8>),
    /// Set the modification time, in Unix seconds.
    Mtime(Where, Vec<u8>, i64),
    /// Move the whole root away, leaving nothing (or an empty folder) in its place.
    Unmount(Where, bool),
    /// Bring an unmounted root back.
    Mount(Where),
    /// From now on the remote refuses to create paths containing the text.
    Refuse(String),
    /// Run a sync.
    Sync(SyncOutcome),
    /// Approve the plan waiting for approval.
    Approve,
    /// Drop the engine and open a new one on the same database.
    Restart,
    /// Run a sync whose first transfer to pass N bytes stalls; then drop it and restart.
    CrashDuringSync(u64),
    /// Compare one or both trees with the expected entries.
    ExpectTree(Sides, Vec<ExpectedEntry>),
    /// Something in a side's trash ends with the path (and holds the content, if given).
    ExpectTrash(Where, Pattern, Option<Content>),
    /// The path is listed as skipped with the rule code (on the side, if given).
    ExpectSkipped(Option<Where>, Pattern, String),
    /// The number of unresolved conflicts.
    ExpectConflicts(usize),
    /// A check on the activity of the last sync.
    ExpectLog(LogCheck),
    /// `why PATH` answers with text containing the words.
    ExpectWhy(String, String),
    /// The number of engine temp files on the sides.
    ExpectTemps(Sides, usize),
}

/// A command and the line it came from.
#[derive(Debug, Clone)]
pub struct Step {
    /// Line number (1-based).
    pub line: usize,
    /// The command.
    pub command: Command,
}

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Script {
    /// What the scenario proves (its first comment).
    pub purpose: String,
    /// The commands.
    pub steps: Vec<Step>,
}

/// Parses a scenario file's text.
///
/// # Errors
/// `LINE: message` for the first malformed line.
pub fn parse(text: &str) -> Result<Script, String> {
    let lines: Vec<&str> = text.lines().collect();
    let purpose = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .and_then(|l| l.strip_prefix('#'))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .ok_or("1: a scenario starts with a `# comment` saying what it proves")?;
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = i + 1;
        let words = split_words(lines[i]).map_err(|e| format!("{line}: {e}"))?;
        i += 1;
        if words.is_empty() {
            continue;
        }
        let command = if is_tree_block(&words) {
            let sides = Sides::parse(&text_of(&words[1])?).ok_or("unreachable")?;
            let mut entries = Vec::new();
            loop {
                let Some(l) = lines.get(i) else {
                    return Err(format!("{line}: `expect` block without its `end`"));
                };
                let entry_line = i + 1;
                i += 1;
                let ws = split_words(l).map_err(|e| format!("{entry_line}: {e}"))?;
                if ws.is_empty() {
                    continue;
                }
                if ws.len() == 1 && !ws[0].quoted && ws[0].bytes() == b"end" {
                    break;
                }
                entries
                    .push(parse_entry(entry_line, &ws).map_err(|e| format!("{entry_line}: {e}"))?);
            }
            Command::ExpectTree(sides, entries)
        } else {
            parse_command(&words).map_err(|e| format!("{line}: {e}"))?
        };
        steps.push(Step { line, command });
    }
    Ok(Script { purpose, steps })
}

fn is_tree_block(words: &[Word]) -> bool {
    words.len() == 2
        && words[0].bytes() == b"expect"
        && matches!(words[1].bytes().as_slice(), b"local" | b"remote" | b"both")
}

fn text_of(w: &Word) -> Result<String, String> {
    w.text()
}

fn parse_entry(line: usize, ws: &[Word]) -> Result<ExpectedEntry, String> {
    let mut path = ws[0].pattern()?;
    let is_dir = matches!(path.parts.last(), Some(super::syntax::Part::Lit(s)) if s.ends_with('/'));
    if is_dir {
        if let Some(super::syntax::Part::Lit(s)) = path.parts.last_mut() {
            s.pop();
            if s.is_empty() {
                path.parts.pop();
            }
        }
        if ws.len() != 1 {
            return Err("a folder (ending in `/`) takes no content".into());
        }
        return Ok(ExpectedEntry {
            line,
            path,
            content: None,
        });
    }
    match ws {
        [_, c] => Ok(ExpectedEntry {
            line,
            path,
            content: Some(parse_content(c)?),
        }),
        _ => Err(
            "an expected file needs its content (\"text\", size=N or sparse=N); folders end in `/`"
                .into(),
        ),
    }
}

fn parse_content(w: &Word) -> Result<Content, String> {
    if w.quoted {
        return Ok(Content::Bytes(w.bytes()));
    }
    let t = w.text()?;
    if let Some(n) = t.strip_prefix("size=") {
        return Ok(Content::Pattern(parse_size(n)?));
    }
    if let Some(n) = t.strip_prefix("sparse=") {
        return Ok(Content::Sparse(parse_size(n)?));
    }
    Err(format!(
        "content must be \"quoted\", size=N or sparse=N, not {t:?}"
    ))
}

fn rest_text(ws: &[Word]) -> Result<String, String> {
    let parts: Result<Vec<String>, String> = ws.iter().map(Word::text).collect();
    let s = parts?.join(" ");
    if s.is_empty() {
        Err("text expected".into())
    } else {
        Ok(s)
    }
}

fn count(w: &Word) -> Result<usize, String> {
    let t = w.text()?;
    t.parse().map_err(|_| format!("number expected, not {t:?}"))
}

fn parse_command(ws: &[Word]) -> Result<Command, String> {
    let head = ws[0].text()?;
    let args = &ws[1..];
    if let Some(side) = Where::parse(&head) {
        return parse_side_command(side, args);
    }
    let arg = |i: usize| -> Result<String, String> {
        args.get(i)
            .ok_or_else(|| format!("`{head}` needs more arguments"))?
            .text()
    };
    match head.as_str() {
        "settings" => {
            let mut pairs = Vec::new();
            for w in args {
                let t = w.text()?;
                match t.split_once('=') {
                    Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
                    None => pairs.push((t, "true".to_string())),
                }
            }
            if pairs.is_empty() {
                return Err("`settings` needs key=value pairs".into());
            }
            Ok(Command::Settings(pairs))
        }
        "sync" => match args {
            [] => Ok(Command::Sync(SyncOutcome::Ok)),
            [w] if w.text()? == "needs-approval" => Ok(Command::Sync(SyncOutcome::NeedsApproval)),
            [w, rest @ ..] if w.text()? == "fails" => {
                Ok(Command::Sync(SyncOutcome::Fails(rest_text(rest)?)))
            }
            _ => Err("use `sync`, `sync fails TEXT` or `sync needs-approval`".into()),
        },
        "refuse" if !args.is_empty() => Ok(Command::Refuse(rest_text(args)?)),
        "approve" if args.is_empty() => Ok(Command::Approve),
        "restart" if args.is_empty() => Ok(Command::Restart),
        "crash-during-sync" => {
            let a = arg(0)?;
            let n = a
                .strip_prefix("after=")
                .ok_or("use `crash-during-sync after=BYTES`")?;
            Ok(Command::CrashDuringSync(parse_size(n)?))
        }
        "expect" => parse_expect(args),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn parse_side_command(side: Where, args: &[Word]) -> Result<Command, String> {
    let verb = args
        .first()
        .ok_or("a side needs a verb (write, mkdir, delete, move, mtime, unmount, mount)")?
        .text()?;
    let a = &args[1..];
    match (verb.as_str(), a) {
        ("write", [p, c]) => Ok(Command::Write(side, p.bytes(), parse_content(c)?)),
        ("mkdir", [p]) => Ok(Command::Mkdir(side, p.bytes())),
        ("delete", [p]) => Ok(Command::Delete(side, p.bytes())),
        ("move", [f, t]) => Ok(Command::Move(side, f.bytes(), t.bytes())),
        ("mtime", [p, s]) => {
            let t = s.text()?;
            let secs = t
                .parse()
                .map_err(|_| format!("mtime takes Unix seconds, not {t:?}"))?;
            Ok(Command::Mtime(side, p.bytes(), secs))
        }
        ("unmount", []) => Ok(Command::Unmount(side, false)),
        ("unmount", [w]) if w.text()? == "empty" => Ok(Command::Unmount(side, true)),
        ("mount", []) => Ok(Command::Mount(side)),
        (v, _) => Err(format!(
            "bad `{} {v}`: use write PATH CONTENT, mkdir PATH, delete PATH, move FROM TO, \
             mtime PATH SECS, unmount [empty], mount",
            side.word()
        )),
    }
}

fn parse_expect(args: &[Word]) -> Result<Command, String> {
    let what = args.first().ok_or("`expect` what?")?.text()?;
    let a = &args[1..];
    match what.as_str() {
        "trash" => {
            let (side, rest) = match a {
                [s, c, rest @ ..] if c.text()? == "contains" => (
                    Where::parse(&s.text()?)
                        .ok_or("use `expect trash local|remote contains PATH`")?,
                    rest,
                ),
                _ => return Err("use `expect trash local|remote contains PATH [CONTENT]`".into()),
            };
            match rest {
                [p] => Ok(Command::ExpectTrash(side, p.pattern()?, None)),
                [p, c] => Ok(Command::ExpectTrash(
                    side,
                    p.pattern()?,
                    Some(parse_content(c)?),
                )),
                _ => Err("use `expect trash local|remote contains PATH [CONTENT]`".into()),
            }
        }
        "skipped" => match a {
            [p, code] => Ok(Command::ExpectSkipped(None, p.pattern()?, code.text()?)),
            [s, p, code] => Ok(Command::ExpectSkipped(
                Some(
                    Where::parse(&s.text()?)
                        .ok_or("use `expect skipped [local|remote] PATH CODE`")?,
                ),
                p.pattern()?,
                code.text()?,
            )),
            _ => Err("use `expect skipped [local|remote] PATH RULE-CODE`".into()),
        },
        "conflicts" => match a {
            [n] => Ok(Command::ExpectConflicts(count(n)?)),
            _ => Err("use `expect conflicts N`".into()),
        },
        "log" => {
            let how = a
                .first()
                .ok_or("use `expect log contains|lacks|count ...`")?
                .text()?;
            let b = &a[1..];
            let check =
                match (how.as_str(), b) {
                    ("contains", [act, p]) => LogCheck::Contains(act.text()?, p.pattern()?),
                    ("lacks", [act]) => LogCheck::Lacks(act.text()?, None),
                    ("lacks", [act, p]) => LogCheck::Lacks(act.text()?, Some(p.pattern()?)),
                    ("count", [act, n]) => LogCheck::Count(act.text()?, count(n)?),
                    _ => return Err(
                        "use `expect log contains ACTION PATH`, `expect log lacks ACTION [PATH]` \
                         or `expect log count ACTION N`"
                            .into(),
                    ),
                };
            Ok(Command::ExpectLog(check))
        }
        "why" => match a {
            [p, c, rest @ ..] if c.text()? == "contains" => {
                Ok(Command::ExpectWhy(p.text()?, rest_text(rest)?))
            }
            _ => Err("use `expect why PATH contains TEXT`".into()),
        },
        "temps" => match a {
            [s, n] => Ok(Command::ExpectTemps(
                Sides::parse(&s.text()?).ok_or("use `expect temps local|remote|both N`")?,
                count(n)?,
            )),
            _ => Err("use `expect temps local|remote|both N`".into()),
        },
        other => Err(format!(
            "unknown expectation {other:?} (local, remote, both, trash, skipped, conflicts, log, \
             why, temps)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_example() {
        let s = parse(
            r#"# Delete vs edit.
settings conflict=keep-local mode=two-way
local  write docs/a.txt "v1"
sync
expect both
  docs/
  docs/a.txt "v2"
  "x (conflicted copy * from *).txt" size=3MiB
end
expect log contains download docs/a.txt
sync fails missing or not mounted
"#,
        )
        .expect("parses");
        assert_eq!(s.purpose, "Delete vs edit.");
        assert_eq!(s.steps.len(), 6);
        let Command::ExpectTree(Sides::Both, entries) = &s.steps[3].command else {
            panic!("tree expected");
        };
        assert_eq!(entries.len(), 3);
        assert!(entries[0].content.is_none());
        assert_eq!(entries[0].path.literal(), "docs");
        assert!(entries[2].path.has_wildcard());
        assert!(matches!(
            &s.steps[5].command,
            Command::Sync(SyncOutcome::Fails(t)) if t == "missing or not mounted"
        ));
    }

    #[test]
    fn reports_lines() {
        let e = parse("# x\nsync\nfrobnicate\n").expect_err("bad");
        assert!(e.starts_with("3:"), "{e}");
        assert!(parse("sync\n").is_err(), "purpose comment required");
        assert!(parse("# x\nexpect local\n a/\n").is_err(), "end required");
    }
}
