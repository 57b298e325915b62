//! The allegations procedure (the LADO path): the vocabularies, the same-day escalation steps and
//! their clocks, the harm test, outcomes with KCSIE's definitions, and the review date of the
//! employer's record.
//!
//! The escalation steps and their clocks (domain.md, "An employee's concern about a colleague"):
//! telling the line manager (or, when the concern is about them, the next senior manager),
//! securing the device, and contacting the LADO are due by the end of the working day on which
//! the concern arose (after the close, or on a day off: the next working day's close); contacting
//! the police is due immediately, which Haven takes as within one hour of the concern arising;
//! the senior managers' immediate actions and following the procedures have no fixed clock. The
//! whistle-blowing route is an alternative way of telling, not an extra step. Separately, the
//! statutory measure: the LADO informed within one working day.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};

use super::calendar::Calendar;
use super::kinds::vocabulary;

vocabulary! {
    /// Where the person the allegation is about works or volunteers with children.
    Setting {
        School => "school", "School or college";
        EarlyYears => "early_years", "Early years";
        Health => "health", "Health";
        SocialCare => "social_care", "Social care";
        Voluntary => "voluntary", "Voluntary or community group";
        Faith => "faith", "Faith group";
        Sport => "sport", "Sport or leisure";
        Other => "other", "Other";
    }
}

vocabulary! {
    /// Where the conduct happened: at work, or outside it (transferable risk).
    Conduct {
        AtWork => "at_work", "At work";
        OutsideWork => "outside_work", "Outside work (transferable risk)";
        Both => "both", "Both";
    }
}

vocabulary! {
    /// The harm test (KCSIE Part 4): which apply.
    HarmTest {
        Harmed => "harmed", "Behaved in a way that has harmed a child, or may have";
        Offence => "offence", "Possibly committed a criminal offence against or related to a child";
        RiskOfHarm => "risk_of_harm", "Behaved towards a child in a way that indicates they may pose a risk of harm";
        Unsuitable => "unsuitable", "Behaved in a way that indicates they may not be suitable to work with children (this covers conduct outside work)";
    }
}

vocabulary! {
    /// How the LADO heard of it.
    ContactKind {
        Phone => "phone", "Phone call";
        Email => "email", "Email";
        InPerson => "in_person", "In person";
        Section47 => "section47", "Handed over from a Section 47 enquiry";
    }
}

vocabulary! {
    /// The allegations strands.
    Strand {
        Police => "police", "Police";
        Employer => "employer", "Employer / HR";
        SocialCare => "social_care", "Children's social care";
    }
}

vocabulary! {
    StrandStatus {
        NotStarted => "not_started", "Not started";
        InProgress => "in_progress", "In progress";
        Concluded => "concluded", "Concluded";
        NotNeeded => "not_needed", "Not needed";
    }
}

vocabulary! {
    MeetingKind {
        InitialEvaluation => "initial_evaluation", "Initial evaluation";
        Strategy => "strategy", "Strategy meeting";
        Review => "review", "Review meeting";
    }
}

vocabulary! {
    /// Immediate actions about the employee.
    EmployeeAction {
        Suspension => "suspension", "Suspension";
        Redeployment => "redeployment", "Redeployment";
        NoAction => "no_action", "No action";
        Other => "other", "Other";
    }
}

vocabulary! {
    /// The outcome of an allegation.
    Outcome {
        Substantiated => "substantiated", "Substantiated";
        Malicious => "malicious", "Malicious";
        False => "false", "False";
        Unsubstantiated => "unsubstantiated", "Unsubstantiated";
        Unfounded => "unfounded", "Unfounded";
    }
}

impl Outcome {
    /// KCSIE's definition, shown as help text.
    pub fn definition(self) -> &'static str {
        match self {
            Outcome::Substantiated => "There is enough evidence to prove the allegation.",
            Outcome::Malicious => {
                "There is enough evidence to disprove the allegation, and there has been a deliberate act to deceive."
            }
            Outcome::False => "There is enough evidence to disprove the allegation.",
            Outcome::Unsubstantiated => {
                "There is not enough evidence to prove or disprove the allegation. The term does not imply guilt or innocence."
            }
            Outcome::Unfounded => "There is no evidence or proper basis to support the allegation.",
        }
    }
    /// Only substantiated allegations may be cited in references.
    pub fn citable(self) -> bool {
        matches!(self, Outcome::Substantiated)
    }
    /// Malicious and false allegations are removed from personnel files (unless the person consents).
    pub fn removed_from_personnel_file(self) -> bool {
        matches!(self, Outcome::Malicious | Outcome::False)
    }
    /// A false or malicious allegation by a child prompts a referral of that child.
    pub fn prompts_referral_of_child(self) -> bool {
        matches!(self, Outcome::Malicious | Outcome::False)
    }
}

