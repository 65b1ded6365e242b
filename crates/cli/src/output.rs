//! Printing answers for people (tables, one line per item) and for scripts (`--json`).

use cloudsync_engine::control::{Client, Request, Response};
use cloudsync_engine::paths::ConfigDir;
use cloudsync_engine::Event;
use serde_json::Value;

/// How to show an answer.
#[derive(Debug)]
pub enum View {
    /// A fixed message on success.
    Message(String),
    /// Names affected, after a verb.
    Names(&'static str),
    /// The answer is a string.
    Text,
    /// Connection list.
    List,
    /// Status.
    Status,
    /// Sync results.
    Sync,
    /// Skipped items.
    Skipped,
    /// Conflicts.
    Conflicts,
    /// A plan.
    Plan,
    /// Activity.
    Log,
}

/// Writes one line to stdout; a closed pipe (`cloudsync log | head`) ends the process
/// quietly instead of panicking.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{args}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// `println!` that survives a closed pipe.
macro_rules! outln {
    ($($t:tt)*) => { $crate::output::write_line(format_args!($($t)*)) };
}

/// A remote config shown to people: its folder or URL (never secrets or references).
fn remote_label(r: &Value) -> String {
    if let Some(bucket) = r.get("bucket").and_then(Value::as_str) {
        let prefix = s(r, "prefix");
        return format!("{}/{bucket}/{prefix}", s(r, "endpoint"));
    }
    ["path", "url"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Value::as_str))
        .unwrap_or("?")
        .to_string()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn time(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "never".into())
}

/// Prints an answer; returns the exit code.
pub fn print(view: &View, resp: &Response, json: bool) -> u8 {
    if !resp.ok {
        if matches!(view, View::Sync) {
            print_sync(&resp.data);
        }
        eprintln!("error: {}", resp.error.as_deref().unwrap_or("failed"));
        return u8::try_from(resp.exit)
            .ok()
            .filter(|c| *c != 0)
            .unwrap_or(1);
    }
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&resp.data).unwrap_or_default()
        );
        return 0;
    }
    let empty = Vec::new();
    let rows = resp.data.as_array().unwrap_or(&empty);
    match view {
        View::Message(m) => outln!("{m}"),
        View::Names(verb) => {
            for n in rows {
                outln!("{verb} {}", n.as_str().unwrap_or(""));
            }
        }
        View::Text => outln!("{}", resp.data.as_str().unwrap_or("")),
        View::List => {
            if rows.is_empty() {
                outln!("no connections (add one with `cloudsync connection add`)");
            }
            for c in rows {
                outln!(
                    "{}\t{}\t{} <-> {}\t{}",
                    s(c, "name"),
                    s(c, "provider"),
                    s(c, "local_root"),
                    c.get("remote").map(remote_label).unwrap_or_default(),
                    if c.get("paused").and_then(Value::as_bool).unwrap_or(false) {
                        "paused"
                    } else {
                        "active"
                    }
                );
            }
        }
        View::Status => {
            if rows.is_empty() {
                outln!("no connections");
            }
            for c in rows {
                let reason = c
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                outln!(
                    "{}: {}{reason}; {} files in sync, {} skipped, {} conflicts; last sync {}",
                    s(c, "name"),
                    s(c, "state"),
                    c.get("synced_files").and_then(Value::as_u64).unwrap_or(0),
                    c.get("skipped").and_then(Value::as_u64).unwrap_or(0),
                    c.get("conflicts").and_then(Value::as_u64).unwrap_or(0),
                    time(c.get("last_sync").and_then(Value::as_i64)),
                );
            }
        }
        View::Sync => print_sync(&resp.data),
        View::Skipped => {
            if rows.is_empty() {
                outln!("nothing skipped");
            }
            for r in rows {
                outln!(
                    "{}\t{} side\t{}\t{}",
                    s(r, "connection"),
                    s(r, "side"),
                    s(r, "path"),
                    s(r, "reason")
                );
            }
        }
        View::Conflicts => {
            if rows.is_empty() {
                outln!("no open conflicts");
            }
            for r in rows {
                outln!(
                    "{}\t{}\t{}\tlosing version kept as {}",
                    s(r, "connection"),
                    time(r.get("time_ms").and_then(Value::as_i64)),
                    s(r, "path"),
                    s(r, "loser")
                );
            }
        }
        View::Plan => {
            if let Some(p) = resp.data.get("pending").filter(|p| !p.is_null()) {
                outln!(
                    "waiting for approval: deletes {} of {} local and {} of {} remote files{}",
                    p.get("deletes_local").and_then(Value::as_u64).unwrap_or(0),
                    p.get("local_files").and_then(Value::as_u64).unwrap_or(0),
                    p.get("deletes_remote").and_then(Value::as_u64).unwrap_or(0),
                    p.get("remote_files").and_then(Value::as_u64).unwrap_or(0),
                    if p.get("approved").and_then(Value::as_bool).unwrap_or(false) {
                        " (approved)"
                    } else {
                        ""
                    }
                );
            }
            let ops = resp
                .data
                .get("ops")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if ops.is_empty() {
                outln!("nothing to do");
            }
            for op in ops {
                outln!("{}", op.as_str().unwrap_or(""));
            }
        }
        View::Log => {
            for r in rows {
                let detail = r
                    .get("detail")
                    .and_then(Value::as_str)
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                outln!(
                    "{}\t{}\t{}\t{}\t{} bytes{detail}",
                    time(r.get("time_ms").and_then(Value::as_i64)),
                    s(r, "connection"),
                    s(r, "action"),
                    s(r, "path"),
                    r.get("bytes").and_then(Value::as_u64).unwrap_or(0)
                );
            }
        }
    }
    0
}

