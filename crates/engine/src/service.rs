//! The daemon: one engine per config dir, serving the control socket, watching every
//! local root and polling every remote until asked to stop.
//!
//! The config dir's lock file is held for the daemon's lifetime, so a second daemon (or
//! the app) on the same dir refuses to start and becomes a client instead. Local changes
//! arrive through `notify` (debounced); when the watcher cannot be set up (for example the
//! inotify watch limit is reached) a warning says so and periodic rescans take over.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::net::UnixListener;
use tokio::sync::Notify;

use crate::control::{serve_client, Request};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::events::Event;
use crate::paths::ConfigDir;
use crate::remote::Remote;

/// Quiet time after the last local change before a sync starts.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Holds the config dir's engine lock while alive.
pub struct EngineLock {
    _file: File,
}

impl EngineLock {
    /// Takes the lock, or fails when another engine holds it.
    ///
    /// # Errors
    /// [`EngineError::Locked`], or I/O errors creating the lock file.
    pub fn acquire(dir: &ConfigDir) -> Result<EngineLock, EngineError> {
        std::fs::create_dir_all(dir.root())
            .map_err(|e| EngineError::io("create", dir.root(), e))?;
        let _ = std::fs::set_permissions(dir.root(), std::fs::Permissions::from_mode(0o700));
        let path = dir.lock_file();
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| EngineError::io("open lock", &path, e))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(EngineLock { _file: file }),
            Ok(false) => Err(EngineError::Locked(dir.root().to_path_buf())),
            Err(e) => Err(EngineError::io("lock", &path, e)),
        }
    }
}

/// One connection's wake-up signal.
struct Worker {
    wake: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
    _watcher: Option<notify::RecommendedWatcher>,
    root: PathBuf,
}

/// Runs the daemon until `shutdown` resolves.
///
/// # Errors
/// The lock is held by another engine, or the socket cannot be bound.
pub async fn run(
    engine: Arc<Engine>,
    dir: &ConfigDir,
    shutdown: impl std::future::Future<Output = ()>,
    ready: impl FnOnce(),
) -> Result<(), EngineError> {
    let socket = dir.socket();
    let mut waited = false;
    let _lock = loop {
        match EngineLock::acquire(dir) {
            Ok(l) => break l,
            Err(EngineError::Locked(p)) => {
                // A daemon answers on its socket; a one-shot command does not, and is
                // waited for.
                if crate::control::Client::connect(&socket).await.is_some() {
                    return Err(EngineError::Locked(p));
                }
                if !waited {
                    tracing::warn!("waiting for a running cloudsync command to finish");
                    waited = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    };
    // Holding the lock proves any socket file left here is stale.
    let _ = std::fs::remove_file(&socket);
    // Created owner-only from the start (no window before the chmod below).
    let old_mask = rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&socket);
    rustix::process::umask(old_mask);
    let listener = bound.map_err(|e| EngineError::io("bind", &socket, e))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| EngineError::io("chmod", &socket, e))?;
    let workers: Arc<Mutex<HashMap<String, Worker>>> = Arc::new(Mutex::new(HashMap::new()));
    let reconcile_now = Arc::new(Notify::new());
    reconcile(&engine, &workers);
    let on_change: Arc<dyn Fn(&Request) + Send + Sync> = {
        let workers = workers.clone();
        let reconcile_now = reconcile_now.clone();
        Arc::new(move |req: &Request| match req {
            Request::Add(_) | Request::Unlink { .. } => reconcile_now.notify_one(),
            Request::Set { name, .. } => {
                // The worker may be sleeping out the old poll interval or schedule.
                if let Ok(w) = workers.lock() {
                    if let Some(worker) = w.get(name) {
                        worker.wake.notify_one();
                    }
                }
                reconcile_now.notify_one();
            }
            Request::Resume { name } => {
                if let Ok(w) = workers.lock() {
                    for (n, worker) in w.iter() {
                        if name.as_deref().is_none_or(|x| x == n) {
                            worker.wake.notify_one();
                        }
                    }
                }
                reconcile_now.notify_one();
            }
            // New credentials (or an approved plan) should not wait out the error backoff.
            Request::Approve { name } | Request::Relinked { name } => {
                if let Ok(w) = workers.lock() {
                    if let Some(worker) = w.get(name) {
                        worker.wake.notify_one();
                    }
                }
            }
            _ => {}
        })
    };
    tracing::info!(socket = %socket.display(), "daemon running");
    ready();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve_client(engine.clone(), stream, on_change.clone()));
                }
            }
            _ = reconcile_now.notified() => reconcile(&engine, &workers),
            _ = tokio::time::sleep(Duration::from_secs(5)) => reconcile(&engine, &workers),
        }
    }
    if let Ok(mut w) = workers.lock() {
        for (_, worker) in w.drain() {
            worker.task.abort();
        }
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// Starts workers for new connections and stops those of removed ones.
fn reconcile(engine: &Arc<Engine>, workers: &Arc<Mutex<HashMap<String, Worker>>>) {
    let Ok(conns) = engine.connections() else {
        return;
    };
    let Ok(mut w) = workers.lock() else {
        return;
    };
    w.retain(|name, worker| {
        let keep = conns
            .iter()
            .any(|c| &c.name == name && c.local_root == worker.root);
        if !keep {
            worker.task.abort();
        }
        keep
    });
    for c in conns {
        if w.contains_key(&c.name) {
            continue;
        }
        let wake = Arc::new(Notify::new());
        let watcher = watch(engine, &c.name, &c.local_root, wake.clone());
        let task = tokio::spawn(worker_loop(engine.clone(), c.name.clone(), wake.clone()));
        w.insert(
            c.name.clone(),
            Worker {
                wake,
                task,
                _watcher: watcher,
                root: c.local_root.clone(),
            },
        );
    }
}

/// Sets up the watcher of one root; `None` (with a warning event) when it cannot.
fn watch(
    engine: &Arc<Engine>,
    name: &str,
    root: &std::path::Path,
    wake: Arc<Notify>,
) -> Option<notify::RecommendedWatcher> {
    let handler = move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            // Opening or reading changes nothing (and our own scan does both, which would
            // wake the loop forever); a file closed after writing does.
            if let notify::EventKind::Access(kind) = ev.kind {
                if kind != notify::event::AccessKind::Close(notify::event::AccessMode::Write) {
                    return;
                }
            }
            // Our own temp files and trash moves would otherwise wake the loop forever.
            let ours = ev.paths.iter().all(|p| {
                p.components().any(|c| {
                    let s = c.as_os_str().to_string_lossy();
                    crate::scan::is_internal_name(&s)
                })
            });
            if !ours {
                wake.notify_one();
            }
        }
    };
    let result = notify::recommended_watcher(handler).and_then(|mut w| {
        w.watch(root, RecursiveMode::Recursive)?;
        Ok(w)
    });
    match result {
        Ok(w) => Some(w),
        Err(e) => {
            let limit = matches!(e.kind, notify::ErrorKind::MaxFilesWatch);
            let message = if limit {
                format!("cannot watch {}: the inotify watch limit is reached (raise fs.inotify.max_user_watches); falling back to periodic rescans", root.display())
            } else {
                format!(
                    "cannot watch {}: {e}; falling back to periodic rescans",
                    root.display()
                )
            };
            tracing::warn!("{message}");
            engine.events().emit(Event::Error {
                connection: Some(name.to_string()),
                message,
            });
            None
        }
    }
}

