//! Hours of the week when syncing may run: the [`Schedule`] stored in a connection's
//! settings, its text form (`mon-fri 9-17; sat,sun 10-12`) and the "may we sync now?" test.
//!
//! Grammar of the text form (case-insensitive):
//!
//! ```text
//! spec   = "always" | "never" | entry { ";" entry }
//! entry  = DAYS HOURS
//! DAYS   = item { "," item }        item = "*" | day | day "-" day   (ranges may wrap: fri-mon)
//! HOURS  = "*" | H "-" H            start 0..=23 inclusive, end 0..=24 exclusive
//! ```
//!
//! An hour range whose end is not after its start wraps past midnight into the next day
//! (`fri 22-6` is Friday 22:00 to Saturday 06:00; Sunday wraps to Monday).

use std::fmt;

use chrono::{Datelike, Timelike};
use serde::{Deserialize, Serialize};

/// Hours in a week.
const WEEK_HOURS: usize = 7 * 24;

/// Day names as the canonical form writes them, Monday first.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Full day names, accepted as well as the short ones.
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Why a schedule spec could not be parsed. Each variant names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The spec held no entries.
    #[error("empty schedule: use `always`, or entries like `mon-fri 9-17`")]
    Empty,
    /// An entry did not have both a day part and an hour part.
    #[error("schedule entry {0:?} needs days and hours, like `mon-fri 9-17`")]
    MissingHours(String),
    /// A day name or day range was not understood.
    #[error("unknown day {0:?} in schedule (use mon..sun, a range like mon-fri, or *)")]
    BadDay(String),
    /// An hour range was not understood or out of bounds.
    #[error("bad hours {part:?} in schedule: {reason}")]
    BadHours {
        /// The hour part as written.
        part: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Hours of the week when syncing may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Bit `day * 24 + hour` set when syncing may run (day 0 = Monday).
    pub hours: Vec<bool>,
}

impl Schedule {
    /// Every hour allowed.
    pub fn always() -> Schedule {
        Schedule {
            hours: vec![true; WEEK_HOURS],
        }
    }

    /// No hour allowed.
    pub fn never() -> Schedule {
        Schedule {
            hours: vec![false; WEEK_HOURS],
        }
    }

    /// Parses the text form described in the module docs, e.g. `mon-fri 9-17; sat,sun 10-12`.
    ///
    /// # Errors
    /// [`ScheduleError`] naming the entry, day or hour part that is wrong.
    pub fn parse(spec: &str) -> Result<Schedule, ScheduleError> {
        let trimmed = spec.trim();
        if trimmed.eq_ignore_ascii_case("always") {
            return Ok(Schedule::always());
        }
        if trimmed.eq_ignore_ascii_case("never") {
            return Ok(Schedule::never());
        }
        let mut schedule = Schedule::never();
        let mut entries = 0;
        // Empty entries are tolerated so a trailing `;` is not an error.
        for entry in trimmed.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            entries += 1;
            let Some((days_part, hours_part)) = entry.rsplit_once(char::is_whitespace) else {
                return Err(ScheduleError::MissingHours(entry.to_string()));
            };
            // Spaces inside the day part (`mon, tue`, `mon - fri`) carry no meaning.
            let days_part: String = days_part.split_whitespace().collect();
            let days = parse_days(&days_part)?;
            let (start, end) = parse_hours(hours_part)?;
            for (day, _) in days.iter().enumerate().filter(|(_, &on)| on) {
                schedule.set_range(day, start, end);
            }
        }
        if entries == 0 {
            return Err(ScheduleError::Empty);
        }
        Ok(schedule)
    }

    /// True when syncing may run during `hour` (0..=23) of day `weekday_from_monday`
    /// (0 = Monday .. 6 = Sunday). Out-of-range arguments, and hours missing from a
    /// short `hours` vector, are not allowed.
    pub fn allows(&self, weekday_from_monday: u32, hour: u32) -> bool {
        if weekday_from_monday >= 7 || hour >= 24 {
            return false;
        }
        let (Ok(day), Ok(hour)) = (usize::try_from(weekday_from_monday), usize::try_from(hour))
        else {
            return false;
        };
        self.hours.get(day * 24 + hour).copied().unwrap_or(false)
    }

    /// True when syncing may run at `t`, judged by the wall-clock hour in `t`'s own time
    /// zone (pass a `DateTime<Local>` to use the machine's zone).
    pub fn allows_at<Tz: chrono::TimeZone>(&self, t: chrono::DateTime<Tz>) -> bool {
        self.allows_naive(t.naive_local())
    }

    /// True when syncing may run at the wall-clock time `t`.
    pub fn allows_naive(&self, t: chrono::NaiveDateTime) -> bool {
        self.allows(t.weekday().num_days_from_monday(), t.hour())
    }

    /// True when every hour of the week is allowed.
    pub fn is_always(&self) -> bool {
        (0..WEEK_HOURS).all(|i| self.hours.get(i).copied().unwrap_or(false))
    }

    /// True when no hour of the week is allowed.
    pub fn is_never(&self) -> bool {
        !self.hours.iter().take(WEEK_HOURS).any(|&h| h)
    }

    /// Allows `start..end` on `day`, wrapping into the next day when `end <= start`.
    fn set_range(&mut self, day: usize, start: usize, end: usize) {
        let mut mark = |d: usize, h: usize| {
            if let Some(slot) = self.hours.get_mut((d % 7) * 24 + h) {
                *slot = true;
            }
        };
        if end > start {
            (start..end).for_each(|h| mark(day, h));
        } else {
            (start..24).for_each(|h| mark(day, h));
            (0..end).for_each(|h| mark(day + 1, h));
        }
    }

    /// The allowed hours of `day` as a 24-entry pattern.
    fn day_pattern(&self, day: u32) -> [bool; 24] {
        let mut out = [false; 24];
        for (hour, slot) in (0u32..).zip(out.iter_mut()) {
            *slot = self.allows(day, hour);
        }
        out
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::always()
    }
}

