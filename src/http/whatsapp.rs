//! The WhatsApp routes: Meta's webhook (GET handshake, POST notifications) and a business's
//! connection, dead letters and customers. Each turns the request into a call on the channel
//! (`channels::whatsapp`) on the blocking pool; the webhook answers as soon as the inbox has
//! the delivery, before any answer is made.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::handlers::json_body;
use super::openapi::{BusinessPath, Internal, OtherBusiness, Unauthorized, UnknownBusiness};
use super::AppState;
use crate::channels::whatsapp::{Connection, Receipt, WhatsApp, WhatsAppError};
use crate::store::{DeadLetter, Unanswered, WhatsAppAccount, WhatsAppCounts, WhatsAppCustomer};

fn channel(state: &AppState) -> Result<Arc<WhatsApp>, ApiError> {
    state.whatsapp.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "whatsapp_disabled",
            "WhatsApp is not enabled on this server",
        )
    })
}

/// Runs a channel call on the blocking pool (it reads and writes the store).
async fn on_channel<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&WhatsApp) -> Result<T, WhatsAppError> + Send + 'static,
) -> Result<T, ApiError> {
    let channel = channel(state)?;
    tokio::task::spawn_blocking(move || call(&channel))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(ApiError::from)
}

/// Meta's webhook handshake.
///
/// Meta's subscription check when the webhook is set up: the challenge is echoed when the
/// verify token is a connected number's.
#[utoipa::path(
    get,
    path = "/webhooks/whatsapp",
    operation_id = "verifyWhatsAppWebhook",
    tag = "whatsapp",
    security(),
    params(
        ("hub.mode" = String, Query, description = "`subscribe`."),
        ("hub.verify_token" = String, Query, description = "The verify token given when connecting the number."),
        ("hub.challenge" = String, Query, description = "Echoed back when the token matches."),
    ),
    responses(
        (status = 200, description = "The challenge, echoed as the body.", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 403, description = "The verify token is not a connected number's (`verification_failed`).", body = ErrorBody),
        (status = 404, description = "WhatsApp is not enabled on this server (`whatsapp_disabled`).", body = ErrorBody),
    ),
)]
pub async fn verify(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, ApiError> {
    let channel = channel(&state)?;
    let get = |k: &str| query.get(k).map(String::as_str);
    Ok(channel.verify_subscription(
        get("hub.mode"),
        get("hub.verify_token"),
        get("hub.challenge"),
    )?)
}

/// Meta's webhook notifications.
///
/// Verifies `X-Hub-Signature-256` (HMAC-SHA256 of the raw body under a connected app's secret)
/// before anything else, then stores new messages in the inbox (a known `wamid` is a
/// duplicate) and delivery statuses, and answers. Replies are made and sent afterwards. Kinds
/// clerk does not act on are acknowledged and ignored. The body may be up to 4 MiB.
#[utoipa::path(
    post,
    path = "/webhooks/whatsapp",
    operation_id = "receiveWhatsAppWebhook",
    tag = "whatsapp",
    security(),
    params((
        "X-Hub-Signature-256" = String, Header,
        description = "`sha256=` and the HMAC-SHA256 of the raw body under the Meta app's secret, in hex.",
        pattern = "^sha256=[0-9a-f]{64}$",
    )),
    request_body(content = Object, description = "Meta's notification (`{\"object\": \"whatsapp_business_account\", \"entry\": […]}`), read as the bytes that were signed."),
    responses(
        (status = 200, description = "Stored.", body = Receipt),
        (status = 400, description = "Signed, but not a WhatsApp notification (`bad_payload`).", body = ErrorBody),
        (status = 401, description = "No signature (`missing_signature`).", body = ErrorBody),
        (status = 403, description = "The signature does not match (`bad_signature`).", body = ErrorBody),
        (status = 404, description = "WhatsApp is not enabled on this server (`whatsapp_disabled`).", body = ErrorBody),
        (status = 413, description = "The body is over the webhook's limit (`payload_too_large`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Receipt>, ApiError> {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let receipt = on_channel(&state, move |c| c.receive(&body, signature.as_deref())).await?;
    Ok(Json(receipt))
}

/// The Cloud API settings of a business's number (unknown fields are refused).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// The number's id from the WhatsApp Manager.
    #[schema(pattern = "^[0-9]{1,32}$")]
    phone_number_id: String,
    /// A system user's token with whatsapp_business_messaging.
    #[schema(min_length = 8)]
    access_token: String,
    /// The Meta app's secret; webhook signatures are checked with it.
    #[schema(min_length = 8)]
    app_secret: String,
    /// The token you enter in the app's webhook settings.
    #[schema(min_length = 8)]
    verify_token: String,
}

/// Connect the business's WhatsApp number.
///
/// Stores the Cloud API settings of the business's number. The secrets are kept for sending
/// and for checking webhook signatures; no response ever shows them. Point the Meta app's
/// webhook at `/webhooks/whatsapp` with the same verify token. A business that moves to
/// another number settles the old number's waiting messages and unsent replies.
#[utoipa::path(
    put,
    path = "/v1/businesses/{business}/whatsapp",
    operation_id = "connectWhatsApp",
    tag = "whatsapp",
    params(BusinessPath),
    request_body = ConnectRequest,
    responses(
        (status = 200, description = "Connected.", body = Connection),
        (status = 400, description = "Invalid JSON or settings (`bad_request`, `bad_whatsapp_settings`); the message names the field.", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`), or WhatsApp is not enabled on this server (`whatsapp_disabled`).", body = ErrorBody),
        (status = 409, description = "Another business has this number (`phone_number_taken`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    body: Result<Json<ConnectRequest>, JsonRejection>,
) -> Result<Json<Connection>, ApiError> {
    caller.check(&business)?;
    let request = json_body(
        &state,
        body,
        "; send phone_number_id, access_token, app_secret and verify_token",
    )?;
    let account = WhatsAppAccount {
        business_id: business,
        phone_number_id: request.phone_number_id.trim().to_string(),
        access_token: request.access_token,
        app_secret: request.app_secret,
        verify_token: request.verify_token,
    };
    Ok(Json(on_channel(&state, move |c| c.connect(account)).await?))
}

/// The connected number (no secrets) and its inbox and outbox counts.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConnectionStatus {
    #[serde(flatten)]
    connection: Connection,
    counts: WhatsAppCounts,
}

/// Show the connected number and its traffic.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/whatsapp",
    operation_id = "getWhatsApp",
    tag = "whatsapp",
    params(BusinessPath),
    responses(
        (status = 200, description = "The connection, without secrets, and inbox/outbox counts.", body = ConnectionStatus),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`), no number connected (`whatsapp_not_connected`), or WhatsApp is not enabled on this server (`whatsapp_disabled`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn connection(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<ConnectionStatus>, ApiError> {
    caller.check(&business)?;
    let status = on_channel(&state, move |c| {
        Ok(ConnectionStatus {
            connection: c.connection(&business)?,
            counts: c.counts(Some(&business))?,
        })
    })
    .await?;
    Ok(Json(status))
}

/// A business's messages that will not be sent, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeadLetters {
    dead_letters: Vec<DeadLetter>,
}

/// List messages that will not be sent.
///
/// Replies Meta refused for good (`dead`, with Meta's code and reason) and replies outside the
/// 24-hour customer-service window, to a customer who opted out or without a connected number
/// (`undeliverable`).
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/whatsapp/dead-letters",
    operation_id = "listDeadLetters",
    tag = "whatsapp",
    params(BusinessPath),
    responses(
        (status = 200, description = "The dead letters, oldest first.", body = DeadLetters),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<DeadLetters>, ApiError> {
    caller.check(&business)?;
    let dead_letters = on_channel(&state, move |c| c.dead_letters(&business)).await?;
    Ok(Json(DeadLetters { dead_letters }))
}

/// A business's customer messages that could not be answered, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UnansweredList {
    unanswered: Vec<Unanswered>,
}

/// List customer messages that could not be answered.
///
/// Customer messages clerk could not take in to answer, with why: a message naming no sender
/// (neither a phone number nor a business-scoped user id) or carrying no id. Nothing a customer
/// sends is dropped without a record here.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/whatsapp/unanswered",
    operation_id = "listUnanswered",
    tag = "whatsapp",
    params(BusinessPath),
    responses(
        (status = 200, description = "The unanswered messages, oldest first.", body = UnansweredList),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn unanswered(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<UnansweredList>, ApiError> {
    caller.check(&business)?;
    let unanswered = on_channel(&state, move |c| c.unanswered(&business)).await?;
    Ok(Json(UnansweredList { unanswered }))
}

/// Show a WhatsApp customer.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/whatsapp/customers/{wa_id}",
    operation_id = "getWhatsAppCustomer",
    tag = "whatsapp",
    params(
        BusinessPath,
        ("wa_id" = String, Path, description = "The customer's WhatsApp id (phone number or business-scoped user id)."),
    ),
    responses(
        (status = 200, description = "Opt-out, handoff and the last message's time (the 24-hour window starts there).", body = WhatsAppCustomer),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`) or customer (`unknown_conversation`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn customer(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, wa_id)): Path<(String, String)>,
) -> Result<Json<WhatsAppCustomer>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        on_channel(&state, move |c| c.customer(&business, &wa_id)).await?,
    ))
}
