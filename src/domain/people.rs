//! What Haven records about the people on a case, and the rules those facts obey:
//! the NHS number's check digit, and a date of birth that an estimated age may not contradict.

use chrono::{Datelike, NaiveDate};

use super::kinds::vocabulary;

vocabulary! {
    /// Sex as recorded by the referrer or agencies. Gender, where different, is free text.
    Sex {
        Female => "female", "Female";
        Male => "male", "Male";
        Indeterminate => "indeterminate", "Indeterminate";
        NotKnown => "not_known", "Not known";
    }
}

vocabulary! {
    /// Ethnicity, in the categories the Department for Education's children's census uses.
    Ethnicity {
        WhiteBritish => "WBRI", "White: English, Welsh, Scottish, Northern Irish or British";
        WhiteIrish => "WIRI", "White: Irish";
        IrishTraveller => "WIRT", "White: Traveller of Irish heritage";
        GypsyRoma => "WROM", "White: Gypsy or Roma";
        WhiteOther => "WOTH", "White: any other White background";
        MixedCaribbean => "MWBC", "Mixed: White and Black Caribbean";
        MixedAfrican => "MWBA", "Mixed: White and Black African";
        MixedAsian => "MWAS", "Mixed: White and Asian";
        MixedOther => "MOTH", "Mixed: any other mixed background";
        Indian => "AIND", "Asian or Asian British: Indian";
        Pakistani => "APKN", "Asian or Asian British: Pakistani";
        Bangladeshi => "ABAN", "Asian or Asian British: Bangladeshi";
        AsianOther => "AOTH", "Asian or Asian British: any other Asian background";
        Caribbean => "BCRB", "Black or Black British: Caribbean";
        African => "BAFR", "Black or Black British: African";
        BlackOther => "BOTH", "Black or Black British: any other Black background";
        Chinese => "CHNE", "Chinese";
        Other => "OOTH", "Any other ethnic group";
        Refused => "REFU", "They chose not to say";
        NotObtained => "NOBT", "Not known yet";
    }
}

vocabulary! {
    /// Special educational needs or disability.
    Send {
        None => "none", "No special educational needs or disability known";
        SenSupport => "sen_support", "Special educational needs support";
        EhcPlan => "ehc_plan", "Education, health and care plan";
        Disability => "disability", "A disability, without an education plan";
        NotKnown => "not_known", "Not known";
    }
}

vocabulary! {
    /// A yes, no or not-known answer (interpreter needed, child protection plan, looked after).
    Answer {
        Yes => "yes", "Yes";
        No => "no", "No";
        NotKnown => "not_known", "Not known";
    }
}

vocabulary! {
    /// How an adult is related to one particular child on the case.
    ChildRelationship {
        Parent => "parent", "Parent";
        StepParent => "step_parent", "Step-parent or parent's partner";
        Carer => "carer", "Foster carer, guardian or other carer";
        Relative => "relative", "Other relative";
        Sibling => "sibling", "Adult brother or sister";
        Household => "household", "Lives in the same household";
        FamilyFriend => "family_friend", "Family friend or neighbour";
        Professional => "professional", "Works with the child (teacher, coach, youth worker and so on)";
        OnlineContact => "online_contact", "Known to the child only online";
        NoKnownLink => "none_known", "No known connection";
        NotKnown => "not_known", "Not known";
    }
}

/// The digits of a well-formed NHS number, or why it is not one. Spaces and hyphens are
/// allowed between digits as people copy them from letters ("943 476 5919").
pub fn nhs_number(typed: &str) -> Result<String, &'static str> {
    let digits: String = typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("An NHS number is 10 digits, like 943 476 5919");
    }
    let d: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
    // Modulus 11: weights 10 down to 2 on the first nine digits.
    let sum: u32 = d[..9].iter().zip((2..=10).rev()).map(|(x, w)| x * w).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return Err("That is not a valid NHS number: check each digit"),
        c => c,
    };
    if check != d[9] {
        return Err("That is not a valid NHS number: check each digit");
    }
    Ok(digits)
}

/// An NHS number shown as people write it: 3, 3 and 4 digits.
pub fn format_nhs_number(digits: &str) -> String {
    if digits.len() == 10 {
        format!("{} {} {}", &digits[..3], &digits[3..6], &digits[6..])
    } else {
        digits.to_owned()
    }
}

/// Age in whole years on `today`.
pub fn age_on(dob: NaiveDate, today: NaiveDate) -> i32 {
    let mut years = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    years
}

/// When both a date of birth and an age are given, they must agree.
pub fn age_contradicts(dob: NaiveDate, age: i32, today: NaiveDate) -> bool {
    age_on(dob, today) != age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_numbers_are_checked_by_their_last_digit() {
        assert_eq!(nhs_number("943 476 5919").as_deref(), Ok("9434765919"));
        assert_eq!(nhs_number("943-476-5919").as_deref(), Ok("9434765919"));
        assert!(nhs_number("9434765918").is_err(), "wrong check digit");
        assert!(nhs_number("943476591").is_err(), "nine digits");
        assert!(nhs_number("94347659190").is_err(), "eleven digits");
        assert!(nhs_number("943476591x").is_err());
        // A remainder that gives a check digit of 10 can never be valid.
        assert!(nhs_number("0000000060").is_err());
        assert_eq!(nhs_number("4010232137").as_deref(), Ok("4010232137"));
        assert_eq!(format_nhs_number("9434765919"), "943 476 5919");
    }

    #[test]
    fn ages_count_whole_years_and_contradictions_are_caught() {
        let dob = NaiveDate::from_ymd_opt(2012, 6, 15).unwrap();
        let before = NaiveDate::from_ymd_opt(2026, 6, 14).unwrap();
        let on = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
        assert_eq!(age_on(dob, before), 13);
        assert_eq!(age_on(dob, on), 14);
        assert!(!age_contradicts(dob, 14, on));
        assert!(age_contradicts(dob, 9, on));
    }

    #[test]
    fn codes_round_trip() {
        for e in Ethnicity::ALL {
            assert_eq!(Ethnicity::parse(e.code()), Some(*e));
        }
        for r in ChildRelationship::ALL {
            assert_eq!(ChildRelationship::parse(r.code()), Some(*r));
        }
    }
}
