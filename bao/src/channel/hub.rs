//! One process's subscribers, per database: topics (a kind and a key), each
//! with its subscribers' bounded queues and a bounded replay buffer.
//!
//! Fan-out never waits: a subscriber whose queue is full is dropped (its
//! stream ends and the client reconnects with `Last-Event-ID`), so a slow
//! consumer never slows the others.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::mpsc;

/// How many messages wait for one subscriber before it is dropped as slow.
pub(crate) const QUEUE: usize = 256;
/// How many recent messages each topic keeps for `Last-Event-ID` resumes.
pub(crate) const REPLAY: usize = 256;
/// Topics without subscribers kept (for their replay buffers) at most.
const IDLE_TOPICS: usize = 10_000;

/// One published message, as subscribers receive it.
#[derive(Debug)]
pub struct Message {
    /// Its id: increasing across every process on one database.
    pub id: i64,
    /// The channel kind (`orders`).
    pub kind: String,
    /// The channel's key within the kind (an order's id).
    pub key: String,
    /// The SSE event name (`message` unless the publisher chose one).
    pub event: String,
    /// The payload (JSON for [`publish`](super::publish)).
    pub data: String,
    /// When it was published (ms since the epoch), for the fan-out latency.
    pub(crate) published_ms: i64,
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Arc<Message>>,
}

#[derive(Default)]
struct Topic {
    subscribers: Vec<Subscriber>,
    replay: VecDeque<Arc<Message>>,
}

/// What one pool's subscribers share in this process.
pub(crate) struct Hub {
    /// Names this process's messages, so that it skips them when they come
    /// back from the database.
    pub(crate) origin: String,
    topics: Mutex<HashMap<(String, String), Topic>>,
    next_subscriber: AtomicU64,
    /// How many subscribers there are, over all topics.
    subscribers: AtomicI64,
    /// The thread receiving other processes' messages runs.
    pub(crate) receiving: AtomicBool,
    /// It keeps running without subscribers (a server: its first
    /// subscriber misses nothing while a connection is being opened).
    pub(crate) pinned: AtomicBool,
    pub(crate) metrics: ChannelMetrics,
}

/// A subscription: the messages missed since `Last-Event-ID`, then the
/// live ones. Dropping it unsubscribes.
pub struct Subscription {
    /// Messages after the client's last id, from the replay buffer.
    pub replay: Vec<Arc<Message>>,
    /// Live messages; `None` once the subscriber was dropped as slow.
    pub rx: mpsc::Receiver<Arc<Message>>,
    hub: Weak<Hub>,
    topic: (String, String),
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.unsubscribe(&self.topic, self.id);
        }
    }
}

impl Hub {
    pub(crate) fn new() -> Hub {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("the system's random source");
        Hub {
            origin: hex::encode(bytes),
            topics: Mutex::default(),
            next_subscriber: AtomicU64::new(1),
            subscribers: AtomicI64::new(0),
            receiving: AtomicBool::new(false),
            pinned: AtomicBool::new(false),
            metrics: ChannelMetrics::new(),
        }
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Topic>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many subscribers this process has.
    pub(crate) fn subscriber_count(&self) -> i64 {
        self.subscribers.load(Ordering::Acquire)
    }

    /// Subscribes to `kind`/`key`, replaying what came after `last_id`.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        kind: &str,
        key: &str,
        last_id: Option<i64>,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next_subscriber.fetch_add(1, Ordering::Relaxed);
        let topic_key = (kind.to_string(), key.to_string());
        let mut topics = self.topics();
        let topic = topics.entry(topic_key.clone()).or_default();
        let replay = match last_id {
            Some(last) => topic
                .replay
                .iter()
                .filter(|m| m.id > last)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        topic.subscribers.push(Subscriber { id, tx });
        drop(topics);
        self.subscribers.fetch_add(1, Ordering::AcqRel);
        self.metrics.subscribers.with_label_values(&[kind]).inc();
        Subscription {
            replay,
            rx,
            hub: Arc::downgrade(self),
            topic: topic_key,
            id,
        }
    }

    fn unsubscribe(&self, topic_key: &(String, String), id: u64) {
        let mut topics = self.topics();
        if let Some(topic) = topics.get_mut(topic_key) {
            let before = topic.subscribers.len();
            topic.subscribers.retain(|s| s.id != id);
            if topic.subscribers.len() < before {
                self.subscribers.fetch_sub(1, Ordering::AcqRel);
                self.metrics
                    .subscribers
                    .with_label_values(&[topic_key.0.as_str()])
                    .dec();
            }
        }
    }

    /// Hands `message` to its topic's subscribers and replay buffer.
    pub(crate) fn deliver(&self, message: Message) {
        let message = Arc::new(message);
        let kind = message.kind.as_str();
        let mut topics = self.topics();
        if topics.len() > IDLE_TOPICS {
            topics.retain(|_, t| !t.subscribers.is_empty());
        }
        let topic = topics
            .entry((message.kind.clone(), message.key.clone()))
            .or_default();
        if topic.replay.len() == REPLAY {
            topic.replay.pop_front();
        }
        topic.replay.push_back(message.clone());
        let (mut delivered, mut dropped, mut closed) = (0u64, 0u64, 0u64);
        topic
            .subscribers
            .retain(|s| match s.tx.try_send(message.clone()) {
                Ok(()) => {
                    delivered += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    false
                }
                // The client went away (its Subscription is being dropped).
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    closed += 1;
                    false
                }
            });
        drop(topics);
        let m = &self.metrics;
        let removed = dropped + closed;
        if removed > 0 {
            self.subscribers.fetch_sub(removed as i64, Ordering::AcqRel);
            m.subscribers.with_label_values(&[kind]).sub(removed as i64);
        }
        m.published.with_label_values(&[kind]).inc();
        if delivered > 0 {
            m.delivered.with_label_values(&[kind]).inc_by(delivered);
            let now = crate::support::clock::now_ms();
            m.fanout
                .observe(now.saturating_sub(message.published_ms).max(0) as f64 / 1000.0);
        }
        if dropped > 0 {
            tracing::warn!(
                kind,
                key = %message.key,
                dropped,
                queue = QUEUE,
                "channel subscribers dropped: they fell {QUEUE} messages behind (slow consumers reconnect with Last-Event-ID)"
            );
            m.dropped.with_label_values(&[kind]).inc_by(dropped);
        }
    }

