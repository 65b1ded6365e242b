//! The emulated Dropbox API v2 (endpoints not written yet: this only answers faults).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::server::{Context, ErrorStyle, ProviderApp};

struct Errors;

impl ErrorStyle for Errors {
    fn rate_limited(&self, _path: &str, retry_after: u64) -> Response {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after.to_string())],
        )
            .into_response()
    }

    fn server_error(&self, _path: &str, status: StatusCode) -> Response {
        status.into_response()
    }
}

/// The provider's endpoints.
///
/// # Errors
/// None yet.
pub fn app(context: Arc<Context>) -> std::io::Result<ProviderApp> {
    let _ = context;
    Ok(ProviderApp {
        router: Router::new(),
        errors: Arc::new(Errors),
    })
}