impl fmt::Display for Schedule {
    /// Writes the canonical spec: `always`, `never`, or one entry per run of allowed hours,
    /// days with the same hours grouped (`mon-fri 9-17; sat,sun *`). Hour runs never wrap in
    /// this form, so it parses back to exactly the same schedule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_always() {
            return f.write_str("always");
        }
        if self.is_never() {
            return f.write_str("never");
        }
        // Group days by identical hour patterns, in order of each pattern's first day.
        let mut groups: Vec<([bool; 24], [bool; 7])> = Vec::new();
        for day in 0u32..7 {
            let pattern = self.day_pattern(day);
            if !pattern.iter().any(|&h| h) {
                continue;
            }
            let idx = usize::try_from(day).unwrap_or(0);
            match groups.iter_mut().find(|(p, _)| *p == pattern) {
                Some((_, days)) => days[idx] = true,
                None => {
                    let mut days = [false; 7];
                    days[idx] = true;
                    groups.push((pattern, days));
                }
            }
        }
        let mut first = true;
        for (pattern, days) in &groups {
            let days_text = format_days(days);
            for (start, end) in runs(pattern) {
                if !first {
                    f.write_str("; ")?;
                }
                first = false;
                if start == 0 && end == 24 {
                    write!(f, "{days_text} *")?;
                } else {
                    write!(f, "{days_text} {start}-{end}")?;
                }
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Schedule::parse(s)
    }
}

