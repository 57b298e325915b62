//! Encryption for the few secrets Haven must read back: authenticator app keys.
//! (Passwords, session tokens, links and recovery codes are only ever hashed.)
//!
//! AES-256-GCM with a random 96-bit nonce per value; stored as `v1.` + base64url(nonce ‖ ciphertext).
//! The version prefix leaves room for key rotation.

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "v1.";

/// Encrypt `plaintext` under `key`.
pub fn seal(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    // Encryption with a valid key and nonce cannot fail for in-memory data.
    let ciphertext = cipher
        .encrypt(&nonce, plaintext.as_bytes())
        .unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ciphertext);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
}

/// Decrypt a value made by [`seal`]; `None` if it was made with another key or was altered.
pub fn open(key: &[u8; 32], sealed: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(PREFIX)?).ok()?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let plain = cipher.decrypt(Nonce::from_slice(nonce), ciphertext).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_value() {
        let key = [7u8; 32];
        let a = seal(&key, "JBSWY3DPEHPK3PXP");
        let b = seal(&key, "JBSWY3DPEHPK3PXP");
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(open(&key, &a).as_deref(), Some("JBSWY3DPEHPK3PXP"));
    }

    #[test]
    fn the_wrong_key_or_an_altered_value_opens_nothing() {
        let sealed = seal(&[7u8; 32], "JBSWY3DPEHPK3PXP");
        assert_eq!(open(&[8u8; 32], &sealed), None);
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(open(&[7u8; 32], &altered), None);
        assert_eq!(open(&[7u8; 32], "JBSWY3DPEHPK3PXP"), None);
    }
}
