//! The privacy routes: a business's settings (its disclosure text, retention, hand-over words,
//! order template and PIX text), a customer's data read out (`GET …/customers/{customer}`)
//! or erased (`DELETE`), and a person's reply into a conversation
//! (`POST …/conversations/{conversation}/reply`, once per `Idempotency-Key`). A customer is named by their conversation id: `wa:<wa_id>` on
//! WhatsApp, the API conversation's own id otherwise.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::handlers::{blocking, json_body};
use super::openapi::{
    BusinessPath, ConversationPath, CustomerPath, Internal, OtherBusiness, Unauthorized,
    UnknownBusiness,
};
use super::AppState;
use crate::engine::SettingsView;
use crate::store::{BusinessSettings, CustomerExport, Erased, OrderTemplate, PersonReply};

/// The business's privacy settings.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/settings",
    operation_id = "getSettings",
    tag = "privacy",
    params(BusinessPath),
    responses(
        (status = 200, description = "The settings and the retention in force.", body = SettingsView),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        blocking(&state, move |e| e.business_settings(&business)).await?,
    ))
}

/// The business's settings (unknown fields are refused); see `BusinessSettings` for what each
/// means.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// The disclosure's text, at most 500 characters; null or absent: clerk's own.
    #[serde(default)]
    #[schema(max_length = 500)]
    disclosure: Option<String>,
    /// Days texts are kept, at most 3650; null or absent: the server's default.
    #[serde(default)]
    #[schema(maximum = 3650)]
    retention_days: Option<u32>,
    /// Words (1-40 letters each, at most 50) with which a customer asks for a person; null
    /// or absent: the server's.
    #[serde(default)]
    handoff_words: Option<Vec<String>>,
    /// The Meta-approved template order updates go out as outside the 24-hour window, with
    /// the languages it was approved in; its body's parameters are {{1}} the order's
    /// reference, {{2}} the new state, {{3}} the business's note or "–". Null or absent: none,
    /// and such an update is a dead letter.
    #[serde(default)]
    order_template: Option<OrderTemplate>,
    /// The PIX key or "copia e cola" code appended to an accepted order's WhatsApp message,
    /// 1-512 characters on one line; null or absent: none. clerk processes no payment.
    #[serde(default)]
    #[schema(max_length = 512)]
    pix: Option<String>,
}

/// Replace the business's privacy settings.
///
/// Replaces every setting; a missing or null one is the default.
#[utoipa::path(
    put,
    path = "/v1/businesses/{business}/settings",
    operation_id = "putSettings",
    tag = "privacy",
    params(BusinessPath),
    request_body = SettingsRequest,
    responses(
        (status = 200, description = "The settings now in force.", body = SettingsView),
        (status = 400, description = "Invalid JSON (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 422, description = "A blank or too long disclosure, a retention over 3650 days, a hand-over word that is no single word of at most 40 letters, an order template whose name or language codes are not WhatsApp Manager's, or a blank, too long or multi-line PIX text (`invalid_setting`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn put_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    body: Result<Json<SettingsRequest>, JsonRejection>,
) -> Result<Json<SettingsView>, ApiError> {
    caller.check(&business)?;
    let request = json_body(
        &state,
        body,
        "; send {\"disclosure\": text or null, \"retention_days\": days or null, \
         \"handoff_words\": [words] or null, \"order_template\": {\"name\", \"languages\": \
         [codes]} or null, \"pix\": text or null}",
    )?;
    let settings = BusinessSettings {
        disclosure: request.disclosure,
        retention_days: request.retention_days,
        handoff_words: request.handoff_words,
        order_template: request.order_template,
        pix: request.pix,
    };
    Ok(Json(
        blocking(&state, move |e| {
            e.set_business_settings(&business, settings)
        })
        .await?,
    ))
}

/// Everything clerk holds of one customer (GDPR Art. 15).
///
/// Their WhatsApp customer record, messages as received, clerk's and a person's replies,
/// conversation turns and orders with their history. Texts retention removed are null or
/// absent. What Meta keeps is outside clerk.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/customers/{customer}",
    operation_id = "exportCustomer",
    tag = "privacy",
    params(BusinessPath, CustomerPath),
    responses(
        (status = 200, description = "The customer's data.", body = CustomerExport),
        (status = 400, description = "Invalid customer id (`bad_conversation_id`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`), or nothing held of this customer (`unknown_conversation`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, customer)): Path<(String, String)>,
) -> Result<Json<CustomerExport>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        blocking(&state, move |e| e.export_customer(&business, &customer)).await?,
    ))
}

