//! `cloudsync-emulator dropbox|gdrive|baidu --addr 127.0.0.1:PORT [--data DIR]
//! [--accept-token TOKEN]`: serves one emulated provider and prints its base URL first.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use cloudsync_emulator::{spawn, Options, Provider};

/// Serves an emulated cloud provider on 127.0.0.1 for tests, benchmarks and demo mode.
#[derive(Parser)]
#[command(name = "cloudsync-emulator", version)]
struct Args {
    /// dropbox, gdrive or baidu.
    provider: Provider,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Keep state in this folder across restarts (default: in memory).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Accept this bearer token without a sign-in (for scripts).
    #[arg(long)]
    accept_token: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let options = Options {
        data: args.data,
        accept_token: args.accept_token,
        ..Options::default()
    };
    let emulator = spawn(args.provider, args.addr, options)
        .await
        .with_context(|| {
            format!(
                "starting the {} emulator on {}",
                args.provider.name(),
                args.addr
            )
        })?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", emulator.base_url)?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    emulator.stop().await;
    Ok(())
}
