//! The privacy routes: a business's settings (its disclosure text and retention), a
//! customer's data read out (`GET …/customers/{customer}`) or erased (`DELETE`), and a
//! person's reply into a conversation (`POST …/conversations/{conversation}/reply`, once per
//! `Idempotency-Key`). A customer is named by their conversation id: `wa:<wa_id>` on
//! WhatsApp, the API conversation's own id otherwise.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::auth::Caller;
use super::error::ApiError;
use super::handlers::{blocking, json_body};
use super::AppState;
use crate::engine::SettingsView;
use crate::store::{BusinessSettings, CustomerExport, Erased};

/// `GET /v1/businesses/{business}/settings`
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    #[serde(default)]
    disclosure: Option<String>,
    #[serde(default)]
    retention_days: Option<u32>,
}

/// `PUT /v1/businesses/{business}/settings`: replaces both settings; a missing or null one is
/// the default.
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
        "; send {\"disclosure\": text or null, \"retention_days\": days or null}",
    )?;
    let settings = BusinessSettings {
        disclosure: request.disclosure,
        retention_days: request.retention_days,
    };
    Ok(Json(
        blocking(&state, move |e| {
            e.set_business_settings(&business, settings)
        })
        .await?,
    ))
}

/// `GET /v1/businesses/{business}/customers/{customer}`: everything held of them.
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

/// `DELETE /v1/businesses/{business}/customers/{customer}`: what was erased.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    text: String,
}

/// `POST /v1/businesses/{business}/conversations/{conversation}/reply`: 201 when written now,
/// 200 for a key already seen (nothing written again), 422 when it cannot reach the customer.
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
