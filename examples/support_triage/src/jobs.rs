//! Background work: delivering approved replies through the mail gateway
//! (a circuit breaker in front of it; after its retries a reply's task goes
//! to the dead-letter queue), and closing tickets idle for a week.

use crate::models::organisation::Organisation;
use crate::models::ticket::{ticket, Reply, Status, Ticket, UpdateReply, UpdateTicket};
use bao::fault::{CircuitBreaker, CircuitError};
use bao::prelude::*;
use std::time::Duration;

/// How long an answered ticket stays open without news.
pub const IDLE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Hands reply `reply_id` of organisation `org` to the mail gateway at
/// `SUPPORT_MAIL_URL` (a JSON POST), or, without one, records it as
/// delivered here. Failures are retried; then the task is a dead letter.
#[bao::task(retries = 3)]
pub async fn deliver_reply(org: i64, reply_id: i64) -> bao::Result<()> {
    let db = bao::task::db()?;
    let tenant = Tenant(org);
    let reply = Reply::find_or_fail(&db, tenant, reply_id).await?;
    if reply.delivered_at.is_some() {
        return Ok(());
    }
    let ticket = Ticket::find_or_fail(&db, tenant, reply.ticket_id).await?;
    if let Ok(url) = std::env::var("SUPPORT_MAIL_URL") {
        let gateway = CircuitBreaker::named("mail")
            .failure_threshold(5)
            .recovery_timeout(Duration::from_secs(30));
        let message = serde_json::json!({
            "to": ticket.customer_email,
            "subject": format!("Re: {}", ticket.subject),
            "body": reply.body,
        });
        let sent = gateway
            .call(|| async {
                reqwest::Client::new()
                    .post(&url)
                    .json(&message)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await?
                    .error_for_status()
            })
            .await;
        match sent {
            Ok(_) => {}
            Err(CircuitError::Open { retry_in, .. }) => {
                return Err(bao::Error::Internal(format!(
                    "the mail gateway is failing: not calling it for another {retry_in:?}"
                )))
            }
            Err(CircuitError::Inner(e)) => {
                return Err(bao::Error::Internal(format!(
                    "the mail gateway failed: {e}"
                )))
            }
        }
    }
    reply
        .update(
            &db,
            tenant,
            UpdateReply {
                delivered_at: Some(Some(bao::chrono::Utc::now().naive_utc())),
                ..Default::default()
            },
        )
        .await?;
    Ok(())
}

/// Closes answered (or escalated) tickets nobody touched for a week.
#[bao::every("1h")]
pub async fn close_idle(ctx: TaskCtx) -> bao::Result<()> {
    close_idle_tickets(ctx.db(), ctx.slot().naive_utc()).await?;
    Ok(())
}

/// Closes the tickets idle for [`IDLE`] at `now`; how many it closed.
pub async fn close_idle_tickets(
    db: &bao::db::DbPool,
    now: bao::chrono::NaiveDateTime,
) -> bao::Result<usize> {
    let cutoff = now - bao::chrono::Duration::from_std(IDLE).expect("a week fits");
    let mut closed = 0;
    for org in Organisation::all(db).await? {
        let tenant = Tenant(org.id);
        let idle: Vec<Ticket> = Ticket::query(tenant)
            .filter(
                ticket::status
                    .eq(Status::Answered)
                    .or(ticket::status.eq(Status::NeedsHuman)),
            )
            .filter(ticket::updated_at.lt(cutoff))
            .fetch(db)
            .await?;
        for t in idle {
            let t = t
                .update(
                    db,
                    tenant,
                    UpdateTicket {
                        status: Some(Status::Closed),
                        ..Default::default()
                    },
                )
                .await?;
            crate::triage::announce(db, &t).await?;
            closed += 1;
        }
    }
    Ok(closed)
}
