//! The commands the page may call (docs/app-ipc.md), each a thin step from the page's
//! arguments to an engine request, a wizard check or a window; capabilities/main.json
//! allows exactly these.

use std::path::Path;
use std::sync::Arc;

use cloudsync_core::ConnectionSettings;
use cloudsync_engine::control::Request;
use cloudsync_engine::engine::Choice;
use cloudsync_engine::secrets::PendingSecret;
use cloudsync_engine::store::Connection;
use cloudsync_engine::sync::PendingPlan;
use serde::Serialize;
use tauri::{AppHandle, Manager, State, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_dialog::DialogExt;

use crate::error::AppError;
use crate::live::{ConnectionView, Snapshot};
use crate::shell::Shell;
use crate::signin::SignInDone;
use crate::wizard::{self, FolderCheck, ProviderInfo, Sources, Tested, WizardForm};

type Shared<'a> = State<'a, Arc<Shell>>;

/// The tray's view of everything.
#[tauri::command]
pub fn snapshot(shell: Shared<'_>) -> Snapshot {
    shell.snapshot()
}

/// One connection in full, for its tabs.
#[derive(Debug, Serialize)]
pub struct ConnectionDetail {
    status: ConnectionView,
    settings: ConnectionSettings,
    schedule_text: String,
    pending_plan: Option<PendingPlan>,
}

async fn detail(shell: &Shell, name: &str) -> Result<ConnectionDetail, AppError> {
    let conn: Connection = shell
        .link
        .call_as(Request::Get { name: name.into() })
        .await?;
    let statuses = shell.link.call_as(Request::Status).await?;
    let status = crate::connections::views(statuses, std::slice::from_ref(&conn))
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| AppError::Engine(format!("no connection named {name:?}")))?;
    let mut status = status;
    if let Some(live) = shell
        .snapshot()
        .connections
        .into_iter()
        .find(|c| c.name == name)
    {
        // The live state knows a round is running, which the stored state does not.
        status.state = live.state;
    }
    Ok(ConnectionDetail {
        status,
        schedule_text: conn
            .settings
            .schedule
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "always".into()),
        pending_plan: conn
            .pending_plan
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok()),
        settings: conn.settings,
    })
}

/// Status, settings and any plan waiting for approval.
#[tauri::command]
pub async fn connection_detail(
    shell: Shared<'_>,
    name: String,
) -> Result<ConnectionDetail, AppError> {
    detail(&shell, &name).await
}

/// Pauses one connection, or all.
#[tauri::command]
pub async fn pause(shell: Shared<'_>, name: Option<String>) -> Result<Vec<String>, AppError> {
    let changed = shell.link.call_as(Request::Pause { name }).await?;
    shell.changed();
    Ok(changed)
}

/// Resumes one connection, or all.
#[tauri::command]
pub async fn resume(shell: Shared<'_>, name: Option<String>) -> Result<Vec<String>, AppError> {
    let changed = shell.link.call_as(Request::Resume { name }).await?;
    shell.changed();
    Ok(changed)
}

/// Removes a connection; its files stay on both sides.
#[tauri::command]
pub async fn unlink(shell: Shared<'_>, name: String) -> Result<(), AppError> {
    shell.link.call(Request::Unlink { name }).await?;
    shell.changed();
    Ok(())
}

/// The activity log, newest first.
#[tauri::command]
pub async fn activity(
    shell: Shared<'_>,
    name: Option<String>,
    action: Option<String>,
    limit: usize,
) -> Result<serde_json::Value, AppError> {
    let limit = limit.clamp(1, 5_000);
    shell
        .link
        .call(Request::Log {
            name,
            action,
            limit,
        })
        .await
}

/// Items left out, each with its rule.
#[tauri::command]
pub async fn skipped(shell: Shared<'_>, name: String) -> Result<serde_json::Value, AppError> {
    shell.link.call(Request::Skipped { name: Some(name) }).await
}

/// Why a path is or is not synced.
#[tauri::command]
pub async fn why(
    shell: Shared<'_>,
    name: String,
    path: String,
) -> Result<serde_json::Value, AppError> {
    shell.link.call(Request::Why { name, path }).await
}

/// The connection's conflicts.
#[tauri::command]
pub async fn conflicts(shell: Shared<'_>, name: String) -> Result<serde_json::Value, AppError> {
    shell
        .link
        .call(Request::Conflicts { name: Some(name) })
        .await
}

/// Settles a conflict.
#[tauri::command]
pub async fn resolve(
    shell: Shared<'_>,
    name: String,
    path: String,
    choice: Choice,
) -> Result<serde_json::Value, AppError> {
    let done = shell
        .link
        .call(Request::Resolve { name, path, choice })
        .await?;
    shell.changed();
    Ok(done)
}

