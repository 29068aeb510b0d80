//! The one place where failures become HTTP status codes.
//!
//! User faults (bad input, unknown business, missing or wrong credentials) become 4xx with a
//! message that says what to fix. Internal faults are logged with a request id and become a 500
//! whose body holds that id and nothing of the internals. What axum itself refuses (an unknown
//! route, a body over a limit, a path it cannot decode) is rewritten by [`json_errors`] into the
//! same `{"error": {"code", "message"}}` shape; a method a route lacks gets
//! [`ApiError::method_not_allowed`] (axum adds the `Allow` header after it).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::channels::whatsapp::WhatsAppError;
use crate::documents::DocumentError;
use crate::engine::EngineError;
use crate::llm::LlmError;

/// What a client is told to wait when the generation queue is full: about one reply's time.
const BUSY_RETRY_SECONDS: u64 = 2;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

/// Every error response has this body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub(super) struct Body<'a> {
    error: Inner<'a>,
}

/// The error body as the API description names it (`Error`).
pub(super) type ErrorBody = Body<'static>;

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub(super) struct Inner<'a> {
    /// Machine-readable reason, e.g. `bad_request`, `unknown_business`, `busy`; each
    /// operation's responses name the codes it gives.
    #[schema(examples("unknown_business"))]
    code: &'a str,
    /// What went wrong and what to send instead, for a person to read.
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The service cannot take this now (model busy or still loading); retry after `seconds`.
    pub fn overloaded(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        seconds: u64,
    ) -> Self {
        ApiError {
            retry_after: Some(seconds),
            ..Self::new(status, code, message)
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

    /// A request on a web session that lacks the session's CSRF token or comes from another
    /// site's page.
    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "this request came without the page's CSRF token (X-CSRF-Token) or from another \
             site; reload the page and try again",
        )
    }

    pub fn admin_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this action needs the admin token (CLERK_ADMIN_TOKEN)",
        )
    }

    pub fn method_not_allowed(method: &Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "{method} is not allowed on this path; the Allow header lists the methods it takes"
            ),
        )
    }

    /// A request body over the limit of the route it was sent to.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the request body is larger than this endpoint's limit of {limit} bytes ({}); send less (fewer or smaller files per upload)",
                human_bytes(limit)
            ),
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
            E::InvalidBusinessId(_)
            | E::InvalidName(_)
            | E::UnknownLanguage(_)
            | E::NoFiles
            | E::DuplicateName(_) => (StatusCode::BAD_REQUEST, "bad_request"),
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
                DocumentError::TooSlow { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "document_too_complex")
                }
                DocumentError::Cancelled { .. } => (StatusCode::BAD_REQUEST, "cancelled"),
                _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_document"),
            },
            E::Index(crate::index::IndexError::Locked { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, "index_locked")
            }
            E::InvalidOrder(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_order"),
            E::InvalidNote(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_note"),
            E::UnknownOrder { .. } => (StatusCode::NOT_FOUND, "unknown_order"),
            E::UnknownCustomer(_) => (StatusCode::NOT_FOUND, "unknown_customer"),
            E::IllegalTransition { .. } => (StatusCode::CONFLICT, "illegal_transition"),
            E::PhoneNumberTaken(_) => (StatusCode::CONFLICT, "phone_number_taken"),
            E::InvalidSetting(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_setting"),
            E::Undeliverable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "undeliverable"),
            E::InvalidConversationId(_) => (StatusCode::BAD_REQUEST, "bad_conversation_id"),
            E::UnknownConversation { .. } => (StatusCode::NOT_FOUND, "unknown_conversation"),
            E::Llm(LlmError::Busy(_)) => {
                return ApiError::overloaded(
                    StatusCode::TOO_MANY_REQUESTS,
                    "busy",
                    e.to_string(),
                    BUSY_RETRY_SECONDS,
                )
            }
            E::Llm(LlmError::EngineStopped) => {
                return ApiError::overloaded(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "model_unavailable",
                    "the model is not running; try again shortly",
                    BUSY_RETRY_SECONDS,
                )
            }
            E::Llm(_) | E::Index(_) | E::Store(_) => return ApiError::internal(&e),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<WhatsAppError> for ApiError {
    fn from(e: WhatsAppError) -> Self {
        use WhatsAppError as W;
        let e = match e {
            W::Engine(inner) => return ApiError::from(inner),
            other => other,
        };
        let (status, code) = match &e {
            W::MissingSignature => (StatusCode::UNAUTHORIZED, "missing_signature"),
            W::BadSignature => (StatusCode::FORBIDDEN, "bad_signature"),
            W::VerificationFailed => (StatusCode::FORBIDDEN, "verification_failed"),
            W::Payload(_) => (StatusCode::BAD_REQUEST, "bad_payload"),
            W::InvalidAccount(_) => (StatusCode::BAD_REQUEST, "bad_whatsapp_settings"),
            W::NotConnected(_) => (StatusCode::NOT_FOUND, "whatsapp_not_connected"),
            W::PhoneNumberTaken(_) => (StatusCode::CONFLICT, "phone_number_taken"),
            W::Engine(_) => unreachable!("returned above"),
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
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// "20 MiB" for a byte count, for messages.
fn human_bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// The body limits the router applies: the webhook's, and every other route's.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub webhook: usize,
    pub other: usize,
}

/// Rewrites error responses that did not come from [`ApiError`] (axum's own rejections: plain
/// text or empty bodies) into the documented JSON shape, keeping their status and headers.
/// Responses that are already JSON, and the web page's own HTML pages, pass untouched.
pub async fn json_errors(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let webhook = request.uri().path().starts_with("/webhooks/");
    let response = next.run(request).await;
    let status = response.status();
    let ours = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Framework rejections are a line of text; anything longer is not worth quoting.
    let said = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&said).trim().to_string();
    let error = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::body_too_large(if webhook {
            limits.webhook
        } else {
            limits.other
        }),
        StatusCode::NOT_FOUND => ApiError::new(
            status,
            "not_found",
            "no such endpoint; see the README for the API",
        ),
        _ => {
            let reason = status.canonical_reason().unwrap_or("error");
            let code = match status {
                s if s.is_server_error() => "internal",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                StatusCode::UNAUTHORIZED => "unauthorized",
                _ => "bad_request",
            };
            let message = if said.is_empty() || method == Method::HEAD {
                reason.to_string()
            } else {
                said
            };
            ApiError::new(status, code, message)
        }
    };
    let mut rewritten = error.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in rewritten.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    *rewritten.headers_mut() = parts.headers;
    rewritten
}
