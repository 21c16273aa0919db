//! The customer side: a public form to open a ticket, and the ticket's own
//! page (reached by the secret link shown after submitting), which shows
//! the replies as they are sent, live over the `ticket` channel.

use crate::models::organisation::Organisation;
use crate::models::ticket::{reply, NewTicket, NewTicketNote, Reply, Status, Ticket, TicketNote};
use bao::prelude::*;
use serde::Deserialize;

/// The support pages.
pub struct Support;

/// The form as posted.
#[derive(Debug, Default, Deserialize)]
pub struct TicketForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
}

/// `?key=` of a customer's link.
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    pub key: String,
}

/// The context of `views/support/new.html`.
#[bao::view("support/new.html")]
pub struct NewTicketPage {
    pub form: TicketForm,
    pub errors: Vec<(&'static str, String)>,
}

impl NewTicketPage {
    /// The error for `field`, if any.
    pub fn error(&self, field: &str) -> &str {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, m)| m.as_str())
    }
}

/// The context of `views/support/ticket.html`.
#[bao::view("support/ticket.html")]
pub struct TicketPage {
    pub ticket: Ticket,
    pub replies: Vec<Reply>,
    pub key: String,
}

/// The part of the ticket page that changes: status and replies.
#[bao::view("support/replies.html")]
pub struct RepliesFragment {
    pub ticket: Ticket,
    pub replies: Vec<Reply>,
}

/// Checks the form; the errors by field.
pub fn validate(form: &TicketForm) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    let email = form.email.trim();
    let plausible = email.contains('@') && email.len() <= 254;
    if !plausible || email.starts_with('@') || email.ends_with('@') {
        errors.push((
            "email",
            "Please give an email address we can answer.".into(),
        ));
    }
    let subject = form.subject.trim().chars().count();
    if !(3..=200).contains(&subject) {
        errors.push(("subject", "A subject is 3 to 200 characters.".into()));
    }
    let body = form.body.trim().chars().count();
    if !(10..=5000).contains(&body) {
        errors.push((
            "body",
            "Please describe the problem in 10 to 5000 characters.".into(),
        ));
    }
    errors
}

/// Opens a ticket for `form` (already valid) and starts its triage; the
/// ticket and the customer's link key.
pub async fn open_ticket(db: &bao::db::DbPool, form: &TicketForm) -> bao::Result<(Ticket, String)> {
    let email = form.email.trim().to_ascii_lowercase();
    let org = Organisation::of_email(db, &email).await?;
    let tenant = Tenant(org.id);
    let ticket = Ticket::create(
        db,
        tenant,
        NewTicket {
            tenant_id: org.id,
            customer_email: email,
            subject: form.subject.trim().to_string(),
            body: form.body.trim().to_string(),
            status: Status::New,
            category: None,
            priority: None,
        },
    )
    .await?;
    let key = TicketNote::new_key(org.id);
    TicketNote::create(
        db,
        tenant,
        NewTicketNote {
            tenant_id: org.id,
            ticket_id: ticket.id,
            key_hash: bao::support::crypto::sha256_hex(&key),
            draft: None,
        },
    )
    .await?;
    crate::triage::start(db, &ticket).await?;
    crate::triage::announce(db, &ticket).await?;
    Ok((ticket, key))
}

/// The ticket a customer's link opens (404 for a wrong key, like a wrong id).
pub async fn by_key(db: &bao::db::DbPool, id: i64, key: &str) -> bao::Result<(Ticket, Vec<Reply>)> {
    let tenant = Tenant(Ticket::tenant_of_key(key).ok_or(bao::Error::NotFound)?);
    let ticket = Ticket::find_or_fail(db, tenant, id).await?;
    if !TicketNote::of(db, tenant, id).await?.opens_with(key) {
        return Err(bao::Error::NotFound);
    }
    let replies = Reply::query(tenant)
        .filter(reply::ticket_id.eq(ticket.id))
        .order_by(reply::id.asc())
        .fetch(db)
        .await?;
    Ok((ticket, replies))
}

/// Who may watch a ticket's page: whoever holds its link, and operators.
#[bao::channel("ticket")]
pub async fn may_watch_ticket(
    id: i64,
    key: Option<Query<KeyQuery>>,
    user: OptionalUser,
    db: Db,
) -> bao::Result<bool> {
    if user.0.as_ref().is_some_and(|u| u.has_role("agent")) {
        return Ok(true);
    }
    match key {
        Some(key) => Ok(by_key(&db, id, &key.key).await.is_ok()),
        None => Ok(false),
    }
}

#[bao::controller("/support")]
impl Support {
    /// The form to open a ticket.
    #[get("/")]
    async fn form() -> View<NewTicketPage> {
        View(NewTicketPage {
            form: TicketForm::default(),
            errors: Vec::new(),
        })
    }

    /// Opens a ticket and sends the customer to its page.
    #[post("/")]
    async fn create(req: HttpRequest, db: Db, form: Form<TicketForm>) -> bao::Result<HttpResponse> {
        let form = form.into_inner();
        let errors = validate(&form);
        if !errors.is_empty() {
            return Ok(View(NewTicketPage { form, errors })
                .with_status(422)
                .respond_to(&req));
        }
        let (ticket, key) = open_ticket(&db, &form).await?;
        Ok(
            Redirect::to(format!("/support/tickets/{}?key={key}", ticket.id))
                .flash(
                    "notice",
                    "Thanks! Your ticket is open: keep this page's link to follow it.",
                )
                .respond_to(&req),
        )
    }

    /// A ticket as its customer sees it.
    #[get("/tickets/{id}")]
    async fn show(id: i64, query: Query<KeyQuery>, db: Db) -> bao::Result<View<TicketPage>> {
        let (ticket, replies) = by_key(&db, id, &query.key).await?;
        Ok(View(TicketPage {
            ticket,
            replies,
            key: query.into_inner().key,
        }))
    }

    /// The changing part of the ticket page (reloaded on each channel message).
    #[get("/tickets/{id}/replies")]
    async fn replies(
        id: i64,
        query: Query<KeyQuery>,
        db: Db,
    ) -> bao::Result<View<RepliesFragment>> {
        let (ticket, replies) = by_key(&db, id, &query.key).await?;
        Ok(View(RepliesFragment { ticket, replies }))
    }
}
