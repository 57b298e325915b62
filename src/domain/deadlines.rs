//! The statutory clocks of a case, derived from the events that start and satisfy them, never
//! typed in. `derive` takes what has happened on a case and returns every deadline it implies,
//! with when it is due and (if so) when and by what it was met. It is pure: the database module
//! stores its result, and computing it twice gives the same answer.
//!
//! The rules (working days in England and Wales, Europe/London, closing at the calendar's close):
//! - **Decision on the referral**: within 1 working day of receipt (the close of the next
//!   working day); met when a manager approves the decision.
//! - **Referrer told the outcome**: within 1 working day of the approved decision.
//! - **Strategy discussion**: when the decision is to hold one, within the partnership's set
//!   number of working days of the decision (default 3); when the referral says a child is at
//!   immediate risk, by the end of the working day the referral arrived. Met by the first
//!   recorded discussion.
//! - **Initial Child Protection Conference**, for each child whose Section 47 enquiry started:
//!   within 15 working days of the strategy discussion *at which the enquiry started* (Working
//!   Together 2023 and the national timeliness measure; a later discussion does not reset it).
//!   With the partnership's local rule on ("15 working days of the last strategy discussion"),
//!   the date that rule gives is kept beside it when it is later; the earlier one is tracked.
//!   No conference is due once an outcome without one is approved.
//! - **Core group**: within 10 working days of an initial conference that made a plan.
//! - **Review conference**: the first within 3 months of the initial conference, then at most 6
//!   months after the previous review, while the plan lasts (on the last working day on or
//!   before that date).
//! - **Single assessment**: within 45 working days of the referral, unless the decision took the
//!   case out of assessment (early help, no further action, the LADO alone).
//! - **LADO informed**: within 1 working day of the allegation (the referral), whenever the
//!   person it is about works or volunteers with children; not after the Section 47 outcome.
//! - A closed case has no open deadlines: those unmet when it closed end there.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use uuid::Uuid;

use super::calendar::Calendar;
use super::procedure::{DecisionOutcome, Section47Outcome};
use super::time::london_date;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ReferralDecision,
    ReferrerTold,
    StrategyDiscussion,
    Icpc,
    CoreGroup,
    ReviewConference,
    SingleAssessment,
    LadoInformed,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::ReferralDecision,
        Kind::ReferrerTold,
        Kind::StrategyDiscussion,
        Kind::Icpc,
        Kind::CoreGroup,
        Kind::ReviewConference,
        Kind::SingleAssessment,
        Kind::LadoInformed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::ReferralDecision => "referral_decision",
            Kind::ReferrerTold => "referrer_told",
            Kind::StrategyDiscussion => "strategy_discussion",
            Kind::Icpc => "icpc",
            Kind::CoreGroup => "core_group",
            Kind::ReviewConference => "review_conference",
            Kind::SingleAssessment => "single_assessment",
            Kind::LadoInformed => "lado_informed",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// What is due, in a practitioner's words.
    pub fn label(self) -> &'static str {
        match self {
            Kind::ReferralDecision => "Decision on the referral",
            Kind::ReferrerTold => "Tell the referrer the outcome",
            Kind::StrategyDiscussion => "Strategy discussion",
            Kind::Icpc => "Initial child protection conference",
            Kind::CoreGroup => "First core group meeting",
            Kind::ReviewConference => "Review child protection conference",
            Kind::SingleAssessment => "Single assessment completed",
            Kind::LadoInformed => "LADO told about the allegation",
        }
    }

    /// How the clock is set, for the chronology and the help page.
    pub fn rule(self) -> &'static str {
        match self {
            Kind::ReferralDecision => "within 1 working day of receiving the referral",
            Kind::ReferrerTold => "within 1 working day of the decision",
            Kind::StrategyDiscussion => {
                "within the partnership's time of the decision, or the same working day when a child is at immediate risk"
            }
            Kind::Icpc => {
                "within 15 working days of the strategy discussion at which the Section 47 enquiry started"
            }
            Kind::CoreGroup => "within 10 working days of the initial conference",
            Kind::ReviewConference => {
                "within 3 months of the initial conference, then every 6 months"
            }
            Kind::SingleAssessment => "within 45 working days of the referral",
            Kind::LadoInformed => "within 1 working day of the allegation",
        }
    }
}

