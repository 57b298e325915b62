//! The LADO's annual figures for a chosen period, worked out from one row per allegation, and
//! their CSV form.
//!
//! What each figure counts:
//! - contacts: every allegation record whose contact with the LADO fell in the period (London
//!   dates, both ends included), split by the threshold decision (harm test met, advice only, or
//!   not decided yet), by setting and by how the LADO heard;
//! - told within one working day: of those contacts, the share where the LADO was contacted by
//!   the close of the working day after the concern arose (the statutory measure);
//! - outcomes: allegations whose outcome is dated in the period, whenever they began, by outcome,
//!   with the mean and median time from the contact to the outcome in calendar and working days;
//! - employers with more than one contact in the period (the name as typed), a pattern a LADO
//!   looks for.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::calendar::Calendar;
use super::lado::{ContactKind, Outcome, Setting, csv_cell, lado_informed_due};
use super::time::london_date;

/// One allegation, as the report reads it.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: uuid::Uuid,
    pub setting: String,
    pub contact_kind: String,
    pub subject_employer: String,
    pub contact_at: DateTime<Utc>,
    pub concern_arose_at: DateTime<Utc>,
    pub threshold_met: Option<bool>,
    pub outcome: Option<String>,
    pub outcome_on: Option<NaiveDate>,
}

/// A count and, where it has one, what it is a share of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Count {
    pub label: String,
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub contacts: u32,
    pub allegations: u32,
    pub advice_only: u32,
    pub undecided: u32,
    pub told_in_time: u32,
    /// (setting, contacts, allegations, advice only), every setting in the vocabulary's order.
    pub settings: Vec<(String, u32, u32, u32)>,
    pub routes: Vec<Count>,
    pub outcomes: Vec<Count>,
    pub concluded: u32,
    /// Mean and median days from the contact to the outcome: (calendar, working).
    pub mean_days: Option<(f64, f64)>,
    pub median_days: Option<(f64, f64)>,
    pub repeat_employers: Vec<Count>,
    /// The allegations counted anywhere in the figures (for the audit record of an export).
    pub counted: Vec<uuid::Uuid>,
}

impl Figures {
    /// The share told in time, as a whole percentage; `None` with no contacts.
    pub fn told_in_time_percent(&self) -> Option<u32> {
        percent(self.told_in_time, self.contacts)
    }
}

pub fn percent(part: u32, whole: u32) -> Option<u32> {
    (whole > 0).then(|| ((part as f64 * 100.0) / whole as f64).round() as u32)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Work out the figures for `from..=to` (London dates) from the rows (which may include rows
/// outside the period: they are filtered here).
pub fn figures(cal: &Calendar, from: NaiveDate, to: NaiveDate, rows: &[Row]) -> Figures {
    let in_period = |d: NaiveDate| d >= from && d <= to;
    let contacts: Vec<&Row> = rows
        .iter()
        .filter(|r| in_period(london_date(r.contact_at)))
        .collect();
    let concluded: Vec<(&Row, NaiveDate)> = rows
        .iter()
        .filter_map(|r| r.outcome_on.filter(|d| in_period(*d)).map(|d| (r, d)))
        .collect();
    let count_where = |f: &dyn Fn(&Row) -> bool| contacts.iter().filter(|r| f(r)).count() as u32;

    let settings = Setting::ALL
        .iter()
        .map(|s| {
            let here = |r: &Row| r.setting == s.code();
            (
                s.label().to_owned(),
                count_where(&|r| here(r)),
                count_where(&|r| here(r) && r.threshold_met == Some(true)),
                count_where(&|r| here(r) && r.threshold_met == Some(false)),
            )
        })
        .collect();
    let routes = ContactKind::ALL
        .iter()
        .map(|k| Count {
            label: k.label().to_owned(),
            count: count_where(&|r| r.contact_kind == k.code()),
        })
        .collect();
    let outcomes = Outcome::ALL
        .iter()
        .map(|o| Count {
            label: o.label().to_owned(),
            count: concluded
                .iter()
                .filter(|(r, _)| r.outcome.as_deref() == Some(o.code()))
                .count() as u32,
        })
        .collect();
    let mut calendar_days: Vec<f64> = Vec::new();
    let mut working_days: Vec<f64> = Vec::new();
    for (r, on) in &concluded {
        let start = london_date(r.contact_at);
        calendar_days.push((*on - start).num_days().max(0) as f64);
        working_days.push(cal.working_days_between(start, *on) as f64);
    }
    let (mean_days, median_days) = if concluded.is_empty() {
        (None, None)
    } else {
        (
            Some((mean(&calendar_days), mean(&working_days))),
            Some((median(&mut calendar_days), median(&mut working_days))),
        )
    };
    // Employers by name as typed, ignoring case and surrounding space.
    let mut employers: BTreeMap<String, (String, u32)> = BTreeMap::new();
    for r in &contacts {
        let key = r.subject_employer.trim().to_lowercase();
        let e = employers
            .entry(key)
            .or_insert_with(|| (r.subject_employer.trim().to_owned(), 0));
        e.1 += 1;
    }
    let mut repeat_employers: Vec<Count> = employers
        .into_values()
        .filter(|(_, n)| *n > 1)
        .map(|(label, count)| Count { label, count })
        .collect();
    repeat_employers.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));

    let mut counted: Vec<uuid::Uuid> = contacts
        .iter()
        .map(|r| r.id)
        .chain(concluded.iter().map(|(r, _)| r.id))
        .collect();
    counted.sort();
    counted.dedup();
    Figures {
        from,
        to,
        contacts: contacts.len() as u32,
        allegations: count_where(&|r| r.threshold_met == Some(true)),
        advice_only: count_where(&|r| r.threshold_met == Some(false)),
        undecided: count_where(&|r| r.threshold_met.is_none()),
        told_in_time: count_where(&|r| r.contact_at <= lado_informed_due(cal, r.concern_arose_at)),
        settings,
        routes,
        outcomes,
        concluded: concluded.len() as u32,
        mean_days,
        median_days,
        repeat_employers,
        counted,
    }
}