/// When a step falls due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// By the end of the working day on which the concern arose.
    SameWorkingDay,
    /// Within an hour of the concern arising.
    Immediately,
    /// No fixed clock.
    None,
}

/// Minutes "immediately" allows.
pub const IMMEDIATELY_MINUTES: i64 = 60;

/// The escalation steps, in order: (code, words, clock).
pub const STEPS: &[(&str, &str, Clock)] = &[
    (
        "tell_manager",
        "The employee told their line manager (or, if the concern is about them, the next senior manager)",
        Clock::SameWorkingDay,
    ),
    (
        "secure_device",
        "The manager secured the computer or device so nobody uses it",
        Clock::SameWorkingDay,
    ),
    (
        "contact_lado",
        "The LADO was contacted",
        Clock::SameWorkingDay,
    ),
    (
        "contact_police",
        "The LADO and the manager made sure the police child protection unit was contacted and actions agreed",
        Clock::Immediately,
    ),
    (
        "immediate_actions",
        "Senior managers agreed immediate actions about the employee, with the LADO and the police's view",
        Clock::None,
    ),
    (
        "procedures_followed",
        "The LADO made sure child protection procedures, including the allegations procedure, are followed",
        Clock::None,
    ),
];

pub fn step(code: &str) -> Option<&'static (&'static str, &'static str, Clock)> {
    STEPS.iter().find(|s| s.0 == code)
}

/// How the employee raised it: to their line manager, around an implicated line manager to the
/// next senior manager, or through the whistle-blowing route (an alternative, not an extra step).
pub const ROUTES: &[(&str, &str)] = &[
    ("line_manager", "To their line manager"),
    (
        "next_senior_manager",
        "To the next senior manager, because the concern is about the line manager",
    ),
    (
        "whistleblowing",
        "Through the organisation's whistle-blowing route",
    ),
];

/// When a step is due, for a concern that arose at `arose`. None: no fixed clock.
pub fn step_due(cal: &Calendar, clock: Clock, arose: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match clock {
        Clock::SameWorkingDay => Some(cal.end_of_working_day(arose)),
        Clock::Immediately => Some(arose + Duration::minutes(IMMEDIATELY_MINUTES)),
        Clock::None => None,
    }
}

/// The statutory measure: the LADO informed within one working day of the concern arising.
pub fn lado_informed_due(cal: &Calendar, arose: DateTime<Utc>) -> DateTime<Utc> {
    cal.working_days_after(arose, 1)
}

/// Why a review date cannot be worked out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReviewDateError {
    #[error(
        "Enter the person's date of birth: the review date is worked out from their pension age"
    )]
    NeedsDateOfBirthOrSchemeAge,
}

/// The state pension age for someone born on `dob`, simplified to whole years: 66 for those
/// born before 6 April 1960, 67 from then (the law phases the change in month by month for
/// people born between 6 April 1960 and 5 March 1961; Haven rounds that up to 67, which gives a
/// later review date, never an earlier one), and 68 from 6 April 1977. A scheme's normal pension
/// age, when recorded, is used instead.
pub fn normal_pension_age(dob: NaiveDate) -> u32 {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("a fixed date");
    if dob < d(1960, 4, 6) {
        66
    } else if dob < d(1977, 4, 6) {
        67
    } else {
        68
    }
}

/// The review date of the employer's record: the later of the person's normal pension age and
/// 10 years from the allegation. It is a review date, not a deletion date.
pub fn review_date(
    allegation_on: NaiveDate,
    date_of_birth: Option<NaiveDate>,
    scheme_age: Option<u32>,
) -> Result<NaiveDate, ReviewDateError> {
    let ten_years = allegation_on
        .checked_add_months(Months::new(120))
        .unwrap_or(allegation_on);
    let Some(dob) = date_of_birth else {
        return Err(ReviewDateError::NeedsDateOfBirthOrSchemeAge);
    };
    let age = scheme_age.unwrap_or_else(|| normal_pension_age(dob));
    let pension = NaiveDate::from_ymd_opt(dob.year() + age as i32, dob.month(), dob.day())
        .or_else(|| NaiveDate::from_ymd_opt(dob.year() + age as i32, 3, 1))
        .unwrap_or(ten_years);
    Ok(pension.max(ten_years))
}

