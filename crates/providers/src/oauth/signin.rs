//! One sign-in, start to finish, for whichever front end asks (the CLI prints and reads a
//! line; the desktop app shows a page): open the browser on the provider's page and take
//! the code from the loopback redirect, or from the user's paste, or run a device-code
//! sign-in; then exchange the code.

use std::time::Duration;

use async_trait::async_trait;

use super::device::{self, DeviceCode};
use super::loopback::Loopback;
use super::pkce::{random_url_safe, Pkce};
use super::{OAuthApp, OAuthError, TokenResponse};

/// How the user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The browser comes back to a listener on 127.0.0.1:PORT (0: any free port).
    Loopback {
        /// The port (Dropbox needs the registered one; Google takes any).
        port: u16,
    },
    /// The provider shows the code and the user pastes it (Dropbox without a redirect,
    /// Baidu's `oob`).
    PasteCode,
    /// A short code typed on the provider's page on any device (Baidu).
    DeviceCode,
}

/// What a sign-in needs from the front end.
#[async_trait]
pub trait SignInUi: Send + Sync {
    /// Shows (and ideally opens) the page where the user signs in.
    fn show_url(&self, url: &str);
    /// Shows a device code and where to type it.
    fn show_device_code(&self, code: &DeviceCode);
    /// Asks for the code the provider showed.
    async fn ask_code(&self) -> Result<String, OAuthError>;
}

/// How long a browser sign-in may take.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs a sign-in; returns the tokens.
///
/// # Errors
/// Denied, timed out, refused by the provider, or the listener could not bind.
pub async fn sign_in(
    app: &OAuthApp,
    method: Method,
    ui: &dyn SignInUi,
    timeout: Duration,
) -> Result<TokenResponse, OAuthError> {
    let http = reqwest::Client::new();
    match method {
        Method::DeviceCode => {
            let code = device::start(app, &http).await?;
            ui.show_device_code(&code);
            tokio::time::timeout(timeout, device::poll(app, &http, &code))
                .await
                .map_err(|_| OAuthError::NotCompleted("the code was not entered in time".into()))?
        }
        Method::Loopback { port } => {
            let listener = Loopback::bind(port).await?;
            let redirect = listener.redirect_uri();
            let pkce = Pkce::new();
            let state = random_url_safe(16);
            ui.show_url(&app.authorize_url(Some(&redirect), &state, Some(&pkce)));
            let code = listener.wait_for_code(&state, timeout).await?;
            app.exchange_code(&http, &code, Some(&redirect), Some(&pkce.verifier))
                .await
        }
        Method::PasteCode => {
            let pkce = Pkce::new();
            let state = random_url_safe(16);
            // Baidu shows the code on its own page only for the literal `oob` redirect.
            let redirect = (app.token_method == super::TokenMethod::GetQuery).then_some("oob");
            ui.show_url(&app.authorize_url(redirect, &state, Some(&pkce)));
            let code = ui.ask_code().await?;
            let code = code.trim();
            if code.is_empty() {
                return Err(OAuthError::NotCompleted("no code was entered".into()));
            }
            app.exchange_code(&http, code, redirect, Some(&pkce.verifier))
                .await
        }
    }
}
