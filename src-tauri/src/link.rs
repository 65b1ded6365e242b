//! The app's line to the engine: the config dir's control socket.
//!
//! The app hosts the engine itself (the same service `cloudsync run` runs) unless a
//! daemon already serves the config dir; either way every request goes through the
//! socket, so the service's workers hear about additions, resumes and approvals the same
//! way for both, and the app keeps no sync state of its own. When the daemon goes away
//! the app takes over hosting.

use std::sync::Arc;
use std::time::Duration;

use cloudsync_engine::control::{Client, Request};
use cloudsync_engine::paths::ConfigDir;
use cloudsync_engine::{Engine, EngineError, Event};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// How long a request waits for the engine to start answering.
const CONNECT_PATIENCE: Duration = Duration::from_secs(15);

/// Sends requests to whichever engine serves the config dir.
#[derive(Debug, Clone)]
pub struct EngineLink {
    dir: ConfigDir,
}

impl EngineLink {
    /// A link to the engine of `dir`.
    pub fn new(dir: ConfigDir) -> EngineLink {
        EngineLink { dir }
    }

    /// The config dir.
    pub fn dir(&self) -> &ConfigDir {
        &self.dir
    }

    /// Sends one request and returns its data.
    ///
    /// # Errors
    /// The engine's refusal as [`AppError::Engine`], or [`AppError::Unreachable`].
    pub async fn call(&self, req: Request) -> Result<serde_json::Value, AppError> {
        let mut client = self.connect().await?;
        let resp = client
            .call(&req)
            .await
            .map_err(|e| AppError::Unreachable(e.to_string()))?;
        if resp.ok {
            Ok(resp.data)
        } else {
            Err(AppError::Engine(
                resp.error.unwrap_or_else(|| "the engine refused".into()),
            ))
        }
    }

    /// Sends one request and decodes its data as `T`.
    ///
    /// # Errors
    /// As [`EngineLink::call`], or an answer of the wrong shape.
    pub async fn call_as<T: DeserializeOwned>(&self, req: Request) -> Result<T, AppError> {
        let data = self.call(req).await?;
        serde_json::from_value(data)
            .map_err(|e| AppError::Engine(format!("unexpected answer from the engine: {e}")))
    }

    async fn connect(&self) -> Result<Client, AppError> {
        let socket = self.dir.socket();
        let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
        loop {
            if let Some(c) = Client::connect(&socket).await {
                return Ok(c);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AppError::Unreachable(format!(
                    "no answer on {}",
                    socket.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Hosts the engine whenever no daemon does, until `shutdown` resolves.
    pub async fn host(&self, shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                return;
            }
            if Client::connect(&self.dir.socket()).await.is_none() {
                self.host_once(shutdown.clone()).await;
            }
            let mut stop = shutdown.clone();
            tokio::select! {
                _ = stop.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    }

    async fn host_once(&self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let engine = match Engine::open(&self.dir, Arc::new(cloudsync_providers::Factory)) {
            Ok(e) => Arc::new(e),
            Err(e) => {
                tracing::error!("cannot open the engine: {e}");
                return;
            }
        };
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        let root = self.dir.root().display().to_string();
        let ready = move || tracing::info!("the app hosts the engine of {root}");
        match cloudsync_engine::service::run(engine, &self.dir, stop, ready).await {
            Ok(()) => {}
            Err(EngineError::Locked(_)) => {
                tracing::info!("a cloudsync daemon serves this config dir; the app is its client")
            }
            Err(e) => tracing::error!("the engine stopped: {e}"),
        }
    }

    /// Streams the engine's events to `sink` for as long as the app runs, reconnecting
    /// when the engine changes hands; `reconnected` runs after each (re)connection, since
    /// events sent meanwhile were missed.
    pub async fn follow(&self, sink: impl Fn(Event), reconnected: impl Fn()) {
        loop {
            if let Ok(mut client) = self.connect().await {
                if client.send(&Request::Follow).await.is_ok() {
                    reconnected();
                    while let Ok(Some(line)) = client.next_line().await {
                        match serde_json::from_str::<Event>(&line) {
                            Ok(ev) => sink(ev),
                            Err(e) => tracing::debug!("an event the app does not know: {e}"),
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
