//! Live events of agent runs: text pieces as the model writes them, tool
//! calls and results, approvals, the final answer.
//!
//! Each goes two ways: to the in-process topic `bao.agents.<run_id>`
//! ([`subscribe`], what `bao agents:run --stream` prints), and to the
//! `agent_stream` channel of the run, which reaches SSE and WebSocket
//! clients in every process (`/_bao/channels/agent_stream/<run_id>`). On
//! the channel, text pieces that pile up while a message is being sent go
//! out together, so a fast model does not cost a database write per token.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tokio::sync::broadcast;

/// One event of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// More text of the model's answer.
    Delta {
        /// The text.
        text: String,
    },
    /// The model asked for a tool call.
    Call {
        /// The call's id.
        id: String,
        /// The tool.
        tool: String,
        /// Its arguments.
        arguments: serde_json::Value,
    },
    /// A tool call's result (or its error, fed back to the model).
    ToolResult {
        /// The call's id.
        id: String,
        /// The tool.
        tool: String,
        /// What it returned.
        output: String,
        /// Whether it failed.
        error: bool,
    },
    /// A call waits for a person's approval.
    Approval {
        /// The request's id (`bao agents:approve ID`).
        request: i64,
        /// The tool.
        tool: String,
        /// Its exact arguments.
        arguments: serde_json::Value,
    },
    /// The final answer.
    Final {
        /// Its text.
        text: String,
    },
    /// The run ended (completed, max_steps, budget) or parked (waiting).
    Done {
        /// How it ended.
        status: String,
    },
}

/// The topic of a run's events.
pub fn topic(run_id: &str) -> String {
    format!("bao.agents.{run_id}")
}

fn bus() -> &'static Mutex<HashMap<String, broadcast::Sender<AgentEvent>>> {
    static BUS: OnceLock<Mutex<HashMap<String, broadcast::Sender<AgentEvent>>>> = OnceLock::new();
    BUS.get_or_init(Mutex::default)
}

/// Receives the events of run `run_id` from now on.
pub fn subscribe(run_id: &str) -> broadcast::Receiver<AgentEvent> {
    let mut bus = bus().lock().unwrap_or_else(|e| e.into_inner());
    bus.entry(topic(run_id))
        .or_insert_with(|| broadcast::channel(1024).0)
        .subscribe()
}

/// Sends a run's events to the in-process topic and, in order, to the
/// run's `agent_stream` channel. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Publisher {
    run_id: String,
    channel: Option<tokio::sync::mpsc::UnboundedSender<AgentEvent>>,
}

impl Publisher {
    /// A publisher for run `run_id`; the channel side is sent by a task of
    /// its own that ends when the last clone is dropped.
    pub(crate) fn new(run_id: &str, db: &crate::db::DbPool) -> Publisher {
        let channel = tokio::runtime::Handle::try_current().ok().map(|handle| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            handle.spawn(forward(db.clone(), run_id.to_string(), rx));
            tx
        });
        Publisher {
            run_id: run_id.to_string(),
            channel,
        }
    }

    /// Publishes `event`.
    pub(crate) fn publish(&self, event: AgentEvent) {
        if let Some(channel) = &self.channel {
            let _ = channel.send(event.clone());
        }
        publish(&self.run_id, event);
    }
}

/// Sends a run's events to its channel, one at a time (so they keep their
/// order), text pieces that arrived meanwhile merged into one.
async fn forward(
    db: crate::db::DbPool,
    run_id: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AgentEvent>,
) {
    let mut next: Option<AgentEvent> = None;
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => match rx.recv().await {
                Some(event) => event,
                None => return,
            },
        };
        let event = match event {
            AgentEvent::Delta { mut text } => {
                while let Ok(more) = rx.try_recv() {
                    match more {
                        AgentEvent::Delta { text: piece } => text.push_str(&piece),
                        other => {
                            next = Some(other);
                            break;
                        }
                    }
                }
                AgentEvent::Delta { text }
            }
            other => other,
        };
        if let Err(error) =
            crate::channel::publish(&db, crate::channel::AGENT_STREAM, &run_id, &event).await
        {
            tracing::debug!(%error, run = %run_id, "an agent event did not reach its channel");
        }
    }
}

/// Publishes `event` to the in-process subscribers of run `run_id` (none:
/// dropped).
pub fn publish(run_id: &str, event: AgentEvent) {
    let mut bus = bus().lock().unwrap_or_else(|e| e.into_inner());
    let key = topic(run_id);
    let ended = matches!(event, AgentEvent::Done { .. });
    if let Some(sender) = bus.get(&key) {
        let _ = sender.send(event);
        // Forget topics nobody listens to any more, and ended runs.
        if ended || sender.receiver_count() == 0 {
            bus.remove(&key);
        }
    }
}
