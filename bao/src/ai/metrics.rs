//! AI metrics in their own Prometheus registry, appended to `/metrics` by
//! the AI subsystem: requests by provider, model and outcome, tokens in and
//! out, cost, latency and time to first token.

use super::Usage;
use prometheus::{CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::sync::LazyLock;
use std::time::Duration;

struct AiMetrics {
    registry: Registry,
    requests: IntCounterVec,
    tokens: IntCounterVec,
    cost: CounterVec,
    unpriced: IntCounterVec,
    latency: HistogramVec,
    first_token: HistogramVec,
}

static METRICS: LazyLock<AiMetrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "bao_ai_requests_total",
            "AI calls by provider, model and outcome",
        ),
        &["provider", "model", "outcome"],
    )
    .expect("metric");
    let tokens = IntCounterVec::new(
        Opts::new(
            "bao_ai_tokens_total",
            "Tokens by provider, model and direction (input, output)",
        ),
        &["provider", "model", "direction"],
    )
    .expect("metric");
    let cost = CounterVec::new(
        Opts::new(
            "bao_ai_cost_usd_total",
            "Dollars spent on calls whose price is known",
        ),
        &["provider", "model"],
    )
    .expect("metric");
    let unpriced = IntCounterVec::new(
        Opts::new(
            "bao_ai_unpriced_calls_total",
            "Calls to models whose price is unknown (cost not counted)",
        ),
        &["provider", "model"],
    )
    .expect("metric");
    let latency = HistogramVec::new(
        HistogramOpts::new("bao_ai_request_seconds", "Duration of AI calls")
            .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
        &["provider"],
    )
    .expect("metric");
    let first_token = HistogramVec::new(
        HistogramOpts::new(
            "bao_ai_first_token_seconds",
            "Time to the first streamed text",
        )
        .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
        &["provider"],
    )
    .expect("metric");
    for collector in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(tokens.clone()),
        Box::new(cost.clone()),
        Box::new(unpriced.clone()),
        Box::new(latency.clone()),
        Box::new(first_token.clone()),
    ] {
        registry.register(collector).expect("unique metric");
    }
    AiMetrics {
        registry,
        requests,
        tokens,
        cost,
        unpriced,
        latency,
        first_token,
    }
});

/// Records one call.
pub(crate) fn record(
    provider: &str,
    model: &str,
    outcome: &str,
    usage: Usage,
    cost: Option<f64>,
    elapsed: Duration,
    first_token: Option<Duration>,
) {
    let m = &*METRICS;
    m.requests
        .with_label_values(&[provider, model, outcome])
        .inc();
    if usage.input_tokens > 0 {
        m.tokens
            .with_label_values(&[provider, model, "input"])
            .inc_by(usage.input_tokens);
    }
    if usage.output_tokens > 0 {
        m.tokens
            .with_label_values(&[provider, model, "output"])
            .inc_by(usage.output_tokens);
    }
    if usage.total() > 0 {
        match cost {
            Some(cost) => m.cost.with_label_values(&[provider, model]).inc_by(cost),
            None => m.unpriced.with_label_values(&[provider, model]).inc(),
        }
    }
    m.latency
        .with_label_values(&[provider])
        .observe(elapsed.as_secs_f64());
    if let Some(first) = first_token {
        m.first_token
            .with_label_values(&[provider])
            .observe(first.as_secs_f64());
    }
}

/// The metrics in Prometheus' text format.
pub fn render() -> String {
    let mut out = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&METRICS.registry.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}