/// A decision on the referral, as far as the clocks are concerned.
#[derive(Clone, Debug)]
pub struct DecisionFacts {
    pub outcome: DecisionOutcome,
    /// When a manager approved it (a decision takes effect only then).
    pub approved_at: Option<DateTime<Utc>>,
    pub referrer_told_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct DiscussionFacts {
    pub id: Uuid,
    pub held_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct EnquiryFacts {
    pub child: Uuid,
    /// The discussion at which the enquiry started.
    pub started_by: Uuid,
    /// The approved outcome, if any.
    pub outcome: Option<Section47Outcome>,
}

#[derive(Clone, Debug)]
pub struct ConferenceFacts {
    pub id: Uuid,
    pub child: Uuid,
    pub initial: bool,
    pub held_at: DateTime<Utc>,
    pub plan: bool,
}

/// Everything on a case the clocks depend on.
#[derive(Clone, Debug)]
pub struct Facts {
    pub received_at: DateTime<Utc>,
    pub immediate_risk: bool,
    pub works_with_children: bool,
    pub decision: Option<DecisionFacts>,
    /// Recorded strategy discussions.
    pub discussions: Vec<DiscussionFacts>,
    pub enquiries: Vec<EnquiryFacts>,
    pub conferences: Vec<ConferenceFacts>,
    /// (child, held at)
    pub core_groups: Vec<(Uuid, DateTime<Utc>)>,
    pub assessment_completed_at: Option<DateTime<Utc>>,
    pub lado_told_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// The partnership's local settings.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Working days from the decision to the strategy discussion.
    pub strategy_discussion_days: u32,
    /// Also compute the local "15 working days of the last strategy discussion" date.
    pub icpc_local_rule: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            strategy_discussion_days: 3,
            icpc_local_rule: true,
        }
    }
}

/// One deadline a case has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadline {
    pub kind: Kind,
    /// The child it is about, for the per-child clocks.
    pub child: Option<Uuid>,
    /// Which one, where a kind repeats (the 1st, 2nd... review conference).
    pub seq: i32,
    /// What started the clock, in words for the chronology ("the referral", "the strategy
    /// discussion on 3 December 2026").
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// The date that drives dashboards and timeliness.
    pub due_at: DateTime<Utc>,
    /// The partnership's local rule's date, when it is later than `due_at`.
    pub local_due_at: Option<DateTime<Utc>>,
    pub met_at: Option<DateTime<Utc>>,
    pub met_by: Option<String>,
    /// The case closed before it was met.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Deadline {
    pub fn met_late(&self) -> bool {
        self.met_at.is_some_and(|m| m > self.due_at)
    }
}

fn day_words(at: DateTime<Utc>) -> String {
    super::time::format_date(london_date(at))
}

/// The last working day on or before `d`.
fn working_day_on_or_before(cal: &Calendar, d: NaiveDate) -> NaiveDate {
    let mut day = d;
    while !cal.is_working_day(day) {
        day = day
            .pred_opt()
            .expect("dates are far from the start of time");
    }
    day
}

