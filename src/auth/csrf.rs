//! Cross-site request forgery defences: the Origin / Sec-Fetch-Site check and the form token.

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// Browsers say where a form post came from. Refuse anything from another site.
/// Requests with neither header (old browsers, command-line tools) fall through to the token check.
pub fn same_origin(headers: &HeaderMap, public_origin: &str) -> bool {
    if let Some(origin) = headers.get("origin") {
        return origin.to_str().map(|o| o == public_origin).unwrap_or(false);
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") | None => true,
        Some(_) => false,
    }
}

/// Constant-time comparison of the submitted token with the expected one.
pub fn tokens_match(submitted: &str, expected: &str) -> bool {
    !expected.is_empty() && submitted.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_rules() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h, "https://haven.example.org"));
        h.insert("origin", "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h, "https://haven.example.org"));
        h.insert("origin", "https://haven.example.org".parse().unwrap());
        assert!(same_origin(&h, "https://haven.example.org"));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&h, "https://haven.example.org"));
    }

    #[test]
    fn tokens() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("", ""));
    }
}
