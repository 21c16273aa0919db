//! The operators' side (role `agent`): the queue of tickets across every
//! organisation, live over the `queue` channel, and a ticket's page with
//! the agent's draft and the exact arguments of the reply it wants to send,
//! to approve, edit and approve, or deny.

use crate::models::organisation::Organisation;
use crate::models::ticket::{reply, ticket, Reply, Status, Ticket, TicketNote, UpdateTicket};
use bao::agent::approvals::{self, Approval};
use bao::prelude::*;
use serde::Deserialize;

/// The operators' pages.
pub struct Queue;

/// A ticket with its organisation's name, for the queue.
#[derive(Debug, Clone)]
pub struct Row {
    pub ticket: Ticket,
    pub organisation: String,
}

/// The context of `views/queue/index.html`.
#[bao::view("queue/index.html")]
pub struct QueuePage {
    pub rows: Vec<Row>,
}

/// The list part of the queue (reloaded on each channel message).
#[bao::view("queue/list.html")]
pub struct QueueList {
    pub rows: Vec<Row>,
}

/// The context of `views/queue/show.html`.
#[bao::view("queue/show.html")]
pub struct TicketDetail {
    pub ticket: Ticket,
    pub draft: Option<String>,
    pub organisation: String,
    pub replies: Vec<Reply>,
    pub pending: Option<Approval>,
    pub pending_body: String,
    pub pending_arguments: String,
}

/// An edited reply.
#[derive(Debug, Deserialize)]
pub struct EditForm {
    pub body: String,
}

/// A denial's reason.
#[derive(Debug, Deserialize)]
pub struct DenyForm {
    #[serde(default)]
    pub reason: String,
}

/// Operators may watch the queue.
#[bao::channel("queue")]
pub async fn operators_may_watch(id: String, user: CurrentUser) -> bao::Result<bool> {
    Ok(id == "all" && user.has_role("agent"))
}

/// Every open ticket, newest first, with its organisation.
async fn rows(db: &bao::db::DbPool) -> bao::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for org in Organisation::all(db).await? {
        let tickets = Ticket::query(Tenant(org.id))
            .filter(ticket::status.ne(Status::Closed))
            .order_by(ticket::id.desc())
            .limit(200)
            .fetch(db)
            .await?;
        rows.extend(tickets.into_iter().map(|ticket| Row {
            ticket,
            organisation: org.name.clone(),
        }));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.ticket.created_at));
    Ok(rows)
}

/// The pending request to send a reply for this ticket, if any.
async fn pending(db: &bao::db::DbPool, ticket: &Ticket) -> bao::Result<Option<Approval>> {
    let run_id = Ticket::run_id(ticket.tenant_id, ticket.id);
    let found = db
        .run(move |c| approvals::list(c, Some("pending"), Some(&run_id), 10))
        .await?;
    Ok(found.into_iter().find(|a| a.tool == "send_reply"))
}

async fn load(db: &bao::db::DbPool, org: i64, id: i64) -> bao::Result<(Organisation, Ticket)> {
    let organisation = Organisation::find_or_fail(db, org).await?;
    let ticket = Ticket::find_or_fail(db, Tenant(org), id).await?;
    Ok((organisation, ticket))
}

/// Decides the ticket's pending reply; the run carries on in a worker.
async fn decide(
    req: &HttpRequest,
    db: &bao::db::DbPool,
    user: &CurrentUser,
    org: i64,
    id: i64,
    decision: Decision,
) -> bao::Result<HttpResponse> {
    let (_, ticket) = load(db, org, id).await?;
    let Some(request) = pending(db, &ticket).await? else {
        return Ok(Redirect::to(format!("/queue/{org}/{id}"))
            .flash("error", "There is no reply waiting for a decision.")
            .respond_to(req));
    };
    let by = user.email.clone();
    let notice = match &decision {
        Decision::Approve => "Approved: the reply is on its way.",
        Decision::Edit(_) => "Approved with your edits: the reply is on its way.",
        Decision::Deny(_) => "Denied: the ticket goes to a person.",
    };
    let decided = db
        .run(move |c| {
            match decision {
                Decision::Approve => approvals::decide(c, request.id, true, &by, None),
                Decision::Edit(body) => approvals::approve_edited(
                    c,
                    request.id,
                    &by,
                    &serde_json::json!({ "body": body }),
                    Some("edited by the operator"),
                ),
                Decision::Deny(reason) => {
                    approvals::decide(c, request.id, false, &by, Some(reason.as_str()))
                }
            }
            .map_err(|e| bao::db::DbError::Config(e.to_string()))
        })
        .await;
    let redirect = Redirect::to(format!("/queue/{org}/{id}"));
    Ok(match decided {
        Ok(_) => redirect.flash("notice", notice),
        Err(e) => redirect.flash("error", e.to_string()),
    }
    .respond_to(req))
}