/// Approves the plan waiting for approval.
#[tauri::command]
pub async fn approve(shell: Shared<'_>, name: String) -> Result<serde_json::Value, AppError> {
    let plan = shell.link.call(Request::Approve { name }).await?;
    shell.changed();
    Ok(plan)
}

/// Declines the plan for now: the connection is paused, so nothing is deleted; the plan
/// waits until the user approves it or restores the files.
#[tauri::command]
pub async fn cancel_plan(shell: Shared<'_>, name: String) -> Result<(), AppError> {
    shell.link.call(Request::Pause { name: Some(name) }).await?;
    shell.changed();
    Ok(())
}

/// Replaces a connection's settings.
#[tauri::command]
pub async fn save_settings(
    shell: Shared<'_>,
    name: String,
    settings: ConnectionSettings,
    schedule_text: String,
) -> Result<ConnectionDetail, AppError> {
    let mut settings = settings;
    settings.schedule = wizard::parse_schedule(&schedule_text)?;
    shell
        .link
        .call(Request::Set {
            name: name.clone(),
            settings,
        })
        .await?;
    shell.changed();
    detail(&shell, &name).await
}

/// Opens a folder in the file manager: a connection's sync folder or a folder inside it
/// (the page cannot make the app open anything else).
#[tauri::command]
pub async fn open_folder(shell: Shared<'_>, path: String) -> Result<(), AppError> {
    let wanted = std::fs::canonicalize(&path)
        .map_err(|e| AppError::Invalid(format!("cannot open {path}: {e}")))?;
    let inside_a_root =
        shell.snapshot().connections.iter().any(|c| {
            std::fs::canonicalize(&c.local_root).is_ok_and(|root| wanted.starts_with(root))
        });
    if !inside_a_root {
        return Err(AppError::Invalid(format!(
            "{path} is not inside a sync folder"
        )));
    }
    open::that_detached(&wanted).map_err(|e| AppError::Window(format!("cannot open {path}: {e}")))
}

/// Opens (or brings forward) the connection wizard.
#[tauri::command]
pub fn open_wizard(app: AppHandle) -> Result<(), AppError> {
    show_wizard(&app)
}

/// Shows the wizard window.
///
/// # Errors
/// The window cannot be created.
pub fn show_wizard(app: &AppHandle) -> Result<(), AppError> {
    if let Some(w) = app.get_webview_window("wizard") {
        w.show()?;
        w.set_focus()?;
        return Ok(());
    }
    WebviewWindowBuilder::new(app, "wizard", WebviewUrl::App("index.html#wizard".into()))
        .title("Add a connection - CloudSync")
        .inner_size(760.0, 600.0)
        .min_inner_size(620.0, 480.0)
        .build()?;
    Ok(())
}

/// Closes the wizard window.
#[tauri::command]
pub fn close_wizard(app: AppHandle) -> Result<(), AppError> {
    if let Some(w) = app.get_webview_window("wizard") {
        w.close()?;
    }
    Ok(())
}

/// The native folder chooser; `None` when the user cancels.
#[tauri::command]
pub async fn pick_folder(app: AppHandle) -> Result<Option<String>, AppError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose an empty folder to sync")
        .pick_folder(move |f| {
            let _ = tx.send(f.and_then(|p| p.into_path().ok()));
        });
    let picked = rx
        .await
        .map_err(|_| AppError::Window("the folder chooser closed".into()))?;
    Ok(picked.map(|p| p.display().to_string()))
}

/// Whether CloudSync starts at login.
#[tauri::command]
pub fn autostart() -> Result<bool, AppError> {
    crate::autostart::enabled()
}

/// Turns starting at login on or off.
#[tauri::command]
pub fn set_autostart(shell: Shared<'_>, enabled: bool) -> Result<bool, AppError> {
    crate::autostart::set(enabled, shell.link.dir().root())?;
    crate::autostart::enabled()
}

/// Whether a folder can become the new sync folder, and why not.
#[tauri::command]
pub fn check_local_folder(path: String) -> FolderCheck {
    wizard::check_local_folder(&path)
}

/// The providers the wizard offers.
#[tauri::command]
pub fn providers(shell: Shared<'_>) -> Vec<ProviderInfo> {
    wizard::providers(shell.link.dir().root())
}

/// Signs in to Dropbox, Google Drive or Baidu (browser or device code); the wizard passes
/// the answer's session as `fields.session`.
#[tauri::command]
pub async fn sign_in(
    app: AppHandle,
    shell: Shared<'_>,
    provider: String,
) -> Result<SignInDone, AppError> {
    crate::signin::run(app, &shell.sign_ins, shell.link.dir().root(), &provider).await
}