/// Parses a day part: `*`, a day, a range (wrapping allowed) or a comma list of those.
fn parse_days(part: &str) -> Result<[bool; 7], ScheduleError> {
    let mut days = [false; 7];
    if part.is_empty() {
        return Err(ScheduleError::BadDay(part.to_string()));
    }
    for item in part.split(',') {
        if item == "*" {
            days = [true; 7];
            continue;
        }
        let (from, to) = match item.split_once('-') {
            Some((a, b)) => (day_index(a), day_index(b)),
            None => (day_index(item), day_index(item)),
        };
        let (Some(from), Some(to)) = (from, to) else {
            return Err(ScheduleError::BadDay(item.to_string()));
        };
        let mut d = from;
        loop {
            days[d] = true;
            if d == to {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Ok(days)
}

/// The index (0 = Monday) of a short or full day name, case-insensitive.
fn day_index(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| *d == lower)
        .or_else(|| FULL_DAY_NAMES.iter().position(|d| *d == lower))
}

/// Parses an hour part into `(start, end)`; `*` is the whole day.
fn parse_hours(part: &str) -> Result<(usize, usize), ScheduleError> {
    let bad = |reason| ScheduleError::BadHours {
        part: part.to_string(),
        reason,
    };
    if part == "*" {
        return Ok((0, 24));
    }
    let Some((a, b)) = part.split_once('-') else {
        return Err(bad("expected a range like 9-17, or *"));
    };
    let parse = |s: &str| {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) || s.len() > 2 {
            None
        } else {
            s.parse::<usize>().ok()
        }
    };
    let (Some(start), Some(end)) = (parse(a), parse(b)) else {
        return Err(bad("hours must be whole numbers, like 9-17"));
    };
    if start > 23 {
        return Err(bad("start hour must be between 0 and 23"));
    }
    if end > 24 {
        return Err(bad("end hour must be between 0 and 24"));
    }
    if start == end {
        return Err(bad(
            "start and end are equal, so no hour is covered (use * for all day)",
        ));
    }
    Ok((start, end))
}

/// Writes a day set as `*`, or a comma list of single days and `a-b` runs of 3+ days.
fn format_days(days: &[bool; 7]) -> String {
    if days.iter().all(|&d| d) {
        return "*".to_string();
    }
    let mut parts = Vec::new();
    let mut d = 0;
    while d < 7 {
        if !days[d] {
            d += 1;
            continue;
        }
        let start = d;
        while d + 1 < 7 && days[d + 1] {
            d += 1;
        }
        match d - start {
            0 => parts.push(DAY_NAMES[start].to_string()),
            1 => {
                parts.push(DAY_NAMES[start].to_string());
                parts.push(DAY_NAMES[d].to_string());
            }
            _ => parts.push(format!("{}-{}", DAY_NAMES[start], DAY_NAMES[d])),
        }
        d += 1;
    }
    parts.join(",")
}

/// The maximal runs of allowed hours in one day, as `(start, end)` with `end` exclusive.
fn runs(pattern: &[bool; 24]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut h = 0;
    while h < 24 {
        if pattern[h] {
            let start = h;
            while h < 24 && pattern[h] {
                h += 1;
            }
            out.push((start, h));
        } else {
            h += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn parse(s: &str) -> Schedule {
        Schedule::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn allowed_hours(s: &Schedule) -> Vec<(u32, u32)> {
        (0..7)
            .flat_map(|d| (0..24).map(move |h| (d, h)))
            .filter(|&(d, h)| s.allows(d, h))
            .collect()
    }

    #[test]
    fn always_and_never() {
        let a = parse("always");
        assert_eq!(a, Schedule::always());
        assert_eq!(parse("  ALWAYS "), a);
        assert!(a.is_always());
        assert_eq!(a.hours.len(), 168);
        assert_eq!(allowed_hours(&a).len(), 168);
        let n = parse("never");
        assert!(n.is_never());
        assert!(allowed_hours(&n).is_empty());
        assert_eq!(parse("* *"), a);
        assert_eq!(parse("* 0-24"), a);
    }

    #[test]
    fn the_example_spec() {
        let s = parse("mon-fri 9-17; sat,sun 10-12");
        for day in 0..5 {
            assert!(!s.allows(day, 8));
            assert!(s.allows(day, 9), "day {day} 9h");
            assert!(s.allows(day, 16));
            assert!(!s.allows(day, 17), "end is exclusive");
        }
        for day in 5..7 {
            assert!(!s.allows(day, 9));
            assert!(s.allows(day, 10));
            assert!(s.allows(day, 11));
            assert!(!s.allows(day, 12));
        }
        assert_eq!(allowed_hours(&s).len(), 5 * 8 + 2 * 2);
    }

    #[test]
    fn hours_wrap_past_midnight_and_sunday_wraps_to_monday() {
        let s = parse("fri 22-6");
        assert!(s.allows(4, 22));
        assert!(s.allows(4, 23));
        assert!(s.allows(5, 0));
        assert!(s.allows(5, 5));
        assert!(!s.allows(5, 6));
        assert!(!s.allows(4, 5), "only the night after friday");
        let sun = parse("sun 23-1");
        assert!(sun.allows(6, 23));
        assert!(sun.allows(0, 0));
        assert!(!sun.allows(0, 1));
        assert_eq!(
            allowed_hours(&parse("mon 20-0")),
            vec![(0, 20), (0, 21), (0, 22), (0, 23)]
        );
    }

    #[test]
    fn day_ranges_wrap_and_lists_combine() {
        let s = parse("fri-mon 9-10");
        let days: Vec<u32> = allowed_hours(&s).into_iter().map(|(d, _)| d).collect();
        assert_eq!(days, vec![0, 4, 5, 6]);
        let s = parse("Mon,WED,fri-sat 0-1");
        let days: Vec<u32> = allowed_hours(&s).into_iter().map(|(d, _)| d).collect();
        assert_eq!(days, vec![0, 2, 4, 5]);
        assert_eq!(parse("monday-tuesday 1-2"), parse("mon-tue 1-2"));
        assert_eq!(parse("mon , tue 1-2"), parse("mon,tue 1-2"));
        assert_eq!(parse("mon-mon 1-2"), parse("mon 1-2"));
        assert_eq!(parse("mon 1-2;;"), parse("mon 1-2"));
        assert_eq!(parse("*,mon 1-2"), parse("* 1-2"));
    }

    #[test]
    fn errors_name_the_bad_part() {
        assert_eq!(Schedule::parse(""), Err(ScheduleError::Empty));
        assert_eq!(Schedule::parse(" ; ;"), Err(ScheduleError::Empty));
        assert_eq!(
            Schedule::parse("mon"),
            Err(ScheduleError::MissingHours("mon".into()))
        );
        assert_eq!(
            Schedule::parse("mon-fri 9-17; funday 1-2"),
            Err(ScheduleError::BadDay("funday".into()))
        );
        assert_eq!(
            Schedule::parse("mon-xyz 1-2"),
            Err(ScheduleError::BadDay("mon-xyz".into()))
        );
        assert_eq!(
            Schedule::parse("mon,,tue 1-2"),
            Err(ScheduleError::BadDay(String::new()))
        );
        for (spec, part) in [
            ("mon 9", "9"),
            ("mon 9-25", "9-25"),
            ("mon 24-2", "24-2"),
            ("mon 9-9", "9-9"),
            ("mon a-b", "a-b"),
            ("mon -1-5", "-1-5"),
            ("mon 9-", "9-"),
            ("mon 009-10", "009-10"),
        ] {
            match Schedule::parse(spec) {
                Err(ScheduleError::BadHours { part: p, .. }) => assert_eq!(p, part, "{spec}"),
                other => panic!("{spec:?} gave {other:?}"),
            }
        }
        let msg = Schedule::parse("sat 9-99")
            .expect_err("99 is no hour")
            .to_string();
        assert!(msg.contains("9-99"), "{msg}");
        let msg = Schedule::parse("blursday 1-2")
            .expect_err("no such day")
            .to_string();
        assert!(msg.contains("blursday"), "{msg}");
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(parse("always").to_string(), "always");
        assert_eq!(parse("never").to_string(), "never");
        assert_eq!(
            parse("sat,sun 10-12; mon-fri 9-17").to_string(),
            "mon-fri 9-17; sat,sun 10-12"
        );
        assert_eq!(parse("sat-sun *").to_string(), "sat,sun *");
        assert_eq!(parse("* 9-17").to_string(), "* 9-17");
        assert_eq!(parse("fri 22-6").to_string(), "fri 22-24; sat 0-6");
        assert_eq!(
            parse("mon,tue,wed,fri 1-3; mon 5-6").to_string(),
            "mon 1-3; mon 5-6; tue,wed,fri 1-3"
        );
    }

    #[test]
    fn display_round_trips_on_examples() {
        for spec in [
            "always",
            "never",
            "mon-fri 9-17; sat,sun 10-12",
            "fri-mon 22-6",
            "sun 23-1",
            "* 0-1; wed *",
            "tue 3-4; thu 3-4; sat 3-4",
        ] {
            let s = parse(spec);
            let shown = s.to_string();
            assert_eq!(parse(&shown), s, "{spec:?} -> {shown:?}");
            assert_eq!(parse(&shown).to_string(), shown, "canonical form is stable");
        }
    }

    #[test]
    fn allows_rejects_out_of_range_and_short_vectors() {
        let a = Schedule::always();
        assert!(!a.allows(7, 0));
        assert!(!a.allows(0, 24));
        let short = Schedule {
            hours: vec![true; 10],
        };
        assert!(short.allows(0, 9));
        assert!(!short.allows(0, 10));
        assert!(!short.is_always());
        assert_eq!(parse(&short.to_string()), parse("mon 0-10"));
    }

    #[test]
    fn allows_at_uses_wall_clock_time() {
        let s = parse("mon-fri 9-17");
        // 2026-11-24 is a Tuesday.
        let tue_10 = NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(10, 30, 0))
            .expect("valid date");
        let tue_18 = NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(18, 0, 0))
            .expect("valid date");
        let sat_10 = NaiveDate::from_ymd_opt(2026, 11, 28)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .expect("valid date");
        assert!(s.allows_naive(tue_10));
        assert!(!s.allows_naive(tue_18));
        assert!(!s.allows_naive(sat_10));
        let utc = chrono::Utc.from_utc_datetime(&tue_10);
        assert!(s.allows_at(utc));
        // A fixed +09:00 zone turns 10:30 UTC into 19:30 local, outside the window.
        let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("valid offset");
        assert!(!s.allows_at(utc.with_timezone(&tokyo)));
        assert!(Schedule::always().allows_at(chrono::Local::now()));
    }

    #[test]
    fn default_is_always() {
        assert_eq!(Schedule::default(), Schedule::always());
        assert_eq!("mon 1-2".parse::<Schedule>(), Ok(parse("mon 1-2")));
    }

    proptest! {
        #[test]
        fn display_round_trips_for_any_schedule(bits in proptest::collection::vec(any::<bool>(), 168)) {
            let s = Schedule { hours: bits };
            let shown = s.to_string();
            let back = Schedule::parse(&shown);
            prop_assert_eq!(back, Ok(s), "{}", shown);
        }
    }
}
