//! Live events of agent runs, on the topic `bao.agents.<run_id>`: text
//! pieces as the model writes them, tool calls and results, approvals, the
//! final answer. In-process for now: subscribers in the process running the
//! run see them (`bao agents:run --stream`).

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

/// Publishes `event` to the subscribers of run `run_id` (none: dropped).
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
