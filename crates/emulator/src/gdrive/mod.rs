//! The emulated Google Drive API v3, on one port:
//! - `/drive/v3/files[/{fileId}]` (list with `q`, `fields`, paging; get, `alt=media` with
//!   `Range`; metadata create; PATCH with `addParents`/`removeParents`/`trashed`; delete),
//!   `/drive/v3/files/{fileId}/revisions[/{revisionId}]`, `/drive/v3/changes[...]`,
//!   `/drive/v3/about` ([`files`], [`revisions`], [`changes`]);
//! - `/upload/drive/v3/files[/{fileId}]` with `uploadType=media|multipart|resumable`, and
//!   the discovery document's `/resumable/upload/...` alias ([`upload`]);
//! - Google's OAuth pages `/o/oauth2/v2/auth` and `/token` ([`oauth_pages`]).
//!
//! State is per account ([`store`]), kept across restarts with `--data` ([`persist`]); errors use Drive's JSON shape ([`errors`]); the
//! `fields` selector and the `q` syntax have their own modules ([`fields`], [`query`]).
//! With hostile names switched on, every listed folder also holds entries named `..`,
//! `a/b`, `back\slash`, `nul\0byte` and `/etc/passwd` ([`hostile`]).

pub mod changes;
pub mod errors;
pub mod fields;
pub mod files;
pub mod hostile;
pub mod oauth_pages;
pub mod persist;
pub mod query;
pub mod revisions;
pub mod store;
#[cfg(test)]
mod tests;
pub mod upload;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::server::{Context, ProviderApp};
use errors::{DriveError, Errors};
use fields::Fields;
use store::Drive;

/// The largest request body accepted (axum's default of 2 MB is far below Drive's).
const MAX_REQUEST_BODY: usize = 512 * 1024 * 1024;

/// What every handler reaches.
#[derive(Debug)]
pub struct Gdrive {
    /// The emulator's shared context.
    pub ctx: Arc<Context>,
    /// Files, changes and upload sessions.
    pub drive: Drive,
    /// Scopes granted per authorization code and refresh token.
    pub scopes: oauth_pages::Scopes,
}

impl Gdrive {
    /// The account the request's bearer token belongs to.
    ///
    /// # Errors
    /// 401 `authError` for a missing, unknown or expired token.
    pub fn account(&self, headers: &HeaderMap) -> Result<String, DriveError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        self.ctx
            .tokens
            .check_bearer(token)
            .map_err(|_| DriveError::auth_error())
    }

    /// Writes the state to `--data` (after a change); a failure is logged, the answer
    /// stands.
    pub fn persist(&self, accounts: &std::collections::HashMap<String, store::Account>) {
        if let Some(dir) = &self.ctx.options.data {
            if let Err(e) = persist::save(dir, accounts) {
                tracing::warn!(
                    "cannot save the Drive emulator's state in {}: {e}",
                    dir.display()
                );
            }
        }
    }

    /// True when listings should carry hostile names.
    pub fn hostile(&self) -> bool {
        self.ctx
            .hostile_names
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// `value` cut to the `fields` selector, or to `default` when none was given.
///
/// # Errors
/// 400 for a malformed selector.
pub fn partial(value: &Value, fields: Option<&String>, default: &str) -> Result<Value, DriveError> {
    let selector = Fields::parse(fields.map(String::as_str).unwrap_or(default))?;
    Ok(selector.apply(value))
}

/// A JSON answer with status 200.
pub fn json(value: Value) -> Response {
    axum::Json(value).into_response()
}

/// The provider's endpoints.
///
/// # Errors
/// The state kept in `--data` cannot be read.
pub fn app(context: Arc<Context>) -> std::io::Result<ProviderApp> {
    let drive = match &context.options.data {
        Some(dir) => Drive::with_accounts(persist::load(dir)?),
        None => Drive::default(),
    };
    let state = Arc::new(Gdrive {
        ctx: context,
        drive,
        scopes: oauth_pages::Scopes::default(),
    });
    let uploads = post(upload::start)
        .patch(upload::start)
        .put(upload::session_put);
    let router = Router::new()
        .route("/drive/v3/files", get(files::list).post(files::create))
        .route(
            "/drive/v3/files/{file_id}",
            get(files::get).patch(files::update).delete(files::delete),
        )
        .route("/drive/v3/files/{file_id}/revisions", get(revisions::list))
        .route(
            "/drive/v3/files/{file_id}/revisions/{revision_id}",
            get(revisions::get).patch(revisions::update),
        )
        .route("/drive/v3/changes", get(changes::list))
        .route(
            "/drive/v3/changes/startPageToken",
            get(changes::start_token),
        )
        .route("/drive/v3/about", get(files::about))
        .route("/upload/drive/v3/files", uploads.clone())
        .route("/upload/drive/v3/files/{file_id}", uploads.clone())
        .route("/resumable/upload/drive/v3/files", uploads.clone())
        .route("/resumable/upload/drive/v3/files/{file_id}", uploads)
        .route(
            "/o/oauth2/v2/auth",
            get(oauth_pages::authorize).post(oauth_pages::decide),
        )
        .route(
            "/o/oauth2/auth",
            get(oauth_pages::authorize).post(oauth_pages::decide),
        )
        .route("/token", post(oauth_pages::token))
        .route("/o/oauth2/token", post(oauth_pages::token))
        .with_state(state)
        // Drive takes whole media in one request (multipart, or one big resumable chunk).
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY));
    Ok(ProviderApp {
        router,
        errors: Arc::new(Errors::default()),
    })
}
