//! A small AWS Signature V4 client for the requests `object_store` cannot express: raw
//! `ListObjectsV2` (keys exactly as stored, including `dir/` markers and keys that are not
//! valid `object_store` paths), zero-byte folder markers, `CopyObject` and `DeleteObject`
//! on raw keys, and bucket creation.

use std::time::Duration;

use cloudsync_engine::remote::RemoteError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, StatusCode, Url};
use sha2::{Digest, Sha256};

/// Everything but the unreserved characters (RFC 3986) is escaped.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// S3's URI encoding of one value (query keys and values, header values).
pub(crate) fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

/// S3's URI encoding of an object key in a path (`/` kept).
pub(crate) fn key_encode(key: &str) -> String {
    key.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

/// Attempts per raw request (see [`RawClient::send`]).
const RETRIES: u32 = 3;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// HMAC-SHA256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// What a raw request answered.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

/// Connection details and the HTTP client for signed requests.
#[derive(Debug, Clone)]
pub(crate) struct RawClient {
    client: reqwest::Client,
    /// `scheme://host[:port]`.
    origin: String,
    /// The `Host` header value.
    host: String,
    /// The endpoint's own path (usually empty), without a trailing `/`.
    base_path: String,
    pub bucket: String,
    region: String,
    access_key: String,
    secret_key: String,
}

impl RawClient {
    pub(crate) fn new(
        endpoint: &str,
        bucket: &str,
        region: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Result<RawClient, RemoteError> {
        let url = Url::parse(endpoint)
            .map_err(|e| RemoteError::Other(format!("bad S3 endpoint {endpoint:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RemoteError::Other(format!(
                "S3 endpoint must be http:// or https://, got {endpoint:?}"
            )));
        }
        let host_name = url
            .host_str()
            .ok_or_else(|| RemoteError::Other(format!("S3 endpoint {endpoint:?} has no host")))?;
        let host = match url.port() {
            Some(p) => format!("{host_name}:{p}"),
            None => host_name.to_string(),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("CloudSync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RemoteError::Other(e.to_string()))?;
        Ok(RawClient {
            client,
            origin: format!("{}://{host}", url.scheme()),
            host,
            base_path: url.path().trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            region: region.to_string(),
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
        })
    }

    /// Sends a signed request for `key` (`None`: the bucket itself) and reads the answer.
    ///
    /// A request that fails on the way or gets a 500/502/503/504 is sent again, twice at
    /// most, after a short pause: AWS asks clients to retry those, and some servers answer
    /// 500 for transient trouble (s3rver, when concurrent deletes race to remove the same
    /// empty folder). Every request this client makes is idempotent (listings, HEADs,
    /// whole-body PUTs, copies, deletes), so a repeat is harmless.
    pub(crate) async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, RemoteError> {
        let mut pause = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let got = self
                .send_once(method.clone(), key, query, headers, body.clone())
                .await;
            let retry = attempt < RETRIES
                && match &got {
                    // A SlowDown with its own Retry-After is the engine's to honour.
                    Ok(a) => {
                        matches!(a.status.as_u16(), 500 | 502 | 503 | 504)
                            && !a.headers.contains_key(reqwest::header::RETRY_AFTER)
                    }
                    Err(e) => matches!(e, RemoteError::Unavailable(_)),
                };
            if !retry {
                return got;
            }
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(3);
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, RemoteError> {
        let mut path = format!("{}/{}", self.base_path, uri_encode(&self.bucket));
        if let Some(k) = key {
            path.push('/');
            path.push_str(&key_encode(k));
        }
        let mut q: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (uri_encode(k), uri_encode(v)))
            .collect();
        q.sort();
        let query_str = q
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let now = chrono::Utc::now();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let day = now.format("%Y%m%d").to_string();
        let payload_hash = sha256_hex(&body);
        let mut signed: Vec<(String, String)> = vec![
            ("host".into(), self.host.clone()),
            ("x-amz-content-sha256".into(), payload_hash.clone()),
            ("x-amz-date".into(), amz_date.clone()),
        ];
        for (k, v) in headers {
            signed.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
        signed.sort();
        let canonical_headers: String = signed.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_names = signed
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical = format!(
            "{method}\n{path}\n{query_str}\n{canonical_headers}\n{signed_names}\n{payload_hash}"
        );
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical.as_bytes())
        );
        let k = hmac_sha256(
            format!("AWS4{}", self.secret_key).as_bytes(),
            day.as_bytes(),
        );
        let k = hmac_sha256(&k, self.region.as_bytes());
        let k = hmac_sha256(&k, b"s3");
        let k = hmac_sha256(&k, b"aws4_request");
        let signature = hex(&hmac_sha256(&k, to_sign.as_bytes()));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            self.access_key
        );
        let url_str = if query_str.is_empty() {
            format!("{}{path}", self.origin)
        } else {
            format!("{}{path}?{query_str}", self.origin)
        };
        let url = Url::parse(&url_str).map_err(|e| RemoteError::Other(e.to_string()))?;
        let mut req = self
            .client
            .request(method.clone(), url)
            .header("x-amz-date", &amz_date)
            .header("x-amz-content-sha256", &payload_hash)
            .header(reqwest::header::AUTHORIZATION, auth);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        if method == Method::PUT || method == Method::POST || !body.is_empty() {
            req = req
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body);
        }
        let resp = req.send().await.map_err(|e| {
            RemoteError::Unavailable(format!("{method} {}: {e}", key.unwrap_or("(bucket)")))
        })?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.map_err(|e| {
            RemoteError::Unavailable(format!("{method} {}: {e}", key.unwrap_or("(bucket)")))
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(
            key_encode("a b/100%#&+'é"),
            "a%20b/100%25%23%26%2B%27%C3%A9"
        );
        assert_eq!(key_encode("d/"), "d/");
    }
}
