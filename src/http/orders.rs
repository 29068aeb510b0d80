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
use super::error::{ApiError, ErrorBody};
use super::handlers::blocking;
use super::openapi::{
    BusinessPath, Internal, OrderPath, OtherBusiness, Unauthorized, UnknownBusiness,
};
use super::AppState;
use crate::engine::{Order, OrderAction, OrderState};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only orders in this state.
    #[param(value_type = Option<OrderState>)]
    state: Option<String>,
}

/// A business's orders, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrderList {
    orders: Vec<Order>,
}

/// What the business tells the customer with its action (the body may also be empty).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    /// Told to the customer after the notification; at most 1000 characters.
    #[schema(max_length = 1000)]
    note: Option<String>,
}

/// What the business does to an order, as the path names it (the customer's own
/// confirmation comes through the chat). A test keeps it equal to
/// [`OrderAction::of_business`]'s names.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // only described: the path segment is read by `OrderAction::of_business`
pub(super) enum BusinessAction {
    Accept,
    Decline,
    Ready,
    Collected,
    Cancel,
}

fn state_names() -> String {
    OrderState::ALL.map(OrderState::as_str).join(", ")
}

/// List a business's orders.
///
/// Newest first; `state` keeps those in one state.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/orders",
    operation_id = "listOrders",
    tag = "orders",
    params(BusinessPath, ListQuery),
    responses(
        (status = 200, description = "The orders.", body = OrderList),
        (status = 400, description = "Unknown state or query parameter (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
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

/// Show one order with its history.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/orders/{order}",
    operation_id = "getOrder",
    tag = "orders",
    params(BusinessPath, OrderPath),
    responses(
        (status = 200, description = "The order, with `history`.", body = Order),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`) or order (`unknown_order`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
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

/// Accept, decline, mark ready or collected, or cancel an order.
///
/// Moves the order: placed → accepted | declined; accepted → ready → collected;
/// awaiting_confirmation, placed or accepted → cancelled. A customer on WhatsApp is told in
/// their language (with the note), through the outbox; outside the 24-hour window the message
/// is a dead letter with its reason (see `…/whatsapp/dead-letters`).
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/orders/{order}/{action}",
    operation_id = "actOnOrder",
    tag = "orders",
    params(
        BusinessPath,
        OrderPath,
        ("action" = BusinessAction, Path, description = "What the business does."),
    ),
    request_body(content = Option<ActionBody>, description = "Nothing, or a note for the customer."),
    responses(
        (status = 200, description = "The order after the change.", body = Order),
        (status = 400, description = "The body is not `{\"note\"?}` (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`), order (`unknown_order`) or action (`unknown_order_action`).", body = ErrorBody),
        (status = 409, description = "The order's state does not allow this action (`illegal_transition`); the message says which it allows.", body = ErrorBody),
        (status = 422, description = "The note is too long or holds control characters (`invalid_note`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
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
