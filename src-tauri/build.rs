//! Builds the Tauri context and one permission per app command, so the capability file
//! can allow exactly the commands the page uses and nothing else.

/// Every command the page may call (see docs/app-ipc.md).
const COMMANDS: &[&str] = &[
    "snapshot",
    "connection_detail",
    "pause",
    "resume",
    "unlink",
    "activity",
    "skipped",
    "why",
    "conflicts",
    "resolve",
    "approve",
    "cancel_plan",
    "save_settings",
    "open_folder",
    "open_wizard",
    "close_wizard",
    "pick_folder",
    "check_local_folder",
    "providers",
    "sign_in",
    "cancel_sign_in",
    "relink",
    "test_connection",
    "remote_folders",
    "add_connection",
    "connection_remote_folders",
    "autostart",
    "set_autostart",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports failure by panicking; the message says what is wrong.
        panic!("tauri-build: {e:#}");
    }
}