/// Syncs one connection whenever woken, and at least every poll interval.
async fn worker_loop(engine: Arc<Engine>, name: String, wake: Arc<Notify>) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let Ok(conn) = engine.connection(&name) else {
            return;
        };
        let poll = Duration::from_secs(conn.settings.poll_interval_secs.max(1));
        let allowed = conn
            .settings
            .schedule
            .as_ref()
            .is_none_or(|s| s.allows_at(chrono::Local::now()));
        let mut wait = poll;
        if !conn.paused && allowed && conn.state != crate::store::ConnState::Approval {
            match engine.sync_connection(&name).await {
                Ok(_) => backoff = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(connection = %name, error = %e, "sync failed");
                    wait = backoff.min(poll);
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                }
            }
        } else if !allowed {
            engine.events().emit(Event::Status {
                connection: name.clone(),
                status: "outside-schedule".into(),
                detail: None,
            });
        }
        // A push channel (Dropbox's longpoll) ends the wait as soon as the remote changes.
        let watched = (!conn.paused && allowed)
            .then(|| engine.remote_for(&conn).ok())
            .flatten();
        tokio::select! {
            _ = wake.notified() => {
                // Let a burst of changes settle before scanning.
                loop {
                    tokio::select! {
                        _ = wake.notified() => continue,
                        _ = tokio::time::sleep(DEBOUNCE) => break,
                    }
                }
            }
            _ = tokio::time::sleep(wait) => {}
            _ = remote_change(watched, wait) => {}
        }
    }
}

/// Resolves when `remote` reports a change within `wait`; otherwise never (the poll timer
/// ends the wait then, and a failing push channel must not spin the loop).
async fn remote_change(remote: Option<Arc<dyn Remote>>, wait: Duration) {
    if let Some(remote) = remote {
        match remote.wait_for_change(wait).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => tracing::debug!("change notifications: {e}"),
        }
    }
    std::future::pending::<()>().await;
}
