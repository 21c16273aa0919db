//! Seed data: two customer organisations and a catch-all one, an admin, an
//! operator and a customer per organisation, and the knowledge base (the
//! Markdown files of `docs/kb/`, embedded in the binary) ingested for
//! retrieval. Running it again changes nothing.

use crate::models::organisation::{organisation, NewOrganisation, Organisation};
use crate::models::user::{user, NewUser, User};
use bao::prelude::*;

/// The password of every seeded account (the README says so; change them).
pub const PASSWORD: &str = "triage-demo-password";

/// The knowledge base: (source, title, text).
pub const KB: &[(&str, &str, &str)] = &[
    (
        "kb/billing.md",
        "Billing",
        include_str!("../docs/kb/billing.md"),
    ),
    (
        "kb/accounts.md",
        "Accounts and sign-in",
        include_str!("../docs/kb/accounts.md"),
    ),
    (
        "kb/exports.md",
        "Exports and errors",
        include_str!("../docs/kb/exports.md"),
    ),
    (
        "kb/teams.md",
        "Teams and roles",
        include_str!("../docs/kb/teams.md"),
    ),
];

/// Fills an empty database; leaves a seeded one as it is.
pub async fn seed(db: bao::db::DbPool) -> bao::Result<()> {
    let mut orgs = Vec::new();
    for (name, domain) in [
        ("Acme", "acme.test"),
        ("Globex", "globex.test"),
        ("Public", "*"),
    ] {
        let org = match Organisation::query()
            .filter(organisation::domain.eq(domain))
            .fetch_optional::<Organisation>(&db)
            .await?
        {
            Some(org) => org,
            None => {
                Organisation::create(
                    &db,
                    NewOrganisation {
                        name: name.into(),
                        domain: domain.into(),
                    },
                )
                .await?
            }
        };
        orgs.push(org);
    }
    let accounts = [
        ("admin@triage.test", "admin", None),
        ("ops@triage.test", "agent", None),
        ("alice@acme.test", "user", Some(orgs[0].id)),
        ("bob@globex.test", "user", Some(orgs[1].id)),
    ];
    for (email, role, tenant) in accounts {
        let exists = User::query()
            .filter(user::email.eq(email))
            .fetch_optional::<User>(&db)
            .await?
            .is_some();
        if exists {
            continue;
        }
        let hash = bao::auth::password::hash_password(PASSWORD).await;
        User::create(
            &db,
            NewUser {
                email: email.into(),
                password_hash: hash,
                role: role.into(),
                tenant_id: tenant,
            },
        )
        .await?;
    }
    ingest_kb(&db).await
}

/// Ingests the knowledge base unless it is there already.
pub async fn ingest_kb(db: &bao::db::DbPool) -> bao::Result<()> {
    let have = bao::rag::documents(db).await?;
    for (source, title, text) in KB {
        if !have.iter().any(|d| d.source == *source) {
            // The title is stored with the document; the text is its prose.
            let prose: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            bao::rag::ingest(db, title, prose.join("\n").trim(), source).await?;
        }
    }
    Ok(())
}
