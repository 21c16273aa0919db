//! `Desk`: the deterministic model the demo runs with offline. It follows
//! the triage procedure with native tool calls (search, history, classify,
//! draft, send; escalate after a refusal) and writes its draft from the
//! best knowledge-base passage, so every run of the demo is the same.
//! Setting `BAO_AI_PROVIDERS` (and the provider's key) uses a real model
//! instead.

use bao::ai::{AiError, Chat, Provider, Reply, Role, ToolCall, Usage};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

/// The scripted triage model.
#[derive(Debug, Default, Clone)]
pub struct Desk;

/// Category and priority from the ticket's words.
pub fn classify(text: &str) -> (&'static str, &'static str) {
    let text = text.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let category = if has(&["invoice", "charge", "refund", "billing", "payment", "card"]) {
        "billing"
    } else if has(&["error", "crash", "bug", "broken", "500", "fails"]) {
        "bug"
    } else if has(&["password", "login", "sign in", "account", "2fa"]) {
        "account"
    } else {
        "how-to"
    };
    let priority = if has(&["urgent", "down", "outage", "asap", "production"]) {
        "urgent"
    } else if has(&["whenever", "no rush", "question"]) {
        "low"
    } else {
        "normal"
    };
    (category, priority)
}

/// The first sentence of `text`.
fn first_sentence(text: &str) -> &str {
    let text = text.trim();
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}

/// The reply the desk drafts for a ticket, from the best passage.
pub fn draft(customer: &str, subject: &str, passages: &Value) -> String {
    let name = customer.split('@').next().unwrap_or("there");
    // The first passage with prose (Markdown headings dropped).
    let prose = |p: &Value| -> String {
        let text = p["text"].as_str().unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect();
        first_sentence(&lines.join(" ")).trim().to_string()
    };
    let empty = Vec::new();
    let best = passages
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .find(|p| !prose(p).is_empty())
        .cloned()
        .unwrap_or(Value::Null);
    let advice = Some(prose(&best))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "A colleague will look into this with you.".into());
    let source = best["source"].as_str().unwrap_or("our documentation");
    format!(
        "Hi {name},\n\nThanks for writing about \"{subject}\". {advice}\n\nMore in {source}.\n\nBest regards,\nBao Cloud Support"
    )
}

fn call(chat: &Chat, name: &str, arguments: Value) -> Vec<ToolCall> {
    vec![ToolCall {
        id: format!("desk_{}_{name}", chat.messages.len()),
        name: name.to_string(),
        arguments,
    }]
}

impl Desk {
    /// The next move: tool calls, or the final text.
    fn next(chat: &Chat) -> (String, Vec<ToolCall>) {
        let ticket = chat
            .messages
            .iter()
            .find(|m| m.role == Role::User && m.content.starts_with("Ticket #"))
            .map(|m| m.content.clone())
            .unwrap_or_default();
        let line = |prefix: &str| {
            ticket
                .lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        let subject = line("Subject:");
        let customer = ticket
            .lines()
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .unwrap_or_default()
            .to_string();
        // What each tool answered, in order.
        let mut done: Vec<(String, String)> = Vec::new();
        for (i, m) in chat.messages.iter().enumerate() {
            if m.role != Role::Assistant {
                continue;
            }
            for c in &m.tool_calls {
                let result = chat.messages[i + 1..]
                    .iter()
                    .find(|r| r.role == Role::Tool && r.tool_call_id.as_deref() == Some(&c.id))
                    .map(|r| r.content.clone())
                    .unwrap_or_default();
                done.push((c.name.clone(), result));
            }
        }
        let answer = |tool: &str| {
            done.iter()
                .rev()
                .find(|(n, _)| n == tool)
                .map(|(_, r)| r.clone())
        };
        let drafted = || {
            let passages: Value = answer("search_kb")
                .and_then(|r| serde_json::from_str(&r).ok())
                .unwrap_or(Value::Null);
            draft(&customer, &subject, &passages)
        };
        match done.last().map(|(n, _)| n.as_str()) {
            None => {
                // The subject and the customer's own words.
                let body = ticket.split_once("\n\n").map_or("", |(_, b)| b);
                let query = format!("{subject} {body}");
                (
                    String::new(),
                    call(chat, "search_kb", json!({ "query": query.trim() })),
                )
            }
            Some("search_kb") => (String::new(), call(chat, "past_tickets", json!({}))),
            Some("past_tickets") => {
                let (category, priority) = classify(&ticket);
                let args = json!({"category": category, "priority": priority});
                (String::new(), call(chat, "classify", args))
            }
            Some("classify") => (
                String::new(),
                call(chat, "draft_reply", json!({ "body": drafted() })),
            ),
            Some("draft_reply") => (
                String::new(),
                call(chat, "send_reply", json!({ "body": drafted() })),
            ),
            Some("send_reply") => {
                let result = answer("send_reply").unwrap_or_default();
                if result.starts_with("reply ") {
                    ("The reply was approved and sent.".into(), Vec::new())
                } else {
                    let note = result.replace(
                        "a person refused this call",
                        "the operator refused the draft",
                    );
                    (
                        String::new(),
                        call(chat, "escalate", json!({ "note": note })),
                    )
                }
            }
            Some(_) => ("The ticket is with a person now.".into(), Vec::new()),
        }
    }
}

impl Provider for Desk {
    fn name(&self) -> &str {
        "desk"
    }

    fn model(&self) -> &str {
        "desk-triage-1"
    }

    fn native_tools(&self) -> bool {
        true
    }

    fn free(&self) -> bool {
        true
    }

    fn complete<'a>(&'a self, chat: &'a Chat) -> BoxFuture<'a, Result<Reply, AiError>> {
        Box::pin(async move {
            let (text, tool_calls) = Desk::next(chat);
            let words: usize = chat
                .messages
                .iter()
                .map(|m| m.content.split_whitespace().count())
                .sum();
            Ok(Reply {
                stop_reason: Some(
                    if tool_calls.is_empty() {
                        "end_turn"
                    } else {
                        "tool_use"
                    }
                    .into(),
                ),
                usage: Usage {
                    input_tokens: words as u64,
                    output_tokens: (text.split_whitespace().count() + 20 * tool_calls.len()) as u64,
                },
                text,
                tool_calls,
                provider: "desk".into(),
                model: "desk-triage-1".into(),
                cost_usd: Some(0.0),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_classified_by_their_words() {
        assert_eq!(
            classify("I was charged twice, urgent"),
            ("billing", "urgent")
        );
        assert_eq!(
            classify("The export crashes with error 500"),
            ("bug", "normal")
        );
        assert_eq!(
            classify("How do I add a teammate? no rush"),
            ("how-to", "low")
        );
    }

    #[test]
    fn the_draft_quotes_the_best_passage_and_its_source() {
        let passages = json!([{"source": "kb/billing.md", "text": "# Billing\n\nDuplicate charges are refunded within 5 days. Contact us."}]);
        let text = draft("ann@acme.test", "Charged twice", &passages);
        assert!(text.starts_with("Hi ann,"));
        assert!(text.contains("Duplicate charges are refunded within 5 days."));
        assert!(text.contains("kb/billing.md"));
    }
}
