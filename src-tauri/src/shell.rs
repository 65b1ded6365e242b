//! The app's running parts and how they are wired: the engine link (hosting the engine or
//! talking to the daemon), the live model fed by the engine's events, the Demo cloud, and
//! the tasks that push snapshots to the windows and the tray. Commands and the tray reach
//! all of it through [`Shell`], kept in Tauri's managed state.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cloudsync_engine::control::Request;
use cloudsync_engine::engine::ConnectionStatus;
use cloudsync_engine::paths::ConfigDir;
use cloudsync_engine::store::Connection;
use cloudsync_engine::Event;
use tauri::{AppHandle, Emitter};
use tokio::sync::Notify;

use crate::demo::{self, DemoCloud};
use crate::error::AppError;
use crate::link::EngineLink;
use crate::live::{ConnectionView, LiveModel, RecentFile, Snapshot};
use crate::signin::SignIns;

/// Everything the app runs.
pub struct Shell {
    /// The line to the engine.
    pub link: EngineLink,
    model: Mutex<LiveModel>,
    /// The Demo cloud, once started.
    pub demo: tokio::sync::Mutex<Option<DemoCloud>>,
    /// Sign-ins from the wizard, until their connection is added.
    pub sign_ins: SignIns,
    dirty: Notify,
    refresh: Notify,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Shell {
    /// A shell for the config dir `dir` (nothing runs until [`Shell::start`]).
    pub fn new(dir: ConfigDir) -> Arc<Shell> {
        let (shutdown, _) = tokio::sync::watch::channel(false);
        Arc::new(Shell {
            link: EngineLink::new(dir),
            model: Mutex::new(LiveModel::default()),
            demo: tokio::sync::Mutex::new(None),
            sign_ins: SignIns::default(),
            dirty: Notify::new(),
            refresh: Notify::new(),
            shutdown,
        })
    }

    fn model(&self) -> MutexGuard<'_, LiveModel> {
        // The model is plain data: a panic elsewhere cannot leave it half-updated in a
        // way that matters more than showing nothing.
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What to show now.
    pub fn snapshot(&self) -> Snapshot {
        self.model().snapshot(Instant::now())
    }

    /// Asks for the connections to be read again and the windows and tray updated.
    pub fn changed(&self) {
        self.refresh.notify_one();
    }

    /// Starts the engine host, the event follower, the publishers and (when this config
    /// dir has one) the Demo cloud.
    pub fn start(
        self: &Arc<Self>,
        app: AppHandle,
        on_snapshot: impl Fn(&AppHandle, &Snapshot) + Send + 'static,
        on_event: impl Fn(&AppHandle, &Event) + Send + Sync + 'static,
    ) {
        {
            let me = self.clone();
            let stop = self.shutdown.subscribe();
            tauri::async_runtime::spawn(async move { me.link.host(stop).await });
        }
        {
            let me = self.clone();
            tauri::async_runtime::spawn(async move {
                if demo::exists(me.link.dir()) {
                    if let Err(e) = me.ensure_demo().await {
                        tracing::error!("{e}");
                    }
                }
            });
        }
        {
            let me = self.clone();
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let sink = |ev: Event| {
                    let follow = me.model().apply(&ev, Instant::now(), now_ms());
                    if follow.refresh_connections {
                        me.refresh.notify_one();
                    }
                    me.dirty.notify_one();
                    let _ = app.emit("engine-event", &ev);
                    on_event(&app, &ev);
                };
                me.link.follow(sink, || me.refresh.notify_one()).await
            });
        }
        {
            let me = self.clone();
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                loop {
                    me.refresh.notified().await;
                    match me.read_connections().await {
                        Ok(views) => {
                            me.model().set_connections(views);
                            me.dirty.notify_one();
                            let _ = app.emit("connections-changed", ());
                        }
                        Err(e) => tracing::warn!("cannot read the connections: {e}"),
                    }
                    // Coalesces bursts of events into one read.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
        }
        {
            let me = self.clone();
            tauri::async_runtime::spawn(async move {
                match me.read_recent().await {
                    Ok(recent) => me.model().set_recent(recent),
                    Err(e) => tracing::warn!("cannot read the activity log: {e}"),
                }
                me.refresh.notify_one();
            });
        }
        {
            let me = self.clone();
            tauri::async_runtime::spawn(async move {
                let mut last: Option<Snapshot> = None;
                loop {
                    tokio::select! {
                        _ = me.dirty.notified() => {}
                        // Speeds change while transfers run even without new events.
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    let snap = me.snapshot();
                    if last.as_ref() != Some(&snap) {
                        let _ = app.emit("snapshot", &snap);
                        on_snapshot(&app, &snap);
                        last = Some(snap);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            });
        }
    }

    /// Stops hosting the engine (the app is quitting).
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    async fn read_connections(&self) -> Result<Vec<ConnectionView>, AppError> {
        let statuses: Vec<ConnectionStatus> = self.link.call_as(Request::Status).await?;
        let conns: Vec<Connection> = self.link.call_as(Request::List).await?;
        Ok(crate::connections::views(statuses, &conns))
    }

    async fn read_recent(&self) -> Result<Vec<RecentFile>, AppError> {
        let rows: Vec<serde_json::Value> = self
            .link
            .call_as(Request::Log {
                name: None,
                action: None,
                limit: 50,
            })
            .await?;
        Ok(rows
            .iter()
            .filter(|r| matches!(r["action"].as_str(), Some("upload" | "download" | "rename")))
            .filter_map(|r| {
                Some(RecentFile {
                    connection: r["connection"].as_str()?.to_string(),
                    path: r["path"].as_str()?.to_string(),
                    action: r["action"].as_str()?.to_string(),
                    time_ms: r["time_ms"].as_i64()?,
                })
            })
            .collect())
    }

    /// Starts the Demo cloud if it is not running.
    ///
    /// # Errors
    /// It cannot start (see [`demo::start`]).
    pub async fn ensure_demo(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<DemoCloud>>, AppError> {
        let mut guard = self.demo.lock().await;
        if guard.is_none() {
            *guard = Some(demo::start(self.link.dir()).await?);
        }
        Ok(guard)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
