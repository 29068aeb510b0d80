//! The API description served at `GET /openapi.json`: an OpenAPI 3.1 document that utoipa
//! builds from the handlers' `#[utoipa::path]` annotations and the `ToSchema` types they read
//! and write, so a field added to a response type is described by the same change. This module
//! holds what the annotations share: the document's frame (info, security, tags), the path
//! parameters every business route takes, and the error responses many operations give.
//!
//! The tests (`openapi/tests.rs`) keep the document equal to the router — every served route
//! (outside the `/app` web page) is described and every described operation is served — and
//! check real responses against their schemas.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse};

use super::error::ErrorBody;
use super::{answers, handlers, metrics, openai, orders, privacy, search, whatsapp};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clerk",
        description = "clerk answers a small business's customers from the business's own \
            documents. An admin creates businesses; each business uploads its FAQs, catalogs and \
            pages (Markdown, text, CSV/TSV, JSON/JSONL, HTML, PDF), which are split into passages \
            and indexed. Questions are answered from those passages: a matching FAQ or catalog \
            entry is quoted, otherwise a small local model writes a reply whose facts are checked \
            against the sources, and when the documents do not hold the answer the conversation \
            is flagged for a person. Every reply names its sources. An OpenAI-compatible chat \
            endpoint lets existing chat clients use a business as a model.\n\n\
            Every 4xx/5xx body is `{\"error\": {\"code\", \"message\"}}` (`Error`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "http://127.0.0.1:8080", description = "The default listen address.")),
    security(("bearer" = [])),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Probes, metrics and this document (no authentication)."),
        (name = "businesses", description = "Businesses and their API keys."),
        (name = "documents", description = "Uploading, listing and deleting a business's documents."),
        (name = "search", description = "Ranked passages without a written reply."),
        (name = "answers", description = "Replies to customers and their conversations."),
        (name = "openai", description = "OpenAI-compatible endpoints."),
        (name = "whatsapp", description = "Meta's webhook and each business's WhatsApp number."),
        (name = "orders", description = "Orders and reservations customers placed, and the business's decisions on them."),
        (name = "privacy", description = "The AI disclosure and retention settings, a customer's export and erasure, and a person's replies."),
    ),
    paths(
        handlers::healthz,
        answers::readyz,
        metrics::metrics,
        openapi,
        handlers::create_business,
        handlers::list_businesses,
        handlers::get_business,
        handlers::rotate_key,
        handlers::upload,
        handlers::list_documents,
        handlers::delete_document,
        search::search_get,
        search::search_post,
        answers::answer,
        answers::conversation,
        answers::release,
        privacy::reply,
        privacy::settings,
        privacy::put_settings,
        privacy::export,
        privacy::erase,
        orders::list,
        orders::get,
        orders::act,
        whatsapp::connect,
        whatsapp::connection,
        whatsapp::dead_letters,
        whatsapp::unanswered,
        whatsapp::customer,
        whatsapp::verify,
        whatsapp::receive,
        openai::chat_completions,
        openai::models,
    ),
    components(
        // Named in a parameter or a stream, so no path collects them.
        schemas(answers::TokenEvent, openai::ChatCompletionChunk, orders::BusinessAction),
        responses(
            Unauthorized,
            OtherBusiness,
            AdminOnly,
            BadBusinessId,
            UnknownBusiness,
            Busy,
            NotReady,
            IndexLocked,
            Internal,
        ),
    ),
)]
pub(super) struct ApiDoc;

/// `Authorization: Bearer …`, the one way to authenticate (the derive cannot declare a scheme).
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <token>` with either the admin token \
                         (`CLERK_ADMIN_TOKEN`, may act on every business) or a business API key \
                         (`ck_…`, may act only on its own business).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as served, built once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("an OpenAPI document always serializes")
});

/// This API description.
///
/// The OpenAPI 3.1 document describing every endpoint of this service (the `/app` web page
/// excepted), generated from the handlers' own types.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "health",
    security(),
    responses((status = 200, description = "The OpenAPI document.", body = Object)),
)]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

// The path parameters below and the responses after them are only described, never built:
// axum's extractors read the path and `ApiError` writes the bodies.

/// `{business}`: every business route's first segment.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct BusinessPath {
    /// The business id: 1-64 characters a-z, 0-9, `-` or `_`, starting with a letter or digit.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "harbour-bikes")]
    business: String,
}

/// `{conversation}` after `{business}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct ConversationPath {
    /// The conversation id (as sent as `conversation_id` or returned in an `Answer`; `wa:<wa_id>`
    /// for a WhatsApp customer): 1-128 characters, letters, digits and `-_.:+@`.
    #[param(pattern = "^[A-Za-z0-9_.:+@-]{1,128}$")]
    conversation: String,
}

/// `{customer}` after `{business}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct CustomerPath {
    /// The customer, by their conversation id: `wa:<wa_id>` for a WhatsApp customer (their
    /// phone number's WhatsApp id, or their business-scoped user id), or the id of a
    /// conversation of the HTTP API.
    #[param(pattern = "^[A-Za-z0-9_.:+@-]{1,128}$")]
    customer: String,
}

/// `{order}` after `{business}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct OrderPath {
    /// The order id (`ord_…`).
    order: String,
}

/// Missing or unknown credentials (`unauthorized`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Unauthorized(ErrorBody);

/// The API key belongs to another business (`forbidden`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct OtherBusiness(ErrorBody);

/// The action needs the admin token; a business API key was sent (`forbidden`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct AdminOnly(ErrorBody);

/// Invalid business id (`bad_request`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct BadBusinessId(ErrorBody);

/// No such business (`unknown_business`).
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct UnknownBusiness(ErrorBody);

/// The generation queue is full (`busy`); retry after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")))]
#[allow(dead_code)]
pub(super) struct Busy(ErrorBody);

/// The service is not ready yet (`not_ready`) or the model is not running
/// (`model_unavailable`); retry after `Retry-After` seconds.
#[derive(ToResponse)]
#[response(headers(("Retry-After" = u64, description = "Seconds to wait before retrying.")))]
#[allow(dead_code)]
pub(super) struct NotReady(ErrorBody);

/// The business's index is locked by another process (`index_locked`); retry shortly.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct IndexLocked(ErrorBody);

/// Internal fault (`internal`); the message holds a request id for the operator's log.
#[derive(ToResponse)]
#[allow(dead_code)]
pub(super) struct Internal(ErrorBody);

#[cfg(test)]
mod tests;
