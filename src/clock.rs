//! The one clock every part of the procedure reads "now" from (deadlines, what is due today,
//! "in the future" checks, when an event was recorded). In production it is the system's time;
//! tests and the browser journeys can fix it (`HAVEN_FIXED_TIME`), which Haven refuses over
//! https. Security bookkeeping (sessions, throttles, security codes, audit timestamps) always
//! uses the real time: it must never be possible to move it.

use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    System,
    /// Always this instant (tests only).
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }
}
