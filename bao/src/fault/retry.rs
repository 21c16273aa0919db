//! Retry policies: what `#[bao::retry]`, workflow steps and task workers use.

use std::future::Future;
use std::time::Duration;

/// How a call is retried: how many attempts, how long between them
/// (exponential from a base up to a cap) and whether the waits are jittered.
///
/// ```
/// # async fn demo() -> Result<(), std::io::Error> {
/// use bao::fault::Retry;
/// use std::time::Duration;
/// let policy = Retry::exponential(3, Duration::from_millis(10));
/// let value = policy
///     .run(|| async { Ok::<_, std::io::Error>(42) })
///     .await?;
/// assert_eq!(value, 42);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    attempts: u32,
    base: Duration,
    max: Duration,
    jitter: bool,
}

impl Retry {
    /// One attempt only.
    pub fn none() -> Retry {
        Retry {
            attempts: 1,
            base: Duration::ZERO,
            max: Duration::ZERO,
            jitter: false,
        }
    }

    /// Up to `attempts` attempts (the first call included), waiting `base`,
    /// then twice as long each time (up to a minute), with up to 25% jitter.
    pub fn exponential(attempts: u32, base: Duration) -> Retry {
        Retry {
            attempts: attempts.max(1),
            base,
            max: Duration::from_secs(60),
            jitter: true,
        }
    }

    /// Caps each wait (default one minute).
    #[must_use]
    pub fn max_delay(mut self, max: Duration) -> Retry {
        self.max = max;
        self
    }

    /// Turns the random extra wait of up to 25% on or off (default on: it
    /// keeps many callers that failed together from retrying together).
    #[must_use]
    pub fn jitter(mut self, on: bool) -> Retry {
        self.jitter = on;
        self
    }

    /// Attempts in all, the first call included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait after failed attempt number `attempt` (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1)).min(1 << 16);
        let delay = self.base.saturating_mul(factor).min(self.max);
        if !self.jitter {
            return delay;
        }
        let mut bytes = [0u8; 2];
        let _ = getrandom::fill(&mut bytes);
        let fraction = f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX) * 0.25;
        delay.mul_f64(1.0 + fraction)
    }

    /// Calls `call` until it succeeds or the attempts run out; the last
    /// error is returned.
    pub async fn run<R, F, Fut>(&self, call: F) -> R
    where
        R: Fallible,
        F: FnMut() -> Fut,
        Fut: Future<Output = R>,
    {
        self.run_if("call", |_| true, call).await
    }

    /// Like [`Retry::run`], retrying only the errors `retryable` accepts;
    /// `name` labels the log lines and the `bao_retries_total` metric.
    pub async fn run_if<R, F, Fut, P>(&self, name: &'static str, retryable: P, mut call: F) -> R
    where
        R: Fallible,
        F: FnMut() -> Fut,
        Fut: Future<Output = R>,
        P: Fn(&R::Error) -> bool,
    {
        let mut attempt = 1;
        loop {
            let outcome = call().await;
            match outcome.error() {
                Some(error) if attempt < self.attempts && retryable(error) => {
                    let wait = self.delay(attempt);
                    tracing::warn!(
                        call = name,
                        attempt,
                        of = self.attempts,
                        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                        %error,
                        "retrying"
                    );
                    super::metrics::count_retry(name);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return outcome,
            }
        }
    }
}

impl Default for Retry {
    /// Three attempts, 200 ms apart and growing.
    fn default() -> Retry {
        Retry::exponential(3, Duration::from_millis(200))
    }
}

/// What `#[bao::retry]` needs of a function's return type.
#[diagnostic::on_unimplemented(
    message = "#[bao::retry] retries a function that returns a `Result` whose error implements `Display`; `{Self}` is not one",
    label = "not a `Result<T, E>` with `E: Display`",
    note = "return `Result<T, E>` (for example `bao::Result<T>`) so that failures can be told apart and retried"
)]
pub trait Fallible {
    /// The error type.
    type Error: std::fmt::Display;
    /// The error, when it failed.
    fn error(&self) -> Option<&Self::Error>;
}

impl<T, E: std::fmt::Display> Fallible for Result<T, E> {
    type Error = E;
    fn error(&self) -> Option<&E> {
        self.as_ref().err()
    }
}

#[doc(hidden)]
pub fn assert_fallible<R: Fallible>() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_until_success_and_stops_at_the_limit() {
        let calls = AtomicU32::new(0);
        let policy = Retry::exponential(3, Duration::from_millis(1));
        let ok: Result<u32, String> = policy
            .run(|| async {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                if n < 3 {
                    Err(format!("failure {n}"))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(ok, Ok(3));

        calls.store(0, Ordering::SeqCst);
        let failed: Result<u32, String> = policy
            .run(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("always".to_string())
            })
            .await;
        assert_eq!(failed, Err("always".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn errors_the_predicate_refuses_are_not_retried() {
        let calls = AtomicU32::new(0);
        let policy = Retry::exponential(5, Duration::from_millis(1));
        let result: Result<(), String> = policy
            .run_if(
                "test",
                |e: &String| e.starts_with("transient"),
                || async {
                    let n = calls.fetch_add(1, Ordering::SeqCst);
                    Err(if n == 0 { "transient" } else { "fatal" }.to_string())
                },
            )
            .await;
        assert_eq!(result, Err("fatal".into()));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let policy = Retry::exponential(10, Duration::from_millis(100))
            .max_delay(Duration::from_millis(350))
            .jitter(false);
        let delays: Vec<u128> = (1..=4).map(|a| policy.delay(a).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 350, 350]);
        let jittered = Retry::exponential(2, Duration::from_millis(100)).delay(1);
        assert!(jittered >= Duration::from_millis(100) && jittered <= Duration::from_millis(125));
    }
}
