//! Circuit breakers: stop calling a dependency that keeps failing, try it
//! again after a pause, close when it answers.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Where a breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    /// Calls go through; consecutive failures are counted.
    Closed,
    /// Calls are refused until the recovery timeout has passed.
    Open,
    /// The timeout has passed: one trial call goes through; its outcome
    /// closes or re-opens the breaker.
    HalfOpen,
}

impl CircuitState {
    /// The value of the `bao_circuit_state` gauge: 0 closed, 1 open, 2
    /// half-open.
    pub fn gauge(self) -> u8 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        }
    }
}

impl std::fmt::Display for CircuitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        })
    }
}

/// Why a call through a breaker failed.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError<E> {
    /// The breaker is open: the call was not made.
    #[error(
        "circuit `{name}` is open after repeated failures: not calling it for another {retry_in:?}"
    )]
    Open {
        /// The breaker's name.
        name: String,
        /// How long until a trial call is allowed.
        retry_in: Duration,
    },
    /// The call was made and failed.
    #[error(transparent)]
    Inner(E),
}

#[derive(Debug)]
struct State {
    kind: CircuitState,
    failures: u32,
    opened_at: Option<Instant>,
    trial_running: bool,
    threshold: u32,
    timeout: Duration,
    opened_total: u64,
    rejected_total: u64,
}

/// A named circuit breaker, shared by every handle with the same name.
///
/// ```
/// # async fn demo() {
/// use bao::fault::{CircuitBreaker, CircuitError};
/// use std::time::Duration;
/// let payments = CircuitBreaker::named("payments-doc")
///     .failure_threshold(5)
///     .recovery_timeout(Duration::from_secs(30));
/// let charged: Result<u32, CircuitError<std::io::Error>> =
///     payments.call(|| async { Ok(42) }).await;
/// assert_eq!(charged.unwrap(), 42);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    name: Arc<str>,
    state: Arc<Mutex<State>>,
}

fn registry() -> MutexGuard<'static, BTreeMap<String, CircuitBreaker>> {
    static BREAKERS: Mutex<BTreeMap<String, CircuitBreaker>> = Mutex::new(BTreeMap::new());
    BREAKERS.lock().unwrap_or_else(|e| e.into_inner())
}

impl CircuitBreaker {
    /// The breaker called `name` (created closed, 5 failures, 30 s, on
    /// first use); every handle of a name shares its state, and its state
    /// is in `/metrics` and `bao describe`.
    pub fn named(name: &str) -> CircuitBreaker {
        registry()
            .entry(name.to_string())
            .or_insert_with(|| CircuitBreaker {
                name: Arc::from(name),
                state: Arc::new(Mutex::new(State {
                    kind: CircuitState::Closed,
                    failures: 0,
                    opened_at: None,
                    trial_running: false,
                    threshold: 5,
                    timeout: Duration::from_secs(30),
                    opened_total: 0,
                    rejected_total: 0,
                })),
            })
            .clone()
    }

    /// Opens after this many consecutive failures (at least 1).
    #[must_use]
    pub fn failure_threshold(self, failures: u32) -> CircuitBreaker {
        self.lock().threshold = failures.max(1);
        self
    }

