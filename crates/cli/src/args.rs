//! The command line (the contract scripts and tests rely on) and how each command becomes
//! requests to the engine.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use cloudsync_core::schedule::Schedule;
use cloudsync_core::units::{parse_rate, parse_size};
use cloudsync_core::{ConflictPolicy, ConnectionSettings, Mode, RelPath};
use cloudsync_engine::control::Request;
use cloudsync_engine::engine::{AddConnection, Choice};
use cloudsync_engine::secrets::PendingSecret;
use cloudsync_providers::setup;

use crate::cloud::{AddCloudArgs, SignInArgs};
use crate::output::{self, View};
use crate::Talk;
use cloudsync_providers::setup::cloud::Cloud;

/// CloudSync keeps local folders in two-way sync with cloud storage and other folders.
#[derive(Debug, Parser)]
#[command(name = "cloudsync", version, about)]
pub struct Cli {
    /// Where CloudSync keeps its database (default: $CLOUDSYNC_HOME, else the XDG data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, change or list connections.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Sign in again to a Dropbox, Google Drive or Baidu connection whose authorization
    /// was revoked or expired; the trees are kept.
    Relink {
        /// Connection name.
        name: String,
        /// Sign-in options.
        #[command(flatten)]
        sign_in: SignInArgs,
    },
    /// Drop a connection; all files stay on both sides.
    Unlink {
        /// Connection name.
        name: String,
    },
    /// Pause one connection or all.
    Pause(Target),
    /// Resume one connection or all.
    Resume(Target),
    /// Sync until both sides agree, then exit (0 when converged).
    Sync {
        /// Run once and exit (the only mode; `run` is the daemon).
        #[arg(long, required = true)]
        once: bool,
        /// Only this connection.
        name: Option<String>,
    },
    /// Run the daemon: watch and poll every connection until SIGINT/SIGTERM.
    Run,
    /// Show the status of every connection.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Keep printing events as they happen.
        #[arg(long)]
        follow: bool,
    },
    /// List skipped items with the rule that skipped them.
    Skipped {
        /// Only this connection.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Explain the state of one path ("why isn't this synced?").
    Why {
        /// Connection name.
        name: String,
        /// Path (relative to the sync folder, or absolute inside it).
        path: String,
    },
    /// List open conflicts.
    Conflicts {
        /// Only this connection.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Settle a conflict.
    Resolve {
        /// Connection name.
        name: String,
        /// Path of the conflicted file.
        path: String,
        /// Which version keeps the name.
        choice: ChoiceArg,
    },
    /// Show what the next sync would do, and any plan waiting for approval.
    Plan {
        /// Connection name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve the plan waiting for approval (mass delete guard).
    Approve {
        /// Connection name.
        name: String,
    },
    /// Show the activity log, newest first.
    Log {
        /// Only this connection.
        name: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Only this action (upload, download, delete-local, delete-remote, rename,
        /// conflict, create-folder).
        #[arg(long)]
        action: Option<String>,
        /// At most this many entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

impl Command {
    fn wants_json(&self) -> bool {
        match self {
            Command::Status { json, .. }
            | Command::Skipped { json, .. }
            | Command::Conflicts { json, .. }
            | Command::Plan { json, .. }
            | Command::Log { json, .. } => *json,
            Command::Connection(ConnectionCommand::List { json }) => *json,
            _ => false,
        }
    }
}

/// One connection or all.
#[derive(Debug, Args)]
pub struct Target {
    /// Connection name.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub name: Option<String>,
    /// All connections.
    #[arg(long)]
    pub all: bool,
}

/// `connection` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add a connection.
    #[command(subcommand)]
    Add(AddCommand),
    /// Change a connection's options.
    Set {
        /// Connection name.
        name: String,
        /// Options to change.
        #[command(flatten)]
        options: SettingsArgs,
    },
    /// List connections.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Providers for `connection add`.
#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// Another folder on this machine (a mounted NAS share, a USB disk).
    Local {
        /// Connection name.
        #[arg(long)]
        name: String,
        /// The local sync folder (must exist and be empty).
        #[arg(long)]
        local: PathBuf,
        /// The folder used as the remote (must exist).
        #[arg(long)]
        remote: PathBuf,
        /// Options.
        #[command(flatten)]
        options: SettingsArgs,
    },
    /// A WebDAV server (Nextcloud, ownCloud, a NAS, rclone serve webdav, ...).
    Webdav {
        /// Connection name.
        #[arg(long)]
        name: String,
        /// The local sync folder (must exist and be empty).
        #[arg(long)]
        local: PathBuf,
        /// The server's WebDAV URL (http:// or https://).
        #[arg(long)]
        url: String,
        /// User name.
        #[arg(long)]
        user: Option<String>,
        /// Read the password from this environment variable (else it is asked for).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        /// Folder on the server to sync with (default: the URL's folder).
        #[arg(long, value_name = "PATH")]
        remote_root: Option<String>,
        /// A PEM file of CA certificates to trust besides the system's (for an HTTPS server
        /// with a private CA).
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// Options.
        #[command(flatten)]
        options: SettingsArgs,
    },
    /// Dropbox (signs in with your browser).
    Dropbox(AddCloudArgs),
    /// Google Drive (signs in with your browser).
    Gdrive(AddCloudArgs),
    /// Baidu Netdisk (signs in with a device code, or the browser).
    Baidu(AddCloudArgs),
    /// S3-compatible object storage (AWS, MinIO, Ceph, Wasabi, ...).
    S3 {
        /// Connection name.
        #[arg(long)]
        name: String,
        /// The local sync folder (must exist and be empty).
        #[arg(long)]
        local: PathBuf,
        /// The service's endpoint URL (http:// or https://).
        #[arg(long)]
        endpoint: String,
        /// Bucket.
        #[arg(long)]
        bucket: String,
        /// Key prefix used as the remote root (default: the whole bucket).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Region.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Environment variable holding the access key id.
        #[arg(long, value_name = "VAR", default_value = "AWS_ACCESS_KEY_ID")]
        access_key_env: String,
        /// Environment variable holding the secret key (else it is asked for).
        #[arg(long, value_name = "VAR")]
        secret_key_env: Option<String>,
        /// Options.
        #[command(flatten)]
        options: SettingsArgs,
    },
}

/// Sync mode.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Both ways.
    TwoWay,
    /// Local changes only.
    UploadOnly,
    /// Remote changes only.
    DownloadOnly,
}

/// Conflict policy.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConflictArg {
    /// Local keeps the name; remote kept as revision or conflicted copy.
    KeepLocal,
    /// Remote keeps the name; local goes to the trash.
    KeepRemote,
    /// Remote keeps the name; local becomes a conflicted copy on both sides.
    KeepBoth,
    /// The later modification wins.
    NewerWins,
}

/// Conflict choice.
// The variant names are the command-line words (keep-local, ...).
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ChoiceArg {
    /// Keep the local version.
    KeepLocal,
    /// Keep the remote version.
    KeepRemote,
    /// Keep both.
    KeepBoth,
}

/// Options shared by `connection add` and `connection set`.
#[derive(Debug, Args, Default)]
pub struct SettingsArgs {
    /// Sync mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Don't remove in the destination what was removed in the source
    /// (`--no-delete=false` turns it off again).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub no_delete: Option<bool>,
    /// Conflict policy.
    #[arg(long, value_enum)]
    pub conflict: Option<ConflictArg>,
    /// Exclude paths matching this glob (repeatable; replaces the list on `set`;
    /// `--exclude ''` clears it).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Exclude files with this extension (repeatable).
    #[arg(long, value_name = "EXT")]
    pub exclude_ext: Vec<String>,
    /// Skip files larger than this (e.g. 500M, 2G; `off` for no limit).
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<String>,
    /// Leave this remote folder out (repeatable; selective sync).
    #[arg(long, value_name = "PATH")]
    pub skip_remote_folder: Vec<String>,
    /// Seconds between remote polls and full rescans.
    #[arg(long, value_name = "SECS")]
    pub poll_interval: Option<u64>,
    /// Hours of the week when syncing may run, e.g. `mon-fri 9-17; sat,sun 10-12` or
    /// `always`.
    #[arg(long, value_name = "SPEC")]
    pub schedule: Option<String>,
    /// Upload cap, e.g. 1M (bytes per second; `off` for none).
    #[arg(long, value_name = "RATE")]
    pub bwlimit_up: Option<String>,
    /// Download cap, e.g. 1M (bytes per second; `off` for none).
    #[arg(long, value_name = "RATE")]
    pub bwlimit_down: Option<String>,
    /// Large transfers (1 MiB and up) in flight at once (default 4); small files and
    /// other operations run four times as many.
    #[arg(long, value_name = "N")]
    pub transfers: Option<usize>,
    /// On WebDAV, S3 and local-folder remotes, move what sync deletes there into the
    /// remote's `.cloudsync-trash/` (kept 30 days); `--remote-trash=false` deletes for good.
    #[arg(long, value_name = "BOOL")]
    pub remote_trash: Option<bool>,
}

impl SettingsArgs {
    /// Applies the given options onto `s`.
    pub(crate) fn apply(self, s: &mut ConnectionSettings) -> anyhow::Result<()> {
        if let Some(m) = self.mode {
            s.mode = match m {
                ModeArg::TwoWay => Mode::TwoWay,
                ModeArg::UploadOnly => Mode::UploadOnly,
                ModeArg::DownloadOnly => Mode::DownloadOnly,
            };
        }
        if let Some(v) = self.no_delete {
            s.no_delete = v;
        }
        if let Some(c) = self.conflict {
            s.conflict = match c {
                ConflictArg::KeepLocal => ConflictPolicy::KeepLocal,
                ConflictArg::KeepRemote => ConflictPolicy::KeepRemote,
                ConflictArg::KeepBoth => ConflictPolicy::KeepBoth,
                ConflictArg::NewerWins => ConflictPolicy::NewerWins,
            };
        }
        if !self.exclude.is_empty() {
            s.exclude = self.exclude.into_iter().filter(|g| !g.is_empty()).collect();
        }
        if !self.exclude_ext.is_empty() {
            s.exclude_extensions = self
                .exclude_ext
                .into_iter()
                .map(|e| e.trim_start_matches('.').to_string())
                .filter(|e| !e.is_empty())
                .collect();
        }
        if let Some(m) = self.max_size {
            s.max_size = if matches!(m.as_str(), "off" | "none" | "0") {
                None
            } else {
                Some(parse_size(&m).with_context(|| format!("--max-size {m:?}"))?)
            };
        }
        if !self.skip_remote_folder.is_empty() {
            s.skip_remote_folders = self
                .skip_remote_folder
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| {
                    RelPath::new(p.trim_matches('/'))
                        .with_context(|| format!("--skip-remote-folder {p:?}"))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(p) = self.poll_interval {
            anyhow::ensure!(p >= 1, "--poll-interval must be at least 1 second");
            s.poll_interval_secs = p;
        }
        if let Some(spec) = self.schedule {
            let parsed = Schedule::parse(&spec).with_context(|| format!("--schedule {spec:?}"))?;
            s.schedule = if parsed.is_always() {
                None
            } else {
                Some(parsed)
            };
        }
        if let Some(r) = self.bwlimit_up {
            s.bwlimit_up = parse_rate(&r).with_context(|| format!("--bwlimit-up {r:?}"))?;
        }
        if let Some(r) = self.bwlimit_down {
            s.bwlimit_down = parse_rate(&r).with_context(|| format!("--bwlimit-down {r:?}"))?;
        }
        if let Some(v) = self.remote_trash {
            s.remote_trash = v;
        }
        if let Some(t) = self.transfers {
            anyhow::ensure!(
                (1..=64).contains(&t),
                "--transfers must be between 1 and 64"
            );
            s.transfers = t;
        }
        Ok(())
    }
}

/// Adds a connection whose secret goes to the OS keyring, or the owner-only secrets file
/// where no keyring answers (the config keeps a reference under `field`); when adding
/// fails, the earlier secret (or none) is put back.
pub(crate) async fn add_with_secret(
    talk: &mut Talk<'_>,
    mut add: AddConnection,
    field: &str,
    secret: &str,
    json: bool,
) -> anyhow::Result<u8> {
    let pending = PendingSecret::store(talk.dir.root(), &add.credential, secret)?;
    tracing::info!(connection = %add.name, home = %pending.reference().describe(), "stored the secret");
    if let Some(map) = add.remote.as_object_mut() {
        map.insert(field.to_string(), serde_json::json!(pending.reference()));
    }
    let name = add.name.clone();
    let resp = talk.call(Request::Add(add)).await?;
    if !resp.ok {
        pending.roll_back()?;
    }
    Ok(output::print(
        &View::Message(format!("added connection {name}")),
        &resp,
        json,
    ))
}

/// The password from the named environment variable, else asked for on the terminal
/// (without echo), else read as one line from standard input.
fn read_password(env: Option<&str>, url: &str, user: &str) -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if let Some(var) = env {
        return std::env::var(var).with_context(|| format!("--password-env: ${var} is not set"));
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    eprint!("Password for {user}@{url}: ");
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    let _ = stty("-echo");
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = stty("echo");
    eprintln!();
    read.context("reading the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Bad input: print the one-line reason and exit 2.
pub(crate) fn bad_input(e: anyhow::Error) -> u8 {
    eprintln!("error: {e:#}");
    2
}

/// Runs one command.
///
/// # Errors
/// When no engine can answer.
pub async fn execute(command: Command, talk: &mut Talk<'_>) -> anyhow::Result<u8> {
    let json = command.wants_json();
    let (req, view) = match command {
        Command::Connection(ConnectionCommand::Add(AddCommand::Local {
            name,
            local,
            remote,
            options,
        })) => {
            let mut settings = ConnectionSettings::default();
            if let Err(e) = options.apply(&mut settings) {
                return Ok(bad_input(e));
            }
            let add = match setup::local(&remote) {
                Ok(t) => t.into_add(name.clone(), local, settings),
                Err(e) => return Ok(bad_input(e.into())),
            };
            (
                Request::Add(add),
                View::Message(format!("added connection {name}")),
            )
        }
        Command::Connection(ConnectionCommand::Add(AddCommand::Webdav {
            name,
            local,
            url,
            user,
            password_env,
            remote_root,
            ca_file,
            options,
        })) => {
            let mut settings = ConnectionSettings::default();
            if let Err(e) = options.apply(&mut settings) {
                return Ok(bad_input(e));
            }
            // Checked here so a bad file is reported before any password is asked for.
            if let Some(p) = &ca_file {
                if let Err(e) = cloudsync_providers::webdav::tls::load_ca_file(p) {
                    return Ok(bad_input(anyhow::anyhow!("--ca-file: {e}")));
                }
            }
            let user = user.unwrap_or_default();
            let target =
                match setup::webdav(&url, remote_root.as_deref(), &user, ca_file.as_deref()) {
                    Ok(t) => t,
                    Err(e) => return Ok(bad_input(anyhow::anyhow!("--url: {e}"))),
                };
            let password = match read_password(password_env.as_deref(), &url, &user) {
                Ok(p) => p,
                Err(e) => return Ok(bad_input(e)),
            };
            let add = target.into_add(name, local, settings);
            return add_with_secret(talk, add, "password_secret", &password, json).await;
        }
        Command::Connection(ConnectionCommand::Add(AddCommand::S3 {
            name,
            local,
            endpoint,
            bucket,
            prefix,
            region,
            access_key_env,
            secret_key_env,
            options,
        })) => {
            let mut settings = ConnectionSettings::default();
            if let Err(e) = options.apply(&mut settings) {
                return Ok(bad_input(e));
            }
            let access_key = match std::env::var(&access_key_env) {
                Ok(k) => k,
                Err(_) => {
                    return Ok(bad_input(anyhow::anyhow!(
                        "--access-key-env: ${access_key_env} is not set"
                    )))
                }
            };
            let target = match setup::s3(&endpoint, &bucket, &prefix, &region, &access_key) {
                Ok(t) => t,
                Err(e) => return Ok(bad_input(anyhow::anyhow!("--endpoint/--bucket: {e}"))),
            };
            let who = format!("{access_key}@{endpoint}");
            let secret = match read_password(secret_key_env.as_deref(), &endpoint, &who) {
                Ok(p) => p,
                Err(e) => return Ok(bad_input(e)),
            };
            let add = target.into_add(name, local, settings);
            return add_with_secret(talk, add, "secret_key_secret", &secret, json).await;
        }
        Command::Connection(ConnectionCommand::Add(AddCommand::Dropbox(args))) => {
            return crate::cloud::add(Cloud::Dropbox, args, talk, json).await;
        }
        Command::Connection(ConnectionCommand::Add(AddCommand::Gdrive(args))) => {
            return crate::cloud::add(Cloud::Gdrive, args, talk, json).await;
        }
        Command::Connection(ConnectionCommand::Add(AddCommand::Baidu(args))) => {
            return crate::cloud::add(Cloud::Baidu, args, talk, json).await;
        }
        Command::Relink { name, sign_in } => {
            return crate::cloud::relink(name, sign_in, talk).await;
        }
        Command::Connection(ConnectionCommand::Set { name, options }) => {
            let current = talk.call(Request::Get { name: name.clone() }).await?;
            if !current.ok {
                return Ok(output::print(
                    &View::Message(String::new()),
                    &current,
                    false,
                ));
            }
            let mut settings: ConnectionSettings =
                serde_json::from_value(current.data.get("settings").cloned().unwrap_or_default())
                    .context("reading the connection's settings")?;
            if let Err(e) = options.apply(&mut settings) {
                return Ok(bad_input(e));
            }
            (
                Request::Set {
                    name: name.clone(),
                    settings,
                },
                View::Message(format!("updated connection {name}")),
            )
        }
        Command::Connection(ConnectionCommand::List { .. }) => (Request::List, View::List),
        Command::Unlink { name } => (
            Request::Unlink { name: name.clone() },
            View::Message(format!(
                "unlinked {name}; all files stay where they are on both sides"
            )),
        ),
        Command::Pause(t) => (Request::Pause { name: t.name }, View::Names("paused")),
        Command::Resume(t) => (Request::Resume { name: t.name }, View::Names("resumed")),
        Command::Sync { name, .. } => (Request::Sync { name }, View::Sync),
        Command::Run => anyhow::bail!("run is handled by main"),
        Command::Status { .. } => (Request::Status, View::Status),
        Command::Skipped { name, .. } => (Request::Skipped { name }, View::Skipped),
        Command::Why { name, path } => (Request::Why { name, path }, View::Text),
        Command::Conflicts { name, .. } => (Request::Conflicts { name }, View::Conflicts),
        Command::Resolve { name, path, choice } => {
            let choice = match choice {
                ChoiceArg::KeepLocal => Choice::KeepLocal,
                ChoiceArg::KeepRemote => Choice::KeepRemote,
                ChoiceArg::KeepBoth => Choice::KeepBoth,
            };
            (Request::Resolve { name, path, choice }, View::Text)
        }
        Command::Plan { name, .. } => (Request::Plan { name }, View::Plan),
        Command::Approve { name } => (
            Request::Approve { name: name.clone() },
            View::Message(format!(
                "approved; the next sync of {name} carries out the plan"
            )),
        ),
        Command::Log {
            name,
            action,
            limit,
            ..
        } => (
            Request::Log {
                name,
                action,
                limit,
            },
            View::Log,
        ),
    };
    let resp = talk.call(req).await?;
    Ok(output::print(&view, &resp, json))
}
