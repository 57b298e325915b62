//! Cross-site request forgery defences: the Origin / Sec-Fetch-Site check and the form token.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::keys;

/// How long a sign-in or set-password form's token lasts.
pub const PRE_SESSION_TOKEN_SECONDS: i64 = 12 * 3600;

/// A token for forms shown before anyone is signed in (sign-in, set password), used as a
/// double-submit cookie. Haven signs it, so only a token Haven issued (and recently) is taken:
/// a forged cookie with a matching form field is refused before any password is checked.
/// Layout: base64url(16 random bytes ‖ expiry as 8 bytes ‖ first 16 bytes of the MAC).
pub fn new_pre_session_token(secret: &[u8; 32], now_unix: i64) -> String {
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let expires = (now_unix + PRE_SESSION_TOKEN_SECONDS).to_be_bytes();
    let key = keys::derive(secret, "pre-session form token v1");
    let mac = keys::mac(&key, &[&nonce, &expires]);
    let mut out = nonce.to_vec();
    out.extend_from_slice(&expires);
    out.extend_from_slice(&mac[..16]);
    URL_SAFE_NO_PAD.encode(out)
}

/// True for a token Haven issued that has not expired.
pub fn pre_session_token_valid(secret: &[u8; 32], token: &str, now_unix: i64) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    if bytes.len() != 40 {
        return false;
    }
    let (nonce, rest) = bytes.split_at(16);
    let (expires, mac) = rest.split_at(8);
    let key = keys::derive(secret, "pre-session form token v1");
    let full = keys::mac(&key, &[nonce, expires]);
    let genuine: bool = full[..16].ct_eq(mac).into();
    let expires = i64::from_be_bytes(expires.try_into().unwrap_or([0; 8]));
    genuine && expires > now_unix
}

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
    fn pre_session_tokens_must_be_haven_made_and_fresh() {
        let key = [3u8; 32];
        let now = 1_800_000_000;
        let t = new_pre_session_token(&key, now);
        assert!(pre_session_token_valid(&key, &t, now));
        assert!(!pre_session_token_valid(
            &key,
            &t,
            now + PRE_SESSION_TOKEN_SECONDS + 1
        ));
        assert!(!pre_session_token_valid(&[4u8; 32], &t, now));
        assert!(!pre_session_token_valid(
            &key,
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            now
        ));
        assert!(!pre_session_token_valid(&key, "anything at all", now));
        let mut forged = URL_SAFE_NO_PAD.decode(&t).unwrap();
        forged[20] ^= 1; // push the expiry along
        assert!(!pre_session_token_valid(
            &key,
            &URL_SAFE_NO_PAD.encode(forged),
            now
        ));
    }

    #[test]
    fn tokens() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("", ""));
    }
}
