//! The working-day calendar of England and Wales: weekends, bank holidays (by rule for any year,
//! the one-off changes of recent years as data, and days an administrator adds or removes), and
//! the close of the working day. Everything here is in Europe/London local dates and times.
//!
//! - "N working days after D" counts N working days after the date of D (D itself never counts).
//! - "The same working day" for an instant means the close of that day if it is a working day and
//!   the close has not passed; otherwise the close of the next working day.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};

use super::time::{london_date, london_to_utc};

/// Why a date is not a working day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotWorking {
    Weekend(Weekday),
    Holiday(String),
}

impl std::fmt::Display for NotWorking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotWorking::Weekend(Weekday::Sat) => f.write_str("Saturday"),
            NotWorking::Weekend(_) => f.write_str("Sunday"),
            NotWorking::Holiday(name) => f.write_str(name),
        }
    }
}

/// An administrator's change to the calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An extra non-working day (for example a bank holiday announced for a royal occasion).
    Holiday(String),
    /// A day the rules make a holiday that is a working day after all.
    Working,
}

/// Easter Sunday in the Gregorian calendar (the anonymous algorithm, valid for any year).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a real date")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a fixed date in the rules")
}

fn first_monday(year: i32, month: u32) -> NaiveDate {
    let mut d = date(year, month, 1);
    while d.weekday() != Weekday::Mon {
        d = d.succ_opt().expect("within the month");
    }
    d
}

fn last_monday(year: i32, month: u32) -> NaiveDate {
    let next = if month == 12 {
        date(year + 1, 1, 1)
    } else {
        date(year, month + 1, 1)
    };
    let mut d = next.pred_opt().expect("the month has days");
    while d.weekday() != Weekday::Mon {
        d = d.pred_opt().expect("within the month");
    }
    d
}

/// One-off changes to the usual bank holidays, as published on GOV.UK: moved days and extra days.
/// (moved from, moved to, name) — `None` for "from" is an extra day.
type Ymd = (i32, u32, u32);
const ONE_OFF: &[(Option<Ymd>, Ymd, &str)] = &[
    (None, (2011, 4, 29), "Royal wedding"),
    (Some((2012, 5, 28)), (2012, 6, 4), "Spring bank holiday"),
    (None, (2012, 6, 5), "Queen's Diamond Jubilee"),
    (
        Some((2020, 5, 4)),
        (2020, 5, 8),
        "Early May bank holiday (VE day)",
    ),
    (Some((2022, 5, 30)), (2022, 6, 2), "Spring bank holiday"),
    (None, (2022, 6, 3), "Platinum Jubilee bank holiday"),
    (
        None,
        (2022, 9, 19),
        "Bank holiday for the State Funeral of Queen Elizabeth II",
    ),
    (
        None,
        (2023, 5, 8),
        "Bank holiday for the coronation of King Charles III",
    ),
];

/// The bank holidays of England and Wales in `year`, by rule plus the one-off changes.
pub fn bank_holidays(year: i32) -> BTreeMap<NaiveDate, String> {
    let mut days = BTreeMap::new();
    let mut add = |d: NaiveDate, name: &str| {
        days.insert(d, name.to_owned());
    };
    // New Year's Day, or the Monday after it falls at a weekend.
    let ny = date(year, 1, 1);
    match ny.weekday() {
        Weekday::Sat => add(date(year, 1, 3), "New Year's Day (substitute day)"),
        Weekday::Sun => add(date(year, 1, 2), "New Year's Day (substitute day)"),
        _ => add(ny, "New Year's Day"),
    }
    let easter = easter_sunday(year);
    add(easter - Duration::days(2), "Good Friday");
    add(easter + Duration::days(1), "Easter Monday");
    add(first_monday(year, 5), "Early May bank holiday");
    add(last_monday(year, 5), "Spring bank holiday");
    add(last_monday(year, 8), "Summer bank holiday");
    // Christmas and Boxing Day, with substitute days when either falls at a weekend.
    let christmas = date(year, 12, 25);
    match christmas.weekday() {
        Weekday::Fri => {
            add(christmas, "Christmas Day");
            add(date(year, 12, 28), "Boxing Day (substitute day)");
        }
        Weekday::Sat => {
            add(date(year, 12, 27), "Christmas Day (substitute day)");
            add(date(year, 12, 28), "Boxing Day (substitute day)");
        }
        Weekday::Sun => {
            add(date(year, 12, 26), "Boxing Day");
            add(date(year, 12, 27), "Christmas Day (substitute day)");
        }
        _ => {
            add(christmas, "Christmas Day");
            add(date(year, 12, 26), "Boxing Day");
        }
    }
    for (from, (y, m, d), name) in ONE_OFF {
        if *y != year {
            continue;
        }
        if let Some((fy, fm, fd)) = from {
            days.remove(&date(*fy, *fm, *fd));
        }
        days.insert(date(*y, *m, *d), (*name).to_owned());
    }
    days
}