/// Signs a connection in again after its provider refused the stored sign-in (the same
/// account must come back); the page follows it through `sign-in-progress` and may
/// `cancel_sign_in`. The connection syncs right after.
#[tauri::command]
pub async fn relink(app: AppHandle, shell: Shared<'_>, name: String) -> Result<(), AppError> {
    let conn: Connection = shell
        .link
        .call_as(Request::Get { name: name.clone() })
        .await?;
    crate::signin::relink(app, &shell.sign_ins, shell.link.dir().root(), &conn).await?;
    shell.link.call(Request::Relinked { name }).await?;
    shell.changed();
    Ok(())
}

/// Stops a sign-in that waits for the browser.
#[tauri::command]
pub fn cancel_sign_in(shell: Shared<'_>) {
    shell.sign_ins.cancel();
}

/// Opens the remote and names the account.
#[tauri::command]
pub async fn test_connection(shell: Shared<'_>, form: WizardForm) -> Result<Tested, AppError> {
    let demo = demo_for(&shell, &form).await?;
    let signed = shell.sign_ins.get(form.field_value("session"));
    let src = Sources {
        demo: demo.as_deref(),
        signed_in: signed.as_ref(),
    };
    wizard::test(&form, &src).await
}

/// The remote's folders directly inside `path`.
#[tauri::command]
pub async fn remote_folders(
    shell: Shared<'_>,
    form: WizardForm,
    path: String,
) -> Result<Vec<String>, AppError> {
    let demo = demo_for(&shell, &form).await?;
    let signed = shell.sign_ins.get(form.field_value("session"));
    let src = Sources {
        demo: demo.as_deref(),
        signed_in: signed.as_ref(),
    };
    wizard::remote_folders(&form, &path, &src).await
}

/// The folders directly inside `path` (relative to the connection's remote root) of an
/// existing connection's remote, for choosing remote folders to leave out.
#[tauri::command]
pub async fn connection_remote_folders(
    shell: Shared<'_>,
    name: String,
    path: String,
) -> Result<Vec<String>, AppError> {
    let conn: Connection = shell.link.call_as(Request::Get { name }).await?;
    wizard::folders_in(&conn.provider, &conn.remote, &path).await
}

/// Adds the connection the wizard describes.
#[tauri::command]
pub async fn add_connection(
    shell: Shared<'_>,
    form: WizardForm,
) -> Result<ConnectionView, AppError> {
    let demo = demo_for(&shell, &form).await?;
    let check = wizard::check_local_folder(&form.local_root);
    if let Some(reason) = check.reason {
        return Err(AppError::Invalid(reason));
    }
    let settings = wizard::settings_of(&form)?;
    let session = form.field_value("session").to_string();
    let signed = shell.sign_ins.get(&session);
    let prepared = wizard::prepare(
        &form,
        &form.remote_folder,
        &Sources {
            demo: demo.as_deref(),
            signed_in: signed.as_ref(),
        },
    )?;
    drop(demo);
    let field = prepared.target.secret_field;
    let mut add = prepared.target.into_add(
        form.name.trim().to_string(),
        Path::new(form.local_root.trim()).to_path_buf(),
        settings,
    );
    let pending = match (field, prepared.secret) {
        (Some(field), Some(secret)) => {
            let p = PendingSecret::store(shell.link.dir().root(), &add.credential, &secret)
                .map_err(|e| AppError::Engine(e.to_string()))?;
            if let Some(map) = add.remote.as_object_mut() {
                map.insert(field.into(), serde_json::json!(p.reference()));
            }
            Some(p)
        }
        _ => None,
    };
    let name = add.name.clone();
    let added: Result<Connection, AppError> = shell.link.call_as(Request::Add(add)).await;
    match added {
        Ok(conn) => {
            shell.sign_ins.forget(&session);
            shell.changed();
            let statuses = shell.link.call_as(Request::Status).await?;
            crate::connections::views(statuses, &[conn])
                .into_iter()
                .find(|c| c.name == name)
                .ok_or_else(|| AppError::Engine("the new connection vanished".into()))
        }
        Err(e) => {
            if let Some(p) = pending {
                if let Err(undo) = p.roll_back() {
                    tracing::error!("cannot take back the stored secret: {undo}");
                }
            }
            Err(e)
        }
    }
}

/// The running Demo cloud when the form is for it (started on first use).
async fn demo_for<'a>(
    shell: &'a Shell,
    form: &WizardForm,
) -> Result<Option<tokio::sync::MappedMutexGuard<'a, crate::demo::DemoCloud>>, AppError> {
    if form.provider != "demo" {
        return Ok(None);
    }
    let guard = shell.ensure_demo().await?;
    Ok(tokio::sync::MutexGuard::try_map(guard, |d| d.as_mut()).ok())
}