fn one_decimal(x: f64) -> String {
    format!("{x:.1}")
}

/// The figures as CSV: one table of (section, measure, value), every cell guarded against
/// spreadsheet formulas.
pub fn csv(f: &Figures) -> String {
    let mut rows: Vec<[String; 3]> = vec![["Section".into(), "Measure".into(), "Value".into()]];
    let mut push = |s: &str, m: &str, v: String| rows.push([s.into(), m.into(), v]);
    push("Period", "From", f.from.to_string());
    push("Period", "To", f.to.to_string());
    push("Contacts", "Contacts with the LADO", f.contacts.to_string());
    push(
        "Contacts",
        "Allegations (harm test met)",
        f.allegations.to_string(),
    );
    push(
        "Contacts",
        "Advice only (harm test not met)",
        f.advice_only.to_string(),
    );
    push(
        "Contacts",
        "Threshold not yet decided",
        f.undecided.to_string(),
    );
    push(
        "Timeliness",
        "LADO told within one working day",
        f.told_in_time.to_string(),
    );
    push(
        "Timeliness",
        "LADO told within one working day (%)",
        f.told_in_time_percent()
            .map_or(String::new(), |p| p.to_string()),
    );
    for (setting, contacts, allegations, advice) in &f.settings {
        push("Setting: contacts", setting, contacts.to_string());
        push("Setting: allegations", setting, allegations.to_string());
        push("Setting: advice only", setting, advice.to_string());
    }
    for c in &f.routes {
        push("How the LADO heard", &c.label, c.count.to_string());
    }
    push("Outcomes", "Allegations concluded", f.concluded.to_string());
    for c in &f.outcomes {
        push("Outcomes", &c.label, c.count.to_string());
    }
    let days = |d: Option<(f64, f64)>, i: usize| {
        d.map_or(String::new(), |d| {
            one_decimal(if i == 0 { d.0 } else { d.1 })
        })
    };
    push(
        "Time to outcome",
        "Mean calendar days",
        days(f.mean_days, 0),
    );
    push("Time to outcome", "Mean working days", days(f.mean_days, 1));
    push(
        "Time to outcome",
        "Median calendar days",
        days(f.median_days, 0),
    );
    push(
        "Time to outcome",
        "Median working days",
        days(f.median_days, 1),
    );
    for c in &f.repeat_employers {
        push(
            "Employers with more than one contact",
            &c.label,
            c.count.to_string(),
        );
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&r.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone};

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn row(setting: &str, employer: &str, arose: DateTime<Utc>, contact: DateTime<Utc>) -> Row {
        Row {
            id: uuid::Uuid::now_v7(),
            setting: setting.into(),
            contact_kind: "phone".into(),
            subject_employer: employer.into(),
            contact_at: contact,
            concern_arose_at: arose,
            threshold_met: None,
            outcome: None,
            outcome_on: None,
        }
    }

    #[test]
    fn figures_count_what_they_say() {
        let cal = Calendar::new(BTreeMap::new(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        let from = day(2026, 4, 1);
        let to = day(2027, 3, 31);
        let mut a = row(
            "school",
            "Fernhill Academy",
            utc(2026, 4, 1, 9, 0),
            utc(2026, 4, 1, 10, 0),
        );
        a.threshold_met = Some(true);
        a.outcome = Some("substantiated".into());
        // Wednesday 1 April to Wednesday 15 April: 14 calendar days; Good Friday (3 April 2026)
        // and Easter Monday (6 April) are not working days. Working days after 1 April up to
        // and including 15 April: 2, 7, 8, 9, 10, 13, 14, 15 = 8.
        a.outcome_on = Some(day(2026, 4, 15));
        // Told late: arose Thursday 2 April 10:00, due by the close of the next working day
        // (Tuesday 7 April, 17:00 BST = 16:00 UTC); contacted at 16:30 UTC that day.
        let mut b = row(
            "school",
            " fernhill academy ",
            utc(2026, 4, 2, 9, 0),
            utc(2026, 4, 7, 16, 30),
        );
        b.threshold_met = Some(false);
        // Before the period, concluded in it.
        let mut c = row(
            "sport",
            "Harbour Swim Club",
            utc(2026, 3, 20, 9, 0),
            utc(2026, 3, 20, 9, 30),
        );
        c.threshold_met = Some(true);
        c.outcome = Some("unfounded".into());
        c.outcome_on = Some(day(2026, 4, 29));
        // Just after the period: 23:30 UTC on 31 March 2027 is 00:30 on 1 April in London
        // (summer time began on 28 March 2027).
        let d = row(
            "health",
            "=HYPERLINK(\"x\")",
            utc(2027, 3, 31, 23, 30),
            utc(2027, 3, 31, 23, 30),
        );
        let f = figures(&cal, from, to, &[a, b, c, d]);
        assert_eq!(f.contacts, 2, "{f:?}");
        assert_eq!((f.allegations, f.advice_only, f.undecided), (1, 1, 0));
        assert_eq!(f.told_in_time, 1);
        assert_eq!(f.told_in_time_percent(), Some(50));
        assert_eq!(f.settings[0], ("School or college".into(), 2, 1, 1));
        assert_eq!(f.concluded, 2);
        assert_eq!(f.outcomes[0].count, 1);
        assert_eq!(f.outcomes[4].count, 1);
        // a: 14 calendar, 8 working; c: 20 March to 29 April = 40 calendar days; working days
        // after 20 March to 29 April: 23,24,25,26,27,30,31 March (7), April: 1,2,7,8,9,10,
        // 13-17 (5), 20-24 (5), 27,28,29 (3) = 6 + 13 = 19; total 26.
        assert_eq!(f.mean_days, Some((27.0, 17.0)));
        assert_eq!(f.median_days, Some((27.0, 17.0)));
        assert_eq!(
            f.repeat_employers,
            vec![Count {
                label: "Fernhill Academy".into(),
                count: 2
            }]
        );
        assert_eq!(f.counted.len(), 3);
    }

    #[test]
    fn the_csv_guards_every_cell() {
        let cal = Calendar::new(BTreeMap::new(), NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        let r = |e: &str| row("faith", e, utc(2026, 6, 1, 9, 0), utc(2026, 6, 1, 9, 30));
        let f = figures(
            &cal,
            day(2026, 4, 1),
            day(2027, 3, 31),
            &[
                r("=cmd|' /C calc'!A0"),
                r("=cmd|' /C calc'!A0"),
                r("@SUM(1)"),
                r("@SUM(1)"),
            ],
        );
        let text = csv(&f);
        assert!(text.starts_with("Section,Measure,Value\r\n"));
        assert!(
            text.contains("\r\nEmployers with more than one contact,'=cmd|' /C calc'!A0,2\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nEmployers with more than one contact,'@SUM(1),2\r\n"));
        assert!(text.contains("\r\nTimeliness,LADO told within one working day (%),100\r\n"));
        assert!(text.contains("\r\nTime to outcome,Mean calendar days,\r\n"));
        for line in text.lines() {
            for cell in line.split(',') {
                assert!(!cell.starts_with(['=', '+', '-', '@']), "{line}");
            }
        }
    }
}