/// Every deadline the facts imply, in a stable order.
pub fn derive(facts: &Facts, cal: &Calendar, settings: Settings) -> Vec<Deadline> {
    let mut out = Vec::new();
    let mut push = |kind: Kind,
                    child: Option<Uuid>,
                    seq: i32,
                    started_by: String,
                    started_at: DateTime<Utc>,
                    due_at: DateTime<Utc>,
                    local_due_at: Option<DateTime<Utc>>,
                    met: Option<(DateTime<Utc>, String)>| {
        let (met_at, met_by) = match met {
            Some((at, by)) => (Some(at), Some(by)),
            None => (None, None),
        };
        out.push(Deadline {
            kind,
            child,
            seq,
            started_by,
            started_at,
            due_at,
            local_due_at,
            met_at,
            met_by,
            ended_at: None,
        });
    };

    // The decision on the referral.
    let approved = facts
        .decision
        .as_ref()
        .and_then(|d| d.approved_at.map(|at| (d, at)));
    push(
        Kind::ReferralDecision,
        None,
        0,
        "the referral".into(),
        facts.received_at,
        cal.working_days_after(facts.received_at, 1),
        None,
        approved.map(|(_, at)| (at, "the approved decision".into())),
    );

    if let Some((decision, at)) = approved {
        push(
            Kind::ReferrerTold,
            None,
            0,
            format!("the decision approved on {}", day_words(at)),
            at,
            cal.working_days_after(at, 1),
            None,
            decision
                .referrer_told_at
                .map(|t| (t, "telling the referrer".into())),
        );
    }

    // The strategy discussion: same working day at immediate risk, else from the decision.
    let first_discussion = facts.discussions.iter().min_by_key(|d| d.held_at);
    let discussion_met = first_discussion.map(|d| {
        (
            d.held_at,
            format!("the strategy discussion on {}", day_words(d.held_at)),
        )
    });
    if facts.immediate_risk {
        push(
            Kind::StrategyDiscussion,
            None,
            0,
            "a child reported at immediate risk".into(),
            facts.received_at,
            cal.end_of_working_day(facts.received_at),
            None,
            discussion_met.clone(),
        );
    } else if let Some((d, at)) = approved
        && d.outcome == DecisionOutcome::StrategyDiscussion
    {
        let due = if settings.strategy_discussion_days == 0 {
            cal.end_of_working_day(at)
        } else {
            cal.working_days_after(at, settings.strategy_discussion_days)
        };
        push(
            Kind::StrategyDiscussion,
            None,
            0,
            format!("the decision approved on {}", day_words(at)),
            at,
            due,
            None,
            discussion_met.clone(),
        );
    }

    // Conferences, per child whose Section 47 enquiry started.
    let last_discussion = facts.discussions.iter().max_by_key(|d| d.held_at);
    for e in &facts.enquiries {
        let Some(start) = facts.discussions.iter().find(|d| d.id == e.started_by) else {
            continue;
        };
        let initial = facts
            .conferences
            .iter()
            .filter(|c| c.child == e.child && c.initial)
            .min_by_key(|c| c.held_at);
        let conference_needed = e.outcome.is_none_or(Section47Outcome::needs_conference);
        if conference_needed || initial.is_some() {
            let due = cal.working_days_after(start.held_at, 15);
            let local = match last_discussion {
                Some(last) if settings.icpc_local_rule => {
                    Some(cal.working_days_after(last.held_at, 15)).filter(|l| *l > due)
                }
                _ => None,
            };
            push(
                Kind::Icpc,
                Some(e.child),
                0,
                format!(
                    "the strategy discussion on {} at which the Section 47 enquiry started",
                    day_words(start.held_at)
                ),
                start.held_at,
                due,
                local,
                initial.map(|c| {
                    (
                        c.held_at,
                        format!("the conference on {}", day_words(c.held_at)),
                    )
                }),
            );
        }
        let Some(icpc) = initial.filter(|c| c.plan) else {
            continue;
        };
        // Core group: 10 working days after the initial conference.
        let core = facts
            .core_groups
            .iter()
            .filter(|(child, at)| *child == e.child && *at >= icpc.held_at)
            .map(|(_, at)| *at)
            .min();
        push(
            Kind::CoreGroup,
            Some(e.child),
            0,
            format!("the initial conference on {}", day_words(icpc.held_at)),
            icpc.held_at,
            cal.working_days_after(icpc.held_at, 10),
            None,
            core.map(|at| (at, format!("the core group on {}", day_words(at)))),
        );
        // Reviews: 3 months after the initial conference, then every 6 months while the plan lasts.
        let mut reviews: Vec<&ConferenceFacts> = facts
            .conferences
            .iter()
            .filter(|c| c.child == e.child && !c.initial && c.held_at > icpc.held_at)
            .collect();
        reviews.sort_by_key(|c| c.held_at);
        let mut previous = icpc;
        let mut months = 3;
        let mut seq = 1;
        loop {
            let date = london_date(previous.held_at)
                .checked_add_months(Months::new(months))
                .unwrap_or_else(|| london_date(previous.held_at));
            let due = cal.close_on(working_day_on_or_before(cal, date));
            let held = reviews.get(seq as usize - 1).copied();
            push(
                Kind::ReviewConference,
                Some(e.child),
                seq,
                format!(
                    "the {} on {}",
                    if previous.initial {
                        "initial conference"
                    } else {
                        "review conference"
                    },
                    day_words(previous.held_at)
                ),
                previous.held_at,
                due,
                None,
                held.map(|c| {
                    (
                        c.held_at,
                        format!("the review conference on {}", day_words(c.held_at)),
                    )
                }),
            );
            match held {
                Some(r) if r.plan && seq < 100 => {
                    previous = r;
                    months = 6;
                    seq += 1;
                }
                _ => break,
            }
        }
    }

    // The single assessment.
    let assessing = facts
        .decision
        .as_ref()
        .is_none_or(|d| d.approved_at.is_none() || d.outcome.assesses());
    if assessing {
        push(
            Kind::SingleAssessment,
            None,
            0,
            "the referral".into(),
            facts.received_at,
            cal.working_days_after(facts.received_at, 45),
            None,
            facts
                .assessment_completed_at
                .map(|at| (at, "the completed assessment".into())),
        );
    }

    // The LADO, whenever the person the concern is about works with children.
    if facts.works_with_children {
        push(
            Kind::LadoInformed,
            None,
            0,
            "the allegation in the referral".into(),
            facts.received_at,
            cal.working_days_after(facts.received_at, 1),
            None,
            facts.lado_told_at.map(|at| (at, "telling the LADO".into())),
        );
    }

    if let Some(closed) = facts.closed_at {
        for d in out.iter_mut().filter(|d| d.met_at.is_none()) {
            d.ended_at = Some(closed);
        }
    }
    out.sort_by_key(|d| (d.kind, d.child, d.seq));
    out
}

