//! Drive's error bodies: `{"error": {"code", "message", "errors": [{"domain", "reason",
//! "message", "location"?, "locationType"?}]}}`, and the way the fault layer's 429/5xx
//! answers are worded.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::server::ErrorStyle;

/// One Drive error answer.
#[derive(Debug, Clone)]
pub struct DriveError {
    /// The HTTP status, repeated as `error.code`.
    pub status: StatusCode,
    /// `errors[0].domain`.
    pub domain: &'static str,
    /// `errors[0].reason`.
    pub reason: &'static str,
    /// The message (top level and in `errors[0]`).
    pub message: String,
    /// `errors[0].location` and `locationType`.
    pub location: Option<(String, &'static str)>,
}

impl DriveError {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> DriveError {
        DriveError {
            status,
            domain: "global",
            reason,
            message: message.into(),
            location: None,
        }
    }

    /// 404 `notFound` for a file id.
    pub fn file_not_found(id: &str) -> DriveError {
        DriveError::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("File not found: {id}."),
        )
        .at("fileId", "parameter")
    }

    /// 404 `notFound` for a revision id.
    pub fn revision_not_found(id: &str) -> DriveError {
        DriveError::new(
            StatusCode::NOT_FOUND,
            "notFound",
            format!("Revision not found: {id}."),
        )
        .at("revisionId", "parameter")
    }

    /// 400 `badRequest`.
    pub fn bad_request(message: impl Into<String>) -> DriveError {
        DriveError::new(StatusCode::BAD_REQUEST, "badRequest", message)
    }

    /// 400 `invalid` for a query parameter (`Invalid Value`).
    pub fn invalid_parameter(name: &str) -> DriveError {
        DriveError::new(StatusCode::BAD_REQUEST, "invalid", "Invalid Value").at(name, "parameter")
    }

    /// 400 `required` for a missing parameter.
    pub fn required(name: &str, message: impl Into<String>) -> DriveError {
        DriveError::new(StatusCode::BAD_REQUEST, "required", message).at(name, "parameter")
    }

    /// 403 with a reason.
    pub fn forbidden(reason: &'static str, message: impl Into<String>) -> DriveError {
        DriveError::new(StatusCode::FORBIDDEN, reason, message)
    }

    /// 401 `authError` for a missing, unknown or expired bearer token.
    pub fn auth_error() -> DriveError {
        DriveError {
            status: StatusCode::UNAUTHORIZED,
            domain: "global",
            reason: "authError",
            message: "Invalid Credentials".into(),
            location: Some(("Authorization".into(), "header")),
        }
    }

    /// Sets `location` and `locationType`.
    pub fn at(mut self, location: &str, kind: &'static str) -> DriveError {
        self.location = Some((location.to_string(), kind));
        self
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut item = json!({
            "domain": self.domain,
            "reason": self.reason,
            "message": self.message,
        });
        if let Some((location, kind)) = &self.location {
            item["location"] = json!(location);
            item["locationType"] = json!(kind);
        }
        json!({
            "error": {
                "code": self.status.as_u16(),
                "message": self.message,
                "errors": [item],
            }
        })
    }
}

impl IntoResponse for DriveError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                ),
            );
        }
        response
    }
}

/// How the fault layer's answers look: rate limits cycle through Drive's three signals
/// (403 `userRateLimitExceeded`, 429, 403 `rateLimitExceeded`) so a client meets each;
/// 5xx answers carry Drive's JSON body.
#[derive(Debug, Default)]
pub struct Errors {
    rate_limits: AtomicU64,
}

impl ErrorStyle for Errors {
    fn rate_limited(&self, _path: &str, retry_after: u64) -> Response {
        let n = self.rate_limits.fetch_add(1, Ordering::Relaxed);
        match n % 3 {
            0 => DriveError {
                status: StatusCode::FORBIDDEN,
                domain: "usageLimits",
                reason: "userRateLimitExceeded",
                message: "User Rate Limit Exceeded. Rate of requests for user exceed configured \
                          project quota. You may consider re-evaluating expected per-user traffic \
                          to the API and adjust project quota limits accordingly."
                    .into(),
                location: None,
            }
            .into_response(),
            1 => {
                let mut r = DriveError {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    domain: "usageLimits",
                    reason: "rateLimitExceeded",
                    message: "Too many requests".into(),
                    location: None,
                }
                .into_response();
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
                r
            }
            _ => DriveError {
                status: StatusCode::FORBIDDEN,
                domain: "usageLimits",
                reason: "rateLimitExceeded",
                message: "Rate Limit Exceeded".into(),
                location: None,
            }
            .into_response(),
        }
    }

    fn server_error(&self, _path: &str, status: StatusCode) -> Response {
        let (reason, message) = match status.as_u16() {
            500 => ("internalError", "Internal Error"),
            503 => ("backendError", "The service is currently unavailable."),
            _ => ("backendError", "Backend Error"),
        };
        DriveError {
            status,
            domain: "global",
            reason,
            message: message.into(),
            location: None,
        }
        .into_response()
    }
}
