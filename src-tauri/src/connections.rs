//! Connections as the windows show them: the engine's `status` and `list` answers joined
//! into [`ConnectionView`]s, with the remote side described in one line.

use cloudsync_engine::engine::ConnectionStatus;
use cloudsync_engine::store::Connection;

use crate::demo;
use crate::live::ConnectionView;

/// Joins the engine's status rows with its connection rows (for the account and paused
/// flag).
pub fn views(statuses: Vec<ConnectionStatus>, connections: &[Connection]) -> Vec<ConnectionView> {
    statuses
        .into_iter()
        .map(|s| {
            let conn = connections.iter().find(|c| c.name == s.name);
            let provider = if demo::is_demo(&s.remote) {
                "demo".to_string()
            } else {
                s.provider.clone()
            };
            let account = if provider == "demo" {
                // Its credential names a port on this computer, not an account.
                "Demo cloud on this computer".to_string()
            } else {
                conn.map(|c| c.credential.clone()).unwrap_or_default()
            };
            ConnectionView {
                remote: describe_remote(&provider, &s.remote),
                provider,
                state: s.state,
                reason: s.reason,
                local_root: s.local_root.display().to_string(),
                account,
                synced_files: s.synced_files,
                skipped: s.skipped as u64,
                conflicts: s.conflicts as u64,
                last_sync: s.last_sync,
                paused: conn.is_some_and(|c| c.paused),
                sign_in_needed: s.sign_in_needed,
                name: s.name,
            }
        })
        .collect()
}

/// One line for the remote side of a connection, from its stored config.
pub fn describe_remote(provider: &str, config: &serde_json::Value) -> String {
    let field = |k: &str| config.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let root = |default: &str| {
        let r = field("root");
        if r.is_empty() {
            default.to_string()
        } else {
            r.to_string()
        }
    };
    match provider {
        "local" => field("path").to_string(),
        "webdav" => field("url").to_string(),
        "s3" => {
            let prefix = field("prefix");
            let base = format!("{}/{}", field("endpoint"), field("bucket"));
            if prefix.is_empty() {
                base
            } else {
                format!("{base}/{prefix}")
            }
        }
        "demo" => format!("Demo cloud {}", root("/CloudSync")),
        "dropbox" => format!("Dropbox {}", root("/CloudSync")),
        "gdrive" => format!(
            "Google Drive /{}",
            root("CloudSync").trim_start_matches('/')
        ),
        "baidu" => format!("Baidu Netdisk /apps/{}", field("app_name")),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn remotes_are_described_per_provider() {
        assert_eq!(
            describe_remote("local", &json!({"path": "/mnt/nas"})),
            "/mnt/nas"
        );
        assert_eq!(
            describe_remote(
                "s3",
                &json!({"endpoint": "http://h:9000", "bucket": "b", "prefix": "p/q"})
            ),
            "http://h:9000/b/p/q"
        );
        assert_eq!(
            describe_remote(
                "s3",
                &json!({"endpoint": "http://h:9000", "bucket": "b", "prefix": ""})
            ),
            "http://h:9000/b"
        );
        assert_eq!(describe_remote("dropbox", &json!({})), "Dropbox /CloudSync");
        assert_eq!(
            describe_remote("dropbox", &json!({"root": "/Work"})),
            "Dropbox /Work"
        );
        assert_eq!(
            describe_remote("demo", &json!({"demo": true})),
            "Demo cloud /CloudSync"
        );
        assert_eq!(
            describe_remote("baidu", &json!({"app_name": "CloudSync"})),
            "Baidu Netdisk /apps/CloudSync"
        );
    }
}
