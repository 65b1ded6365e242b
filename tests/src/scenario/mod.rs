//! Scenarios: a small line-based text format that acts on the local and remote sides, runs
//! the real engine, and compares the result with golden trees.
//!
//! The files live in `tests/scenarios/*.scn` and the format is documented in
//! `tests/scenarios/README.md`. Each scenario runs on fresh temp folders: a local sync root,
//! a remote folder (the `local` provider) and a database, with the real engine
//! ([`cloudsync_engine::Engine`]) on the real filesystem and clock, host `testhost`.
//!
//! - [`syntax`]: words, escapes (`\n`, `\xNN`, `\u{301}`, `\{N:TEXT}` repetition) and
//!   path patterns with `*`;
//! - [`script`]: the commands;
//! - [`tree`]: snapshots of a side and their comparison with an expected tree;
//! - [`cloud`]: the remote side on an emulated cloud provider (Dropbox, Drive, Baidu);
//! - [`faults`]: the remote wrapper that stalls a transfer, for `crash-during-sync`;
//! - [`runner`]: the world a scenario runs in.

pub mod cloud;
pub mod faults;
pub mod runner;
pub mod script;
pub mod syntax;
pub mod tree;

use std::path::{Path, PathBuf};

/// The folder holding the scenario files.
pub fn scenario_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Parses and runs one scenario file.
///
/// # Errors
/// `FILE:LINE: what went wrong`, with a readable diff for tree mismatches.
pub fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let script = script::parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
    runner::run_script(&script)
        .map_err(|e| format!("{}:{e}\n(scenario: {})", path.display(), script.purpose))
}

/// The scenario names (file stems) in [`scenario_dir`], sorted.
///
/// # Errors
/// When the folder cannot be read.
pub fn scenario_names() -> Result<Vec<String>, String> {
    let dir = scenario_dir();
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".scn") {
            names.push(stem.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// What became of a scenario run on an emulated cloud provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudRun {
    /// It ran and passed.
    Passed,
    /// It cannot run with a cloud remote (why).
    NotApplicable(String),
}

/// Parses one scenario file and runs it with the remote on `provider`'s emulator.
///
/// # Errors
/// `FILE:LINE: what went wrong`.
pub fn run_file_on_cloud(
    path: &Path,
    provider: cloudsync_emulator::Provider,
) -> Result<CloudRun, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let script = script::parse(&text).map_err(|e| format!("{}:{e}", path.display()))?;
    if let Some(why) = cloud::unsupported(&script) {
        return Ok(CloudRun::NotApplicable(why));
    }
    runner::run_script_on(&script, Some(provider))
        .map(|()| CloudRun::Passed)
        .map_err(|e| format!("{}:{e}\n(scenario: {})", path.display(), script.purpose))
}
