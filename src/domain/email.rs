//! An e-mail address as Haven keeps it: trimmed and lower-cased.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an email address")]
    Empty,
    #[error("Email address must be 254 characters or fewer")]
    TooLong,
    #[error("Enter an email address in the correct format, like name@example.org")]
    Format,
}

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let s = input.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::Format)?;
        let ok_local = !local.is_empty() && !local.contains('@');
        let ok_domain = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        let ok_chars = s.chars().all(|c| !c.is_whitespace() && !c.is_control());
        if ok_local && ok_domain && ok_chars {
            Ok(Email(s))
        } else {
            Err(EmailError::Format)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(
            Email::parse("  Sam.Lee@Example.ORG ").unwrap().as_str(),
            "sam.lee@example.org"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        assert_eq!(Email::parse("no-at-sign"), Err(EmailError::Format));
        assert_eq!(Email::parse("a@b"), Err(EmailError::Format));
        assert_eq!(Email::parse("a b@example.org"), Err(EmailError::Format));
        assert_eq!(Email::parse("a@@example.org"), Err(EmailError::Format));
        assert_eq!(
            Email::parse(&format!("{}@example.org", "a".repeat(260))),
            Err(EmailError::TooLong)
        );
    }
}