/// The calendar Haven counts working days with.
#[derive(Clone, Debug)]
pub struct Calendar {
    /// Administrators' changes, by date.
    changes: BTreeMap<NaiveDate, Change>,
    /// The close of the working day.
    close: NaiveTime,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::new(
            BTreeMap::new(),
            NaiveTime::from_hms_opt(17, 0, 0).expect("17:00"),
        )
    }
}

/// The years whose bank holidays are worked out once and kept for the life of the process.
const KEPT_YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// The bank holiday on `d`, if any. A dashboard asks this for every day between each deadline
/// and today (thousands of times a page), so the rules' results for `KEPT_YEARS` are worked out
/// once per process (fixed data, the same in every instance; about 800 dates); other years are
/// worked out when asked.
fn bank_holiday(d: NaiveDate) -> Option<String> {
    if !KEPT_YEARS.contains(&d.year()) {
        return bank_holidays(d.year()).remove(&d);
    }
    kept_bank_holidays().get(&d).cloned()
}

fn kept_bank_holidays() -> &'static BTreeMap<NaiveDate, String> {
    static KEPT: std::sync::OnceLock<BTreeMap<NaiveDate, String>> = std::sync::OnceLock::new();
    KEPT.get_or_init(|| KEPT_YEARS.flat_map(bank_holidays).collect())
}

/// The bank holidays after `from` up to and including `to`, by the rules.
fn bank_holidays_in(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    use std::ops::Bound::Included;
    (from.year()..=to.year())
        .flat_map(|year| {
            if KEPT_YEARS.contains(&year) {
                let first = date(year, 1, 1).max(from.succ_opt().unwrap_or(from));
                let last = date(year, 12, 31).min(to);
                if first > last {
                    return Vec::new();
                }
                kept_bank_holidays()
                    .range((Included(first), Included(last)))
                    .map(|(d, _)| *d)
                    .collect()
            } else {
                bank_holidays(year)
                    .into_keys()
                    .filter(|d| *d > from && *d <= to)
                    .collect()
            }
        })
        .collect()
}

/// Monday to Friday after `from` up to and including `to`.
fn weekdays_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let days = (to - from).num_days().max(0);
    let mut n = (days / 7) as u32 * 5;
    let mut d = from + Duration::days(days / 7 * 7);
    while d < to {
        d = d.succ_opt().expect("dates are far from the end of time");
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            n += 1;
        }
    }
    n
}

impl Calendar {
    pub fn new(changes: BTreeMap<NaiveDate, Change>, close: NaiveTime) -> Calendar {
        Calendar { changes, close }
    }

    pub fn close(&self) -> NaiveTime {
        self.close
    }

    /// Whether `d` is a working day, and if not, why.
    pub fn check(&self, d: NaiveDate) -> Result<(), NotWorking> {
        match self.changes.get(&d) {
            Some(Change::Holiday(name)) => return Err(NotWorking::Holiday(name.clone())),
            Some(Change::Working) => {
                return match d.weekday() {
                    w @ (Weekday::Sat | Weekday::Sun) => Err(NotWorking::Weekend(w)),
                    _ => Ok(()),
                };
            }
            None => {}
        }
        if let w @ (Weekday::Sat | Weekday::Sun) = d.weekday() {
            return Err(NotWorking::Weekend(w));
        }
        if let Some(name) = bank_holiday(d) {
            return Err(NotWorking::Holiday(name));
        }
        Ok(())
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.check(d).is_ok()
    }

