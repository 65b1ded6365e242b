//! Runs the engine's scenario set (`tests/scenarios/*.scn`) with the remote on each
//! emulated cloud provider: the engine talks to the emulator through the real client, and
//! the scenario acts on the remote through a second client of the same account.
//!
//! A scenario that acts on the remote in ways only a folder allows (remote mtimes,
//! unmounting, our trash folder, files too large to build in memory) cannot run here; those
//! are listed with their reason, and their number is bounded so the set cannot shrink
//! unnoticed. Scenarios whose expected result differs on a provider by design are listed
//! below with the reason.
//!
//! Each provider's run takes about a minute (one emulator and engine per scenario).

use cloudsync_emulator::Provider;
use cloudsync_tests::scenario::{run_file_on_cloud, scenario_dir, scenario_names, CloudRun};

/// Scenarios whose golden result is a conflicted copy because the folder remote keeps no
/// revisions. On providers that keep them (Dropbox, Google Drive) the spec's keep-local
/// uploads the local version over the remote one, which stays a revision there
/// (`tests/tests/dropbox.rs` and `gdrive.rs` check that revision).
const NEEDS_A_REMOTE_WITHOUT_REVISIONS: &[&str] = &[
    "conflict_both_created",
    "conflict_keep_local",
    "nfc_nfd_different_content",
    "upload_only_conflict",
];

/// Scenarios that set up remote names or paths Baidu refuses to store (it answers errno
/// -7), so their remote side cannot exist there; `tests/tests/baidu.rs` covers how the
/// client reports such names.
const REMOTE_SETUP_BAIDU_REFUSES: &[&str] = &[
    "skip_forbidden_characters_remote",
    "skip_path_too_long",
    "skip_reserved_prefixes",
];

/// At most this many scenarios may be impossible on a cloud remote.
const MAX_NOT_APPLICABLE: usize = 20;

fn run_all(provider: Provider) {
    let names = scenario_names().expect("scenario names");
    let mut failed = Vec::new();
    let mut not_applicable = Vec::new();
    let mut passed = 0;
    for name in &names {
        let keeps_revisions = matches!(provider, Provider::Dropbox | Provider::Gdrive);
        if keeps_revisions && NEEDS_A_REMOTE_WITHOUT_REVISIONS.contains(&name.as_str()) {
            not_applicable.push(format!(
                "{name}: expects a conflicted copy; this provider keeps the replaced version as a revision"
            ));
            continue;
        }
        if provider == Provider::Baidu && REMOTE_SETUP_BAIDU_REFUSES.contains(&name.as_str()) {
            not_applicable.push(format!(
                "{name}: writes remote names or paths Baidu refuses to store"
            ));
            continue;
        }
        let path = scenario_dir().join(format!("{name}.scn"));
        match run_file_on_cloud(&path, provider) {
            Ok(CloudRun::Passed) => passed += 1,
            Ok(CloudRun::NotApplicable(why)) => not_applicable.push(format!("{name}: {why}")),
            Err(e) => failed.push(e),
        }
    }
    eprintln!(
        "{}: {passed} scenarios passed, {} not applicable:\n  {}",
        provider.name(),
        not_applicable.len(),
        not_applicable.join("\n  ")
    );
    assert!(
        failed.is_empty(),
        "{} of {} scenarios failed on {}:\n\n{}",
        failed.len(),
        names.len(),
        provider.name(),
        failed.join("\n\n")
    );
    assert!(
        not_applicable.len() <= MAX_NOT_APPLICABLE,
        "{} scenarios cannot run on {} (at most {MAX_NOT_APPLICABLE} may)",
        not_applicable.len(),
        provider.name()
    );
}

#[test]
fn scenarios_on_dropbox() {
    run_all(Provider::Dropbox);
}

#[test]
fn scenarios_on_gdrive() {
    run_all(Provider::Gdrive);
}

#[test]
fn scenarios_on_baidu() {
    run_all(Provider::Baidu);
}
