//! Accounts: who signs in. Sessions, API tokens and `CurrentUser` read this
//! table (`bao::app! { auth: User }`); keep `email`, `password_hash` and
//! `role`, add any field you need.

use bao::chrono::NaiveDateTime;

/// One account.
#[bao::model(table = "users")]
#[derive(Debug, Clone)]
pub struct User {
    #[key]
    pub id: i64,
    /// Stored lower-case; unique.
    #[unique]
    pub email: String,
    /// An argon2id hash (never the password).
    pub password_hash: String,
    /// `user` or `admin` (`requires_role("admin")` checks it).
    #[default("user")]
    pub role: String,
    /// The tenant whose rows the user sees, in a multi-tenant app.
    pub tenant_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}