    /// Stays open this long before allowing a trial call.
    #[must_use]
    pub fn recovery_timeout(self, timeout: Duration) -> CircuitBreaker {
        self.lock().timeout = timeout;
        self
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where it stands now (an open breaker whose timeout has passed is
    /// half-open).
    pub fn state(&self) -> CircuitState {
        let state = self.lock();
        match (state.kind, state.opened_at) {
            (CircuitState::Open, Some(at)) if at.elapsed() >= state.timeout => {
                CircuitState::HalfOpen
            }
            (kind, _) => kind,
        }
    }

    /// Asks to make a call: a permit, or the time until one is possible.
    /// Report the outcome with [`Permit::success`] or [`Permit::failure`]
    /// (a permit dropped unreported counts as neither).
    pub fn permit(&self) -> Result<Permit, CircuitError<std::convert::Infallible>> {
        let mut state = self.lock();
        match state.kind {
            CircuitState::Closed => Ok(Permit {
                breaker: self.clone(),
                trial: false,
                reported: false,
            }),
            CircuitState::Open | CircuitState::HalfOpen => {
                let waited = state.opened_at.map_or(Duration::MAX, |at| at.elapsed());
                if waited >= state.timeout && !state.trial_running {
                    state.kind = CircuitState::HalfOpen;
                    state.trial_running = true;
                    tracing::info!(circuit = %self.name, "circuit half-open: trying one call");
                    return Ok(Permit {
                        breaker: self.clone(),
                        trial: true,
                        reported: false,
                    });
                }
                state.rejected_total += 1;
                Err(CircuitError::Open {
                    name: self.name.to_string(),
                    retry_in: state.timeout.saturating_sub(waited),
                })
            }
        }
    }

    /// Makes the call through the breaker: refused while open, counted
    /// otherwise.
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, CircuitError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.permit().map_err(|e| match e {
            CircuitError::Open { name, retry_in } => CircuitError::Open { name, retry_in },
            CircuitError::Inner(never) => match never {},
        })?;
        match call().await {
            Ok(value) => {
                permit.success();
                Ok(value)
            }
            Err(error) => {
                permit.failure();
                Err(CircuitError::Inner(error))
            }
        }
    }

    fn settle(&self, trial: bool, ok: bool) {
        let mut state = self.lock();
        if trial {
            state.trial_running = false;
        }
        if ok {
            if state.kind != CircuitState::Closed {
                tracing::info!(circuit = %self.name, "circuit closed: the call succeeded");
            }
            state.kind = CircuitState::Closed;
            state.failures = 0;
            state.opened_at = None;
            return;
        }
        state.failures = state.failures.saturating_add(1);
        let reopen = trial || state.kind != CircuitState::Closed;
        if reopen || state.failures >= state.threshold {
            if state.kind == CircuitState::Closed {
                state.opened_total += 1;
            }
            state.kind = CircuitState::Open;
            state.opened_at = Some(Instant::now());
            tracing::warn!(circuit = %self.name, failures = state.failures, "circuit open");
        }
    }

    /// Every breaker of this process, by name.
    pub fn all() -> Vec<CircuitSnapshot> {
        let breakers: Vec<CircuitBreaker> = registry().values().cloned().collect();
        breakers
            .into_iter()
            .map(|b| {
                let current = b.state();
                let state = b.lock();
                CircuitSnapshot {
                    name: b.name.to_string(),
                    state: current,
                    consecutive_failures: state.failures,
                    failure_threshold: state.threshold,
                    recovery_timeout_ms: u64::try_from(state.timeout.as_millis())
                        .unwrap_or(u64::MAX),
                    opened_total: state.opened_total,
                    rejected_total: state.rejected_total,
                }
            })
            .collect()
    }
}

/// One breaker's figures (`bao describe`, `/metrics`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CircuitSnapshot {
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub state: CircuitState,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Failures in a row that open it.
    pub failure_threshold: u32,
    /// How long it stays open.
    pub recovery_timeout_ms: u64,
    /// Times it opened.
    pub opened_total: u64,
    /// Calls refused while open.
    pub rejected_total: u64,
}

/// Leave to make one call through a breaker.
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    trial: bool,
    reported: bool,
}

impl Permit {
    /// The call succeeded.
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.settle(self.trial, true);
    }

    /// The call failed.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.settle(self.trial, false);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported && self.trial {
            // A cancelled trial lets the next caller try.
            self.breaker.lock().trial_running = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fail(cb: &CircuitBreaker) -> Result<(), CircuitError<&'static str>> {
        cb.call(|| async { Err::<(), _>("down") }).await
    }

    #[tokio::test]
    async fn opens_after_the_threshold_half_opens_after_the_timeout_and_closes_on_success() {
        let cb = CircuitBreaker::named("unit-open-close")
            .failure_threshold(3)
            .recovery_timeout(Duration::from_millis(80));
        for _ in 0..2 {
            assert!(matches!(fail(&cb).await, Err(CircuitError::Inner("down"))));
            assert_eq!(cb.state(), CircuitState::Closed);
        }
        assert!(matches!(fail(&cb).await, Err(CircuitError::Inner(_))));
        assert_eq!(cb.state(), CircuitState::Open);
        let refused = cb.call(|| async { Ok::<_, &str>(1) }).await;
        assert!(
            matches!(refused, Err(CircuitError::Open { .. })),
            "{refused:?}"
        );

        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(cb.state(), CircuitState::HalfOpen);
        // One trial: while it runs, others are refused.
        let trial = cb.permit().expect("the trial is allowed");
        assert!(cb.permit().is_err());
        trial.success();
        assert_eq!(cb.state(), CircuitState::Closed);
        assert_eq!(cb.call(|| async { Ok::<_, &str>(7) }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_failed_trial_reopens_and_a_success_resets_the_count() {
        let cb = CircuitBreaker::named("unit-reopen")
            .failure_threshold(2)
            .recovery_timeout(Duration::from_millis(50));
        fail(&cb).await.unwrap_err();
        cb.call(|| async { Ok::<_, &str>(()) }).await.unwrap();
        fail(&cb).await.unwrap_err();
        assert_eq!(
            cb.state(),
            CircuitState::Closed,
            "the success reset the count"
        );
        fail(&cb).await.unwrap_err();
        assert_eq!(cb.state(), CircuitState::Open);
        tokio::time::sleep(Duration::from_millis(70)).await;
        fail(&cb).await.unwrap_err();
        assert_eq!(cb.state(), CircuitState::Open, "a failed trial re-opens");
        let snapshot = CircuitBreaker::all()
            .into_iter()
            .find(|s| s.name == "unit-reopen")
            .unwrap();
        assert_eq!(snapshot.opened_total, 1);
        assert_eq!(
            CircuitBreaker::named("unit-reopen").state(),
            CircuitState::Open
        );
    }
}
