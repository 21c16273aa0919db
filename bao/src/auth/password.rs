//! Password hashing with argon2id at OWASP's recommended cost (19 MiB, two
//! passes, one lane), always off the async executor.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// Memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .expect("the argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
/// Blocking: call it through [`hash_password`] from async code.
pub fn hash_password_blocking(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides random bytes");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password with valid parameters")
        .to_string()
}

/// Hashes `password` with explicit argon2id parameters (memory in KiB,
/// passes, lanes): for importing accounts and for testing the upgrade of
/// older hashes at login. Blocking.
pub fn hash_password_with_params(
    password: &str,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<String, String> {
    let params =
        Params::new(memory_kib, iterations, parallelism, None).map_err(|e| e.to_string())?;
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// What checking a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The password does not match (or the stored hash is unusable).
    No,
    /// It matches.
    Yes,
    /// It matches, and the stored hash used other parameters: store this new
    /// hash.
    Rehash(String),
}

/// Checks `password` against a stored PHC `hash`. Blocking.
pub fn verify_password_blocking(password: &str, hash: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return Verified::No;
    };
    if hasher()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == MEMORY_KIB && p.t_cost() == ITERATIONS && p.p_cost() == PARALLELISM
        });
    if current {
        Verified::Yes
    } else {
        Verified::Rehash(hash_password_blocking(password))
    }
}

/// A hash of a password nobody knows: checking a password against it costs
/// what a real check costs, so an unknown account answers as slowly as a
/// wrong password.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password_blocking(&crate::support::crypto::random_hex(16)))
}

/// How many argon2 computations run at once in this process: one per core,
/// so that a burst of logins or registrations costs at most that many
/// times the hash's memory (19 MiB each), not one per request.
fn slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

/// How long a request waits for a hashing slot before it is answered 503.
pub(crate) const SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs `work` on the blocking pool in a hashing slot; `None` when no slot
/// came free within `wait`.
async fn in_slot<T: Send + 'static>(
    wait: Option<std::time::Duration>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let permit = match wait {
        Some(wait) => tokio::time::timeout(wait, slots().acquire()).await.ok()?,
        None => slots().acquire().await,
    }
    .expect("the hashing slots are never closed");
    let result = tokio::task::spawn_blocking(work)
        .await
        .expect("password hashing does not panic");
    drop(permit);
    Some(result)
}

/// Hashes `password` on the blocking pool (waiting for one of the
/// process's hashing slots).
pub async fn hash_password(password: &str) -> String {
    let password = password.to_string();
    in_slot(None, move || hash_password_blocking(&password))
        .await
        .expect("waits without a deadline")
}

/// Checks `password` against `hash` on the blocking pool (waiting for one
/// of the process's hashing slots).
pub async fn verify_password(password: &str, hash: &str) -> Verified {
    let (password, hash) = (password.to_string(), hash.to_string());
    in_slot(None, move || verify_password_blocking(&password, &hash))
        .await
        .expect("waits without a deadline")
}

/// Like [`hash_password`], but `None` when no slot came free within
/// [`SLOT_WAIT`] (the server is saturated: answer 503).
pub(crate) async fn try_hash_password(password: &str) -> Option<String> {
    let password = password.to_string();
    in_slot(Some(SLOT_WAIT), move || hash_password_blocking(&password)).await
}

/// Like [`verify_password`], but `None` when no slot came free within
/// [`SLOT_WAIT`].
pub(crate) async fn try_verify_password(password: &str, hash: &str) -> Option<Verified> {
    let (password, hash) = (password.to_string(), hash.to_string());
    in_slot(Some(SLOT_WAIT), move || {
        verify_password_blocking(&password, &hash)
    })
    .await
}

/// Why a new password is refused, or `None` when it is acceptable.
pub fn password_problem(password: &str, min_length: usize) -> Option<String> {
    let length = password.chars().count();
    if length < min_length {
        return Some(format!(
            "use at least {min_length} characters (this one has {length})"
        ));
    }
    if length > 1024 {
        return Some("use at most 1024 characters".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn hashing_runs_at_most_one_per_core_and_gives_up_when_saturated() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (now, most) = (now.clone(), most.clone());
                tokio::spawn(in_slot(None, move || {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    now.fetch_sub(1, Ordering::SeqCst);
                }))
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert!(
            most.load(Ordering::SeqCst) <= cores,
            "{most:?} at once on {cores} cores"
        );
        // Every slot busy for longer than the wait: the next caller gives up.
        let blockers: Vec<_> = (0..cores)
            .map(|_| {
                tokio::spawn(in_slot(None, || {
                    std::thread::sleep(std::time::Duration::from_millis(600))
                }))
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let gave_up = in_slot(Some(std::time::Duration::from_millis(50)), || ()).await;
        assert!(gave_up.is_none());
        for b in blockers {
            b.await.unwrap();
        }
    }

    #[test]
    fn hashes_verify_and_old_parameters_are_upgraded() {
        let hash = hash_password_blocking("correct horse battery");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            verify_password_blocking("correct horse battery", &hash),
            Verified::Yes
        );
        assert_eq!(verify_password_blocking("wrong", &hash), Verified::No);
        assert_eq!(verify_password_blocking("x", "not a hash"), Verified::No);
        // A hash made with weaker parameters still verifies and asks for a rehash.
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let old = weak
            .hash_password(b"pw-123456789", &salt)
            .unwrap()
            .to_string();
        match verify_password_blocking("pw-123456789", &old) {
            Verified::Rehash(new) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    #[test]
    fn the_policy_names_the_minimum() {
        assert!(password_problem("short", 10)
            .unwrap()
            .contains("at least 10"));
        assert_eq!(password_problem("long enough pw", 10), None);
    }
}
