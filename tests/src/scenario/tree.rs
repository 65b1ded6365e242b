//! Snapshots of a side's folder and their comparison with expected trees.

use std::io::Read;
use std::path::Path;

use super::script::{Content, ExpectedEntry};
use super::syntax::{escape_bytes, escape_path};

/// Files larger than this are never read: they compare by size only.
pub const READ_LIMIT: u64 = 256 << 20;

/// Prefix of the engine's temp files.
pub const TEMP_PREFIX: &str = ".cloudsync-tmp-";

/// Top-level names the engine owns, left out of comparisons.
pub const INTERNAL_TOP: [&str; 2] = [".cloudsync-root", ".cloudsync-trash"];

/// Byte `i` of the fixed pattern used for `size=N` files (period 251, a prime, so shifted
/// or repeated blocks do not match).
pub fn pattern_byte(i: u64) -> u8 {
    // The value is below 251, so the cast is lossless.
    (i % 251) as u8
}

/// One entry found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    /// Path relative to the root, `/`-separated (lossy for non-UTF-8 names).
    pub path: String,
    /// `None` for a folder; else the file's size and, up to [`READ_LIMIT`], its bytes.
    pub file: Option<(u64, Option<Vec<u8>>)>,
}

impl Found {
    /// The entry as an expected-tree line.
    pub fn render(&self) -> String {
        match &self.file {
            None => dir_line(escape_path(&self.path)),
            Some((size, data)) => {
                format!("{} {}", escape_path(&self.path), render_data(*size, data))
            }
        }
    }
}

/// Adds the `/` of a folder to a shown path, inside its quotes if it has them.
fn dir_line(shown: String) -> String {
    match shown.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => format!("\"{inner}/\""),
        None => format!("{shown}/"),
    }
}

fn render_data(size: u64, data: &Option<Vec<u8>>) -> String {
    match data {
        None => format!("sparse={size}"),
        Some(d) if d.len() <= 200 && !is_pattern(d) => format!("\"{}\"", escape_bytes(d, false)),
        Some(d) if is_pattern(d) => format!("size={size}"),
        Some(d) => format!(
            "<{size} bytes, not the size={size} pattern, starting \"{}\">",
            escape_bytes(&d[..d.len().min(24)], false)
        ),
    }
}

fn is_pattern(d: &[u8]) -> bool {
    d.len() > 8 && d.iter().zip(0u64..).all(|(b, i)| *b == pattern_byte(i))
}

/// Walks `root` (never following links); skips the engine's top-level files and counts its
/// temp files instead of listing them.
///
/// # Errors
/// I/O errors, as text.
pub fn snapshot(root: &Path) -> Result<(Vec<Found>, usize), String> {
    let mut out = Vec::new();
    let mut temps = 0;
    walk(root, "", &mut out, &mut temps)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((out, temps))
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<Found>, temps: &mut usize) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
    for entry in rd {
        let entry = entry.map_err(|e| format!("read {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if prefix.is_empty() && INTERNAL_TOP.contains(&name.as_str()) {
            continue;
        }
        if name.starts_with(TEMP_PREFIX) {
            *temps += 1;
            continue;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let meta = std::fs::symlink_metadata(entry.path())
            .map_err(|e| format!("stat {}: {e}", entry.path().display()))?;
        if meta.is_dir() {
            out.push(Found {
                path: path.clone(),
                file: None,
            });
            walk(&entry.path(), &path, out, temps)?;
        } else {
            let size = meta.len();
            let data = if size <= READ_LIMIT {
                let mut buf = Vec::new();
                std::fs::File::open(entry.path())
                    .and_then(|mut f| f.read_to_end(&mut buf))
                    .map_err(|e| format!("read {}: {e}", entry.path().display()))?;
                Some(buf)
            } else {
                None
            };
            out.push(Found {
                path,
                file: Some((size, data)),
            });
        }
    }
    Ok(())
}

/// True when the found entry has the expected kind and content.
pub fn content_matches(found: &Found, expected: Option<&Content>) -> bool {
    match (expected, &found.file) {
        (None, None) => true,
        (Some(Content::Bytes(b)), Some((_, Some(d)))) => b == d,
        (Some(Content::Pattern(n)), Some((size, Some(d)))) => {
            *size == *n && d.iter().zip(0u64..).all(|(b, i)| *b == pattern_byte(i))
        }
        (Some(Content::Pattern(n) | Content::Sparse(n)), Some((size, None)))
        | (Some(Content::Sparse(n)), Some((size, Some(_)))) => size == n,
        _ => false,
    }
}

/// Renders an expected entry as its line.
pub fn render_expected(e: &ExpectedEntry) -> String {
    match &e.content {
        None => dir_line(e.path.to_string()),
        Some(Content::Bytes(b)) => format!("{} \"{}\"", e.path, escape_bytes(b, false)),
        Some(Content::Pattern(n)) => format!("{} size={n}", e.path),
        Some(Content::Sparse(n)) => format!("{} sparse={n}", e.path),
    }
}

/// Compares what was found with the expected entries; `None` when they agree, else the
/// differences, one per line.
pub fn compare(found: &[Found], expected: &[ExpectedEntry]) -> Option<String> {
    let mut used = vec![false; found.len()];
    let mut missing: Vec<&ExpectedEntry> = Vec::new();
    let mut differs: Vec<(usize, &ExpectedEntry)> = Vec::new();
    // Exact paths first, so a wildcard cannot take an entry a literal line names.
    let (literal, wild): (Vec<&ExpectedEntry>, Vec<&ExpectedEntry>) =
        expected.iter().partition(|e| !e.path.has_wildcard());
    for e in literal {
        let want = e.path.literal();
        match found.iter().position(|f| f.path == want) {
            Some(i) if used[i] => missing.push(e),
            Some(i) => {
                used[i] = true;
                if !content_matches(&found[i], e.content.as_ref()) {
                    differs.push((i, e));
                }
            }
            None => missing.push(e),
        }
    }
    for e in wild {
        let hit = (0..found.len()).find(|&i| {
            !used[i]
                && e.path.matches(&found[i].path)
                && content_matches(&found[i], e.content.as_ref())
        });
        let near = || (0..found.len()).find(|&i| !used[i] && e.path.matches(&found[i].path));
        match hit.or_else(near) {
            Some(i) => {
                used[i] = true;
                if !content_matches(&found[i], e.content.as_ref()) {
                    differs.push((i, e));
                }
            }
            None => missing.push(e),
        }
    }
    let unexpected: Vec<&Found> = found
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(f, _)| f)
        .collect();
    if missing.is_empty() && differs.is_empty() && unexpected.is_empty() {
        return None;
    }
    let mut out = String::new();
    for e in missing {
        out.push_str(&format!(
            "  - missing     {}   (line {})\n",
            render_expected(e),
            e.line
        ));
    }
    for (i, e) in differs {
        out.push_str(&format!(
            "  ~ differs     {}   (line {})\n                found: {}\n",
            render_expected(e),
            e.line,
            found[i].render()
        ));
    }
    for f in unexpected {
        out.push_str(&format!("  + unexpected  {}\n", f.render()));
    }
    Some(out)
}
