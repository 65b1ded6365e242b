//! The emulated Dropbox API v2: the api, content and notify hosts' routes under `/2/...`,
//! the OAuth pages (`/oauth2/authorize`, `/oauth2/token`), all on one port.
//!
//! Built to `reference/provider-apis.md` section 1 and the Stone specs:
//! - [`store`]: one namespace per account (from the bearer token): case-insensitive,
//!   case-preserving paths, `id:`s stable across moves, `rev`s, kept versions, change log;
//! - [`errors`] and [`metadata`]: the error unions and the `Metadata` union as JSON;
//! - [`content_hash`]: the 4 MiB block hash;
//! - [`wire`]: arguments (`Dropbox-API-Arg` must be ASCII; `arg` URL parameter), auth checks
//!   and the error bodies (400 text, 401 `AuthError`, 409 route unions);
//! - [`listing`]: `list_folder`, `continue`, `get_latest_cursor`, `longpoll`;
//! - [`files`]: `get_metadata`, `create_folder_v2`, `delete_v2`, `move_v2`, `list_revisions`;
//! - [`content`]: `download` (with `Range`) and `upload` (150 MiB per request);
//! - [`sessions`]: `upload_session/start`, `append_v2` (`incorrect_offset`), `finish`;
//! - [`account`]: `users/get_current_account`, `auth/token/revoke`;
//! - [`oauth_pages`]: the authorization page (PKCE S256, `token_access_type`) and the
//!   token endpoint (code exchange without a secret when PKCE was used, refresh);
//! - [`hostile`]: the hostile names listings carry when that switch is on.
//!
//! - [`persist`]: with `--data`, the namespaces are kept across restarts.
//!
//! Extra control endpoints: `POST /__emulator/dropbox/reset-cursors` makes every cursor
//! issued so far invalid (`reset`); `POST /__emulator/dropbox/longpoll-backoff` with
//! `{"seconds": n}` makes longpoll answers ask for a `backoff`.

pub mod account;
pub mod content;
pub mod content_hash;
pub mod cursor;
pub mod errors;
pub mod files;
pub mod hostile;
pub mod listing;
pub mod metadata;
pub mod oauth_pages;
pub mod persist;
pub mod sessions;
pub mod store;
pub mod time;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State as AxumState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::sync::watch;

use crate::server::{Context, ErrorStyle, ProviderApp};

use sessions::Session;
use store::Namespace;

/// Everything the routes share.
pub struct Shared {
    /// The emulator's context (tokens, faults, switches).
    pub context: Arc<Context>,
    state: Mutex<State>,
    /// Bumped on every change, for longpolls.
    pub changed: watch::Sender<u64>,
}

/// The mutable state.
#[derive(Default)]
pub struct State {
    /// Namespaces by account.
    pub accounts: HashMap<String, Namespace>,
    /// Open upload sessions by id.
    pub sessions: HashMap<String, Session>,
    /// Authorization codes that asked for `token_access_type=offline`.
    pub offline_codes: HashMap<String, bool>,
    /// Cursors from another epoch are `reset`.
    pub epoch: u64,
    /// Seconds of `backoff` longpoll answers carry (set by a control endpoint).
    pub longpoll_backoff: Option<u64>,
}

impl State {
    /// The namespace of `account` (created empty on first use).
    pub fn namespace(&mut self, account: &str) -> &mut Namespace {
        self.accounts.entry(account.to_string()).or_default()
    }
}