enum Decision {
    Approve,
    Edit(String),
    Deny(String),
}

#[bao::controller("/queue", requires_role("agent"))]
impl Queue {
    /// Open tickets of every organisation.
    #[get("/")]
    async fn index(db: Db) -> bao::Result<View<QueuePage>> {
        Ok(View(QueuePage {
            rows: rows(&db).await?,
        }))
    }

    /// The list alone.
    #[get("/list")]
    async fn list(db: Db) -> bao::Result<View<QueueList>> {
        Ok(View(QueueList {
            rows: rows(&db).await?,
        }))
    }

    /// One ticket: its draft and the reply waiting for approval.
    #[get("/{org}/{id}")]
    async fn show(org: i64, id: i64, db: Db) -> bao::Result<View<TicketDetail>> {
        let (organisation, ticket) = load(&db, org, id).await?;
        let replies = Reply::query(Tenant(org))
            .filter(reply::ticket_id.eq(ticket.id))
            .order_by(reply::id.asc())
            .fetch(&db)
            .await?;
        let pending = pending(&db, &ticket).await?;
        let arguments: serde_json::Value = pending
            .as_ref()
            .and_then(|p| serde_json::from_str(&p.arguments).ok())
            .unwrap_or(serde_json::Value::Null);
        let draft = TicketNote::of(&db, Tenant(org), id).await?.draft;
        Ok(View(TicketDetail {
            draft,
            pending_body: arguments["body"].as_str().unwrap_or_default().to_string(),
            pending_arguments: serde_json::to_string_pretty(&arguments).unwrap_or_default(),
            ticket,
            organisation: organisation.name,
            replies,
            pending,
        }))
    }

    /// Approves the reply as drafted.
    #[post("/{org}/{id}/approve")]
    async fn approve(
        req: HttpRequest,
        org: i64,
        id: i64,
        db: Db,
        user: CurrentUser,
    ) -> bao::Result<HttpResponse> {
        decide(&req, &db, &user, org, id, Decision::Approve).await
    }

    /// Approves the reply with the operator's edits.
    #[post("/{org}/{id}/edit")]
    async fn edit(
        req: HttpRequest,
        org: i64,
        id: i64,
        db: Db,
        user: CurrentUser,
        form: Form<EditForm>,
    ) -> bao::Result<HttpResponse> {
        let body = form.into_inner().body.trim().to_string();
        if body.is_empty() {
            return Ok(Redirect::to(format!("/queue/{org}/{id}"))
                .flash("error", "The edited reply is empty.")
                .respond_to(&req));
        }
        decide(&req, &db, &user, org, id, Decision::Edit(body)).await
    }

    /// Refuses the reply; the agent escalates the ticket to a person.
    #[post("/{org}/{id}/deny")]
    async fn deny(
        req: HttpRequest,
        org: i64,
        id: i64,
        db: Db,
        user: CurrentUser,
        form: Form<DenyForm>,
    ) -> bao::Result<HttpResponse> {
        let reason = match form.into_inner().reason.trim() {
            "" => "no reason given".to_string(),
            r => r.to_string(),
        };
        decide(&req, &db, &user, org, id, Decision::Deny(reason)).await
    }

    /// Closes a ticket.
    #[post("/{org}/{id}/close")]
    async fn close(req: HttpRequest, org: i64, id: i64, db: Db) -> bao::Result<HttpResponse> {
        let (_, ticket) = load(&db, org, id).await?;
        let ticket = ticket
            .update(
                &db,
                Tenant(org),
                UpdateTicket {
                    status: Some(Status::Closed),
                    ..Default::default()
                },
            )
            .await?;
        crate::triage::announce(&db, &ticket).await?;
        Ok(Redirect::to("/queue")
            .flash("notice", format!("Ticket #{} closed.", ticket.id))
            .respond_to(&req))
    }
}
