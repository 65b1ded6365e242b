//! The HTTP side of the Dropbox client: the three hosts (api, content, notify; one base URL
//! replaces all of them for the emulator), bearer tokens renewed once when Dropbox answers
//! `expired_access_token` or `invalid_access_token`, and the three request styles (RPC with a
//! JSON body, content upload with `Dropbox-API-Arg` and raw bytes, content download with the
//! metadata in `Dropbox-API-Result`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cloudsync_engine::remote::RemoteError;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use super::arg::header_safe_json;
use super::errors::{status_to_remote, tags, CallError};
use crate::auth::TokenSource;

/// The base URLs of Dropbox's hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// RPC routes and the token endpoint (`https://api.dropboxapi.com`).
    pub api: String,
    /// Upload and download routes (`https://content.dropboxapi.com`).
    pub content: String,
    /// `list_folder/longpoll` (`https://notify.dropboxapi.com`).
    pub notify: String,
}

impl Hosts {
    /// Dropbox's own hosts.
    pub fn dropbox() -> Hosts {
        Hosts {
            api: "https://api.dropboxapi.com".into(),
            content: "https://content.dropboxapi.com".into(),
            notify: "https://notify.dropboxapi.com".into(),
        }
    }

    /// One base URL for every host (an emulator).
    pub fn single(base: &str) -> Hosts {
        let base = base.trim_end_matches('/').to_string();
        Hosts {
            api: base.clone(),
            content: base.clone(),
            notify: base,
        }
    }
}

/// The error and its sources on one line.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Maps a transport error.
pub fn map_reqwest(e: reqwest::Error) -> RemoteError {
    let chain = error_chain(&e);
    if e.is_builder() {
        RemoteError::Other(chain)
    } else {
        // Connect, timeout, request and body errors may pass.
        RemoteError::Unavailable(chain)
    }
}

/// A Dropbox API client.
pub struct Api {
    http: reqwest::Client,
    /// Longpolls block for minutes: no read timeout.
    poll_http: reqwest::Client,
    hosts: Hosts,
    tokens: Arc<dyn TokenSource>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Api").field("hosts", &self.hosts).finish()
    }
}