impl Shared {
    /// The state, under the lock (handlers never await while holding it).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Saves the state (with `--data`) and wakes the longpolls; called after each change.
    pub fn notify(&self) {
        if let Some(dir) = &self.context.options.data {
            if let Err(e) = persist::save(dir, &mut self.lock()) {
                tracing::error!("saving the Dropbox state in {}: {e}", dir.display());
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// True when listings carry hostile names.
    pub fn hostile(&self) -> bool {
        self.context
            .hostile_names
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

struct Errors;

impl ErrorStyle for Errors {
    fn rate_limited(&self, _path: &str, retry_after: u64) -> Response {
        // auth.stone RateLimitError, with the Retry-After header Dropbox always sends.
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            axum::Json(json!({
                "error_summary": "too_many_requests/..",
                "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after},
            })),
        )
            .into_response()
    }

    fn server_error(&self, _path: &str, status: StatusCode) -> Response {
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("Error: {status}"),
        )
            .into_response()
    }

    fn write_contention(&self, path: &str, retry_after: u64, endpoint_error: bool) -> Response {
        if endpoint_error {
            if let Some(error) = errors::too_many_write_operations(path) {
                return (
                    StatusCode::CONFLICT,
                    axum::Json(json!({
                        "error_summary": errors::summary(&error),
                        "error": error,
                    })),
                )
                    .into_response();
            }
        }
        // The 429 form, as in the reference's forum example: the body names the reason
        // and, unlike too_many_requests, may leave out retry_after; the header is there.
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            axum::Json(json!({
                "error_summary": "too_many_write_operations/",
                "error": {"reason": {".tag": "too_many_write_operations"}},
            })),
        )
            .into_response()
    }
}

#[derive(serde::Deserialize)]
struct Backoff {
    seconds: Option<u64>,
}

/// `POST /__emulator/dropbox/longpoll-backoff` with `{"seconds": n}` (or null): longpoll
/// answers carry `"backoff": n`, as Dropbox's do when it wants fewer polls.
async fn longpoll_backoff(
    AxumState(shared): AxumState<Arc<Shared>>,
    axum::Json(b): axum::Json<Backoff>,
) -> StatusCode {
    shared.lock().longpoll_backoff = b.seconds;
    StatusCode::NO_CONTENT
}

async fn reset_cursors(AxumState(shared): AxumState<Arc<Shared>>) -> StatusCode {
    shared.lock().epoch += 1;
    shared.notify();
    StatusCode::NO_CONTENT
}

/// The provider's endpoints.
///
/// # Errors
/// The state kept in `--data` cannot be read.
pub fn app(context: Arc<Context>) -> std::io::Result<ProviderApp> {
    let (changed, _) = watch::channel(0);
    let state = match &context.options.data {
        Some(dir) => persist::load(dir)?,
        None => State::default(),
    };
    let shared = Arc::new(Shared {
        context,
        state: Mutex::new(state),
        changed,
    });
    let router = Router::new()
        .route("/2/files/list_folder", post(listing::list_folder))
        .route(
            "/2/files/list_folder/continue",
            post(listing::list_continue),
        )
        .route(
            "/2/files/list_folder/get_latest_cursor",
            post(listing::latest_cursor),
        )
        .route("/2/files/list_folder/longpoll", post(listing::longpoll))
        .route("/2/files/get_metadata", post(files::get_metadata))
        .route("/2/files/create_folder_v2", post(files::create_folder))
        .route("/2/files/delete_v2", post(files::delete))
        .route("/2/files/move_v2", post(files::move_entry))
        .route("/2/files/list_revisions", post(files::list_revisions))
        .route(
            "/2/files/download",
            post(content::download).get(content::download),
        )
        .route("/2/files/upload", post(content::upload))
        .route("/2/files/upload_session/start", post(sessions::start))
        .route("/2/files/upload_session/append_v2", post(sessions::append))
        .route("/2/files/upload_session/finish", post(sessions::finish))
        .route(
            "/2/users/get_current_account",
            post(account::current_account),
        )
        .route("/2/auth/token/revoke", post(account::revoke))
        .route(
            "/oauth2/authorize",
            get(oauth_pages::authorize_page).post(oauth_pages::authorize_decision),
        )
        .route("/oauth2/token", post(oauth_pages::token))
        .route("/__emulator/dropbox/reset-cursors", post(reset_cursors))
        .route(
            "/__emulator/dropbox/longpoll-backoff",
            post(longpoll_backoff),
        )
        .with_state(shared);
    Ok(ProviderApp {
        router,
        errors: Arc::new(Errors),
    })
}
