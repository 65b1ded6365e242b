//! HTTP authentication for the WebDAV backend: Basic, or Digest (RFC 7616: MD5 or
//! SHA-256, `qop=auth`) when the server offers only Digest.
//!
//! Nothing is sent before the server asks: the first 401 tells which scheme it wants (so a
//! password never goes out as Basic to a Digest-only server). The chosen scheme is then
//! remembered, and a Digest challenge is reused with an incrementing `nc`, so later
//! requests are answered without another round trip. The password never appears in
//! `Debug` output or error messages.

use std::borrow::Cow;
use std::sync::Mutex;

use digest_auth::{AlgorithmType, AuthContext, HttpMethod, Qop, WwwAuthenticateHeader};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, Url};

use cloudsync_engine::remote::RemoteError;

/// Which scheme a request was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// No `Authorization` header (the scheme is not known yet).
    Nothing,
    /// Basic.
    Basic,
    /// Digest.
    Digest,
}

/// What to do after a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send the request again (the new scheme or challenge is recorded).
    Retry,
    /// The credentials were refused.
    Refused,
}

enum State {
    Unknown,
    Basic,
    Digest(Box<WwwAuthenticateHeader>),
}

/// Credentials plus what the server asked for.
pub(crate) struct Auth {
    user: String,
    password: Option<String>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("scheme", &self.scheme())
            .finish()
    }
}

