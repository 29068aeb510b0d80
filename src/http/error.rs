//! The one place where failures become HTTP status codes.
//!
//! User faults (bad input, unknown business, missing or wrong credentials) become 4xx with a
//! message that says what to fix. Internal faults are logged with a request id and become a 500
//! whose body holds that id and nothing of the internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::documents::DocumentError;
use crate::engine::EngineError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or unknown credentials: send `Authorization: Bearer <admin token or the business's API key>`",
        )
    }

    pub fn forbidden(business: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this API key belongs to another business and may not act on {business:?}"),
        )
    }

    pub fn admin_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this action needs the admin token (CLERK_ADMIN_TOKEN)",
        )
    }

    /// An internal fault: logged in full, answered with an id only.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        let id = format!("{:016x}", rand::random::<u64>());
        tracing::error!(request_id = id, %error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("internal error (request id {id}); the operator's log has the details"),
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        use EngineError as E;
        let (status, code) = match &e {
            E::InvalidBusinessId(_) | E::UnknownLanguage(_) | E::NoFiles | E::DuplicateName(_) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            E::EmptyQuestion | E::QuestionTooLong { .. } => {
                (StatusCode::BAD_REQUEST, "bad_question")
            }
            E::UnknownBusiness(_) => (StatusCode::NOT_FOUND, "unknown_business"),
            E::UnknownDocument { .. } => (StatusCode::NOT_FOUND, "unknown_document"),
            E::BusinessExists(_) => (StatusCode::CONFLICT, "business_exists"),
            E::TooManyFiles { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_files"),
            E::Document(d) => match d {
                DocumentError::TooLarge { .. } | DocumentError::TooManyRows { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "document_too_large")
                }
                DocumentError::UnsupportedFormat { .. } => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_format")
                }
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_document"),
            },
            E::Index(crate::index::IndexError::Locked { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "index_locked")
            }
            E::Index(_) | E::Store(_) => return ApiError::internal(&e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