/// A cell for a CSV export: formula-like text (starting with =, +, -, @, a tab or a carriage
/// return) is prefixed with an apostrophe so a spreadsheet shows it as text; quotes are doubled.
pub fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }
    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn same_day_steps_at_16_59_and_17_01_on_a_friday_before_a_bank_holiday_and_across_the_clock_change()
     {
        let cal = Calendar::default();
        let same = |t| step_due(&cal, Clock::SameWorkingDay, t).unwrap();
        // Thursday 3 December 2026.
        assert_eq!(same(utc(2026, 12, 3, 16, 59)), utc(2026, 12, 3, 17, 0));
        assert_eq!(same(utc(2026, 12, 3, 17, 1)), utc(2026, 12, 4, 17, 0));
        // A Friday after the close: Monday.
        assert_eq!(same(utc(2026, 12, 4, 17, 1)), utc(2026, 12, 7, 17, 0));
        // Thursday 24 December after the close: Tuesday 29 December (Christmas, the weekend
        // and the Boxing Day substitute day in between).
        assert_eq!(same(utc(2026, 12, 24, 17, 30)), utc(2026, 12, 29, 17, 0));
        // Friday 27 March 2026 after the close: Monday 30 March, in summer time (16:00 UTC).
        assert_eq!(same(utc(2026, 3, 27, 17, 30)), utc(2026, 3, 30, 16, 0));
        // In summer time 16:59 London is 15:59 UTC.
        assert_eq!(same(utc(2026, 7, 1, 15, 59)), utc(2026, 7, 1, 16, 0));
        assert_eq!(same(utc(2026, 7, 1, 16, 1)), utc(2026, 7, 2, 16, 0));
        // Immediately: within an hour, whatever the day.
        assert_eq!(
            step_due(&cal, Clock::Immediately, utc(2026, 12, 5, 22, 0)).unwrap(),
            utc(2026, 12, 5, 23, 0)
        );
        assert_eq!(step_due(&cal, Clock::None, utc(2026, 12, 5, 22, 0)), None);
        // The statutory measure: one working day.
        assert_eq!(
            lado_informed_due(&cal, utc(2026, 12, 4, 10, 0)),
            utc(2026, 12, 7, 17, 0)
        );
    }

    #[test]
    fn review_dates_are_pension_age_or_ten_years_whichever_is_later() {
        // Born 14 May 1990: pension age 68, in 2058; ten years from 2026 is 2036.
        assert_eq!(
            review_date(date(2026, 12, 3), Some(date(1990, 5, 14)), None),
            Ok(date(2058, 5, 14))
        );
        // Born 1 January 1962 (67), allegation in 2026: 2029 against 2036, so 2036.
        assert_eq!(
            review_date(date(2026, 12, 3), Some(date(1962, 1, 1)), None),
            Ok(date(2036, 12, 3))
        );
        // A scheme age recorded instead; born on 29 February, in a year without one: 1 March.
        assert_eq!(
            review_date(date(2026, 12, 3), Some(date(1980, 2, 29)), Some(60)),
            Ok(date(2040, 2, 29))
        );
        assert_eq!(
            review_date(date(2026, 12, 3), Some(date(1980, 2, 29)), Some(61)),
            Ok(date(2041, 3, 1))
        );
        assert_eq!(
            review_date(date(2026, 12, 3), None, Some(65)),
            Err(ReviewDateError::NeedsDateOfBirthOrSchemeAge)
        );
        assert_eq!(normal_pension_age(date(1960, 4, 5)), 66);
        assert_eq!(normal_pension_age(date(1977, 4, 6)), 68);
    }

    #[test]
    fn csv_cells_never_become_formulas() {
        assert_eq!(csv_cell("=SUM(A1:A9)"), "'=SUM(A1:A9)");
        assert_eq!(csv_cell("+44 1632"), "'+44 1632");
        assert_eq!(csv_cell("-3"), "'-3");
        assert_eq!(csv_cell("@cmd"), "'@cmd");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(csv_cell("plain"), "plain");
    }

    #[test]
    fn outcomes_and_their_consequences() {
        assert!(Outcome::Substantiated.citable());
        assert!(!Outcome::Unsubstantiated.citable());
        assert!(Outcome::False.removed_from_personnel_file());
        assert!(Outcome::Malicious.prompts_referral_of_child());
        assert!(!Outcome::Unfounded.prompts_referral_of_child());
        assert_eq!(STEPS.len(), 6);
        assert_eq!(ROUTES.len(), 3);
    }
}