/// Erase one customer (GDPR Art. 17).
///
/// In one transaction: their messages, replies (sent or not), delivery statuses, turns,
/// conversation, customer record and a person's reply keys are deleted; their orders stay with
/// items and states, but the customer key, conversation and the customer's note become
/// `erased`. The database deletes with `secure_delete` and the WAL is emptied after
/// (`checkpointed`), so the bytes leave the data dir's files. Erasing someone already gone
/// answers zero counts.
#[utoipa::path(
    delete,
    path = "/v1/businesses/{business}/customers/{customer}",
    operation_id = "eraseCustomer",
    tag = "privacy",
    params(BusinessPath, CustomerPath),
    responses(
        (status = 200, description = "What was erased.", body = Erased),
        (status = 400, description = "Invalid customer id (`bad_conversation_id`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, customer)): Path<(String, String)>,
) -> Result<Json<Erased>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        blocking(&state, move |e| e.erase_customer(&business, &customer)).await?,
    ))
}

/// A person's reply (unknown fields are refused).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    /// What the person writes; split into messages WhatsApp accepts.
    #[schema(min_length = 1, max_length = 4000)]
    text: String,
}

/// Reply in a conversation as a person of the business.
///
/// Writes a person's reply into the conversation, once per `Idempotency-Key`: a repeated
/// request with a key the conversation already has writes nothing and answers 200 with the
/// first outcome. In a WhatsApp conversation (`wa:<wa_id>`) the text goes into the outbox and
/// is sent like clerk's replies (once, in order after the customer's earlier messages, quoting
/// nothing) and the conversation is marked `needs_person` (clerk stops answering until
/// `…/release`); in an API conversation it is stored as a turn. Either way the turn's role is
/// `person`. Outside WhatsApp's 24-hour window, to a customer who opted out, or without a
/// connected number, the reply is kept as a dead letter, no turn is written, and the answer is
/// 422 `undeliverable` with the reason.
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/conversations/{conversation}/reply",
    operation_id = "replyAsPerson",
    tag = "privacy",
    params(
        BusinessPath,
        ConversationPath,
        ("Idempotency-Key" = String, Header, description = "Any string unique per reply (1-200 characters): a retried request with the same key is the same reply."),
    ),
    request_body = ReplyRequest,
    responses(
        (status = 200, description = "The key was known: nothing was written again.", body = PersonReply),
        (status = 201, description = "Written now.", body = PersonReply),
        (status = 400, description = "No Idempotency-Key header, invalid JSON (`bad_request`) or conversation id (`bad_conversation_id`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`), WhatsApp customer or API conversation (`unknown_conversation`).", body = ErrorBody),
        (status = 422, description = "Empty or too long text, bad key (`invalid_setting`), or the reply cannot reach the customer and was kept as a dead letter (`undeliverable`, the message says why).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, conversation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<ReplyRequest>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    caller.check(&business)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request(
                "send an Idempotency-Key header (any unique string per reply), so that a retried \
                 request sends the reply once",
            )
        })?;
    let request = json_body(&state, body, "; send {\"text\": \"...\"}")?;
    let reply = blocking(&state, move |e| {
        e.reply_as_person(&business, &conversation, &key, &request.text)
    })
    .await?;
    if let Some(whatsapp) = &state.whatsapp {
        whatsapp.wake();
    }
    let status = if reply.repeated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(reply)))
}
