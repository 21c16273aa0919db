//! Customer organisations: each is a tenant, and sees only its own tickets.

use bao::chrono::NaiveDateTime;

/// A customer organisation. Its id is the `tenant_id` of its users and
/// tickets; a ticket from an email at `domain` belongs to it.
#[bao::model(table = "organisations")]
#[derive(Debug, Clone)]
pub struct Organisation {
    #[key]
    pub id: i64,
    #[unique]
    #[validate(length(min = 1, max = 120))]
    pub name: String,
    /// Email domain, e.g. `acme.test`.
    #[unique]
    pub domain: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Organisation {
    /// The organisation of an email address: by its domain, else the
    /// catch-all organisation (`domain = "*"`).
    pub async fn of_email(db: &bao::db::DbPool, email: &str) -> bao::Result<Organisation> {
        use bao::prelude::*;
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .unwrap_or_default();
        if let Some(org) = Organisation::query()
            .filter(organisation::domain.eq(domain))
            .fetch_optional(db)
            .await?
        {
            return Ok(org);
        }
        Organisation::query()
            .filter(organisation::domain.eq("*"))
            .fetch_one(db)
            .await
    }
}