/// What recomputing a case's deadlines changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Set(Deadline),
    Moved { from: DateTime<Utc>, to: Deadline },
    MetLate(Deadline),
    Dropped { kind: Kind, child: Option<Uuid> },
}

/// The chronology's words for a change; `names` gives the children's names.
pub fn chronology_line(change: &Change, names: &std::collections::HashMap<Uuid, String>) -> String {
    let whose = |child: Option<Uuid>| match child.and_then(|c| names.get(&c)) {
        Some(n) => format!(" for {n}"),
        None => String::new(),
    };
    let when = super::time::format_datetime;
    match change {
        Change::Set(d) => {
            let mut line = format!(
                "{}{}: due by {} ({}; from {}).",
                d.kind.label(),
                whose(d.child),
                when(d.due_at),
                d.kind.rule(),
                d.started_by
            );
            if let Some(local) = d.local_due_at {
                line.push_str(&format!(
                    " The partnership's local rule (15 working days after the last strategy discussion) gives {}; the earlier date is the one tracked.",
                    when(local)
                ));
            }
            line
        }
        Change::Moved { from, to } => {
            let mut line = format!(
                "{}{}: due date is now {} (was {}), from {}.",
                to.kind.label(),
                whose(to.child),
                when(to.due_at),
                when(*from),
                to.started_by
            );
            if let Some(local) = to.local_due_at {
                line.push_str(&format!(
                    " A later strategy discussion moved the local rule's date to {}; the national date, from the discussion at which the enquiry started, does not move.",
                    when(local)
                ));
            }
            line
        }
        Change::MetLate(d) => format!(
            "{}{}: met late, by {}. It was due by {}.",
            d.kind.label(),
            whose(d.child),
            d.met_by.as_deref().unwrap_or("a later event"),
            when(d.due_at)
        ),
        Change::Dropped { kind, child } => {
            format!("{}{}: no longer due.", kind.label(), whose(*child))
        }
    }
}

/// Where a deadline stands at `now`, for dashboards and the case page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Overdue by this many working days (0: due earlier today).
    Overdue(u32),
    DueToday,
    /// Due in this many working days.
    DueIn(u32),
}

