//! Running one emulator: the accept loop, the control endpoints and the fault layer.
//!
//! Connections are served by hyper directly (not `axum::serve`) so that a fault can drop
//! the very connection a request came on, mid-body, the way a network cut looks to a client.
//!
//! Control endpoints (never faulted, never counted):
//! - `POST /__emulator/faults` with a [`FaultRule`] as JSON; `DELETE` clears; `GET` lists;
//! - `POST /__emulator/expire-tokens`: every access token issued so far expires now;
//! - `POST /__emulator/revoke` with `{"account": NAME}`: every access and refresh token of
//!   that account stops working, as when the user revokes the app in the provider's
//!   settings (for scripts and the app's end-to-end test);
//! - `GET /__emulator/stats` ([`Stats`]); `DELETE` sets the counters to zero;
//! - `POST /__emulator/hostile-names` with `{"enabled": bool}`: listings also carry names
//!   with `..`, `/`, `\`, NUL and absolute paths (each provider adds its own).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tower::ServiceExt;

use crate::faults::{Fault, FaultRule, Faults, Stats};
use crate::oauth::Tokens;

/// Which provider an emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Dropbox API v2.
    Dropbox,
    /// Google Drive API v3.
    Gdrive,
    /// Baidu Netdisk xpan.
    Baidu,
}

impl Provider {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Dropbox => "dropbox",
            Provider::Gdrive => "gdrive",
            Provider::Baidu => "baidu",
        }
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dropbox" => Ok(Provider::Dropbox),
            "gdrive" => Ok(Provider::Gdrive),
            "baidu" => Ok(Provider::Baidu),
            other => Err(format!(
                "unknown provider {other:?} (expected dropbox, gdrive or baidu)"
            )),
        }
    }
}

/// How an emulator starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where state is kept across restarts; none: in memory.
    pub data: Option<PathBuf>,
    /// A bearer token accepted without a sign-in.
    pub accept_token: Option<String>,
    /// How long access tokens live.
    pub access_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            data: None,
            accept_token: None,
            access_ttl: Duration::from_secs(4 * 3600),
        }
    }
}

/// What every provider's handlers can reach.
#[derive(Debug)]
pub struct Context {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base_url: String,
    /// The start options.
    pub options: Options,
    /// Grants.
    pub tokens: Tokens,
    /// Faults and counters.
    pub faults: Faults,
    /// Listings also carry hostile names when set.
    pub hostile_names: AtomicBool,
}

/// How a provider words the errors the fault layer produces.
pub trait ErrorStyle: Send + Sync {
    /// The provider's "slow down" answer for a request to `path`.
    fn rate_limited(&self, path: &str, retry_after: u64) -> Response;
    /// The provider's answer with a 5xx `status`.
    fn server_error(&self, path: &str, status: StatusCode) -> Response;
    /// The provider's "another write holds the lock" answer; as a 429 or, with
    /// `endpoint_error`, as the route's own error. Providers without one rate-limit.
    fn write_contention(&self, path: &str, retry_after: u64, endpoint_error: bool) -> Response {
        let _ = endpoint_error;
        self.rate_limited(path, retry_after)
    }
}

/// A provider's endpoints and its error wording.
pub struct ProviderApp {
    /// Every endpoint of the provider's hosts.
    pub router: Router,
    /// How faults are worded.
    pub errors: Arc<dyn ErrorStyle>,
}

/// A running emulator.
pub struct Emulator {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The shared state, for in-process tests.
    pub context: Arc<Context>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts `provider` on `addr` (port 0 picks a free one).
///
/// # Errors
/// The address cannot be bound, or `--data` cannot be used.
pub async fn spawn(
    provider: Provider,
    addr: SocketAddr,
    options: Options,
) -> std::io::Result<Emulator> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let base_url = format!("http://{bound}");
    let context = Arc::new(Context {
        base_url: base_url.clone(),
        tokens: Tokens::new(options.accept_token.clone(), options.access_ttl),
        options,
        faults: Faults::default(),
        hostile_names: AtomicBool::new(false),
    });
    let app = match provider {
        Provider::Dropbox => crate::dropbox::app(context.clone())?,
        Provider::Gdrive => crate::gdrive::app(context.clone())?,
        Provider::Baidu => crate::baidu::app(context.clone())?,
    };
    Ok(serve(listener, app, context))
}

