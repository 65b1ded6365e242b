//! `connection add dropbox|gdrive|baidu` and `relink`: where the app key comes from, the
//! sign-in (browser with a loopback redirect, a pasted code, or a device code), the account
//! check (one connection per account), and where the tokens go.
//!
//! Where app keys come from and which account tokens belong to is shared with the desktop
//! app (`cloudsync_providers::setup::cloud`).

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::Context as _;
use async_trait::async_trait;
use clap::{Args, ValueEnum};
use cloudsync_core::ConnectionSettings;
use cloudsync_engine::control::Request;
use cloudsync_engine::paths::ConfigDir;
use cloudsync_engine::store::Connection;
use cloudsync_providers::oauth::device::DeviceCode;
use cloudsync_providers::oauth::signin::{self, Method, SignInUi};
use cloudsync_providers::oauth::stored::StoredTokens;
use cloudsync_providers::oauth::{OAuthApp, OAuthError};
use cloudsync_providers::setup::cloud::{self as setup, Cloud, DROPBOX_REDIRECT_PORT};
use cloudsync_providers::setup::relink::Relink;

use crate::args::{add_with_secret, bad_input, SettingsArgs};
use crate::output::{self, View};
use crate::Talk;

/// How `cloud` signs in when the user chose `choice` (and maybe a redirect port).
fn method(cloud: Cloud, choice: Option<SignInArg>, port: Option<u16>) -> Method {
    let loopback = |default: u16| Method::Loopback {
        port: port.unwrap_or(default),
    };
    match (cloud, choice) {
        (_, Some(SignInArg::Paste)) => Method::PasteCode,
        (_, Some(SignInArg::Device)) => Method::DeviceCode,
        (Cloud::Dropbox, _) => loopback(DROPBOX_REDIRECT_PORT),
        (Cloud::Gdrive, _) => loopback(0),
        (Cloud::Baidu, Some(SignInArg::Browser)) => loopback(0),
        (Cloud::Baidu, None) => Method::DeviceCode,
    }
}

/// How to sign in.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SignInArg {
    /// Open the browser; it comes back to a listener on 127.0.0.1 (default for Dropbox
    /// and Google Drive).
    Browser,
    /// Open the browser; paste the code the provider shows.
    Paste,
    /// Type a short code on the provider's page on any device (Baidu's default).
    Device,
}

/// The sign-in options shared by `connection add` and `relink`.
#[derive(Debug, Args)]
pub struct SignInArgs {
    /// Environment variable holding the app secret (Google Desktop clients, Baidu).
    #[arg(long, value_name = "VAR")]
    pub app_secret_env: Option<String>,
    /// Use the access token in this environment variable instead of signing in (it cannot
    /// be renewed when it expires).
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// How to sign in.
    #[arg(long, value_enum)]
    pub sign_in: Option<SignInArg>,
    /// Port of the redirect listener (Dropbox: the registered one, default 53682).
    #[arg(long, value_name = "PORT")]
    pub redirect_port: Option<u16>,
    /// Print the sign-in page's address without opening a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// `connection add dropbox|gdrive|baidu`.
#[derive(Debug, Args)]
pub struct AddCloudArgs {
    /// Connection name.
    #[arg(long)]
    pub name: String,
    /// The local sync folder (must exist and be empty).
    #[arg(long)]
    pub local: PathBuf,
    /// The app key (client id) of your registered app (see the README).
    #[arg(long)]
    pub app_key: Option<String>,
    /// Replace every host of the provider with this base URL (the emulator, a proxy).
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// The remote folder to sync with (Baidu: below /apps/<app name>).
    #[arg(long, value_name = "PATH")]
    pub remote_root: Option<String>,
    /// Sign-in options.
    #[command(flatten)]
    pub sign_in: SignInArgs,
    /// Options.
    #[command(flatten)]
    pub options: SettingsArgs,
}

/// Prints the sign-in page (and opens it), reads a pasted code from standard input.
struct TerminalUi {
    open_browser: bool,
}

#[async_trait]
impl SignInUi for TerminalUi {
    fn show_url(&self, url: &str) {
        eprintln!("Sign in on this page: {url}");
        if self.open_browser && std::env::var_os("CLOUDSYNC_NO_BROWSER").is_none() {
            if let Err(e) = open::that_detached(url) {
                eprintln!("(could not open a browser: {e}; open the page yourself)");
            }
        }
    }

    fn show_device_code(&self, code: &DeviceCode) {
        eprintln!(
            "On any device, open {} and enter the code {} (valid {} minutes).",
            code.verification_url,
            code.user_code,
            code.expires_in / 60
        );
    }

    async fn ask_code(&self) -> Result<String, OAuthError> {
        eprint!("Paste the code shown after signing in: ");
        tokio::task::spawn_blocking(|| {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprintln!();
            }
            let mut line = String::new();
            stdin.lock().read_line(&mut line).map(|_| line)
        })
        .await
        .map_err(|e| OAuthError::NotCompleted(e.to_string()))?
        .map_err(OAuthError::Io)
    }
}

