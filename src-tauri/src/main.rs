//! `cloudsync-app`: CloudSync's desktop app. It lives in the tray, hosts the sync engine
//! (or becomes the client of a `cloudsync run` daemon on the same config dir), and shows
//! the main window and the connection wizard. All sync state stays in the engine; the
//! windows read it through the commands in `commands` and the events in `shell`.
//!
//! Usage: `cloudsync-app [--config-dir DIR] [--minimized]` (`CLOUDSYNC_HOME` works too).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod autostart;
mod commands;
mod connections;
mod demo;
mod error;
mod link;
mod live;
mod notifications;
mod shell;
mod signin;
mod tray;
mod tray_menu;
mod wizard;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use cloudsync_engine::paths::ConfigDir;
use tauri::{AppHandle, Manager, RunEvent, WindowEvent};

use notifications::Notifier;
use shell::Shell;

/// What the command line asks for.
struct Args {
    config_dir: Option<PathBuf>,
    minimized: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        config_dir: None,
        minimized: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config-dir" => {
                args.config_dir = Some(it.next().ok_or("--config-dir needs a folder")?.into())
            }
            "--minimized" => args.minimized = true,
            "-h" | "--help" => {
                return Err("usage: cloudsync-app [--config-dir DIR] [--minimized]".into())
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    Ok(args)
}

/// Shows and focuses the main window.
pub fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window("main") {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLOUDSYNC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let dir = ConfigDir::resolve(args.config_dir);
    if let Err(e) = std::fs::create_dir_all(dir.root()) {
        eprintln!("error: cannot create {}: {e}", dir.root().display());
        return ExitCode::from(1);
    }
    let shell = Shell::new(dir);
    let minimized = args.minimized;
    let app = tauri::Builder::default()
        // First, so a second launch only brings the running app forward.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_main(app)
        }))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(shell.clone())
        .manage(Mutex::new(tray::TrayState::default()))
        .manage(Notifier::default())
        .setup(move |app| {
            let handle = app.handle().clone();
            tray::install(&handle, &shell.snapshot())?;
            shell.start(handle.clone(), tray::update, |app: &AppHandle, ev| {
                app.state::<Notifier>().on_event(app, ev)
            });
            if !minimized {
                show_main(&handle);
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the main window leaves the app in the tray.
            if let WindowEvent::CloseRequested { api, .. } = event {
                if window.label() == "main" {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::snapshot,
            commands::connection_detail,
            commands::pause,
            commands::resume,
            commands::unlink,
            commands::activity,
            commands::skipped,
            commands::why,
            commands::conflicts,
            commands::resolve,
            commands::approve,
            commands::cancel_plan,
            commands::save_settings,
            commands::open_folder,
            commands::open_wizard,
            commands::close_wizard,
            commands::pick_folder,
            commands::check_local_folder,
            commands::providers,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::relink,
            commands::test_connection,
            commands::remote_folders,
            commands::add_connection,
            commands::connection_remote_folders,
            commands::autostart,
            commands::set_autostart,
        ])
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot start the app: {e}");
            return ExitCode::from(1);
        }
    };
    app.run(|app, event| match event {
        // The last window closing is not a reason to quit: the tray stays.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => api.prevent_exit(),
        RunEvent::Exit => app.state::<Arc<Shell>>().stop(),
        _ => {}
    });
    ExitCode::SUCCESS
}
