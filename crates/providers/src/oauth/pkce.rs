//! PKCE (RFC 7636, S256) and the `state` value of an authorization request.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A verifier kept by the app and the challenge sent in the authorization URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// Sent with the code exchange.
    pub verifier: String,
    /// Sent in the authorization URL with `code_challenge_method=S256`.
    pub challenge: String,
}

impl Pkce {
    /// A fresh random verifier (43 characters: 32 random bytes, base64url).
    pub fn new() -> Pkce {
        Pkce::from_verifier(random_url_safe(32))
    }

    /// The pair for a given verifier.
    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// `bytes` random bytes as base64url without padding (for verifiers and `state`).
pub fn random_url_safe(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn fresh_verifiers_are_long_enough_and_differ() {
        let (a, b) = (Pkce::new(), Pkce::new());
        assert!(a.verifier.len() >= 43 && a.verifier.len() <= 128);
        assert!(a
            .verifier
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.verifier, b.verifier);
    }
}