impl Auth {
    pub(crate) fn new(user: &str, password: Option<String>) -> Auth {
        Auth {
            user: user.to_string(),
            password,
            state: Mutex::new(State::Unknown),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The scheme in use: `None` until the server asked, else `"basic"` or `"digest"`.
    pub(crate) fn scheme(&self) -> Option<&'static str> {
        match &*self.lock() {
            State::Unknown => None,
            State::Basic => Some("basic"),
            State::Digest(_) => Some("digest"),
        }
    }

    /// Adds the `Authorization` header for `method` on `url` (none while the scheme is
    /// unknown) and tells which scheme was used.
    pub(crate) fn apply(
        &self,
        rb: reqwest::RequestBuilder,
        method: &Method,
        url: &Url,
    ) -> Result<(reqwest::RequestBuilder, Sent), RemoteError> {
        let mut state = self.lock();
        match &mut *state {
            State::Unknown => Ok((rb, Sent::Nothing)),
            State::Basic => Ok((
                rb.basic_auth(&self.user, self.password.as_deref()),
                Sent::Basic,
            )),
            State::Digest(challenge) => {
                let v =
                    digest_answer(challenge, &self.user, self.password.as_deref(), method, url)?;
                Ok((rb.header(AUTHORIZATION, v), Sent::Digest))
            }
        }
    }

    /// Records what a 401 (answering a request sent with `sent`) asks for.
    pub(crate) fn unauthorized(&self, headers: &HeaderMap, sent: Sent) -> Next {
        let offers = Offers::parse(headers);
        let mut state = self.lock();
        match sent {
            // Basic stays the default when the server offers it.
            Sent::Nothing if offers.basic => {
                *state = State::Basic;
                Next::Retry
            }
            Sent::Nothing | Sent::Basic => match offers.digest {
                // A Basic refusal from a server that also offers Basic: wrong password.
                Some(_) if offers.basic => Next::Refused,
                Some(d) => {
                    *state = State::Digest(Box::new(d));
                    Next::Retry
                }
                None => Next::Refused,
            },
            Sent::Digest => match offers.digest {
                // A stale nonce means the answer was right but the nonce expired.
                Some(d) if d.stale => {
                    *state = State::Digest(Box::new(d));
                    Next::Retry
                }
                Some(d) => {
                    *state = State::Digest(Box::new(d));
                    Next::Refused
                }
                None => Next::Refused,
            },
        }
    }
}

/// The schemes a 401 offers.
struct Offers {
    basic: bool,
    /// The strongest usable Digest challenge.
    digest: Option<WwwAuthenticateHeader>,
}

impl Offers {
    fn parse(headers: &HeaderMap) -> Offers {
        let mut basic = false;
        let mut digest: Option<WwwAuthenticateHeader> = None;
        for v in headers.get_all(WWW_AUTHENTICATE) {
            let Ok(v) = v.to_str() else { continue };
            let v = v.trim();
            let scheme = v.split_whitespace().next().unwrap_or("");
            if scheme.eq_ignore_ascii_case("basic") {
                basic = true;
            } else if scheme.eq_ignore_ascii_case("digest") {
                let Ok(d) = digest_auth::parse(&format!("Digest{}", &v[scheme.len()..])) else {
                    continue; // an algorithm the crate does not know
                };
                if !usable(&d) {
                    continue;
                }
                if digest
                    .as_ref()
                    .is_none_or(|old| strength(&d) > strength(old))
                {
                    digest = Some(d);
                }
            }
        }
        Offers { basic, digest }
    }
}

/// Only `qop=auth` (or the legacy no-qop form): `auth-int` would need the body hashed.
fn usable(d: &WwwAuthenticateHeader) -> bool {
    d.qop
        .as_ref()
        .is_none_or(|q| q.is_empty() || q.contains(&Qop::AUTH))
}

fn strength(d: &WwwAuthenticateHeader) -> u8 {
    match d.algorithm.algo {
        AlgorithmType::MD5 => 1,
        AlgorithmType::SHA2_256 => 2,
        AlgorithmType::SHA2_512_256 => 3,
    }
}

/// The Digest `Authorization` value (the challenge's `nc` is incremented).
fn digest_answer(
    challenge: &mut WwwAuthenticateHeader,
    user: &str,
    password: Option<&str>,
    method: &Method,
    url: &Url,
) -> Result<HeaderValue, RemoteError> {
    // The digest covers the request target exactly as sent.
    let uri = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let ctx = AuthContext::new_with_method(
        user,
        password.unwrap_or(""),
        uri,
        Option::<&[u8]>::None,
        HttpMethod(Cow::Owned(method.as_str().to_string())),
    );
    let answer = challenge
        .respond(&ctx)
        .map_err(|e| RemoteError::Other(format!("digest auth: {e}")))?;
    let mut v = HeaderValue::from_str(&answer.to_string())
        .map_err(|_| RemoteError::Other("the digest answer is not a valid header".into()))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(WWW_AUTHENTICATE, HeaderValue::from_str(v).expect("ascii"));
        }
        h
    }

    fn authorization(a: &Auth, method: &Method, url: &Url) -> (Option<String>, Sent) {
        let client = reqwest::Client::new();
        let (rb, sent) = a
            .apply(client.request(method.clone(), url.clone()), method, url)
            .expect("header");
        let req = rb.build().expect("request");
        let v = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().expect("ascii").to_string());
        (v, sent)
    }

    #[test]
    fn basic_is_preferred_and_digest_picks_the_strongest() {
        let a = Auth::new("u", Some("p".into()));
        let url = Url::parse("http://h/a%20b?x=1").expect("url");
        assert_eq!(authorization(&a, &Method::GET, &url), (None, Sent::Nothing));
        let both = headers(&[
            r#"Digest realm="r", nonce="n", algorithm=MD5, qop="auth""#,
            r#"Basic realm="r""#,
        ]);
        assert_eq!(a.unauthorized(&both, Sent::Nothing), Next::Retry);
        assert_eq!(
            authorization(&a, &Method::GET, &url),
            (Some("Basic dTpw".to_string()), Sent::Basic)
        );
        assert_eq!(a.unauthorized(&both, Sent::Basic), Next::Refused);

        let d = Auth::new("Mufasa", Some("Circle of Life".into()));
        let digests = headers(&[
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
            r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        ]);
        assert_eq!(d.unauthorized(&digests, Sent::Nothing), Next::Retry);
        let dir = Url::parse("http://h/dir/index.html").expect("url");
        let first = authorization(&d, &Method::GET, &dir).0.expect("value");
        assert!(first.contains("algorithm=SHA-256"), "{first}");
        assert!(first.contains("nc=00000001"), "{first}");
        assert!(first.contains(r#"uri="/dir/index.html""#), "{first}");
        let second = authorization(&d, &Method::PUT, &dir).0.expect("value");
        assert!(second.contains("nc=00000002"), "{second}");
        assert!(!format!("{d:?}").contains("Circle"));

        // A refused digest answer is final unless the nonce went stale.
        let stale =
            headers(&[r#"Digest realm="r", nonce="m", algorithm=MD5, qop="auth", stale=true"#]);
        assert_eq!(d.unauthorized(&stale, Sent::Digest), Next::Retry);
        let fresh = headers(&[r#"Digest realm="r", nonce="m", algorithm=MD5, qop="auth""#]);
        assert_eq!(d.unauthorized(&fresh, Sent::Digest), Next::Refused);
        // auth-int only cannot be answered without hashing the body.
        let int_only = headers(&[r#"Digest realm="r", nonce="m", qop="auth-int""#]);
        assert_eq!(
            Auth::new("u", None).unauthorized(&int_only, Sent::Nothing),
            Next::Refused
        );
    }
}