impl Api {
    /// A client for `hosts` with tokens from `tokens`.
    ///
    /// # Errors
    /// The HTTP client cannot be built.
    pub fn new(hosts: Hosts, tokens: Arc<dyn TokenSource>) -> Result<Api, RemoteError> {
        let build = |read_timeout: Option<Duration>| {
            let mut b = reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(15))
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("CloudSync/", env!("CARGO_PKG_VERSION")));
            if let Some(t) = read_timeout {
                b = b.read_timeout(t);
            }
            b.build().map_err(|e| {
                RemoteError::Other(format!(
                    "cannot set up the HTTP client: {}",
                    error_chain(&e)
                ))
            })
        };
        Ok(Api {
            http: build(Some(Duration::from_secs(120)))?,
            poll_http: build(None)?,
            hosts,
            tokens,
        })
    }

    /// Sends what `build` makes with a bearer token; on a 401 for an expired or invalid
    /// token, renews the token once and sends again.
    async fn send<F>(&self, what: &str, build: F) -> Result<Response, CallError>
    where
        F: Fn(&reqwest::Client, &str) -> RequestBuilder,
    {
        let token = self.tokens.access_token().await?;
        let resp = build(&self.http, &token)
            .send()
            .await
            .map_err(map_reqwest)?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return check(resp, what).await;
        }
        let body = resp.bytes().await.unwrap_or_default();
        let tag = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").map(tags))
            .and_then(|t| t.into_iter().next())
            .unwrap_or_default();
        if !matches!(
            tag.as_str(),
            "expired_access_token" | "invalid_access_token"
        ) {
            return Err(CallError::Remote(RemoteError::Auth(format!(
                "{what}: {}",
                if tag.is_empty() { "401" } else { &tag }
            ))));
        }
        tracing::debug!(
            what,
            tag,
            "Dropbox refused the access token; renewing it once"
        );
        let token = self.tokens.renew(&token).await?;
        let resp = build(&self.http, &token)
            .send()
            .await
            .map_err(map_reqwest)?;
        check(resp, what).await
    }

    /// An RPC route on the api host.
    ///
    /// # Errors
    /// The route's error, or a mapped failure.
    pub async fn rpc(&self, route: &str, arg: &Value) -> Result<Value, CallError> {
        let url = format!("{}/2/{route}", self.hosts.api);
        let body = arg.to_string();
        let resp = self
            .send(route, |http, token| {
                http.post(&url)
                    .bearer_auth(token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        json_body(resp, route).await
    }

    /// A content-host upload route: `arg` in `Dropbox-API-Arg`, `data` as the body.
    ///
    /// # Errors
    /// The route's error, or a mapped failure.
    pub async fn upload(&self, route: &str, arg: &Value, data: Bytes) -> Result<Value, CallError> {
        let url = format!("{}/2/{route}", self.hosts.content);
        let header = header_safe_json(arg);
        let resp = self
            .send(route, |http, token| {
                http.post(&url)
                    .bearer_auth(token)
                    .header("Dropbox-API-Arg", header.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(data.clone())
            })
            .await?;
        json_body(resp, route).await
    }

    /// `files/download` from byte `from` on; returns the metadata from `Dropbox-API-Result`
    /// and the response whose body streams the bytes.
    ///
    /// # Errors
    /// The route's error, or a mapped failure.
    pub async fn download(&self, arg: &Value, from: u64) -> Result<(Value, Response), CallError> {
        let url = format!("{}/2/files/download", self.hosts.content);
        let header = header_safe_json(arg);
        let resp = self
            .send("files/download", |http, token| {
                let mut rb = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("Dropbox-API-Arg", header.clone());
                if from > 0 {
                    rb = rb.header(reqwest::header::RANGE, format!("bytes={from}-"));
                }
                rb
            })
            .await?;
        let meta = resp
            .headers()
            .get("dropbox-api-result")
            .and_then(|v| serde_json::from_slice::<Value>(v.as_bytes()).ok())
            .ok_or_else(|| {
                RemoteError::Unavailable("files/download: no Dropbox-API-Result header".into())
            })?;
        Ok((meta, resp))
    }

    /// `files/list_folder/longpoll` on the notify host (no Authorization header).
    ///
    /// # Errors
    /// `reset`, or a mapped failure.
    pub async fn longpoll(&self, cursor: &str, timeout_secs: u64) -> Result<Value, CallError> {
        let url = format!("{}/2/files/list_folder/longpoll", self.hosts.notify);
        let body = serde_json::json!({"cursor": cursor, "timeout": timeout_secs}).to_string();
        let resp = self
            .poll_http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            // The service may add 90 s of jitter to the timeout.
            .timeout(Duration::from_secs(timeout_secs + 100))
            .send()
            .await
            .map_err(map_reqwest)?;
        let resp = check(resp, "files/list_folder/longpoll").await?;
        json_body(resp, "files/list_folder/longpoll").await
    }
}

/// Passes a success through; reads an error answer into a [`CallError`].
async fn check(resp: Response, what: &str) -> Result<Response, CallError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default();
    if status == StatusCode::CONFLICT {
        if let Some(error) = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").cloned())
        {
            return Err(CallError::Route {
                tags: tags(&error),
                error,
            });
        }
    }
    Err(CallError::Remote(status_to_remote(
        status.as_u16(),
        &headers,
        &body,
        what,
    )))
}

async fn json_body(resp: Response, what: &str) -> Result<Value, CallError> {
    let body = resp.bytes().await.map_err(map_reqwest)?;
    serde_json::from_slice(&body).map_err(|e| {
        CallError::Remote(RemoteError::Unavailable(format!(
            "{what}: the answer is not JSON: {e}"
        )))
    })
}
