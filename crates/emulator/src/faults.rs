//! Switchable faults and the traffic counters every emulated provider shares.
//!
//! Tests switch faults on through the control endpoint (`POST /__emulator/faults`); the
//! fault layer in [`crate::server`] consults [`Faults::take`] before each request reaches the
//! provider, and the provider words the error the way the real service does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// One kind of misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// The provider's rate-limit answer, with `Retry-After` where the provider sends one.
    RateLimit {
        /// Seconds the client is asked to wait.
        retry_after: u64,
    },
    /// The provider's "another write holds the lock" answer (Dropbox's
    /// `too_many_write_operations`); providers without one answer as for `rate_limit`.
    WriteContention {
        /// Seconds in `Retry-After`.
        retry_after: u64,
        /// Worded as the route's own 409 error instead of a 429 (Dropbox sends both).
        #[serde(default)]
        endpoint_error: bool,
    },
    /// A bare 5xx answer.
    ServerError {
        /// The status (500, 502, 503, 504).
        status: u16,
    },
    /// Reads this many bytes of the request body, then drops the connection unanswered.
    ResetMidBody {
        /// Bytes read before the cut.
        after_bytes: u64,
    },
    /// Sends the headers and this many bytes of the response body, then drops the
    /// connection (the declared length stays the full one).
    TruncateDownload {
        /// Bytes sent before the cut.
        after_bytes: u64,
    },
    /// Waits before handling the request.
    Slow {
        /// Milliseconds to wait.
        millis: u64,
    },
}

/// A fault with the requests it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What happens.
    #[serde(flatten)]
    pub fault: Fault,
    /// Only requests whose path starts with this; none: every provider request.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// How many requests it hits; none: every one until the faults are cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

/// What the emulator has seen, for tests that bound traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Provider requests received (control endpoints excluded).
    pub requests: u64,
    /// Request body bytes received.
    pub bytes_received: u64,
    /// Requests answered with a fault.
    pub faults_served: u64,
    /// Provider requests by path (query left out), for tests that check which calls a
    /// client made.
    #[serde(default)]
    pub by_path: std::collections::BTreeMap<String, u64>,
}

/// The faults switched on, and the counters.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
    by_path: Mutex<std::collections::BTreeMap<String, u64>>,
    requests: AtomicU64,
    bytes_received: AtomicU64,
    faults_served: AtomicU64,
}

impl Faults {
    /// Switches a fault on (after the ones already on).
    pub fn add(&self, rule: FaultRule) {
        self.lock().push(rule);
    }

    /// Switches every fault off.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The faults still on.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    /// Counts a request to `path` and returns the fault it meets, if any, using up one of
    /// that fault's `times`.
    pub fn take(&self, path: &str) -> Option<Fault> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self
            .by_path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(path.to_string())
            .or_default() += 1;
        let mut rules = self.lock();
        let index = rules.iter().position(|r| {
            r.path_prefix
                .as_deref()
                .is_none_or(|prefix| path.starts_with(prefix))
        })?;
        let fault = rules[index].fault.clone();
        match &mut rules[index].times {
            Some(1) | Some(0) => {
                rules.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        self.faults_served.fetch_add(1, Ordering::Relaxed);
        Some(fault)
    }

    /// Adds request body bytes received.
    pub fn count_received(&self, bytes: u64) {
        self.bytes_received.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
            faults_served: self.faults_served.load(Ordering::Relaxed),
            by_path: self
                .by_path
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }

    /// Sets the counters back to zero.
    pub fn reset_stats(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.bytes_received.store(0, Ordering::Relaxed);
        self.faults_served.store(0, Ordering::Relaxed);
        self.by_path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        // A panic while holding the lock cannot leave the list half-changed.
        self.rules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(fault: Fault, prefix: Option<&str>, times: Option<u32>) -> FaultRule {
        FaultRule {
            fault,
            path_prefix: prefix.map(str::to_string),
            times,
        }
    }

    #[test]
    fn a_counted_fault_hits_that_many_matching_requests_then_stops() {
        let faults = Faults::default();
        faults.add(rule(
            Fault::ServerError { status: 503 },
            Some("/2/files/upload"),
            Some(2),
        ));
        assert_eq!(faults.take("/2/files/list_folder"), None);
        assert_eq!(
            faults.take("/2/files/upload"),
            Some(Fault::ServerError { status: 503 })
        );
        assert_eq!(
            faults.take("/2/files/upload_session/start"),
            Some(Fault::ServerError { status: 503 })
        );
        assert_eq!(faults.take("/2/files/upload"), None);
        let stats = faults.stats();
        assert_eq!((stats.requests, stats.faults_served), (4, 2));
        assert_eq!(stats.by_path["/2/files/upload"], 2);
        assert_eq!(stats.by_path["/2/files/list_folder"], 1);
    }

    #[test]
    fn an_uncounted_fault_stays_until_cleared() {
        let faults = Faults::default();
        faults.add(rule(Fault::Slow { millis: 5 }, None, None));
        for _ in 0..3 {
            assert_eq!(faults.take("/x"), Some(Fault::Slow { millis: 5 }));
        }
        faults.clear();
        assert_eq!(faults.take("/x"), None);
    }

    #[test]
    fn write_contention_reads_with_and_without_its_endpoint_flag() {
        let r: FaultRule =
            serde_json::from_str(r#"{"kind":"write_contention","retry_after":2}"#).expect("parse");
        assert_eq!(
            r.fault,
            Fault::WriteContention {
                retry_after: 2,
                endpoint_error: false
            }
        );
        let r: FaultRule = serde_json::from_str(
            r#"{"kind":"write_contention","retry_after":0,"endpoint_error":true}"#,
        )
        .expect("parse");
        assert_eq!(
            r.fault,
            Fault::WriteContention {
                retry_after: 0,
                endpoint_error: true
            }
        );
    }

    #[test]
    fn rules_read_from_the_control_endpoints_json() {
        let r: FaultRule = serde_json::from_str(
            r#"{"kind":"rate_limit","retry_after":3,"path_prefix":"/2/","times":1}"#,
        )
        .expect("parse");
        assert_eq!(
            r,
            rule(Fault::RateLimit { retry_after: 3 }, Some("/2/"), Some(1))
        );
    }
}
