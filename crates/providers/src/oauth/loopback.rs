//! The one-shot redirect listener of a browser sign-in, on 127.0.0.1.
//!
//! It waits for `GET /callback?code=..&state=..`, accepts only the request whose `state`
//! is the one this sign-in sent (anything else gets an error page and the wait goes on, so
//! a forged request cannot end or hijack the sign-in), answers the browser, and closes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::OAuthError;

/// The path the provider redirects to.
pub const CALLBACK_PATH: &str = "/callback";

/// A bound redirect listener.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// What the browser brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Code(String),
    Denied(String),
}

impl Loopback {
    /// Binds 127.0.0.1:`port` (0: any free port, for providers that allow any).
    ///
    /// # Errors
    /// The port is taken.
    pub async fn bind(port: u16) -> Result<Loopback, OAuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        Ok(Loopback { listener, port })
    }

    /// The redirect URI to register and send.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the redirect carrying `state`; returns its code.
    ///
    /// # Errors
    /// The user pressed Deny, or nothing arrived within `timeout`.
    pub async fn wait_for_code(self, state: &str, timeout: Duration) -> Result<String, OAuthError> {
        let outcome: Arc<Mutex<Option<Outcome>>> = Arc::new(Mutex::new(None));
        let wait = async {
            loop {
                let (stream, _) = self.listener.accept().await?;
                let seen = outcome.clone();
                let state = state.to_string();
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (status, page, result) = answer(&req, &state);
                        if let Some(r) = result {
                            if let Ok(mut slot) = seen.lock() {
                                slot.get_or_insert(r);
                            }
                        }
                        let response = Response::builder()
                            .status(status)
                            .header("content-type", "text/html; charset=utf-8")
                            .header("connection", "close")
                            .body(Full::new(Bytes::from(page)));
                        async move { response }
                    });
                let served = hyper::server::conn::http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!("sign-in redirect connection: {e}");
                }
                let done = outcome.lock().ok().and_then(|o| o.clone());
                match done {
                    Some(Outcome::Code(code)) => return Ok(code),
                    Some(Outcome::Denied(why)) => return Err(OAuthError::NotCompleted(why)),
                    None => continue,
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(OAuthError::NotCompleted(format!(
                "no answer from the browser within {} s",
                timeout.as_secs()
            ))),
        }
    }
}

/// The page for one request, and what it settles.
fn answer(
    req: &Request<hyper::body::Incoming>,
    state: &str,
) -> (StatusCode, String, Option<Outcome>) {
    if req.uri().path() != CALLBACK_PATH {
        return (StatusCode::NOT_FOUND, page("Not found."), None);
    }
    let params: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("state") != Some(state) {
        return (
            StatusCode::BAD_REQUEST,
            page("This sign-in link is not the one CloudSync opened (state mismatch); it was ignored."),
            None,
        );
    }
    if let Some(error) = get("error") {
        let why = match get("error_description") {
            Some(d) => format!("{error}: {d}"),
            None => error.to_string(),
        };
        return (
            StatusCode::OK,
            page("Sign-in was cancelled. You can close this window."),
            Some(Outcome::Denied(why)),
        );
    }
    match get("code") {
        Some(code) if !code.is_empty() => (
            StatusCode::OK,
            page("CloudSync is signed in. You can close this window."),
            Some(Outcome::Code(code.to_string())),
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            page("The answer carries no code."),
            None,
        ),
    }
}

fn page(text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>CloudSync</title></head><body><p>{text}</p></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_request_with_our_state_is_taken() {
        let lb = Loopback::bind(0).await.expect("bind");
        let uri = lb.redirect_uri();
        let wait = tokio::spawn(lb.wait_for_code("good-state", Duration::from_secs(10)));
        let http = reqwest::Client::new();
        let forged = http
            .get(format!("{uri}?code=evil&state=other"))
            .send()
            .await
            .expect("forged request");
        assert_eq!(forged.status(), 400);
        let elsewhere = http
            .get(uri.replace("/callback", "/favicon.ico"))
            .send()
            .await
            .expect("favicon");
        assert_eq!(elsewhere.status(), 404);
        let real = http
            .get(format!("{uri}?code=the%20code&state=good-state"))
            .send()
            .await
            .expect("real request");
        assert_eq!(real.status(), 200);
        let code = wait.await.expect("join").expect("code");
        assert_eq!(code, "the code");
    }

    #[tokio::test]
    async fn deny_and_silence_end_the_wait_with_a_reason() {
        let lb = Loopback::bind(0).await.expect("bind");
        let uri = lb.redirect_uri();
        let wait = tokio::spawn(lb.wait_for_code("s", Duration::from_secs(10)));
        reqwest::get(format!("{uri}?error=access_denied&state=s"))
            .await
            .expect("deny");
        let denied = wait.await.expect("join").expect_err("denied");
        assert!(denied.to_string().contains("access_denied"), "{denied}");

        let lb = Loopback::bind(0).await.expect("bind");
        let silent = lb
            .wait_for_code("s", Duration::from_millis(200))
            .await
            .expect_err("timeout");
        assert!(matches!(silent, OAuthError::NotCompleted(_)));
    }
}
