//! The tray menu as data: a pure function of the live [`Snapshot`], so what the menu holds
//! is unit-tested without a desktop. `tray` turns it into the real menu; the item ids are
//! what its click handler dispatches on.

use cloudsync_engine::events::Direction;

use crate::live::Snapshot;

/// Transfers listed by name; the rest are counted.
const LISTED_TRANSFERS: usize = 5;

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A clickable (or greyed-out) line.
    Item {
        /// What a click dispatches on.
        id: String,
        /// The text.
        label: String,
        /// Clickable.
        enabled: bool,
    },
    /// A separator line.
    Separator,
}

/// What a click on an item asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Click {
    /// Open the folder holding the n-th recent file.
    Recent(usize),
    /// Pause every connection.
    PauseAll,
    /// Resume every connection.
    ResumeAll,
    /// Open a connection's sync folder.
    OpenFolder(String),
    /// Show the main window.
    OpenMain,
    /// Quit the app.
    Quit,
}

impl Click {
    /// The click an item id stands for (`None` for informational lines).
    pub fn parse(id: &str) -> Option<Click> {
        match id {
            "pause-all" => Some(Click::PauseAll),
            "resume-all" => Some(Click::ResumeAll),
            "open-main" => Some(Click::OpenMain),
            "quit" => Some(Click::Quit),
            _ => {
                if let Some(i) = id.strip_prefix("recent:") {
                    i.parse().ok().map(Click::Recent)
                } else {
                    id.strip_prefix("open:")
                        .map(|n| Click::OpenFolder(n.into()))
                }
            }
        }
    }
}

fn item(id: impl Into<String>, label: impl Into<String>, enabled: bool) -> Entry {
    Entry::Item {
        id: id.into(),
        label: label.into(),
        enabled,
    }
}

/// The menu for `snapshot`.
pub fn menu(snapshot: &Snapshot) -> Vec<Entry> {
    let mut m = vec![
        item("status", &snapshot.status_line, false),
        Entry::Separator,
    ];

    if snapshot.recent.is_empty() {
        m.push(item("recent-none", "No recently changed files", false));
    } else {
        m.push(item("recent-title", "Recently changed", false));
        for (i, r) in snapshot.recent.iter().enumerate() {
            let name = r.path.rsplit('/').next().unwrap_or(&r.path);
            m.push(item(
                format!("recent:{i}"),
                format!("{name}  ({})", r.connection),
                true,
            ));
        }
    }

    if !snapshot.transfers.is_empty() {
        m.push(Entry::Separator);
        for (i, t) in snapshot.transfers.iter().take(LISTED_TRANSFERS).enumerate() {
            let arrow = match t.direction {
                Direction::Upload => "↑",
                Direction::Download => "↓",
            };
            let name = t.path.rsplit('/').next().unwrap_or(&t.path);
            let percent = (t.done * 100).checked_div(t.total).unwrap_or(100).min(100);
            m.push(item(
                format!("transfer:{i}"),
                format!("{arrow} {name}  {percent}%  {}", speed(t.bytes_per_sec)),
                false,
            ));
        }
        let more = snapshot.transfers.len().saturating_sub(LISTED_TRANSFERS);
        if more > 0 {
            m.push(item("transfer-more", format!("and {more} more"), false));
        }
        m.push(item(
            "transfer-total",
            format!("Total {}", speed(snapshot.total_bytes_per_sec)),
            false,
        ));
    }

    m.push(Entry::Separator);
    let any_running = snapshot.connections.iter().any(|c| !c.paused);
    let any_paused = snapshot.connections.iter().any(|c| c.paused);
    m.push(item("pause-all", "Pause all", any_running));
    m.push(item("resume-all", "Resume all", any_paused));
    for c in &snapshot.connections {
        m.push(item(
            format!("open:{}", c.name),
            format!("Open sync folder: {}", c.name),
            true,
        ));
    }
    m.push(Entry::Separator);
    m.push(item("open-main", "Open CloudSync", true));
    m.push(item("quit", "Quit", true));
    m
}

