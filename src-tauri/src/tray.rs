//! The tray icon: its menu built from [`tray_menu::menu`], its icon and tooltip from the
//! snapshot, and what a click on an item does.

use std::sync::{Arc, Mutex};

use cloudsync_engine::control::Request;
use tauri::image::Image;
use tauri::menu::{Menu, MenuBuilder, MenuEvent};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::live::{Icon, Snapshot};
use crate::shell::Shell;
use crate::tray_menu::{self, Click, Entry};

/// The tray's id (libayatana exports it on D-Bus under this name).
pub const TRAY_ID: &str = "cloudsync";

/// What the tray shows now, to skip rebuilding an unchanged menu.
#[derive(Default)]
pub struct TrayState {
    entries: Vec<Entry>,
    icon: Option<Icon>,
    snapshot: Option<Snapshot>,
}

fn icon_bytes(icon: Icon) -> &'static [u8] {
    match icon {
        Icon::Idle => include_bytes!("../../icons/tray-idle.png"),
        Icon::Syncing => include_bytes!("../../icons/tray-syncing.png"),
        Icon::Paused => include_bytes!("../../icons/tray-paused.png"),
        Icon::Error => include_bytes!("../../icons/tray-error.png"),
    }
}

fn build_menu(app: &AppHandle, entries: &[Entry]) -> tauri::Result<Menu<Wry>> {
    let mut b = MenuBuilder::new(app);
    for e in entries {
        b = match e {
            Entry::Separator => b.separator(),
            Entry::Item { id, label, enabled } => {
                let item = tauri::menu::MenuItemBuilder::with_id(id.as_str(), label)
                    .enabled(*enabled)
                    .build(app)?;
                b.item(&item)
            }
        };
    }
    b.build()
}

/// Creates the tray icon.
///
/// # Errors
/// The icon or menu cannot be created.
pub fn install(app: &AppHandle, snapshot: &Snapshot) -> tauri::Result<TrayIcon> {
    let entries = tray_menu::menu(snapshot);
    let menu = build_menu(app, &entries)?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(icon_bytes(snapshot.icon))?)
        .tooltip(&snapshot.status_line)
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    if let Some(state) = app.try_state::<Mutex<TrayState>>() {
        if let Ok(mut s) = state.lock() {
            *s = TrayState {
                entries,
                icon: Some(snapshot.icon),
                snapshot: Some(snapshot.clone()),
            };
        }
    }
    Ok(tray)
}

/// Brings the tray up to date with `snapshot`.
pub fn update(app: &AppHandle, snapshot: &Snapshot) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let Some(state) = app.try_state::<Mutex<TrayState>>() else {
        return;
    };
    let Ok(mut s) = state.lock() else {
        return;
    };
    let entries = tray_menu::menu(snapshot);
    if entries != s.entries {
        match build_menu(app, &entries) {
            Ok(menu) => {
                if let Err(e) = tray.set_menu(Some(menu)) {
                    tracing::warn!("cannot update the tray menu: {e}");
                }
                s.entries = entries;
            }
            Err(e) => tracing::warn!("cannot build the tray menu: {e}"),
        }
    }
    if s.icon != Some(snapshot.icon) {
        match Image::from_bytes(icon_bytes(snapshot.icon)).and_then(|i| tray.set_icon(Some(i))) {
            Ok(()) => s.icon = Some(snapshot.icon),
            Err(e) => tracing::warn!("cannot change the tray icon: {e}"),
        }
    }
    let _ = tray.set_tooltip(Some(&snapshot.status_line));
    s.snapshot = Some(snapshot.clone());
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let Some(click) = Click::parse(event.id().as_ref()) else {
        return;
    };
    let snapshot = app
        .try_state::<Mutex<TrayState>>()
        .and_then(|s| s.lock().ok().and_then(|s| s.snapshot.clone()));
    let shell = app.state::<Arc<Shell>>().inner().clone();
    match click {
        Click::PauseAll | Click::ResumeAll => {
            let req = if click == Click::PauseAll {
                Request::Pause { name: None }
            } else {
                Request::Resume { name: None }
            };
            tauri::async_runtime::spawn(async move {
                if let Err(e) = shell.link.call(req).await {
                    tracing::error!("{e}");
                }
                shell.changed();
            });
        }
        Click::OpenFolder(name) => {
            let root = snapshot
                .as_ref()
                .and_then(|s| s.connections.iter().find(|c| c.name == name))
                .map(|c| c.local_root.clone());
            if let Some(root) = root {
                open_path(&root);
            }
        }
        Click::Recent(i) => {
            let folder = snapshot.as_ref().and_then(|s| {
                let r = s.recent.get(i)?;
                let c = s.connections.iter().find(|c| c.name == r.connection)?;
                let parent = r.path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                Some(std::path::Path::new(&c.local_root).join(parent))
            });
            if let Some(folder) = folder {
                open_path(&folder.display().to_string());
            }
        }
        Click::OpenMain => crate::show_main(app),
        Click::Quit => {
            shell.stop();
            app.exit(0);
        }
    }
}

fn open_path(path: &str) {
    if let Err(e) = open::that_detached(path) {
        tracing::warn!("cannot open {path}: {e}");
    }
}
