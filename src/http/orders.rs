//! The business's orders: `GET …/orders[?state=placed]`, `GET …/orders/{order}` and
//! `POST …/orders/{order}/{accept|decline|ready|collected|cancel}` with an optional
//! `{"note": "…"}` for the customer. Authorized like every business route; what the engine
//! refuses becomes a status code in `error` (404 unknown order, 409 a move the order's state
//! does not allow, 422 a note too long).

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::handlers::blocking;
use super::AppState;
use crate::engine::{Order, OrderAction, OrderState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
}

#[derive(Serialize)]
pub struct OrderList {
    orders: Vec<Order>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    note: Option<String>,
}

fn state_names() -> String {
    OrderState::ALL.map(OrderState::as_str).join(", ")
}

/// `GET /v1/businesses/{business}/orders`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<OrderList>, ApiError> {
    caller.check(&business)?;
    let Query(query) = query
        .map_err(|e| ApiError::bad_request(format!("{}; use ?state=<state>", e.body_text())))?;
    let filter = match query.state.as_deref() {
        None | Some("") => None,
        Some(name) => Some(OrderState::parse(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown order state {name:?}; use one of {}",
                state_names()
            ))
        })?),
    };
    let orders = blocking(&state, move |e| e.orders(&business, filter)).await?;
    Ok(Json(OrderList { orders }))
}

/// `GET /v1/businesses/{business}/orders/{order}`
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        blocking(&state, move |e| e.order(&business, &id)).await?,
    ))
}

/// `POST /v1/businesses/{business}/orders/{order}/{action}`
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, id, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    caller.check(&business)?;
    let action = OrderAction::of_business(&action).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_order_action",
            format!(
                "no order action {action:?}; POST to …/orders/{{order}}/ one of accept, decline, ready, collected, cancel"
            ),
        )
    })?;
    let note = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<ActionBody>(&body)
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "invalid JSON body: {e}; send nothing or {{\"note\": \"…\"}}"
                ))
            })?
            .note
    };
    let order = blocking(&state, move |e| {
        e.act_on_order(&business, &id, action, note.as_deref())
    })
    .await?;
    // The customer's notification is in the outbox: the sender need not wait for its poll.
    if let Some(whatsapp) = &state.whatsapp {
        whatsapp.wake();
    }
    Ok(Json(order))
}
