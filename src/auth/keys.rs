//! Keys derived from `HAVEN_SECRET_KEY`, one per purpose, and HMAC-SHA256 with them.
//!
//! One configured secret, many uses: each use gets its own key, `HMAC(secret, label)`, so a
//! value made for one purpose (a sign-in form token) can never pass for another (an audit row).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The key for `label`, derived from the configured secret.
pub fn derive(secret: &[u8; 32], label: &str) -> [u8; 32] {
    mac(secret, &[label.as_bytes()])
}

/// HMAC-SHA256 of the parts, each length-prefixed so their boundaries are unambiguous.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Constant-time check of a MAC.
pub fn mac_matches(key: &[u8], parts: &[&[u8]], expected: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(&mac(key, parts)[..], expected).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_purpose_and_parts_cannot_be_shifted() {
        let s = [7u8; 32];
        assert_ne!(derive(&s, "a"), derive(&s, "b"));
        assert_eq!(derive(&s, "a"), derive(&s, "a"));
        assert_ne!(mac(&s, &[b"ab", b"c"]), mac(&s, &[b"a", b"bc"]));
        let m = mac(&s, &[b"x"]);
        assert!(mac_matches(&s, &[b"x"], &m));
        assert!(!mac_matches(&s, &[b"y"], &m));
    }
}
