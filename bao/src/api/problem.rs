//! RFC 9457 problem details: every API error is
//! `application/problem+json` with `type`, `title`, `status`, `detail`, and
//! `errors` (one per field) for invalid input.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use serde::Serialize;

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field (or query parameter).
    pub field: String,
    /// What is wrong, e.g. `is required`.
    pub message: String,
}

impl FieldError {
    /// An error for `field`.
    pub fn new(field: &str, message: &str) -> FieldError {
        FieldError {
            field: field.to_string(),
            message: message.to_string(),
        }
    }
}

/// A problem response.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    kind: &'static str,
    title: String,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
}

impl Problem {
    /// A problem with this status and explanation.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Problem {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// `422` listing each invalid field.
    pub fn invalid(errors: Vec<FieldError>) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "some fields are invalid: see `errors`",
        );
        p.errors = errors;
        p
    }

    /// The response.
    pub fn response(&self) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_string(self).unwrap_or_default();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 here is temporary (the database or a queue).
            response.insert_header((header::RETRY_AFTER, crate::error::RETRY_AFTER_SECS));
        }
        response.body(body)
    }
}

impl From<crate::db::DbError> for Problem {
    fn from(e: crate::db::DbError) -> Problem {
        use crate::db::DbError;
        match e {
            DbError::NotFound => Problem::new(StatusCode::NOT_FOUND, "no such resource"),
            DbError::Conflict(_) => Problem::new(
                StatusCode::CONFLICT,
                "this would duplicate a value that must be unique",
            ),
            DbError::Invalid(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the data breaks a rule of the database (a missing reference or a required value)",
            ),
            DbError::Unavailable(error) => {
                tracing::warn!(%error, "database unavailable: answering 503");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database cannot be reached; try again shortly",
                )
            }
            other => {
                tracing::error!(error = %other, "API request failed");
                Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the error was logged")
            }
        }
    }
}