/// Where an unmet deadline stands.
pub fn standing(cal: &Calendar, due_at: DateTime<Utc>, now: DateTime<Utc>) -> Standing {
    let today = london_date(now);
    let due_day = london_date(due_at);
    if due_at <= now {
        // On the day itself, after the close, it is overdue by less than a working day (0).
        return Standing::Overdue(cal.working_days_between(due_day, today));
    }
    if due_day == today {
        Standing::DueToday
    } else {
        Standing::DueIn(cal.working_days_between(today, due_day))
    }
}

/// "due today by 5pm", "2 working days overdue", "due in 3 working days (Tuesday 8 December)".
pub fn describe(cal: &Calendar, due_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let local = due_at.with_timezone(&chrono_tz::Europe::London);
    let clock = super::time::format_datetime(due_at);
    let time = clock.rsplit(" at ").next().unwrap_or("").to_owned();
    match standing(cal, due_at, now) {
        Standing::Overdue(0) => format!("overdue since {time} today"),
        Standing::Overdue(1) => "1 working day overdue".into(),
        Standing::Overdue(n) => format!("{n} working days overdue"),
        Standing::DueToday => format!("due today by {time}"),
        Standing::DueIn(1) => format!(
            "due tomorrow by {time} ({} {})",
            local.format("%A"),
            local.day()
        ),
        Standing::DueIn(n) => format!(
            "due in {n} working days ({})",
            super::time::format_date(local.date_naive())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn facts(received: DateTime<Utc>) -> Facts {
        Facts {
            received_at: received,
            immediate_risk: false,
            works_with_children: false,
            decision: None,
            discussions: vec![],
            enquiries: vec![],
            conferences: vec![],
            core_groups: vec![],
            assessment_completed_at: None,
            lado_told_at: None,
            closed_at: None,
        }
    }

    fn find(ds: &[Deadline], kind: Kind) -> &Deadline {
        ds.iter().find(|d| d.kind == kind).unwrap()
    }

    #[test]
    fn the_decision_is_due_by_the_next_working_days_close() {
        let cal = Calendar::default();
        // Thursday 3 December 2026 at 16:59 and at 17:01: both due Friday 4 December at 17:00.
        for t in [utc(2026, 12, 3, 16, 59), utc(2026, 12, 3, 17, 1)] {
            let ds = derive(&facts(t), &cal, Settings::default());
            assert_eq!(
                find(&ds, Kind::ReferralDecision).due_at,
                utc(2026, 12, 4, 17, 0)
            );
        }
        // Received on a Friday: due Monday. On Christmas Eve: due Tuesday 29 December.
        let ds = derive(&facts(utc(2026, 12, 4, 11, 0)), &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::ReferralDecision).due_at,
            utc(2026, 12, 7, 17, 0)
        );
        let ds = derive(&facts(utc(2026, 12, 24, 11, 0)), &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::ReferralDecision).due_at,
            utc(2026, 12, 29, 17, 0)
        );
        // Before Easter 2027 (Good Friday 26 March): received Thursday 25th, due Tuesday 30th,
        // now in summer time (17:00 BST = 16:00 UTC).
        let ds = derive(&facts(utc(2027, 3, 25, 10, 0)), &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::ReferralDecision).due_at,
            utc(2027, 3, 30, 16, 0)
        );
    }

    #[test]
    fn an_approved_decision_meets_the_first_clock_and_starts_the_next() {
        let cal = Calendar::default();
        let mut f = facts(utc(2026, 12, 3, 10, 0));
        f.decision = Some(DecisionFacts {
            outcome: DecisionOutcome::StrategyDiscussion,
            approved_at: Some(utc(2026, 12, 7, 9, 0)),
            referrer_told_at: None,
        });
        let ds = derive(&f, &cal, Settings::default());
        let d = find(&ds, Kind::ReferralDecision);
        assert!(d.met_late(), "approved on Monday, due on Friday");
        assert_eq!(
            find(&ds, Kind::ReferrerTold).due_at,
            utc(2026, 12, 8, 17, 0)
        );
        // Strategy discussion within 3 working days of the decision.
        assert_eq!(
            find(&ds, Kind::StrategyDiscussion).due_at,
            utc(2026, 12, 10, 17, 0)
        );
        // A proposed (unapproved) decision starts nothing.
        f.decision.as_mut().unwrap().approved_at = None;
        let ds = derive(&f, &cal, Settings::default());
        assert!(ds.iter().all(|d| d.kind != Kind::ReferrerTold));
        assert!(find(&ds, Kind::ReferralDecision).met_at.is_none());
    }

    #[test]
    fn immediate_risk_means_a_discussion_the_same_working_day() {
        let cal = Calendar::default();
        let mut f = facts(utc(2026, 12, 4, 16, 59));
        f.immediate_risk = true;
        let ds = derive(&f, &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::StrategyDiscussion).due_at,
            utc(2026, 12, 4, 17, 0)
        );
        f.received_at = utc(2026, 12, 4, 17, 1);
        let ds = derive(&f, &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::StrategyDiscussion).due_at,
            utc(2026, 12, 7, 17, 0)
        );
    }

    fn with_two_discussions() -> (Facts, Uuid, Uuid, Uuid) {
        let child = Uuid::now_v7();
        let first = Uuid::now_v7();
        let second = Uuid::now_v7();
        let mut f = facts(utc(2026, 12, 1, 10, 0));
        f.discussions = vec![
            DiscussionFacts {
                id: first,
                held_at: utc(2026, 12, 3, 14, 0),
            },
            DiscussionFacts {
                id: second,
                held_at: utc(2026, 12, 10, 14, 0),
            },
        ];
        f.enquiries = vec![EnquiryFacts {
            child,
            started_by: first,
            outcome: None,
        }];
        (f, child, first, second)
    }

    #[test]
    fn the_icpc_runs_from_the_discussion_that_started_the_enquiry_and_a_later_one_does_not_reset_it()
     {
        let cal = Calendar::default();
        let (f, child, _, _) = with_two_discussions();
        let ds = derive(&f, &cal, Settings::default());
        let icpc = find(&ds, Kind::Icpc);
        assert_eq!(icpc.child, Some(child));
        // 15 working days after Thursday 3 December 2026: Thursday 24 December.
        assert_eq!(icpc.due_at, utc(2026, 12, 24, 17, 0));
        // The local rule (from the last discussion, 10 December) gives a later date, kept beside it:
        // 15 working days after 10 December, over Christmas and New Year: 5 January 2027.
        assert_eq!(icpc.local_due_at, Some(utc(2027, 1, 5, 17, 0)));
        assert!(icpc.started_by.contains("3 December 2026"));
        // Without the local rule, only the national date.
        let ds = derive(
            &f,
            &cal,
            Settings {
                icpc_local_rule: false,
                ..Settings::default()
            },
        );
        assert_eq!(find(&ds, Kind::Icpc).local_due_at, None);
    }

    #[test]
    fn an_outcome_without_a_conference_removes_the_icpc_clock() {
        let cal = Calendar::default();
        let (mut f, _, _, _) = with_two_discussions();
        f.enquiries[0].outcome = Some(Section47Outcome::NotSubstantiated);
        let ds = derive(&f, &cal, Settings::default());
        assert!(ds.iter().all(|d| d.kind != Kind::Icpc));
        f.enquiries[0].outcome = Some(Section47Outcome::LikelySignificantHarm);
        assert!(
            derive(&f, &cal, Settings::default())
                .iter()
                .any(|d| d.kind == Kind::Icpc)
        );
    }

    #[test]
    fn the_icpc_starts_the_core_group_and_review_clocks() {
        let cal = Calendar::default();
        let (mut f, child, _, _) = with_two_discussions();
        let icpc_id = Uuid::now_v7();
        f.conferences.push(ConferenceFacts {
            id: icpc_id,
            child,
            initial: true,
            held_at: utc(2026, 12, 22, 10, 0),
            plan: true,
        });
        let ds = derive(&f, &cal, Settings::default());
        let icpc = find(&ds, Kind::Icpc);
        assert!(icpc.met_at.is_some() && !icpc.met_late());
        // Core group: 10 working days after Tuesday 22 December 2026, over Christmas: 8 January.
        assert_eq!(find(&ds, Kind::CoreGroup).due_at, utc(2027, 1, 8, 17, 0));
        // First review: 3 months after 22 December 2026 is Monday 22 March 2027.
        let review = find(&ds, Kind::ReviewConference);
        assert_eq!((review.seq, review.due_at), (1, utc(2027, 3, 22, 17, 0)));
        // A review that keeps the plan: the next is due 6 months later, 22 September 2027 (BST).
        f.conferences.push(ConferenceFacts {
            id: Uuid::now_v7(),
            child,
            initial: false,
            held_at: utc(2027, 3, 18, 10, 0),
            plan: true,
        });
        let ds = derive(&f, &cal, Settings::default());
        let reviews: Vec<&Deadline> = ds
            .iter()
            .filter(|d| d.kind == Kind::ReviewConference)
            .collect();
        assert_eq!(reviews.len(), 2);
        assert!(reviews[0].met_at.is_some());
        assert_eq!(
            reviews[1].due_at,
            utc(2027, 9, 17, 16, 0),
            "6 months after 18 March 2027"
        );
        // A 3-month date on a weekend moves back to the Friday before: ICPC on 5 March 2027
        // gives 5 June 2027, a Saturday, so Friday 4 June.
        f.conferences = vec![ConferenceFacts {
            id: icpc_id,
            child,
            initial: true,
            held_at: utc(2027, 3, 5, 10, 0),
            plan: true,
        }];
        let ds = derive(&f, &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::ReviewConference).due_at,
            utc(2027, 6, 4, 16, 0)
        );
    }

    #[test]
    fn assessment_and_lado_clocks() {
        let cal = Calendar::default();
        let mut f = facts(utc(2026, 12, 3, 10, 0));
        f.works_with_children = true;
        let ds = derive(&f, &cal, Settings::default());
        assert_eq!(
            find(&ds, Kind::LadoInformed).due_at,
            utc(2026, 12, 4, 17, 0)
        );
        // 45 working days after 3 December 2026 (Christmas, Boxing Day substitute, New Year).
        assert_eq!(
            find(&ds, Kind::SingleAssessment).due_at,
            utc(2027, 2, 9, 17, 0)
        );
        f.decision = Some(DecisionFacts {
            outcome: DecisionOutcome::EarlyHelp,
            approved_at: Some(utc(2026, 12, 3, 15, 0)),
            referrer_told_at: None,
        });
        let ds = derive(&f, &cal, Settings::default());
        assert!(ds.iter().all(|d| d.kind != Kind::SingleAssessment));
        assert!(
            ds.iter().any(|d| d.kind == Kind::LadoInformed),
            "the LADO clock stays"
        );
    }

    #[test]
    fn deriving_twice_gives_the_same_and_closing_ends_what_is_open() {
        let cal = Calendar::default();
        let (mut f, _, _, _) = with_two_discussions();
        let a = derive(&f, &cal, Settings::default());
        let b = derive(&f, &cal, Settings::default());
        assert_eq!(a, b);
        f.closed_at = Some(utc(2026, 12, 15, 10, 0));
        let ds = derive(&f, &cal, Settings::default());
        assert!(
            ds.iter()
                .filter(|d| d.met_at.is_none())
                .all(|d| d.ended_at.is_some())
        );
    }

    #[test]
    fn how_a_deadline_is_described() {
        let cal = Calendar::default();
        let due = utc(2026, 12, 4, 17, 0);
        assert_eq!(
            describe(&cal, due, utc(2026, 12, 4, 9, 0)),
            "due today by 5pm"
        );
        assert_eq!(
            describe(&cal, due, utc(2026, 12, 4, 17, 1)),
            "overdue since 5pm today"
        );
        assert_eq!(
            describe(&cal, due, utc(2026, 12, 8, 9, 0)),
            "2 working days overdue"
        );
        assert_eq!(
            describe(&cal, due, utc(2026, 12, 3, 9, 0)),
            "due tomorrow by 5pm (Friday 4)"
        );
        assert_eq!(
            describe(&cal, due, utc(2026, 12, 1, 9, 0)),
            "due in 3 working days (4 December 2026)"
        );
    }
}
