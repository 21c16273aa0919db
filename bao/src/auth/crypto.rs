//! The few primitives auth needs: random tokens, keyed and plain hashes,
//! constant-time comparison.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `bytes` random bytes from the OS, as lowercase hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system provides random bytes");
    hex(&buf)
}

/// HMAC-SHA256 of `value` under the app's secret key, for one `purpose`
/// (so a value keyed for sessions never works as a CSRF token), as hex.
pub(crate) fn keyed_hash(secret: &str, purpose: &str, value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key size");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// SHA-256 of `value` as hex: enough for high-entropy secrets like API tokens.
pub(crate) fn sha256_hex(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// Equality in time independent of where the inputs differ.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Whether `value` is `len` lowercase hex digits.
pub(crate) fn is_hex(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_depend_on_key_and_purpose() {
        let a = keyed_hash("k1", "session", "v");
        assert_eq!(a, keyed_hash("k1", "session", "v"));
        assert_ne!(a, keyed_hash("k2", "session", "v"));
        assert_ne!(a, keyed_hash("k1", "csrf", "v"));
        assert!(is_hex(&a, 64));
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_hex(32), random_hex(32));
        assert!(is_hex(&random_hex(32), 64));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
