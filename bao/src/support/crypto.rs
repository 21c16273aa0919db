//! The few primitives sessions, flash messages and tokens need: random tokens, keyed hashes checked in
//! constant time, plain hashes.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS, as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system provides random bytes");
    hex(&buf)
}

/// HMAC-SHA256 under the app's secret key, keyed once per process (the key
/// schedule is cloned, not recomputed, for each MAC).
#[derive(Clone)]
pub(crate) struct Signer {
    keyed: Hmac<Sha256>,
}

impl Signer {
    pub(crate) fn new(secret: &str) -> Signer {
        Signer {
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .expect("HMAC takes any key size"),
        }
    }

    /// The MAC of `value` for one `purpose` (so a value keyed for sessions
    /// never works as a CSRF token).
    fn mac(&self, purpose: &str, value: &str) -> Hmac<Sha256> {
        let mut mac = self.keyed.clone();
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        mac
    }

    /// The MAC as hex.
    pub(crate) fn sign(&self, purpose: &str, value: &str) -> String {
        hex(&self.mac(purpose, value).finalize().into_bytes())
    }

    /// Whether `sent` (hex) is the MAC of `value`, in constant time.
    pub(crate) fn verify(&self, purpose: &str, value: &str, sent: &str) -> bool {
        let mut bytes = [0u8; 32];
        if !unhex(sent, &mut bytes) {
            return false;
        }
        self.mac(purpose, value).verify_slice(&bytes).is_ok()
    }
}

fn unhex(text: &str, out: &mut [u8; 32]) -> bool {
    ::hex::decode_to_slice(text, out).is_ok()
}

/// The bytes a hex string stands for, or `None` when it is not hex.
pub(crate) fn unhex_bytes(text: &str) -> Option<Vec<u8>> {
    ::hex::decode(text).ok()
}

/// SHA-256 of `value` as hex: enough for high-entropy secrets like API tokens.
pub fn sha256_hex(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// `bytes` as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// Whether `value` is `len` lowercase hex digits.
pub(crate) fn is_hex(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `a` and `b` are equal, in time that depends on their lengths
/// only (for comparing secrets).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hashes_depend_on_key_and_purpose() {
        let (k1, k2) = (Signer::new("k1"), Signer::new("k2"));
        let a = k1.sign("session", "v");
        assert_eq!(a, k1.sign("session", "v"));
        assert_ne!(a, k2.sign("session", "v"));
        assert_ne!(a, k1.sign("csrf", "v"));
        assert!(is_hex(&a, 64));
        assert!(k1.verify("session", "v", &a));
        assert!(k1.verify("session", "v", &a.to_uppercase()));
        assert!(!k2.verify("session", "v", &a));
        assert!(!k1.verify("session", "v", &a[..63]));
        assert!(!k1.verify("session", "v", &format!("{}g", &a[..63])));
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_hex(32), random_hex(32));
        assert!(is_hex(&random_hex(32), 64));
    }
}
