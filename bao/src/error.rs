//! `bao::Error`: what a handler or the framework can fail with, mapped to an
//! HTTP status and page.

use crate::db::DbError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

/// The error type of Bao handlers and APIs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404: the thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// 400: the request is malformed; the message is shown to the client.
    #[error("{0}")]
    BadRequest(String),
    /// 403: the caller may not do this.
    #[error("forbidden")]
    Forbidden,
    /// 500: a configuration value is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// 500: a template failed to render.
    #[error("template failed to render: {0}")]
    Template(#[from] askama::Error),
    /// 500: an I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A database error: 404 for a missing row, 409 for a unique violation,
    /// 422 for another constraint, 503 when the database is unreachable.
    #[error(transparent)]
    Database(#[from] crate::db::DbError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Workflow(#[from] crate::workflow::WorkflowError),
    /// A task could not be enqueued: 503 with `Retry-After` when the queue
    /// is full.
    #[error(transparent)]
    Task(#[from] crate::task::TaskError),
    /// An AI call failed: 503 (unavailable), 429 (rate limited), 402 (over
    /// budget) or 400 (rejected by the provider), with `Retry-After` where
    /// trying again later helps.
    #[error(transparent)]
    Ai(#[from] crate::ai::AiError),
    /// 500: anything else; the message is logged, never shown to the client.
    #[error("{0}")]
    Internal(String),
}

/// `Result` with [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        match self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Database(e) => match e {
                DbError::NotFound => StatusCode::NOT_FOUND,
                DbError::Conflict(_) => StatusCode::CONFLICT,
                DbError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                DbError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Error::Auth(e) => e.status_code(),
            Error::Task(crate::task::TaskError::QueueFull(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Ai(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            Error::Task(crate::task::TaskError::Database(e)) => {
                Error::Database(e.clone()).status_code()
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::Auth(e) = self {
            return e.error_response();
        }
        if let Error::Task(crate::task::TaskError::Database(e)) = self {
            return Error::Database(e.clone()).error_response();
        }
        if let Error::Task(crate::task::TaskError::QueueFull(n)) = self {
            tracing::warn!(queued = n, "task queue full: answering 503");
            let mut busy = HttpResponse::ServiceUnavailable();
            busy.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
            return crate::http::page::html_error(
                busy,
                503,
                "Busy",
                "Too much background work is waiting; try again in a few seconds.",
            );
        }
        if let Error::Ai(e) = self {
            tracing::warn!(error = %e, "AI call failed");
            let mut response = HttpResponse::build(self.status_code());
            if let Some(secs) = e.retry_after_secs() {
                response.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
            }
            let (title, detail) = match e {
                crate::ai::AiError::BudgetExceeded(_) => {
                    ("Over budget", "This request would exceed its AI budget.")
                }
                crate::ai::AiError::RateLimited { .. } => {
                    ("Busy", "The AI service is busy; try again shortly.")
                }
                crate::ai::AiError::BadRequest { .. } => (
                    "Bad request",
                    "The AI service could not answer this request.",
                ),
                _ => (
                    "Service unavailable",
                    "The AI service cannot be reached; try again shortly.",
                ),
            };
            return crate::http::page::html_error(
                response,
                self.status_code().as_u16(),
                title,
                detail,
            );
        }
        let status = self.status_code();
        let (title, detail) = match self {
            Error::NotFound => ("Not found", "There is nothing at this address.".to_string()),
            Error::BadRequest(message) => ("Bad request", message.clone()),
            Error::Forbidden => ("Forbidden", "You may not do this.".to_string()),
            Error::Database(DbError::NotFound) => {
                ("Not found", "There is nothing at this address.".to_string())
            }
            Error::Database(DbError::Conflict(_)) => (
                "Conflict",
                "This would duplicate something that must be unique.".to_string(),
            ),
            Error::Database(DbError::Invalid(_)) => (
                "Invalid data",
                "The data breaks a rule of the database (a missing reference or a required value)."
                    .to_string(),
            ),
            Error::Database(DbError::Unavailable(e)) => {
                tracing::warn!(error = %e, "database unavailable: answering 503");
                (
                    "Service unavailable",
                    "The database cannot be reached; try again shortly.".to_string(),
                )
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ("Something went wrong", "The error was logged.".to_string())
            }
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS));
        }
        crate::http::page::html_error(response, status.as_u16(), title, &detail)
    }
}

/// The `Retry-After` of a 503 for an unreachable or busy database.
pub(crate) const RETRY_AFTER_SECS: &str = "2";
