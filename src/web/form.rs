//! Reading form posts safely, and collecting field errors for the GOV.UK error summary.
//!
//! Bodies are parsed by hand rather than with serde so that invalid UTF-8, NUL bytes and
//! repeated fields become messages on the page instead of rejections with no page at all.

use std::collections::HashSet;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use percent_encoding::percent_decode;

use crate::domain::time::{london_to_utc, parse_clock};
use crate::error::AppError;

/// A parsed `application/x-www-form-urlencoded` body. The guard parses it once per post.
#[derive(Clone, Debug, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
    /// Fields whose value was not valid text (bad UTF-8 or control characters such as NUL).
    unreadable: HashSet<String>,
}

fn decode(part: &[u8]) -> Result<String, String> {
    let replaced: Vec<u8> = part
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&replaced).collect();
    String::from_utf8(bytes).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_bad_char(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\r' && c != '\t'
}

impl FormData {
    pub fn parse(body: &[u8]) -> FormData {
        let mut form = FormData::default();
        for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let key = match decode(k) {
                Ok(k) => k,
                Err(_) => continue,
            };
            let value = match decode(v) {
                Ok(v) if !v.chars().any(is_bad_char) => v,
                Ok(v) | Err(v) => {
                    form.unreadable.insert(key.clone());
                    v.chars().filter(|c| !is_bad_char(*c)).collect()
                }
            };
            form.pairs.push((key, value));
        }
        form
    }

    /// A form filled in from what is stored, to show on a page before anything is typed.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> FormData {
        self.pairs.push((key.to_owned(), value.into()));
        self
    }

    /// Whether anything was sent at all.
    /// Something typed or chosen, besides the form's own tokens.
    pub fn has_content(&self) -> bool {
        self.pairs
            .iter()
            .any(|(k, v)| !k.starts_with('_') && !v.trim().is_empty())
    }

    /// The fields as `application/x-www-form-urlencoded`, leaving out `skip`.
    pub fn encoded_without(&self, skip: &[&str]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if !skip.contains(&k.as_str()) {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }

    /// Every field in order, as sent (repeated names repeated).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_blank(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The first value of a field, exactly as sent (after decoding), or "".
    pub fn raw(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn is_unreadable(&self, key: &str) -> bool {
        self.unreadable.contains(key)
    }

    /// Refuse fields this action does not take (mass-assignment defence). `_csrf` and `_idem` are always allowed.
    pub fn only(&self, allowed: &[&str]) -> Result<(), AppError> {
        for (k, _) in &self.pairs {
            if k != "_csrf" && k != "_idem" && k != "_held" && !allowed.contains(&k.as_str()) {
                tracing::info!(field = %k.chars().take(40).collect::<String>(), "unexpected form field");
                return Err(AppError::BadRequest("unexpected form field"));
            }
        }
        Ok(())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormData {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<FormData>()
            .cloned()
            .ok_or(AppError::BadRequest("no form body"))
    }
}

/// Field errors in page order, for the error summary and the fields themselves.
#[derive(Clone, Debug, Default)]
pub struct Errors {
    list: Vec<(String, String)>,
}

impl Errors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        if !self.has(field) {
            self.list.push((field.to_owned(), message.into()));
        }
    }
    pub fn has(&self, field: &str) -> bool {
        self.list.iter().any(|(f, _)| f == field)
    }
    /// The message for a field, or "" (templates test for emptiness).
    pub fn get(&self, field: &str) -> &str {
        self.list
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .unwrap_or("")
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    pub fn items(&self) -> &[(String, String)] {
        &self.list
    }

    /// A trimmed text field: `label` names it in messages ("Enter the referrer's name").
    pub fn text(
        &mut self,
        form: &FormData,
        field: &str,
        label: &str,
        required: bool,
        max_chars: usize,
    ) -> String {
        let value = form.raw(field).trim().to_owned();
        if form.is_unreadable(field) {
            self.add(
                field,
                format!(
                    "{label} contains characters Haven cannot store; retype it using ordinary text"
                ),
            );
        } else if required && value.is_empty() {
            self.add(field, format!("Enter {}", lower_first(label)));
        } else if value.chars().count() > max_chars {
            self.add(
                field,
                format!("{label} must be {max_chars} characters or fewer"),
            );
        }
        value
    }

    /// One choice from a fixed list of codes.
    pub fn choice<T>(
        &mut self,
        form: &FormData,
        field: &str,
        message: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let v = parse(form.raw(field));
        if v.is_none() {
            self.add(field, message);
        }
        v
    }

    /// A GOV.UK date input (`{field}-day`, `{field}-month`, `{field}-year`). Errors are put on
    /// `{field}-day`, so the error summary link moves focus to the first box.
    pub fn date(
        &mut self,
        form: &FormData,
        field: &str,
        label: &str,
        required: bool,
    ) -> (DateParts, Option<NaiveDate>) {
        let parts = DateParts {
            day: form
                .raw(&format!("{field}-day"))
                .trim()
                .chars()
                .take(10)
                .collect(),
            month: form
                .raw(&format!("{field}-month"))
                .trim()
                .chars()
                .take(10)
                .collect(),
            year: form
                .raw(&format!("{field}-year"))
                .trim()
                .chars()
                .take(10)
                .collect(),
        };
        let field = &format!("{field}-day");
        if parts.day.is_empty() && parts.month.is_empty() && parts.year.is_empty() {
            if required {
                self.add(field, format!("Enter {}", lower_first(label)));
            }
            return (parts, None);
        }
        let (Ok(d), Ok(m), Ok(y)) = (
            parts.day.parse::<u32>(),
            parts.month.parse::<u32>(),
            parts.year.parse::<i32>(),
        ) else {
            self.add(
                field,
                format!("{label} must be a real date, with the day, month and year as numbers"),
            );
            return (parts, None);
        };
        if !(1900..=2100).contains(&y) {
            self.add(
                field,
                format!("{label} must include a 4-digit year, like 2026"),
            );
            return (parts, None);
        }
        match NaiveDate::from_ymd_opt(y, m, d) {
            Some(date) => (parts, Some(date)),
            None => {
                self.add(field, format!("{label} must be a real date"));
                (parts, None)
            }
        }
    }
}

/// A past moment typed as a date input plus a time field, as London time.
#[derive(Clone, Debug, Default)]
pub struct Moment {
    pub date: DateParts,
    pub time: String,
    /// The instant, when both parts were given and make sense. `None` if either was blank
    /// (allowed only when not required) or wrong (then there is an error).
    pub at: Option<DateTime<Utc>>,
}

impl Errors {
    /// Read `{date}-day/-month/-year` and `{time}` as a moment in London that has already
    /// happened. `what` names it in messages ("the referral was received" gives "Enter the
    /// time the referral was received"). When `required` is false both may be left blank.
    pub fn past_moment(
        &mut self,
        form: &FormData,
        date: &str,
        time: &str,
        what: &str,
        required: bool,
        now: DateTime<Utc>,
    ) -> Moment {
        let (parts, day) = self.date(form, date, &format!("The date {what}"), required);
        let time_text = self.text(form, time, &format!("The time {what}"), required, 20);
        let mut m = Moment {
            date: parts,
            time: time_text,
            at: None,
        };
        let date_key = format!("{date}-day");
        // Check the time's format even when the date is wrong, so both messages show at once.
        let clock = if m.time.is_empty() || self.has(time) {
            None
        } else {
            let parsed = parse_clock(&m.time);
            if parsed.is_none() {
                self.add(
                    time,
                    "Enter the time as hours and minutes, like 14:30 or 2:30pm",
                );
            }
            parsed
        };
        if self.has(&date_key) || self.has(time) {
            return m;
        }
        match (day, clock) {
            (None, None) => {}
            (Some(_), None) => self.add(
                time,
                format!("Enter the time {what}, or leave the date and time blank"),
            ),
            (None, Some(_)) => self.add(
                &date_key,
                format!("Enter the date {what}, or leave the date and time blank"),
            ),
            (Some(day), Some(t)) => match london_to_utc(day, t) {
                None => self.add(
                    time,
                    "That time did not happen on that date (the clocks went forward); check it",
                ),
                Some(at) if at > now + chrono::Duration::minutes(5) => self.add(
                    &date_key,
                    format!("The date and time {what} must be in the past"),
                ),
                Some(at) => m.at = Some(at),
            },
        }
        m
    }
}

/// What a person typed into a date input, kept to show back.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct DateParts {
    pub day: String,
    pub month: String,
    pub year: String,
}