    /// Forgets subscribers whose clients went away (closed queues) and
    /// recounts; run now and then by the receiving thread.
    pub(crate) fn sweep(&self) {
        let mut topics = self.topics();
        let mut removed: Vec<String> = Vec::new();
        for ((kind, _), topic) in topics.iter_mut() {
            topic.subscribers.retain(|s| {
                let open = !s.tx.is_closed();
                if !open {
                    removed.push(kind.clone());
                }
                open
            });
        }
        drop(topics);
        for kind in removed {
            self.subscribers.fetch_sub(1, Ordering::AcqRel);
            self.metrics.subscribers.with_label_values(&[&kind]).dec();
        }
    }
}

/// Channel metrics, appended to `/metrics` by the channels subsystem.
pub(crate) struct ChannelMetrics {
    registry: Registry,
    subscribers: IntGaugeVec,
    published: IntCounterVec,
    delivered: IntCounterVec,
    dropped: IntCounterVec,
    fanout: Histogram,
}

impl ChannelMetrics {
    fn new() -> ChannelMetrics {
        let registry = Registry::new();
        let subscribers = IntGaugeVec::new(
            Opts::new(
                "bao_channel_subscribers",
                "Live channel subscribers (SSE and WebSocket) in this process, by kind",
            ),
            &["kind"],
        )
        .expect("metric");
        let counter = |name: &str, help: &str| {
            IntCounterVec::new(Opts::new(name, help), &["kind"]).expect("metric")
        };
        let published = counter(
            "bao_channel_messages_total",
            "Channel messages this process fanned out (its own and other processes'), by kind",
        );
        let delivered = counter(
            "bao_channel_deliveries_total",
            "Messages handed to subscribers' queues, by kind",
        );
        let dropped = counter(
            "bao_channel_dropped_subscribers_total",
            "Subscribers dropped for falling behind, by kind",
        );
        let fanout = Histogram::with_opts(
            HistogramOpts::new(
                "bao_channel_fanout_seconds",
                "From publish (in any process) to the subscribers' queues here",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )
        .expect("metric");
        for metric in [
            Box::new(subscribers.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(published.clone()),
            Box::new(delivered.clone()),
            Box::new(dropped.clone()),
            Box::new(fanout.clone()),
        ] {
            registry.register(metric).expect("unique metric names");
        }
        ChannelMetrics {
            registry,
            subscribers,
            published,
            delivered,
            dropped,
            fanout,
        }
    }

    /// The metrics in Prometheus' text format.
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, key: &str) -> Message {
        Message {
            id,
            kind: "orders".into(),
            key: key.into(),
            event: "message".into(),
            data: format!("{{\"n\":{id}}}"),
            published_ms: crate::support::clock::now_ms(),
        }
    }

    #[tokio::test]
    async fn delivers_to_the_topic_only_and_replays_after_the_last_id() {
        let hub = Arc::new(Hub::new());
        let mut one = hub.subscribe("orders", "1", None);
        let mut two = hub.subscribe("orders", "2", None);
        hub.deliver(message(1, "1"));
        hub.deliver(message(2, "1"));
        assert_eq!(one.rx.recv().await.unwrap().id, 1);
        assert_eq!(one.rx.recv().await.unwrap().id, 2);
        assert!(two.rx.try_recv().is_err());
        let resumed = hub.subscribe("orders", "1", Some(1));
        assert_eq!(resumed.replay.iter().map(|m| m.id).collect::<Vec<_>>(), [2]);
        assert_eq!(hub.subscriber_count(), 3);
        drop((one, two, resumed));
        assert_eq!(hub.subscriber_count(), 0);
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_dropped_and_the_fast_one_keeps_up() {
        let hub = Arc::new(Hub::new());
        let mut slow = hub.subscribe("orders", "1", None);
        let mut fast = hub.subscribe("orders", "1", None);
        for id in 1..=(QUEUE as i64 + 10) {
            hub.deliver(message(id, "1"));
            assert_eq!(fast.rx.recv().await.unwrap().id, id);
        }
        let mut got = 0;
        while slow.rx.recv().await.is_some() {
            got += 1;
        }
        assert_eq!(
            got, QUEUE,
            "the slow one's stream ends after its full queue"
        );
        assert_eq!(hub.subscriber_count(), 1);
        assert!(hub
            .metrics
            .render()
            .contains("bao_channel_dropped_subscribers_total{kind=\"orders\"} 1"));
    }
}
