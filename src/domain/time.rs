//! Time as people in England read it: Europe/London on the page, UTC in storage.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;

/// Interpret a wall-clock date and time in London as an instant.
///
/// In the autumn hour that happens twice the earlier (BST) reading is taken; a time that does
/// not exist (the spring-forward hour) gives `None`.
pub fn london_to_utc(date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    match London.from_local_datetime(&NaiveDateTime::new(date, time)) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// The London calendar date of an instant.
pub fn london_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&London).date_naive()
}

/// "3 December 2026 at 4:45pm"
pub fn format_datetime(t: DateTime<Utc>) -> String {
    let l = t.with_timezone(&London);
    format!("{} at {}", l.format("%-d %B %Y"), format_clock(l.time()))
}

/// "3 December 2026"
pub fn format_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// "4:45pm", "12pm" for midday, "12am" for midnight.
fn format_clock(t: NaiveTime) -> String {
    use chrono::Timelike;
    let (pm, h12) = t.hour12();
    let suffix = if pm { "pm" } else { "am" };
    if t.minute() == 0 {
        format!("{h12}{suffix}")
    } else {
        format!("{h12}:{:02}{suffix}", t.minute())
    }
}

/// Parse a 24-hour time typed as "16:45", "4:45pm", "9am" or "0930".
pub fn parse_clock(input: &str) -> Option<NaiveTime> {
    // Only digits, separators and am/pm can make a time: anything else (a letter with an accent,
    // full-width digits) is refused here, before any slicing by byte position.
    if !input
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | ' '))
    {
        return None;
    }
    let s = input
        .trim()
        .to_lowercase()
        .replace(' ', "")
        .replace('.', ":");
    let (body, offset) = if let Some(b) = s.strip_suffix("pm") {
        (b.to_owned(), Some(12))
    } else if let Some(b) = s.strip_suffix("am") {
        (b.to_owned(), Some(0))
    } else {
        (s.clone(), None)
    };
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None if body.len() == 4 && offset.is_none() => (
            body[..2].parse::<u32>().ok()?,
            body[2..].parse::<u32>().ok()?,
        ),
        None => (body.parse::<u32>().ok()?, 0),
    };
    let h = match offset {
        Some(add) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            (h % 12) + add
        }
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_typed_text_makes_the_time_parser_panic(s in "\\PC{0,12}") {
            let _ = parse_clock(&s);
        }
    }

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }
    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn summer_time_is_an_hour_ahead_of_utc() {
        let u = london_to_utc(d(2026, 7, 1), t(16, 45)).unwrap();
        assert_eq!(u.to_rfc3339(), "2026-07-01T15:45:00+00:00");
        assert_eq!(format_datetime(u), "1 July 2026 at 4:45pm");
    }

    #[test]
    fn winter_time_equals_utc() {
        let u = london_to_utc(d(2026, 12, 3), t(16, 45)).unwrap();
        assert_eq!(u.to_rfc3339(), "2026-12-03T16:45:00+00:00");
        assert_eq!(format_datetime(u), "3 December 2026 at 4:45pm");
    }

    #[test]
    fn clock_changes_of_2026() {
        // 29 March 2026: 01:00 GMT jumps to 02:00 BST, so 01:30 never happens.
        assert_eq!(london_to_utc(d(2026, 3, 29), t(1, 30)), None);
        // 25 October 2026: 01:30 happens twice; the first (BST) one is taken.
        let u = london_to_utc(d(2026, 10, 25), t(1, 30)).unwrap();
        assert_eq!(u.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn midnight_and_midday() {
        let u = london_to_utc(d(2026, 12, 3), t(0, 0)).unwrap();
        assert_eq!(format_datetime(u), "3 December 2026 at 12am");
        let u = london_to_utc(d(2026, 12, 3), t(12, 0)).unwrap();
        assert_eq!(format_datetime(u), "3 December 2026 at 12pm");
    }

    #[test]
    fn late_evening_utc_can_be_next_day_in_london() {
        let u = Utc.with_ymd_and_hms(2026, 6, 30, 23, 30, 0).unwrap();
        assert_eq!(london_date(u), d(2026, 7, 1));
    }

    #[test]
    fn parses_times_people_type() {
        assert_eq!(parse_clock("16:45"), Some(t(16, 45)));
        assert_eq!(parse_clock("4:45pm"), Some(t(16, 45)));
        assert_eq!(parse_clock("4.45 PM"), Some(t(16, 45)));
        assert_eq!(parse_clock("9am"), Some(t(9, 0)));
        assert_eq!(parse_clock("12am"), Some(t(0, 0)));
        assert_eq!(parse_clock("0930"), Some(t(9, 30)));
        assert_eq!(parse_clock("25:00"), None);
        assert_eq!(parse_clock("13pm"), None);
        assert_eq!(parse_clock("teatime"), None);
        assert_eq!(parse_clock(""), None);
        // Multi-byte characters never panic (they once did, slicing "0é30" mid-character).
        assert_eq!(parse_clock("0é30"), None);
        assert_eq!(parse_clock("１２:３０"), None);
        assert_eq!(parse_clock("é"), None);
        assert_eq!(parse_clock("12:3é"), None);
    }
}