    /// The first working day strictly after `d`.
    pub fn next_working_day(&self, d: NaiveDate) -> NaiveDate {
        let mut next = d.succ_opt().expect("dates are far from the end of time");
        while !self.is_working_day(next) {
            next = next.succ_opt().expect("dates are far from the end of time");
        }
        next
    }

    /// `n` working days after the date `d` (d itself never counts). `n = 0` gives `d` itself if
    /// it is a working day, or the next working day.
    pub fn add_working_days(&self, d: NaiveDate, n: u32) -> NaiveDate {
        if n == 0 {
            return if self.is_working_day(d) {
                d
            } else {
                self.next_working_day(d)
            };
        }
        let mut day = d;
        for _ in 0..n {
            day = self.next_working_day(day);
        }
        day
    }

    /// The close of the working day on `d` (which should be a working day), as an instant.
    pub fn close_on(&self, d: NaiveDate) -> DateTime<Utc> {
        // 17:00 (or any close set between 09:00 and 23:00) exists on every London day.
        london_to_utc(d, self.close).unwrap_or_else(|| {
            london_to_utc(d, NaiveTime::from_hms_opt(12, 0, 0).expect("noon"))
                .expect("noon always exists")
        })
    }

    /// The end of the same working day for an instant: its close if `at` is on a working day
    /// before the close; otherwise the close of the next working day.
    pub fn end_of_working_day(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = london_date(at);
        if self.is_working_day(day) && at < self.close_on(day) {
            self.close_on(day)
        } else {
            self.close_on(self.next_working_day(day))
        }
    }

    /// The close of the working day `n` working days after the date of `at`.
    pub fn working_days_after(&self, at: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        self.close_on(self.add_working_days(london_date(at), n))
    }

