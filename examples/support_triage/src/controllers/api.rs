//! The customers' JSON API (`/api/v1/tickets`, an API token of a user of
//! the organisation): list and read the organisation's tickets, open one
//! (which starts its triage like the form does).

use crate::controllers::support::{open_ticket, validate, TicketForm};
use crate::models::ticket::Ticket;
use bao::prelude::*;
use serde::Deserialize;

/// The tickets API.
pub struct TicketsApi;

/// What a new ticket takes; the rest is the server's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenTicket {
    pub subject: String,
    pub body: String,
}

#[bao::api("/api/v1/tickets", model = Ticket, requires_login, only(index, show, create))]
impl TicketsApi {
    /// Opens a ticket as the signed-in customer and starts its triage.
    #[requires_login]
    async fn create(
        user: CurrentUser,
        db: Db,
        body: Json<OpenTicket>,
    ) -> bao::Result<HttpResponse> {
        let body = body.into_inner();
        let form = TicketForm {
            email: user.email.clone(),
            subject: body.subject,
            body: body.body,
        };
        let errors = validate(&form);
        if !errors.is_empty() {
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("application/problem+json")
                .json(serde_json::json!({
                    "type": "about:blank",
                    "title": "The ticket is not valid",
                    "status": 422,
                    "errors": errors.iter().map(|(f, m)| serde_json::json!({"field": f, "message": m})).collect::<Vec<_>>(),
                })));
        }
        // The customer's own organisation, not the one of an address they type.
        let tenant = user.tenant()?;
        let org = crate::models::organisation::Organisation::find_or_fail(&db, tenant.0).await?;
        if !form.email.ends_with(&format!("@{}", org.domain)) && org.domain != "*" {
            return Err(bao::Error::Forbidden);
        }
        let (ticket, key) = open_ticket(&db, &form).await?;
        Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/api/v1/tickets/{}", ticket.id)))
            .json(serde_json::json!({
                "id": ticket.id,
                "subject": ticket.subject,
                "status": ticket.status.to_string(),
                "url": format!("/support/tickets/{}?key={key}", ticket.id),
            })))
    }
}
