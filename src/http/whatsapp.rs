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
use super::error::ApiError;
use super::handlers::json_body;
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

/// `GET /webhooks/whatsapp`: Meta's subscription handshake.
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

/// `POST /webhooks/whatsapp`: a signed delivery, acknowledged once it is in the inbox.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    phone_number_id: String,
    access_token: String,
    app_secret: String,
    verify_token: String,
}

/// `PUT /v1/businesses/{business}/whatsapp`: connects the business's number. The secrets are
/// stored and never shown again.
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

#[derive(Serialize)]
pub struct ConnectionStatus {
    #[serde(flatten)]
    connection: Connection,
    counts: WhatsAppCounts,
}

/// `GET /v1/businesses/{business}/whatsapp`: the connected number and its traffic.
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

#[derive(Serialize)]
pub struct DeadLetters {
    dead_letters: Vec<DeadLetter>,
}

/// `GET /v1/businesses/{business}/whatsapp/dead-letters`: messages that will not be sent.
pub async fn dead_letters(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<DeadLetters>, ApiError> {
    caller.check(&business)?;
    let dead_letters = on_channel(&state, move |c| c.dead_letters(&business)).await?;
    Ok(Json(DeadLetters { dead_letters }))
}

#[derive(Serialize)]
pub struct UnansweredList {
    unanswered: Vec<Unanswered>,
}

/// `GET /v1/businesses/{business}/whatsapp/unanswered`: customer messages that could not be
/// taken in to answer (no sender, no id), with why.
pub async fn unanswered(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<UnansweredList>, ApiError> {
    caller.check(&business)?;
    let unanswered = on_channel(&state, move |c| c.unanswered(&business)).await?;
    Ok(Json(UnansweredList { unanswered }))
}

/// `GET /v1/businesses/{business}/whatsapp/customers/{wa_id}`: opt-out, handoff and window.
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