    /// Working days from `from` to `to` (dates): how many working days lie after `from` up to and
    /// including `to`. Zero when `to` is not after `from`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        use std::ops::Bound::{Excluded, Included};
        if to <= from {
            return 0;
        }
        // Counted, not walked (a dashboard asks this for every row): the weekdays, less the
        // bank holidays on weekdays an administrator has not changed, less the weekdays an
        // administrator made holidays. (A change on a weekend changes nothing: see `check`.)
        let weekday = |d: &NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let holidays = bank_holidays_in(from, to)
            .iter()
            .filter(|d| weekday(d) && !self.changes.contains_key(d))
            .count();
        let closures = self
            .changes
            .range((Excluded(from), Included(to)))
            .filter(|(d, c)| weekday(d) && matches!(c, Change::Holiday(_)))
            .count();
        weekdays_between(from, to) - (holidays + closures) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// The bank holidays of England and Wales as published on GOV.UK (2019 to 2027; 2028 as
    /// announced by rule).
    const PUBLISHED: &[(i32, &[(u32, u32)])] = &[
        (
            2019,
            &[
                (1, 1),
                (4, 19),
                (4, 22),
                (5, 6),
                (5, 27),
                (8, 26),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2020,
            &[
                (1, 1),
                (4, 10),
                (4, 13),
                (5, 8),
                (5, 25),
                (8, 31),
                (12, 25),
                (12, 28),
            ],
        ),
        (
            2021,
            &[
                (1, 1),
                (4, 2),
                (4, 5),
                (5, 3),
                (5, 31),
                (8, 30),
                (12, 27),
                (12, 28),
            ],
        ),
        (
            2022,
            &[
                (1, 3),
                (4, 15),
                (4, 18),
                (5, 2),
                (6, 2),
                (6, 3),
                (8, 29),
                (9, 19),
                (12, 26),
                (12, 27),
            ],
        ),
        (
            2023,
            &[
                (1, 2),
                (4, 7),
                (4, 10),
                (5, 1),
                (5, 8),
                (5, 29),
                (8, 28),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2024,
            &[
                (1, 1),
                (3, 29),
                (4, 1),
                (5, 6),
                (5, 27),
                (8, 26),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2025,
            &[
                (1, 1),
                (4, 18),
                (4, 21),
                (5, 5),
                (5, 26),
                (8, 25),
                (12, 25),
                (12, 26),
            ],
        ),
        (
            2026,
            &[
                (1, 1),
                (4, 3),
                (4, 6),
                (5, 4),
                (5, 25),
                (8, 31),
                (12, 25),
                (12, 28),
            ],
        ),
        (
            2027,
            &[
                (1, 1),
                (3, 26),
                (3, 29),
                (5, 3),
                (5, 31),
                (8, 30),
                (12, 27),
                (12, 28),
            ],
        ),
        (
            2028,
            &[
                (1, 3),
                (4, 14),
                (4, 17),
                (5, 1),
                (5, 29),
                (8, 28),
                (12, 25),
                (12, 26),
            ],
        ),
    ];

    #[test]
    fn the_kept_bank_holidays_are_the_rules_own_inside_and_outside_the_kept_years() {
        let mut day = d(1998, 1, 1);
        let mut holidays = 0;
        while day < d(2103, 1, 1) {
            let by_rule = bank_holidays(day.year()).remove(&day);
            assert_eq!(bank_holiday(day), by_rule, "{day}");
            holidays += usize::from(by_rule.is_some());
            day = day.succ_opt().unwrap();
        }
        assert!(holidays > 105 * 8, "{holidays}");
    }

    #[test]
    fn bank_holidays_match_the_published_dates_2019_to_2028() {
        for (year, days) in PUBLISHED {
            let expected: Vec<NaiveDate> = days.iter().map(|(m, day)| d(*year, *m, *day)).collect();
            let actual: Vec<NaiveDate> = bank_holidays(*year).into_keys().collect();
            assert_eq!(actual, expected, "{year}");
        }
    }

    #[test]
    fn easter_by_the_algorithm() {
        assert_eq!(easter_sunday(2026), d(2026, 4, 5));
        assert_eq!(easter_sunday(2027), d(2027, 3, 28));
        assert_eq!(easter_sunday(2038), d(2038, 4, 25));
        assert_eq!(easter_sunday(2285), d(2285, 3, 22));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_say_why() {
        let cal = Calendar::default();
        assert_eq!(
            cal.check(d(2026, 12, 28)),
            Err(NotWorking::Holiday("Boxing Day (substitute day)".into()))
        );
        assert_eq!(
            cal.check(d(2026, 12, 26)),
            Err(NotWorking::Weekend(Weekday::Sat))
        );
        assert_eq!(cal.check(d(2026, 12, 29)), Ok(()));
        assert_eq!(NotWorking::Weekend(Weekday::Sun).to_string(), "Sunday");
        // The example the calculator page gives: 15 working days after 3 December 2026.
        assert_eq!(cal.add_working_days(d(2026, 12, 3), 15), d(2026, 12, 24));
        // Across Christmas and New Year.
        assert_eq!(cal.add_working_days(d(2026, 12, 24), 1), d(2026, 12, 29));
        assert_eq!(cal.add_working_days(d(2026, 12, 31), 1), d(2027, 1, 4));
        // Across Easter 2027 (Good Friday 26 March, Easter Monday 29 March).
        assert_eq!(cal.add_working_days(d(2027, 3, 25), 1), d(2027, 3, 30));
        assert_eq!(cal.add_working_days(d(2026, 12, 5), 0), d(2026, 12, 7));
        assert_eq!(
            cal.working_days_between(d(2026, 12, 24), d(2026, 12, 31)),
            3
        );
    }

    #[test]
    fn administrators_add_and_remove_days() {
        let mut changes = BTreeMap::new();
        changes.insert(
            d(2026, 12, 29),
            Change::Holiday("Council closure day".into()),
        );
        changes.insert(d(2026, 12, 28), Change::Working);
        let cal = Calendar::new(changes, NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        assert_eq!(
            cal.check(d(2026, 12, 29)),
            Err(NotWorking::Holiday("Council closure day".into()))
        );
        assert_eq!(cal.check(d(2026, 12, 28)), Ok(()));
        assert_eq!(cal.add_working_days(d(2026, 12, 24), 1), d(2026, 12, 28));
        assert_eq!(cal.add_working_days(d(2026, 12, 24), 2), d(2026, 12, 30));
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, day, h, min, 0).unwrap()
    }

    #[test]
    fn the_same_working_day_ends_at_the_close_or_the_next_working_days_close() {
        let cal = Calendar::default();
        // Thursday 3 December 2026 (GMT): 16:59 is before the close, 17:01 after it.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 12, 3, 16, 59)),
            utc(2026, 12, 3, 17, 0)
        );
        assert_eq!(
            cal.end_of_working_day(utc(2026, 12, 3, 17, 1)),
            utc(2026, 12, 4, 17, 0)
        );
        // Friday after the close: Monday.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 12, 4, 17, 1)),
            utc(2026, 12, 7, 17, 0)
        );
        // Christmas Eve after the close: the next working day is Tuesday 29 December.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 12, 24, 18, 0)),
            utc(2026, 12, 29, 17, 0)
        );
        // A Saturday: Monday's close.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 12, 5, 10, 0)),
            utc(2026, 12, 7, 17, 0)
        );
    }