fn print_sync(data: &Value) {
    if let Some(map) = data.as_object() {
        if map.is_empty() {
            outln!("no active connections to sync");
        }
        for (name, r) in map {
            match r.get("error").and_then(Value::as_str) {
                Some(e) => outln!("{name}: failed: {e}"),
                None => outln!(
                    "{name}: in sync ({} operations in {} rounds)",
                    r.get("ops").and_then(Value::as_u64).unwrap_or(0),
                    r.get("rounds").and_then(Value::as_u64).unwrap_or(0)
                ),
            }
        }
    }
}

/// One human line for an event (`None` for the noisy ones).
pub fn event_line(ev: &Event) -> Option<String> {
    Some(match ev {
        Event::Status {
            connection,
            status,
            detail,
        } => format!(
            "[{connection}] {status}{}",
            detail
                .as_ref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        Event::TransferStarted { .. } | Event::TransferProgress { .. } => return None,
        // A finished transfer is reported by its `synced` event; only failures add news.
        Event::TransferFinished { ok: true, .. } => return None,
        Event::TransferFinished {
            connection,
            path,
            direction,
            ..
        } => format!("[{connection}] {direction:?} of {path} failed"),
        Event::Synced {
            connection,
            action,
            path,
        } => format!("[{connection}] {action} {path}"),
        Event::Skipped {
            connection,
            path,
            reason,
        } => format!("[{connection}] skipped {path}: {reason}"),
        Event::Conflict {
            connection,
            path,
            loser,
        } => format!("[{connection}] conflict {path}: losing version kept as {loser}"),
        Event::Error {
            connection,
            message,
        } => format!(
            "[{}] error: {message}",
            connection.as_deref().unwrap_or("cloudsync")
        ),
        Event::RoundFinished { connection, ops } => {
            format!("[{connection}] round finished, {ops} operations")
        }
    })
}

/// `status --follow`: the daemon's event stream (JSON lines with `--json`).
///
/// # Errors
/// When the daemon connection fails midway.
pub async fn follow(dir: &ConfigDir, json: bool) -> anyhow::Result<u8> {
    let Some(mut client) = Client::connect(&dir.socket()).await else {
        eprintln!(
            "error: no daemon runs for {}; start one with `cloudsync run`",
            dir.root().display()
        );
        return Ok(1);
    };
    let status = client.call(&Request::Status).await?;
    if json {
        // One JSON document per line, like the events that follow.
        outln!(
            "{}",
            serde_json::to_string(&status.data).unwrap_or_default()
        );
    } else {
        print(&View::Status, &status, false);
    }
    client.send(&Request::Follow).await?;
    while let Some(line) = client.next_line().await? {
        if json {
            outln!("{}", line.trim_end());
        } else if let Ok(ev) = serde_json::from_str::<Event>(&line) {
            if let Some(l) = event_line(&ev) {
                outln!("{l}");
            }
        }
    }
    Ok(0)
}