/// Serves `app` on `listener` with the fault layer and the control endpoints.
fn serve(listener: TcpListener, app: ProviderApp, context: Arc<Context>) -> Emulator {
    let base_url = context.base_url.clone();
    // Uploads are as large as each provider allows (Dropbox: 150 MiB in one request), so
    // axum's default 2 MB extractor limit is lifted; providers check their own limits.
    let router = with_faults(app, context.clone())
        .merge(control_routes(context.clone()))
        .layer(axum::extract::DefaultBodyLimit::disable());
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, router, stopped));
    Emulator {
        base_url,
        context,
        stop: Some(stop),
        task,
    }
}

/// Dropping the connection a request came on.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

async fn accept_loop(listener: TcpListener, router: Router, mut stopped: oneshot::Receiver<()>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => return,
        };
        let router = router.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let marker = ConnectionKill(kill.clone());
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut req = req.map(Body::new);
                    req.extensions_mut().insert(marker.clone());
                    router.clone().oneshot(req)
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes the socket with whatever was in flight.
                _ = kill.notified() => {}
            }
        });
    }
}

fn control_routes(context: Arc<Context>) -> Router {
    Router::new()
        .route(
            "/__emulator/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/__emulator/expire-tokens", post(expire_tokens))
        .route("/__emulator/revoke", post(revoke_account))
        .route("/__emulator/stats", get(stats).delete(reset_stats))
        .route("/__emulator/hostile-names", post(hostile_names))
        .with_state(context)
}

async fn add_fault(State(ctx): State<Arc<Context>>, Json(rule): Json<FaultRule>) -> StatusCode {
    ctx.faults.add(rule);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(ctx): State<Arc<Context>>) -> StatusCode {
    ctx.faults.clear();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(ctx): State<Arc<Context>>) -> Json<Vec<FaultRule>> {
    Json(ctx.faults.rules())
}