    #[test]
    fn across_both_clock_changes() {
        let cal = Calendar::default();
        // Friday 27 March 2026 (GMT), after the close: Monday 30 March, now BST (17:00 = 16:00 UTC).
        assert_eq!(
            cal.end_of_working_day(utc(2026, 3, 27, 17, 30)),
            utc(2026, 3, 30, 16, 0)
        );
        // In BST, 16:59 London is 15:59 UTC: before the close.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 7, 1, 15, 59)),
            utc(2026, 7, 1, 16, 0)
        );
        assert_eq!(
            cal.end_of_working_day(utc(2026, 7, 1, 16, 1)),
            utc(2026, 7, 2, 16, 0)
        );
        // Friday 23 October 2026 (BST), after the close: Monday 26 October, now GMT.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 10, 23, 16, 30)),
            utc(2026, 10, 26, 17, 0)
        );
        // Late on a Sunday in UTC can already be Monday in London in summer: 23:30 UTC on
        // Sunday 28 June 2026 is 00:30 on Monday in London, so Monday's close.
        assert_eq!(
            cal.end_of_working_day(utc(2026, 6, 28, 23, 30)),
            utc(2026, 6, 29, 16, 0)
        );
    }

    proptest! {
        #[test]
        fn working_days_between_counts_what_walking_the_days_would(
            start in 0i64..45_000, len in 0i64..800,
            changed in proptest::collection::vec((0i64..800, any::<bool>()), 0..6)
        ) {
            let from = d(1990, 1, 1) + Duration::days(start);
            let to = from + Duration::days(len);
            let mut changes = BTreeMap::new();
            for (offset, holiday) in changed {
                changes.insert(
                    from + Duration::days(offset),
                    if holiday { Change::Holiday("Closure".into()) } else { Change::Working },
                );
            }
            let cal = Calendar::new(changes, NaiveTime::from_hms_opt(17, 0, 0).unwrap());
            let mut walked = 0;
            let mut day = from;
            while day < to {
                day = day.succ_opt().unwrap();
                walked += u32::from(cal.is_working_day(day));
            }
            prop_assert_eq!(cal.working_days_between(from, to), walked);
            prop_assert_eq!(cal.working_days_between(to, from), 0);
        }

        #[test]
        fn n_working_days_after_is_always_a_working_day_and_never_earlier_for_more(
            start in 0i64..20_000, n in 0u32..60, extra in 0u32..20
        ) {
            let cal = Calendar::default();
            let day = d(2000, 1, 1) + Duration::days(start);
            let a = cal.add_working_days(day, n);
            let b = cal.add_working_days(day, n + extra);
            prop_assert!(cal.is_working_day(a));
            prop_assert!(b >= a);
            if n > 0 {
                prop_assert!(a > day);
                prop_assert_eq!(cal.working_days_between(day, a), n);
            }
        }

        #[test]
        fn the_end_of_the_working_day_is_a_close_on_a_working_day_not_before_the_instant(
            secs in 946_684_800i64..2_000_000_000
        ) {
            let cal = Calendar::default();
            let at = Utc.timestamp_opt(secs, 0).unwrap();
            let end = cal.end_of_working_day(at);
            prop_assert!(end >= at);
            let day = london_date(end);
            prop_assert!(cal.is_working_day(day));
            prop_assert_eq!(cal.close_on(day), end);
        }
    }
}
