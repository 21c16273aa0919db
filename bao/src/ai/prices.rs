//! Model prices, in dollars per million tokens, for cost accounting and
//! dollar budgets. Shipped defaults cover common models; an app sets its
//! own with `Router::price`. A model matches the longest name that
//! prefixes it (`claude-sonnet-4-20250514` is priced as `claude-sonnet-4`).

use std::collections::BTreeMap;

/// Dollars per million tokens read and written.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Price {
    /// Per million input tokens.
    pub input: f64,
    /// Per million output tokens.
    pub output: f64,
}

impl Price {
    /// The cost of `input` and `output` tokens.
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.input + output as f64 * self.output) / 1_000_000.0
    }
}

/// Defaults, as published by the providers (USD per million tokens).
const DEFAULTS: &[(&str, f64, f64)] = &[
    ("echo", 0.0, 0.0),
    ("scripted", 0.0, 0.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-3-5-haiku", 0.8, 4.0),
    ("claude-haiku-4", 1.0, 5.0),
    ("gpt-4o-mini", 0.15, 0.6),
    ("gpt-4o", 2.5, 10.0),
    ("gpt-4.1-nano", 0.1, 0.4),
    ("gpt-4.1-mini", 0.4, 1.6),
    ("gpt-4.1", 2.0, 8.0),
    ("o3-mini", 1.1, 4.4),
    ("text-embedding-3-small", 0.02, 0.0),
    ("text-embedding-3-large", 0.13, 0.0),
];

/// A price table.
#[derive(Debug, Clone)]
pub struct Prices {
    by_model: BTreeMap<String, Price>,
}

impl Default for Prices {
    fn default() -> Prices {
        Prices {
            by_model: DEFAULTS
                .iter()
                .map(|(model, input, output)| {
                    (
                        (*model).to_string(),
                        Price {
                            input: *input,
                            output: *output,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl Prices {
    /// Sets (or replaces) `model`'s price.
    pub fn set(&mut self, model: &str, input: f64, output: f64) {
        self.by_model
            .insert(model.to_string(), Price { input, output });
    }

    /// `model`'s price: an exact entry, else the longest entry that prefixes
    /// it; None when unknown.
    pub fn get(&self, model: &str) -> Option<Price> {
        if let Some(price) = self.by_model.get(model) {
            return Some(*price);
        }
        self.by_model
            .iter()
            .filter(|(name, _)| model.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map(|(_, price)| *price)
    }

    /// The cost of a call, None when the price is unknown.
    pub fn cost(&self, model: &str, input: u64, output: u64) -> Option<f64> {
        self.get(model).map(|p| p.cost(input, output))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_prices_a_dated_model() {
        let prices = Prices::default();
        let mini = prices.get("gpt-4o-mini-2024-07-18").unwrap();
        assert_eq!((mini.input, mini.output), (0.15, 0.6));
        let full = prices.get("gpt-4o-2024-08-06").unwrap();
        assert_eq!(full.input, 2.5);
        assert_eq!(prices.get("llama3.2"), None, "unknown is not free");
        assert!(
            (prices
                .cost("claude-sonnet-4-20250514", 1_000, 1_000)
                .unwrap()
                - 0.018)
                .abs()
                < 1e-12
        );
    }
}
