//! Dropbox timestamps: `%Y-%m-%dT%H:%M:%SZ`, UTC, whole seconds (Stone `DropboxTimestamp`).

use chrono::{DateTime, NaiveDateTime, Utc};

const FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Seconds since the epoch as a Dropbox timestamp.
pub fn format_timestamp(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format(FORMAT)
        .to_string()
}

/// A Dropbox timestamp as seconds since the epoch; `None` when it is not one.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(text, FORMAT)
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// Now, in seconds since the epoch.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_round_trips() {
        let t = parse_timestamp("2015-05-12T15:50:38Z").expect("parse");
        assert_eq!(format_timestamp(t), "2015-05-12T15:50:38Z");
        assert_eq!(parse_timestamp("2015-05-12T15:50:38.5Z"), None);
    }
}