impl DateParts {
    pub fn from_date(d: NaiveDate) -> DateParts {
        use chrono::Datelike;
        DateParts {
            day: d.day().to_string(),
            month: d.month().to_string(),
            year: d.year().to_string(),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if s.chars().nth(1).is_some_and(|n| n.is_lowercase()) => {
            f.to_lowercase().chain(c).collect()
        }
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeated_fields_and_plus_signs() {
        let f = FormData::parse(b"a=1&kind=x&kind=y&name=Sam+Lee&empty=");
        assert_eq!(f.raw("name"), "Sam Lee");
        assert_eq!(f.all("kind"), vec!["x", "y"]);
        assert_eq!(f.raw("missing"), "");
        assert_eq!(f.raw("empty"), "");
    }

    #[test]
    fn invalid_utf8_and_nul_are_flagged_not_dropped() {
        let f = FormData::parse(b"name=Sam%FF&note=a%00b&ok=fine");
        assert!(f.is_unreadable("name"));
        assert!(f.is_unreadable("note"));
        assert_eq!(f.raw("note"), "ab");
        assert!(!f.is_unreadable("ok"));
        let mut e = Errors::default();
        e.text(&f, "note", "Note", true, 100);
        assert!(e.get("note").contains("cannot store"));
    }

    #[test]
    fn text_limits() {
        let big = format!("v={}", "x".repeat(100_000));
        let f = FormData::parse(big.as_bytes());
        let mut e = Errors::default();
        e.text(&f, "v", "Name", true, 200);
        assert_eq!(e.get("v"), "Name must be 200 characters or fewer");
        let mut e = Errors::default();
        e.text(
            &FormData::parse(b"v=+++"),
            "v",
            "Referrer's name",
            true,
            200,
        );
        assert_eq!(e.get("v"), "Enter referrer's name");
    }

    #[test]
    fn dates_must_be_real() {
        let mut e = Errors::default();
        let f = FormData::parse(b"d-day=31&d-month=2&d-year=2026");
        let (parts, date) = e.date(&f, "d", "Date of birth", true);
        assert!(date.is_none());
        assert_eq!(parts.day, "31");
        assert_eq!(e.get("d-day"), "Date of birth must be a real date");
        let mut e = Errors::default();
        let f = FormData::parse(b"d-day=29&d-month=2&d-year=2028");
        assert!(e.date(&f, "d", "Date", true).1.is_some());
        let mut e = Errors::default();
        let f = FormData::parse(b"d-day=x&d-month=2&d-year=2028");
        assert!(e.date(&f, "d", "Date", true).1.is_none());
        assert!(e.has("d-day"));
    }

    #[test]
    fn past_moments_read_as_london_time() {
        let mut e = Errors::default();
        let f = FormData::parse(b"w-day=1&w-month=7&w-year=2026&t=4:45pm");
        let m = e.past_moment(&f, "w", "t", "it happened", true, Utc::now());
        assert!(e.is_empty());
        assert_eq!(m.at.unwrap().to_rfc3339(), "2026-07-01T15:45:00+00:00");

        // Optional and blank: no instant, no error.
        let mut e = Errors::default();
        let m = e.past_moment(
            &FormData::parse(b"w-day=&w-month=&w-year=&t="),
            "w",
            "t",
            "it happened",
            false,
            Utc::now(),
        );
        assert!(e.is_empty() && m.at.is_none());

        // Half given, impossible, or in the future: a message on the right field.
        let mut e = Errors::default();
        e.past_moment(
            &FormData::parse(b"w-day=1&w-month=7&w-year=2026&t="),
            "w",
            "t",
            "it happened",
            false,
            Utc::now(),
        );
        assert!(e.get("t").starts_with("Enter the time it happened"));
        let mut e = Errors::default();
        e.past_moment(
            &FormData::parse(b"w-day=29&w-month=3&w-year=2026&t=01:30"),
            "w",
            "t",
            "it happened",
            true,
            Utc::now(),
        );
        assert!(e.get("t").contains("clocks went forward"));
        let mut e = Errors::default();
        e.past_moment(
            &FormData::parse(b"w-day=1&w-month=1&w-year=2099&t=10:00"),
            "w",
            "t",
            "it happened",
            true,
            Utc::now(),
        );
        assert_eq!(
            e.get("w-day"),
            "The date and time it happened must be in the past"
        );
        let mut e = Errors::default();
        let m = e.past_moment(
            &FormData::parse(b"w-day=31&w-month=2&w-year=2026&t=25:00"),
            "w",
            "t",
            "it happened",
            true,
            Utc::now(),
        );
        assert_eq!(e.get("w-day"), "The date it happened must be a real date");
        assert!(
            e.get("t").contains("hours and minutes"),
            "both problems are reported"
        );
        assert_eq!(m.date.day, "31");
        assert_eq!(m.time, "25:00");
    }

    #[test]
    fn only_listed_fields_are_accepted() {
        let f = FormData::parse(b"_csrf=t&name=x&role=admin");
        assert!(f.only(&["name"]).is_err());
        assert!(f.only(&["name", "role"]).is_ok());
    }
}
