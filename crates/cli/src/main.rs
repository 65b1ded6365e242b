//! `cloudsync`: the daemon and the one-shot commands.
//!
//! Every command becomes a [`Request`]; when a daemon serves the config dir the request
//! goes through its control socket, otherwise this process opens the engine and answers
//! it itself (taking the engine lock, so two engines never work on one config dir).
//! Exit codes: 0 success, 1 failure, 2 bad input (nothing changed).

mod args;
mod output;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use cloudsync_engine::control::{handle, Client, Request, Response};
use cloudsync_engine::paths::ConfigDir;
use cloudsync_engine::service::{self, EngineLock};
use cloudsync_engine::{Engine, EngineError};

use args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLOUDSYNC_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    let dir = ConfigDir::resolve(cli.config_dir.clone());
    match cli.command {
        Command::Run => run_daemon(&dir).await,
        Command::Status { json, follow } if follow => output::follow(&dir, json).await,
        command => {
            let mut talk = Talk {
                dir: &dir,
                local: None,
            };
            args::execute(command, &mut talk).await
        }
    }
}

/// Sends requests to the daemon, or answers them with an engine opened here.
pub struct Talk<'a> {
    dir: &'a ConfigDir,
    local: Option<(Engine, EngineLock)>,
}

impl Talk<'_> {
    /// Answers one request.
    ///
    /// # Errors
    /// When neither a daemon nor a local engine can answer.
    pub async fn call(&mut self, req: Request) -> anyhow::Result<Response> {
        if self.local.is_none() {
            if let Some(mut client) = Client::connect(&self.dir.socket()).await {
                return client.call(&req).await.context("talking to the daemon");
            }
            let lock = match EngineLock::acquire(self.dir) {
                Ok(l) => l,
                Err(EngineError::Locked(_)) => {
                    // A daemon is starting or its socket is gone; ask again shortly.
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                    if let Some(mut client) = Client::connect(&self.dir.socket()).await {
                        return client.call(&req).await.context("talking to the daemon");
                    }
                    anyhow::bail!(
                        "another CloudSync engine holds {} but does not answer on its socket",
                        self.dir.root().display()
                    );
                }
                Err(e) => return Err(e.into()),
            };
            let engine = Engine::open(self.dir, Arc::new(cloudsync_providers::Factory))
                .with_context(|| {
                    format!("opening the database in {}", self.dir.root().display())
                })?;
            self.local = Some((engine, lock));
        }
        match &self.local {
            Some((engine, _)) => Ok(handle(engine, req).await),
            None => anyhow::bail!("no engine"),
        }
    }
}

async fn run_daemon(dir: &ConfigDir) -> anyhow::Result<u8> {
    std::fs::create_dir_all(dir.root())
        .with_context(|| format!("creating {}", dir.root().display()))?;
    let engine = Arc::new(
        Engine::open(dir, Arc::new(cloudsync_providers::Factory))
            .with_context(|| format!("opening the database in {}", dir.root().display()))?,
    );
    let printer = {
        let mut rx = engine.events().subscribe();
        tokio::spawn(async move {
            while let Ok(ev) = rx.recv().await {
                if let Some(line) = output::event_line(&ev) {
                    println!("{line}");
                }
            }
        })
    };
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    eprintln!(
        "cloudsync daemon serving {} (Ctrl-C to stop)",
        dir.root().display()
    );
    let result = service::run(engine, dir, shutdown).await;
    printer.abort();
    match result {
        Ok(()) => Ok(0),
        Err(EngineError::Locked(p)) => {
            eprintln!("error: a CloudSync daemon already runs for {}", p.display());
            Ok(1)
        }
        Err(e) => Err(e.into()),
    }
}
