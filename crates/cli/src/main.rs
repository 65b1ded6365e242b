//! `cloudsync`: the daemon and the one-shot commands.
//!
//! Every command becomes a [`Request`]; when a daemon serves the config dir the request
//! goes through its control socket, otherwise this process opens the engine and answers
//! it itself (taking the engine lock, so two engines never work on one config dir).
//! Exit codes: 0 success, 1 failure, 2 bad input (nothing changed).

mod args;
mod cloud;
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
            if is_read_only(&req) {
                // Reading needs no lock: SQLite lets readers in beside a writer.
                let engine = open_engine(self.dir)?;
                return Ok(handle(&engine, req).await);
            }
            let deadline = std::time::Instant::now() + LOCK_WAIT;
            let mut told = false;
            let lock = loop {
                match EngineLock::acquire(self.dir) {
                    Ok(l) => break l,
                    Err(EngineError::Locked(_)) => {
                        if let Some(mut client) = Client::connect(&self.dir.socket()).await {
                            return client.call(&req).await.context("talking to the daemon");
                        }
                        anyhow::ensure!(
                            std::time::Instant::now() < deadline,
                            "another cloudsync command has held {} for {} s; try again later",
                            self.dir.root().display(),
                            LOCK_WAIT.as_secs()
                        );
                        if !told {
                            eprintln!("waiting for another cloudsync command to finish...");
                            told = true;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            self.local = Some((open_engine(self.dir)?, lock));
        }
        match &self.local {
            Some((engine, _)) => Ok(handle(engine, req).await),
            None => anyhow::bail!("no engine"),
        }
    }
}

/// How long a command waits for another one-shot command to release the engine.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Requests that only read the database.
fn is_read_only(req: &Request) -> bool {
    matches!(
        req,
        Request::Status
            | Request::List
            | Request::Get { .. }
            | Request::Skipped { .. }
            | Request::Why { .. }
            | Request::Conflicts { .. }
            | Request::Log { .. }
    )
}

fn open_engine(dir: &ConfigDir) -> anyhow::Result<Engine> {
    Engine::open(dir, Arc::new(cloudsync_providers::Factory))
        .with_context(|| format!("opening the database in {}", dir.root().display()))
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
                    output::write_line(format_args!("{line}"));
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
    let root = dir.root().display().to_string();
    let ready = move || eprintln!("cloudsync daemon serving {root} (Ctrl-C to stop)");
    let result = service::run(engine, dir, shutdown, ready).await;
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
