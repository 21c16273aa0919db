//! Database errors, classified so that HTTP answers say what happened: a
//! missing row is 404, a unique violation 409, another constraint 422.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong with the database.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// No row matched.
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A foreign key, NOT NULL or CHECK constraint was violated.
    #[error("invalid data: {0}")]
    Invalid(String),
    /// The database could not be reached or no connection was free.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database URL or setup is wrong.
    #[error("{0}")]
    Config(String),
    /// A migration problem (the message names the file).
    #[error("{0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Query(String),
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => DbError::NotFound,
            DieselError::DatabaseError(kind, info) => {
                let message = info.message().to_string();
                match kind {
                    DatabaseErrorKind::UniqueViolation => DbError::Conflict(message),
                    DatabaseErrorKind::ForeignKeyViolation
                    | DatabaseErrorKind::NotNullViolation
                    | DatabaseErrorKind::CheckViolation => DbError::Invalid(message),
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand => {
                        mark_connection_lost();
                        DbError::Unavailable(message)
                    }
                    _ => classify_sqlite_message(message),
                }
            }
            other => DbError::Query(other.to_string()),
        }
    }
}

/// SQLite reports some constraint failures only in the message; so does
/// PostgreSQL a NUL character in text, which it cannot store.
fn classify_sqlite_message(message: String) -> DbError {
    if message.contains("invalid byte sequence for encoding") && message.contains("0x00") {
        DbError::Invalid(
            "the text contains a NUL character (\\0), which the database cannot store: remove it"
                .into(),
        )
    } else if message.starts_with("UNIQUE constraint failed") {
        DbError::Conflict(message)
    } else if message.starts_with("FOREIGN KEY constraint failed")
        || message.starts_with("NOT NULL constraint failed")
        || message.starts_with("CHECK constraint failed")
    {
        DbError::Invalid(message)
    } else if message.starts_with("database is locked") || message.starts_with("database is busy") {
        // The busy timeout ran out: the write lock is held elsewhere. Worth
        // retrying, so it answers 503 + Retry-After, never 500.
        DbError::Unavailable(message)
    } else {
        DbError::Query(message)
    }
}

std::thread_local! {
    /// Set when an error on this thread showed that its connection is gone;
    /// the pool reads it when the connection comes back (see
    /// `ConnectionManager::has_broken`) and opens a new one instead.
    static CONNECTION_LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn mark_connection_lost() {
    CONNECTION_LOST.with(|lost| lost.set(true));
}

/// Whether an error since the last call showed this thread's connection is
/// gone; clears the mark.
pub(crate) fn take_connection_lost() -> bool {
    CONNECTION_LOST.with(|lost| lost.replace(false))
}

impl From<diesel::r2d2::PoolError> for DbError {
    fn from(error: diesel::r2d2::PoolError) -> Self {
        DbError::Unavailable(error.to_string())
    }
}
