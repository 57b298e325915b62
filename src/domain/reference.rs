//! Readable case references such as `HVN-2026-000123`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseReference(String);

impl CaseReference {
    pub fn new(year: i32, number: i32) -> CaseReference {
        CaseReference(format!("HVN-{year:04}-{number:06}"))
    }

    /// Parse a reference typed by a person (case and surrounding space ignored).
    pub fn parse(input: &str) -> Option<CaseReference> {
        let s = input.trim().to_uppercase();
        let rest = s.strip_prefix("HVN-")?;
        let (year, number) = rest.split_once('-')?;
        let ok = year.len() == 4
            && number.len() >= 6
            && year.chars().all(|c| c.is_ascii_digit())
            && number.chars().all(|c| c.is_ascii_digit());
        ok.then_some(CaseReference(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_with_padding() {
        assert_eq!(CaseReference::new(2026, 123).as_str(), "HVN-2026-000123");
        assert_eq!(
            CaseReference::new(2026, 1_234_567).as_str(),
            "HVN-2026-1234567"
        );
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(
            CaseReference::parse(" hvn-2026-000123 ").unwrap().as_str(),
            "HVN-2026-000123"
        );
        assert!(CaseReference::parse("HVN-26-000123").is_none());
        assert!(CaseReference::parse("HVN-2026-12").is_none());
        assert!(CaseReference::parse("2026-000123").is_none());
    }

    proptest! {
        #[test]
        fn every_made_reference_parses_back(year in 2000i32..3000, n in 1i32..i32::MAX) {
            let r = CaseReference::new(year, n);
            prop_assert_eq!(CaseReference::parse(r.as_str()), Some(r));
        }
    }
}
