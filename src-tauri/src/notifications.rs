//! Desktop notifications for what needs the user: conflicts, errors and plans waiting for
//! approval. At most one per kind every few seconds, so a burst reads as one message.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cloudsync_engine::Event;
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt;

/// The quiet time between two notifications of one kind.
const QUIET: Duration = Duration::from_secs(5);

/// What to tell the user about `event`, if anything: (kind, title, body).
pub fn message(event: &Event) -> Option<(&'static str, String, String)> {
    match event {
        Event::Conflict {
            connection,
            path,
            loser,
        } => Some((
            "conflict",
            format!("Conflict in {connection}"),
            format!("{path} changed on both sides. The other version: {loser}."),
        )),
        Event::Error {
            connection,
            message,
        } => Some((
            "error",
            match connection {
                Some(c) => format!("CloudSync: problem with {c}"),
                None => "CloudSync: problem".into(),
            },
            message.clone(),
        )),
        Event::Status {
            connection,
            status,
            detail,
        } if status == "approval" => Some((
            "approval",
            format!("{connection} waits for your approval"),
            detail
                .clone()
                .unwrap_or_else(|| "Open CloudSync to see what would be deleted.".into()),
        )),
        _ => None,
    }
}

/// Sends notifications, spacing them out per kind.
#[derive(Default)]
pub struct Notifier {
    last: Mutex<HashMap<&'static str, Instant>>,
}

impl Notifier {
    /// Notifies about `event` when it matters and the kind has been quiet.
    pub fn on_event(&self, app: &AppHandle, event: &Event) {
        let Some((kind, title, body)) = message(event) else {
            return;
        };
        let now = Instant::now();
        if let Ok(mut last) = self.last.lock() {
            if last
                .get(kind)
                .is_some_and(|t| now.duration_since(*t) < QUIET)
            {
                return;
            }
            last.insert(kind, now);
        }
        if let Err(e) = app.notification().builder().title(title).body(body).show() {
            tracing::debug!("no notification shown: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_errors_and_approvals_are_worth_a_notification() {
        let c = message(&Event::Conflict {
            connection: "Demo".into(),
            path: "a.txt".into(),
            loser: "a (conflicted copy).txt".into(),
        })
        .expect("conflict");
        assert_eq!(c.0, "conflict");
        assert!(c.2.contains("a.txt"));
        let a = message(&Event::Status {
            connection: "Demo".into(),
            status: "approval".into(),
            detail: Some("would delete 40 files".into()),
        })
        .expect("approval");
        assert_eq!((a.0, a.2.as_str()), ("approval", "would delete 40 files"));
        assert!(message(&Event::Status {
            connection: "Demo".into(),
            status: "idle".into(),
            detail: None
        })
        .is_none());
        assert!(message(&Event::RoundFinished {
            connection: "Demo".into(),
            ops: 3
        })
        .is_none());
    }
}
