//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30-second steps), as authenticator apps expect.

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP: u64 = 30;

/// A new 160-bit secret, base32-encoded as people type it into an app.
pub fn new_secret() -> String {
    let mut bytes = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    match Secret::Raw(bytes).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded always returns Encoded"),
    }
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let raw = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, 6, 0, STEP, raw).ok()
}

/// The code an app shows at `unix_time` (used by tests and the demo data).
pub fn code_at(secret_b32: &str, unix_time: u64) -> Option<String> {
    totp(secret_b32).map(|t| t.generate(unix_time))
}

/// Check a typed code, allowing one step of clock drift either way. Returns the time step
/// that matched, so the caller can refuse a code that was already used (replay).
pub fn verify(
    secret_b32: &str,
    input: &str,
    unix_time: u64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32)?;
    let now_step = (unix_time / STEP) as i64;
    for step in [now_step - 1, now_step, now_step + 1] {
        if step < 0 || last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = t.generate(step as u64 * STEP);
        if subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into() {
            return Some(step);
        }
    }
    None
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn provisioning_uri(secret_b32: &str, account: &str) -> String {
    let label = percent_encoding::utf8_percent_encode(
        &format!("Haven:{account}"),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    format!(
        "otpauth://totp/{label}?secret={secret_b32}&issuer=Haven&algorithm=SHA1&digits=6&period=30"
    )
}

/// The QR code for `uri` as an SVG image.
pub fn qr_svg(uri: &str) -> Option<String> {
    let code = qrcode::QrCode::new(uri.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B test secret "12345678901234567890" in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn matches_the_rfc_test_vector() {
        // At T=59 the 8-digit SHA-1 value is 94287082; the 6-digit code is its last six digits.
        assert_eq!(code_at(RFC_SECRET, 59).unwrap(), "287082");
        assert_eq!(verify(RFC_SECRET, "287 082", 59, None), Some(1));
    }

    #[test]
    fn allows_one_step_of_drift_and_refuses_replay() {
        let now = 1_800_000_000u64;
        let code = code_at(RFC_SECRET, now - 30).unwrap();
        let step = verify(RFC_SECRET, &code, now, None).unwrap();
        assert_eq!(verify(RFC_SECRET, &code, now, Some(step)), None);
        let old = code_at(RFC_SECRET, now - 90).unwrap();
        assert_eq!(verify(RFC_SECRET, &old, now, None), None);
        assert_eq!(verify(RFC_SECRET, "abcdef", now, None), None);
    }

    #[test]
    fn new_secrets_work_and_render_as_qr() {
        let s = new_secret();
        assert_eq!(s.len(), 32);
        let uri = provisioning_uri(&s, "sam@example.org");
        assert!(uri.starts_with("otpauth://totp/Haven%3Asam%40example%2Eorg?secret="));
        assert!(qr_svg(&uri).unwrap().contains("<svg"));
    }
}
