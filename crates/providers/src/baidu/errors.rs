//! Baidu's error numbers, one by one, as the engine's [`RemoteError`]s (reference 3.8).
//!
//! Token errors (111, -6, 31045) reach here only after the one renewal [`super::api`]
//! tries. Frequency control (31034, 20012) has no Retry-After, so it is
//! `RateLimited(None)` and the engine backs off on its own schedule.

use cloudsync_engine::remote::RemoteError;

/// access token 失效 (also "another async task is running" on filemanager).
pub const TOKEN_EXPIRED: i64 = 111;
/// 身份验证失败.
pub const AUTH_FAILED: i64 = -6;
/// access_token验证未通过 (PCS).
pub const PCS_TOKEN: i64 = 31045;
/// 文件或目录已存在.
pub const EXISTS: i64 = -8;
/// 文件或目录不存在.
pub const NOT_FOUND: i64 = -9;
/// A batch with a failed item; the items carry the reason.
pub const BATCH_FAILED: i64 = 12;

/// True for the errnos that mean "renew the token and try again".
pub fn is_token_error(code: i64) -> bool {
    matches!(code, TOKEN_EXPIRED | AUTH_FAILED | PCS_TOKEN)
}

/// The engine's error for a non-zero errno / error_code answered to `what`; `msg` is the
/// server's own wording when it sent one.
pub fn map_errno(code: i64, what: &str, msg: &str) -> RemoteError {
    let text = if msg.is_empty() {
        format!("{what}: Baidu errno {code}")
    } else {
        format!("{what}: Baidu errno {code} ({msg})")
    };
    match code {
        TOKEN_EXPIRED | AUTH_FAILED | PCS_TOKEN => RemoteError::Auth(format!(
            "{text}; sign in again with `cloudsync relink` if this persists"
        )),
        6 => RemoteError::Auth(format!(
            "{text}: the account does not allow access to its data; Baidu suggests \
             authorizing again after 10 minutes"
        )),
        -1 => RemoteError::Auth(format!("{text}: the account's entitlement has expired")),
        31024 => RemoteError::Auth(format!("{text}: the app has no upload permission")),
        31034 | 20012 => RemoteError::RateLimited(None),
        -10 => RemoteError::QuotaFull(text),
        EXISTS => RemoteError::Changed(text),
        -3 | NOT_FOUND | 31066 | -31066 | 31190 => RemoteError::NotFound(text),
        // Blocks lost on the server side, or "create failed": the upload is tried again.
        31363 | 10 => RemoteError::Unavailable(text),
        31064 => RemoteError::Other(format!(
            "{text}: apps may only write below /apps/<app name>"
        )),
        -7 => RemoteError::Other(format!(
            "{text}: Baidu refuses this name or path (no \\ ? | \" > < : *, no leading or \
             trailing '.' or white space, at most 1000 characters) or denies access"
        )),
        31365 => RemoteError::Other(format!(
            "{text}: the file is larger than this account may upload"
        )),
        _ => RemoteError::Other(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_errno_has_its_retry_class() {
        let m = |c| map_errno(c, "x", "");
        assert!(matches!(m(111), RemoteError::Auth(_)));
        assert!(matches!(m(-6), RemoteError::Auth(_)));
        assert!(matches!(m(31045), RemoteError::Auth(_)));
        assert!(matches!(m(31034), RemoteError::RateLimited(None)));
        assert!(matches!(m(20012), RemoteError::RateLimited(None)));
        assert!(matches!(m(-10), RemoteError::QuotaFull(_)));
        assert!(matches!(m(-8), RemoteError::Changed(_)));
        for nf in [-3, -9, 31066, -31066] {
            assert!(matches!(m(nf), RemoteError::NotFound(_)), "{nf}");
        }
        assert!(matches!(m(31363), RemoteError::Unavailable(_)));
        for other in [2, 31023, -7, 31064, 31299, 31364, 31355, 31365] {
            assert!(matches!(m(other), RemoteError::Other(_)), "{other}");
        }
        assert!(is_token_error(111) && is_token_error(-6) && is_token_error(31045));
        assert!(!is_token_error(-9));
    }
}
