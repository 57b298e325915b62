//! Haven's integration tests: the whole app in-process, against real PostgreSQL.

mod helpers;

mod admin;
mod allocation;
mod attacks;
mod audit;
mod auth;
mod browser;
mod cases;
mod cli;
mod documents;
mod held;
mod instances;
mod lado;
mod pathways;
mod people;
mod procedure;
mod referrals;
mod round_trips;
mod security;
mod statics;

/// A date as the (day, month, year) a GOV.UK date input takes, in London.
pub fn domain_date(at: chrono::DateTime<chrono::Utc>) -> (String, String, String) {
    use chrono::Datelike;
    let d = haven::domain::time::london_date(at);
    (
        d.day().to_string(),
        d.month().to_string(),
        d.year().to_string(),
    )
}
