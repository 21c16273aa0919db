//! Tickets and the replies sent for them, both tenant-scoped: a customer
//! organisation sees its own rows only.

use bao::chrono::NaiveDateTime;

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, bao::TextEnum)]
pub enum Status {
    /// Submitted; the triage agent is reading it.
    New,
    /// Classified and a reply drafted: waiting for an operator.
    AwaitingApproval,
    /// A reply was approved and sent.
    Answered,
    /// The operator refused the draft: a person takes it from here.
    NeedsHuman,
    /// Idle for 7 days after an answer, or closed by an operator.
    Closed,
}

/// A support ticket.
#[bao::model(table = "tickets", tenant_scoped)]
#[derive(Debug, Clone)]
pub struct Ticket {
    #[key]
    pub id: i64,
    pub tenant_id: i64,
    #[index]
    #[validate(email)]
    pub customer_email: String,
    #[validate(length(min = 3, max = 200))]
    pub subject: String,
    #[text]
    #[validate(length(min = 10, max = 5000))]
    pub body: String,
    #[text_enum]
    pub status: super::ticket::Status,
    /// Set by the agent: billing, bug, account, how-to.
    pub category: Option<String>,
    /// Set by the agent: low, normal, urgent.
    pub priority: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Ticket {
    /// The id of the triage run of ticket `id` in organisation `tenant`:
    /// the agent's tools read the ticket back from it.
    pub fn run_id(tenant: i64, id: i64) -> String {
        format!("ticket-{tenant}-{id}")
    }

    /// The organisation and ticket a triage run id names.
    pub fn from_run_id(run_id: &str) -> Option<(i64, i64)> {
        let mut parts = run_id.strip_prefix("ticket-")?.splitn(2, '-');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    /// The organisation named by a customer's link key.
    pub fn tenant_of_key(key: &str) -> Option<i64> {
        key.split_once('.')?.0.parse().ok()
    }
}

/// What only the staff see of a ticket (never in the customers' API): the
/// agent's draft, and the hash of the customer's link key.
#[bao::model(table = "ticket_notes", tenant_scoped)]
#[derive(Debug, Clone)]
pub struct TicketNote {
    #[key]
    pub id: i64,
    pub tenant_id: i64,
    #[unique]
    #[belongs_to(Ticket, on_delete = "cascade")]
    pub ticket_id: i64,
    /// SHA-256 of the customer's link key.
    pub key_hash: String,
    /// The agent's draft reply, or why it escalated.
    #[text]
    pub draft: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl TicketNote {
    /// A new link key for a ticket of organisation `tenant`: the
    /// organisation (so the page can look in its tenant), then a secret.
    pub fn new_key(tenant: i64) -> String {
        format!("{tenant}.{}", bao::support::crypto::random_hex(16))
    }

    /// Whether `key` opens the ticket.
    pub fn opens_with(&self, key: &str) -> bool {
        let hash = bao::support::crypto::sha256_hex(key);
        bao::support::crypto::constant_time_eq(self.key_hash.as_bytes(), hash.as_bytes())
    }

    /// The note of ticket `id`.
    pub async fn of(db: &bao::db::DbPool, tenant: bao::Tenant, id: i64) -> bao::Result<TicketNote> {
        use bao::prelude::*;
        TicketNote::query(tenant)
            .filter(ticket_note::ticket_id.eq(id))
            .fetch_one(db)
            .await
    }
}

/// A reply sent to the customer (the outbox): written when an operator
/// approves the agent's draft, delivered by the `deliver_reply` task.
#[bao::model(table = "replies", tenant_scoped)]
#[derive(Debug, Clone)]
pub struct Reply {
    #[key]
    pub id: i64,
    pub tenant_id: i64,
    #[belongs_to(Ticket, on_delete = "cascade")]
    pub ticket_id: i64,
    #[text]
    pub body: String,
    /// Who approved it.
    pub approved_by: String,
    /// When the mail gateway took it (None: not yet).
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