/// Signs in (or takes `--token-env`); the tokens to store.
async fn obtain_tokens(
    cloud: Cloud,
    app: &OAuthApp,
    args: &SignInArgs,
    configured_port: Option<u16>,
) -> anyhow::Result<StoredTokens> {
    if let Some(var) = &args.token_env {
        let token =
            std::env::var(var).with_context(|| format!("--token-env: ${var} is not set"))?;
        anyhow::ensure!(!token.trim().is_empty(), "--token-env: ${var} is empty");
        return Ok(StoredTokens::parse(&token));
    }
    if cloud == Cloud::Baidu {
        anyhow::ensure!(
            app.client_secret.is_some(),
            "Baidu sign-in needs the app's secret key: pass --app-secret-env VAR or set \
             CLOUDSYNC_BAIDU_APP_SECRET"
        );
    }
    let method = method(cloud, args.sign_in, args.redirect_port.or(configured_port));
    let ui = TerminalUi {
        open_browser: !args.no_browser,
    };
    let answer = signin::sign_in(app, method, &ui, signin::SIGN_IN_TIMEOUT)
        .await
        .context("signing in")?;
    Ok(StoredTokens {
        client_secret: app.client_secret.clone(),
        ..StoredTokens::from_answer(&answer, None)
    })
}

/// `connection add dropbox|gdrive|baidu`.
///
/// # Errors
/// When no engine can answer; bad input prints its reason and gives exit code 2.
pub async fn add(
    cloud: Cloud,
    args: AddCloudArgs,
    talk: &mut Talk<'_>,
    json: bool,
) -> anyhow::Result<u8> {
    let AddCloudArgs {
        name,
        local,
        app_key,
        api_base,
        remote_root,
        sign_in,
        options,
    } = args;
    let mut settings = ConnectionSettings::default();
    if let Err(e) = options.apply(&mut settings) {
        return Ok(bad_input(e));
    }
    let wanted = Wanted {
        app_key: app_key.as_deref(),
        api_base: api_base.as_deref(),
        remote_root: remote_root.as_deref(),
        sign_in: &sign_in,
    };
    let (config, tokens, account) = match prepare(cloud, wanted, talk.dir).await {
        Ok(p) => p,
        Err(e) => return Ok(bad_input(e)),
    };
    let add = setup::target(cloud, config, &account).into_add(name, local, settings);
    add_with_secret(talk, add, "token_secret", &tokens.to_secret(), json).await
}

/// What the user asked for in `connection add`.
struct Wanted<'a> {
    app_key: Option<&'a str>,
    api_base: Option<&'a str>,
    remote_root: Option<&'a str>,
    sign_in: &'a SignInArgs,
}

/// Everything `add` needs before it asks the engine: the stored config, the tokens and
/// the account.
async fn prepare(
    cloud: Cloud,
    args: Wanted<'_>,
    dir: &ConfigDir,
) -> anyhow::Result<(serde_json::Value, StoredTokens, String)> {
    let secret = match args.sign_in.app_secret_env.as_deref() {
        Some(var) => Some(
            std::env::var(var).with_context(|| format!("--app-secret-env: ${var} is not set"))?,
        ),
        None => None,
    };
    let keys = setup::app_keys(cloud, dir.root(), args.app_key, secret, args.api_base)?;
    let config = setup::config(&keys, args.remote_root);
    let app = cloud.app(&keys);
    let tokens = obtain_tokens(cloud, &app, args.sign_in, keys.redirect_port).await?;
    let account = setup::account_of(cloud, &config, &tokens).await?;
    Ok((config, tokens, account))
}

/// `relink NAME`: signs in again and stores the new tokens; the trees are kept.
///
/// # Errors
/// When no engine can answer; bad input prints its reason and gives exit code 2.
pub async fn relink(name: String, args: SignInArgs, talk: &mut Talk<'_>) -> anyhow::Result<u8> {
    let current = talk.call(Request::Get { name: name.clone() }).await?;
    if !current.ok {
        return Ok(output::print(
            &View::Message(String::new()),
            &current,
            false,
        ));
    }
    match renew_tokens(&current.data, &args).await {
        Ok(()) => {}
        Err(e) => return Ok(bad_input(e)),
    }
    let resp = talk.call(Request::Relinked { name: name.clone() }).await?;
    Ok(output::print(
        &View::Message(format!(
            "relinked {name}; the next sync picks up what changed meanwhile"
        )),
        &resp,
        false,
    ))
}

async fn renew_tokens(conn: &serde_json::Value, args: &SignInArgs) -> anyhow::Result<()> {
    let conn: Connection =
        serde_json::from_value(conn.clone()).context("the engine's answer is not a connection")?;
    let secret = match &args.app_secret_env {
        Some(var) => Some(
            std::env::var(var).with_context(|| format!("--app-secret-env: ${var} is not set"))?,
        ),
        None => None,
    };
    let relink = Relink::of(&conn, secret)?;
    let app = relink.cloud.app(&relink.keys);
    let tokens = obtain_tokens(relink.cloud, &app, args, None).await?;
    relink.store(&tokens).await?;
    Ok(())
}