/// A speed for people: `0 B/s`, `512 B/s`, `1.5 KB/s`, `12.3 MB/s`.
pub fn speed(bytes_per_sec: u64) -> String {
    const UNITS: [&str; 4] = ["B/s", "KB/s", "MB/s", "GB/s"];
    let mut v = bytes_per_sec as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes_per_sec} B/s")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{ConnectionView, Icon, RecentFile, Transfer};

    fn conn(name: &str, paused: bool) -> ConnectionView {
        ConnectionView {
            name: name.into(),
            provider: "demo".into(),
            state: if paused { "paused" } else { "idle" }.into(),
            reason: None,
            local_root: format!("/home/u/{name}"),
            remote: "Demo cloud /CloudSync".into(),
            account: "dropbox:demo".into(),
            synced_files: 1,
            skipped: 0,
            conflicts: 0,
            last_sync: None,
            paused,
            sign_in_needed: false,
        }
    }

    fn snapshot(connections: Vec<ConnectionView>) -> Snapshot {
        Snapshot {
            status_line: "Up to date".into(),
            icon: Icon::Idle,
            connections,
            transfers: vec![],
            total_bytes_per_sec: 0,
            recent: vec![],
        }
    }

    fn labels(m: &[Entry]) -> Vec<(String, bool)> {
        m.iter()
            .filter_map(|e| match e {
                Entry::Item { label, enabled, .. } => Some((label.clone(), *enabled)),
                Entry::Separator => None,
            })
            .collect()
    }

    #[test]
    fn idle_menu_has_status_pause_open_folders_main_and_quit() {
        let m = menu(&snapshot(vec![conn("Demo", false), conn("NAS", false)]));
        assert_eq!(
            labels(&m),
            vec![
                ("Up to date".into(), false),
                ("No recently changed files".into(), false),
                ("Pause all".into(), true),
                ("Resume all".into(), false),
                ("Open sync folder: Demo".into(), true),
                ("Open sync folder: NAS".into(), true),
                ("Open CloudSync".into(), true),
                ("Quit".into(), true),
            ]
        );
    }

    #[test]
    fn paused_connections_enable_resume_and_disable_pause() {
        let m = menu(&snapshot(vec![conn("Demo", true)]));
        let l = labels(&m);
        assert!(l.contains(&("Pause all".into(), false)));
        assert!(l.contains(&("Resume all".into(), true)));
    }

    #[test]
    fn recent_files_and_transfers_are_listed_with_progress_and_speed() {
        let mut s = snapshot(vec![conn("Demo", false)]);
        s.recent = vec![RecentFile {
            connection: "Demo".into(),
            path: "Docs/report.pdf".into(),
            action: "download".into(),
            time_ms: 1,
        }];
        s.transfers = (0..7)
            .map(|i| Transfer {
                connection: "Demo".into(),
                path: format!("big/{i}.bin"),
                direction: if i == 0 {
                    Direction::Upload
                } else {
                    Direction::Download
                },
                done: 25,
                total: 100,
                bytes_per_sec: 1_500_000,
            })
            .collect();
        s.total_bytes_per_sec = 10_500_000;
        let m = menu(&s);
        let l = labels(&m);
        assert!(l.contains(&("Recently changed".into(), false)));
        assert!(l.contains(&("report.pdf  (Demo)".into(), true)));
        assert!(l.contains(&("↑ 0.bin  25%  1.5 MB/s".into(), false)));
        assert!(l.contains(&("↓ 4.bin  25%  1.5 MB/s".into(), false)));
        assert!(!l.iter().any(|(x, _)| x.contains("5.bin")));
        assert!(l.contains(&("and 2 more".into(), false)));
        assert!(l.contains(&("Total 10.5 MB/s".into(), false)));
        assert!(m.contains(&Entry::Item {
            id: "recent:0".into(),
            label: "report.pdf  (Demo)".into(),
            enabled: true
        }));
    }

    #[test]
    fn every_clickable_id_parses_to_its_click() {
        let mut s = snapshot(vec![conn("My files", false)]);
        s.recent = vec![RecentFile {
            connection: "My files".into(),
            path: "a".into(),
            action: "upload".into(),
            time_ms: 1,
        }];
        let clicks: Vec<Click> = menu(&s)
            .iter()
            .filter_map(|e| match e {
                Entry::Item {
                    id, enabled: true, ..
                } => Click::parse(id),
                _ => None,
            })
            .collect();
        assert_eq!(
            clicks,
            vec![
                Click::Recent(0),
                Click::PauseAll,
                Click::OpenFolder("My files".into()),
                Click::OpenMain,
                Click::Quit
            ]
        );
        assert_eq!(Click::parse("status"), None);
    }

    #[test]
    fn speeds_read_naturally() {
        assert_eq!(speed(0), "0 B/s");
        assert_eq!(speed(999), "999 B/s");
        assert_eq!(speed(1_500), "1.5 KB/s");
        assert_eq!(speed(12_345_678), "12.3 MB/s");
        assert_eq!(speed(2_000_000_000), "2.0 GB/s");
    }
}
