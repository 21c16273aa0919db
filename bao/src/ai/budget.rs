//! Budgets: limits in tokens and dollars on the AI calls made inside a
//! scope. Scopes nest; a call is checked against, and charged to, the
//! innermost budget and every one around it.

use super::AiError;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Limits for [`with_budget`]: tokens (input + output), dollars, or both.
///
/// ```
/// use bao::ai::Budget;
/// let both = Budget::tokens(2_000).usd(0.10);
/// let dollars = Budget::unlimited().usd(1.0);
/// # let _ = (both, dollars);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Budget {
    tokens: Option<u64>,
    usd: Option<f64>,
}

impl Budget {
    /// At most `tokens` tokens, input and output together.
    pub fn tokens(tokens: u64) -> Budget {
        Budget {
            tokens: Some(tokens),
            usd: None,
        }
    }

    /// No limit (yet): add one with [`usd`](Budget::usd) or
    /// [`max_tokens`](Budget::max_tokens). Useful to measure spending.
    pub fn unlimited() -> Budget {
        Budget::default()
    }

    /// At most `usd` dollars. Calls to a model whose price is unknown are
    /// refused under a dollar limit: their cost could not be counted.
    pub fn usd(mut self, usd: f64) -> Budget {
        self.usd = Some(usd);
        self
    }

    /// At most `tokens` tokens.
    pub fn max_tokens(mut self, tokens: u64) -> Budget {
        self.tokens = Some(tokens);
        self
    }
}

/// What the calls inside a budget's scope have used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    /// Tokens, input and output.
    pub tokens: u64,
    /// Dollars, for the calls whose price is known.
    pub usd: f64,
    /// Calls whose cost is unknown (a model without a price).
    pub unpriced_calls: u64,
    /// Calls made.
    pub calls: u64,
}

#[derive(Debug)]
struct Scope {
    limit: Budget,
    spent: Mutex<Spent>,
}

tokio::task_local! {
    static SCOPES: Vec<Arc<Scope>>;
}

/// Runs `work` under `budget`: every AI call inside it (on this task) is
/// refused with [`AiError::BudgetExceeded`] when it cannot fit, and charged
/// with the usage its provider reports. Budgets nest: an inner budget's
/// calls also count against every outer one.
///
/// ```
/// # bao::testing::block_on(async {
/// use bao::ai::{self, Budget};
/// let answer = ai::with_budget(Budget::tokens(2_000), async {
///     ai::ask("explain backpressure in one sentence").await
/// })
/// .await?;
/// # let _ = answer;
/// # Ok::<(), bao::ai::AiError>(()) }).unwrap();
/// ```
pub async fn with_budget<F: Future>(budget: Budget, work: F) -> F::Output {
    let mut scopes = SCOPES.try_with(Clone::clone).unwrap_or_default();
    scopes.push(Arc::new(Scope {
        limit: budget,
        spent: Mutex::default(),
    }));
    SCOPES.scope(scopes, work).await
}

/// What the innermost budget's calls have used (None outside a budget).
pub fn spent() -> Option<Spent> {
    SCOPES
        .try_with(|scopes| scopes.last().map(|s| *s.spent.lock().expect("budget")))
        .ok()
        .flatten()
}

/// The budgets in force on this task (to carry them into a spawned stream).
pub(crate) fn current() -> Vec<Arc<ScopeHandle>> {
    SCOPES
        .try_with(|scopes| {
            scopes
                .iter()
                .cloned()
                .map(ScopeHandle)
                .map(Arc::new)
                .collect()
        })
        .unwrap_or_default()
}

/// A budget scope held by a stream that outlives the call that opened it.
#[derive(Debug)]
pub(crate) struct ScopeHandle(Arc<Scope>);

/// Refuses a call expected to use `tokens` tokens and cost `usd` (None:
/// unknown price) when it does not fit in every budget in force.
pub(crate) fn check(
    scopes: &[Arc<ScopeHandle>],
    tokens: u64,
    usd: Option<f64>,
    model: &str,
) -> Result<(), AiError> {
    for handle in scopes {
        let scope = &handle.0;
        let spent = *scope.spent.lock().expect("budget");
        if let Some(limit) = scope.limit.tokens {
            let left = limit.saturating_sub(spent.tokens);
            if tokens > left {
                return Err(AiError::BudgetExceeded(format!(
                    "this call needs about {tokens} tokens and {left} of {limit} are left"
                )));
            }
        }
        if let Some(limit) = scope.limit.usd {
            let Some(usd) = usd else {
                return Err(AiError::BudgetExceeded(format!(
                    "the price of model `{model}` is unknown, so its cost cannot be counted \
                     against a ${limit} budget: give it a price with Router::price"
                )));
            };
            let left = (limit - spent.usd).max(0.0);
            if usd > left {
                return Err(AiError::BudgetExceeded(format!(
                    "this call may cost ${usd:.6} and ${left:.6} of ${limit} is left"
                )));
            }
        }
    }
    Ok(())
}

/// Charges a finished call to every budget in force.
pub(crate) fn charge(scopes: &[Arc<ScopeHandle>], tokens: u64, usd: Option<f64>) {
    for handle in scopes {
        let mut spent = handle.0.spent.lock().expect("budget");
        spent.calls += 1;
        spent.tokens += tokens;
        match usd {
            Some(usd) => spent.usd += usd,
            None => spent.unpriced_calls += 1,
        }
    }
}
