//! The password rules: 12 to 128 characters, no composition rules, not a commonly used password.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Passwords of 12 or more characters from a public list of the most used ones (see data/README.md).
static COMMON: &str = include_str!("../../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 128;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("Enter a password")]
    Empty,
    #[error("Password must be 12 characters or more")]
    TooShort,
    #[error("Password must be 128 characters or fewer")]
    TooLong,
    #[error("This password is one of the most commonly used; choose a different one")]
    Common,
    #[error("The passwords do not match")]
    Mismatch,
}

/// Check a new password against the rules.
pub fn check_new(password: &str, confirmation: &str) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n == 0 {
        return Err(PasswordProblem::Empty);
    }
    if n < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(PasswordProblem::Common);
    }
    if password != confirmation {
        return Err(PasswordProblem::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert_eq!(check_new("", ""), Err(PasswordProblem::Empty));
        assert_eq!(
            check_new("short pass", "short pass"),
            Err(PasswordProblem::TooShort)
        );
        let long = "x".repeat(129);
        assert_eq!(check_new(&long, &long), Err(PasswordProblem::TooLong));
        let ok = "lantern orchard pebble";
        assert_eq!(check_new(ok, ok), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        assert!(common().len() > 40_000);
        assert_eq!(
            check_new("123456789012", "123456789012"),
            Err(PasswordProblem::Common)
        );
        assert_eq!(
            check_new("PASSWORD1234", "PASSWORD1234"),
            Err(PasswordProblem::Common)
        );
    }

    #[test]
    fn no_composition_rules_and_unicode_counts_characters() {
        let p = "ééééééééééé"; // 11 characters, 22 bytes
        assert_eq!(check_new(p, p), Err(PasswordProblem::TooShort));
        let p = "all lower case words here";
        assert_eq!(check_new(p, p), Ok(()));
    }

    #[test]
    fn confirmation_must_match() {
        assert_eq!(
            check_new("lantern orchard pebble", "lantern orchard pebbles"),
            Err(PasswordProblem::Mismatch)
        );
    }
}
