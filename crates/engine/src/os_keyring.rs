//! The OS keyring (the Secret Service over D-Bus on Linux: GNOME Keyring, KWallet), through
//! the `keyring` crate.
//!
//! Every call runs on a short-lived thread of its own: the crate drives D-Bus with its own
//! async executor, which must not run inside a tokio worker, and callers here are often
//! async. Entries are `(service, user)` pairs; CloudSync's service names the config dir,
//! so two config dirs never share a secret.

use std::time::Duration;

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No keyring answers (no D-Bus session, no Secret Service, a locked keyring).
    #[error("the OS keyring is not available: {0}")]
    Unavailable(String),
    /// The keyring answered with an error.
    #[error("the OS keyring failed: {0}")]
    Failed(String),
}

/// How long a keyring call may take before the keyring counts as unavailable (a
/// Secret Service that waits on an unlock prompt nobody can answer would hang forever).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

fn classify(e: keyring::Error) -> KeyringError {
    match e {
        keyring::Error::NoStorageAccess(inner) => KeyringError::Unavailable(inner.to_string()),
        keyring::Error::PlatformFailure(inner) => KeyringError::Unavailable(inner.to_string()),
        other => KeyringError::Failed(other.to_string()),
    }
}

/// Runs `f` on its own thread, giving up after [`CALL_TIMEOUT`].
fn isolated<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
) -> Result<T, KeyringError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("keyring".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| KeyringError::Unavailable(e.to_string()))?;
    rx.recv_timeout(CALL_TIMEOUT)
        .map_err(|_| KeyringError::Unavailable("no answer within 10 s".into()))?
}

fn entry(service: &str, user: &str) -> Result<keyring::Entry, KeyringError> {
    keyring::Entry::new(service, user).map_err(classify)
}

/// The secret stored for (`service`, `user`), if any.
///
/// # Errors
/// The keyring is unavailable or fails.
pub fn get(service: &str, user: &str) -> Result<Option<String>, KeyringError> {
    let (service, user) = (service.to_string(), user.to_string());
    isolated(move || match entry(&service, &user)?.get_password() {
        Ok(v) => Ok(Some(v)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(classify(e)),
    })
}

/// Stores `value` for (`service`, `user`), replacing any earlier one.
///
/// # Errors
/// The keyring is unavailable or fails.
pub fn set(service: &str, user: &str, value: &str) -> Result<(), KeyringError> {
    let (service, user, value) = (service.to_string(), user.to_string(), value.to_string());
    isolated(move || {
        entry(&service, &user)?
            .set_password(&value)
            .map_err(classify)
    })
}

/// Removes the secret for (`service`, `user`); true when there was one.
///
/// # Errors
/// The keyring is unavailable or fails.
pub fn remove(service: &str, user: &str) -> Result<bool, KeyringError> {
    let (service, user) = (service.to_string(), user.to_string());
    isolated(move || match entry(&service, &user)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(classify(e)),
    })
}

/// True when a keyring answers: a lookup of an entry nobody stores succeeds (finding
/// nothing). Without a D-Bus session this fails at once.
pub fn available(service: &str) -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return false;
    }
    get(service, "cloudsync-keyring-probe").is_ok()
}