async fn expire_tokens(State(ctx): State<Arc<Context>>) -> StatusCode {
    ctx.tokens.expire_all();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct Revoke {
    account: String,
}

async fn revoke_account(State(ctx): State<Arc<Context>>, Json(r): Json<Revoke>) -> StatusCode {
    ctx.tokens.revoke_account(&r.account);
    StatusCode::NO_CONTENT
}

async fn stats(State(ctx): State<Arc<Context>>) -> Json<Stats> {
    Json(ctx.faults.stats())
}

async fn reset_stats(State(ctx): State<Arc<Context>>) -> StatusCode {
    ctx.faults.reset_stats();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct Switch {
    enabled: bool,
}

async fn hostile_names(State(ctx): State<Arc<Context>>, Json(s): Json<Switch>) -> StatusCode {
    ctx.hostile_names.store(s.enabled, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

#[derive(Clone)]
struct FaultState {
    context: Arc<Context>,
    errors: Arc<dyn ErrorStyle>,
}

fn with_faults(app: ProviderApp, context: Arc<Context>) -> Router {
    let state = FaultState {
        context,
        errors: app.errors,
    };
    app.router
        .layer(axum::middleware::from_fn_with_state(state, fault_layer))
}

async fn fault_layer(State(state): State<FaultState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let kill = req.extensions().get::<ConnectionKill>().cloned();
    let ctx = state.context.clone();
    let req = counting_body(req, ctx.clone());
    match ctx.faults.take(&path) {
        None => next.run(req).await,
        Some(Fault::Slow { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await;
            next.run(req).await
        }
        Some(Fault::RateLimit { retry_after }) => {
            drain(req).await;
            state.errors.rate_limited(&path, retry_after)
        }
        Some(Fault::WriteContention {
            retry_after,
            endpoint_error,
        }) => {
            drain(req).await;
            state
                .errors
                .write_contention(&path, retry_after, endpoint_error)
        }
        Some(Fault::ServerError { status }) => {
            drain(req).await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            state.errors.server_error(&path, status)
        }
        Some(Fault::ResetMidBody { after_bytes }) => {
            let mut body = req.into_body().into_data_stream();
            let mut read = 0u64;
            while read < after_bytes {
                match body.next().await {
                    Some(Ok(chunk)) => read += chunk.len() as u64,
                    _ => break,
                }
            }
            cut(kill).await
        }
        Some(Fault::TruncateDownload { after_bytes }) => {
            let response = next.run(req).await;
            truncated(response, after_bytes, kill)
        }
    }
}

/// Reads the request body to its end, so an early error answer reaches a client that is
/// still sending (answering mid-upload would make it see a broken pipe, not the error).
async fn drain(req: Request) {
    let mut body = req.into_body().into_data_stream();
    while let Some(Ok(_)) = body.next().await {}
}

/// Drops the connection and never answers.
async fn cut(kill: Option<ConnectionKill>) -> Response {
    match kill {
        Some(ConnectionKill(k)) => {
            k.notify_one();
            std::future::pending::<Response>().await
        }
        // Served outside the accept loop (in-process router tests): the closest answer.
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}

/// Counts request body bytes as the provider reads them.
fn counting_body(req: Request, ctx: Arc<Context>) -> Request {
    req.map(|body| {
        let stream = body.into_data_stream().inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                ctx.faults.count_received(bytes.len() as u64);
            }
        });
        Body::from_stream(stream)
    })
}

/// Passes the first `limit` body bytes of `response`, then drops the connection.
fn truncated(response: Response, limit: u64, kill: Option<ConnectionKill>) -> Response {
    let (mut parts, body) = response.into_parts();
    // The declared length stays the whole one, as it was when the cut happened.
    if let Some(len) = http_body::Body::size_hint(&body).exact() {
        parts
            .headers
            .insert(axum::http::header::CONTENT_LENGTH, len.into());
    }
    let mut left = limit;
    let mut stream = body.into_data_stream();
    let cut_stream = async_stream(move |tx| async move {
        while left > 0 {
            match stream.next().await {
                Some(Ok(mut chunk)) => {
                    if chunk.len() as u64 > left {
                        chunk = chunk.slice(..left as usize);
                    }
                    left -= chunk.len() as u64;
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
                None => return,
            }
        }
        // Give hyper a moment to write what was sent before the socket goes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        match kill {
            Some(ConnectionKill(k)) => k.notify_one(),
            None => {
                let _ = tx
                    .send(Err(std::io::Error::other("download cut by a fault")))
                    .await;
            }
        }
    });
    Response::from_parts(parts, cut_stream)
}

/// A body fed by a task through a channel.
fn async_stream<F, Fut>(produce: F) -> Body
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(produce(tx));
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct PlainErrors;

    impl ErrorStyle for PlainErrors {
        fn rate_limited(&self, _path: &str, retry_after: u64) -> Response {
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                "slow down",
            )
                .into_response()
        }
        fn server_error(&self, _path: &str, status: StatusCode) -> Response {
            (status, "broken").into_response()
        }
    }

    const BLOB: usize = 1 << 20;

    /// An emulator whose "provider" echoes body lengths and serves a 1 MiB blob.
    async fn test_emulator() -> Emulator {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let context = Arc::new(Context {
            base_url,
            options: Options::default(),
            tokens: Tokens::new(None, Duration::from_secs(60)),
            faults: Faults::default(),
            hostile_names: AtomicBool::new(false),
        });
        let router = Router::new()
            .route(
                "/echo",
                post(|body: Bytes| async move { body.len().to_string() }),
            )
            .route("/blob", get(|| async { vec![7u8; BLOB] }));
        let app = ProviderApp {
            router,
            errors: Arc::new(PlainErrors),
        };
        serve(listener, app, context)
    }

    async fn add(http: &reqwest::Client, base: &str, rule: serde_json::Value) {
        let r = http
            .post(format!("{base}/__emulator/faults"))
            .json(&rule)
            .send()
            .await
            .expect("control");
        assert_eq!(r.status(), 204);
    }

    #[tokio::test]
    async fn faults_are_worded_by_the_provider_and_run_out() {
        let emu = test_emulator().await;
        let http = reqwest::Client::new();
        let base = emu.base_url.clone();
        add(
            &http,
            &base,
            serde_json::json!({"kind": "rate_limit", "retry_after": 7, "times": 1}),
        )
        .await;
        add(
            &http,
            &base,
            serde_json::json!({"kind": "server_error", "status": 502, "times": 1}),
        )
        .await;
        let limited = http
            .post(format!("{base}/echo"))
            .body("abc")
            .send()
            .await
            .expect("send");
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["retry-after"], "7");
        let broken = http
            .post(format!("{base}/echo"))
            .body("abc")
            .send()
            .await
            .expect("send");
        assert_eq!(broken.status(), 502);
        let fine = http
            .post(format!("{base}/echo"))
            .body("abc")
            .send()
            .await
            .expect("send");
        assert_eq!(fine.text().await.expect("body"), "3");
        let stats: Stats = http
            .get(format!("{base}/__emulator/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json");
        // Faulted requests are read to their end too (3 bodies of 3 bytes).
        assert_eq!(
            (stats.requests, stats.faults_served, stats.bytes_received),
            (3, 2, 9)
        );
        emu.stop().await;
    }

    #[tokio::test]
    async fn a_reset_cuts_the_upload_and_a_truncation_cuts_the_download() {
        let emu = test_emulator().await;
        let http = reqwest::Client::new();
        let base = emu.base_url.clone();
        add(
            &http,
            &base,
            serde_json::json!({"kind": "reset_mid_body", "after_bytes": 100000, "path_prefix": "/echo", "times": 1}),
        )
        .await;
        let big = vec![1u8; 4 << 20];
        let cut = http
            .post(format!("{base}/echo"))
            .body(big.clone())
            .send()
            .await;
        assert!(
            cut.is_err(),
            "the upload must fail with a connection error: {cut:?}"
        );
        let received = emu.context.faults.stats().bytes_received;
        assert!(
            (100_000..4 << 20).contains(&received),
            "the server read {received} bytes before cutting"
        );
        let whole = http
            .post(format!("{base}/echo"))
            .body(big)
            .send()
            .await
            .expect("retry");
        assert_eq!(whole.text().await.expect("body"), (4 << 20).to_string());

        add(
            &http,
            &base,
            serde_json::json!({"kind": "truncate_download", "after_bytes": 1000, "times": 1}),
        )
        .await;
        let response = http
            .get(format!("{base}/blob"))
            .send()
            .await
            .expect("headers");
        assert_eq!(response.content_length(), Some(BLOB as u64));
        assert!(response.bytes().await.is_err(), "the body must end early");
        let again = http.get(format!("{base}/blob")).send().await.expect("send");
        assert_eq!(again.bytes().await.expect("whole").len(), BLOB);
        emu.stop().await;
    }

    #[tokio::test]
    async fn slow_waits_then_answers() {
        let emu = test_emulator().await;
        let http = reqwest::Client::new();
        let base = emu.base_url.clone();
        add(
            &http,
            &base,
            serde_json::json!({"kind": "slow", "millis": 300, "times": 1}),
        )
        .await;
        let started = std::time::Instant::now();
        let r = http
            .post(format!("{base}/echo"))
            .body("x")
            .send()
            .await
            .expect("send");
        assert_eq!(r.text().await.expect("body"), "1");
        assert!(started.elapsed() >= Duration::from_millis(300));
        emu.stop().await;
    }
}
