//! Orders and reservations: what a customer ordered (items with prices exactly as uploaded),
//! from which conversation, and the order's way through its states, each change recorded.
//!
//! The states and the moves between them are [`OrderState`] and [`OrderAction`]; a move the
//! table does not allow is [`StoreError::IllegalTransition`], and nothing is written. Every
//! change is one transaction holding the new state, its row in `order_events` and, for an
//! order from WhatsApp, the customer's notification in the WhatsApp outbox (`notice`), so the
//! notification leaves exactly once and in order with clerk's other replies to that customer.
//! An order is created once per idempotency key and business: the same confirmation delivered
//! twice returns the order the first one made. The notification's wording is the caller's
//! (the engine's, from the channel's sentences); the store only decides whether it may go.

pub(super) mod notice;
pub(super) mod records;
#[cfg(test)]
mod tests;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

pub use notice::{Notice, NoticeOf, SERVICE_WINDOW_SECS};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    id               TEXT PRIMARY KEY,
    business_id      TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    customer_channel TEXT NOT NULL,
    wa_id            TEXT,
    conversation_id  TEXT NOT NULL,
    state            TEXT NOT NULL,
    items            TEXT NOT NULL,
    fulfilment       TEXT,
    customer_note    TEXT,
    business_note    TEXT,
    language         TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (business_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS orders_by_state ON orders(business_id, state, created_at);
CREATE TABLE IF NOT EXISTS order_events (
    order_id    TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    note        TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (order_id, seq)
);
";

/// Where an order is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Summarized to the customer, who has not confirmed it yet.
    AwaitingConfirmation,
    /// Confirmed by the customer; the business has to decide.
    Placed,
    Accepted,
    Declined,
    /// Ready for pickup or delivery.
    Ready,
    /// Handed over.
    Collected,
    Cancelled,
}

impl OrderState {
    pub const ALL: [OrderState; 7] = [
        OrderState::AwaitingConfirmation,
        OrderState::Placed,
        OrderState::Accepted,
        OrderState::Declined,
        OrderState::Ready,
        OrderState::Collected,
        OrderState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::AwaitingConfirmation => "awaiting_confirmation",
            OrderState::Placed => "placed",
            OrderState::Accepted => "accepted",
            OrderState::Declined => "declined",
            OrderState::Ready => "ready",
            OrderState::Collected => "collected",
            OrderState::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state `action` leads to from this one, or None where the table has no such move.
    pub fn after(self, action: OrderAction) -> Option<OrderState> {
        use OrderAction as A;
        use OrderState as S;
        match (self, action) {
            (S::AwaitingConfirmation, A::Confirm) => Some(S::Placed),
            (S::Placed, A::Accept) => Some(S::Accepted),
            (S::Placed, A::Decline) => Some(S::Declined),
            (S::Accepted, A::Ready) => Some(S::Ready),
            (S::Ready, A::Collected) => Some(S::Collected),
            (S::AwaitingConfirmation | S::Placed | S::Accepted, A::Cancel) => Some(S::Cancelled),
            _ => None,
        }
    }

    /// The actions that lead somewhere from this state (for error messages).
    pub fn allowed(self) -> Vec<OrderAction> {
        OrderAction::ALL
            .into_iter()
            .filter(|a| self.after(*a).is_some())
            .collect()
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for OrderState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for OrderState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        OrderState::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("order state {text:?}").into()))
    }
}

/// A move from one state to another. `Confirm` is the customer's (through the chat); the
/// others are the business's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    Confirm,
    Accept,
    Decline,
    Ready,
    Collected,
    Cancel,
}

impl OrderAction {
    pub const ALL: [OrderAction; 6] = [
        OrderAction::Confirm,
        OrderAction::Accept,
        OrderAction::Decline,
        OrderAction::Ready,
        OrderAction::Collected,
        OrderAction::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderAction::Confirm => "confirm",
            OrderAction::Accept => "accept",
            OrderAction::Decline => "decline",
            OrderAction::Ready => "ready",
            OrderAction::Collected => "collected",
            OrderAction::Cancel => "cancel",
        }
    }

    /// One of the business's actions by name (`confirm` is not one of them).
    pub fn of_business(name: &str) -> Option<OrderAction> {
        OrderAction::ALL
            .into_iter()
            .find(|a| *a != OrderAction::Confirm && a.as_str() == name)
    }
}

impl std::fmt::Display for OrderAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the customer gets the goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    Pickup,
    Delivery,
}

impl Fulfilment {
    pub fn as_str(self) -> &'static str {
        match self {
            Fulfilment::Pickup => "pickup",
            Fulfilment::Delivery => "delivery",
        }
    }

    fn parse(name: &str) -> Option<Fulfilment> {
        [Fulfilment::Pickup, Fulfilment::Delivery]
            .into_iter()
            .find(|f| f.as_str() == name)
    }
}

/// One line of an order: a product as the catalog names and prices it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderItem {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub quantity: u32,
    /// The unit price exactly as uploaded ("14,90", "€ 1.299,00"); empty where the catalog
    /// gives none (the business names it when it accepts).
    pub price: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Who ordered: a WhatsApp customer (as the channel keys them: phone number's WhatsApp id,
/// or business-scoped user id), or a client of the HTTP API, known by its conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum OrderCustomer {
    #[serde(rename = "whatsapp")]
    WhatsApp {
        /// Their number's WhatsApp id or business-scoped user id.
        wa_id: String,
        /// The profile name WhatsApp last showed (read, not stored with the order).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    Api,
}

/// An order to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer: OrderCustomer,
    pub conversation_id: String,
    /// `AwaitingConfirmation` or `Placed`.
    pub state: OrderState,
    pub items: Vec<OrderItem>,
    pub fulfilment: Option<Fulfilment>,
    pub customer_note: Option<String>,
    /// The customer's language code: notifications are written in it (English when None;
    /// the engine fills in the business's language).
    pub language: Option<String>,
    /// Unique per business: a second order with the same key is the first one.
    pub idempotency_key: String,
}

/// One recorded change of state (the first has no `from`: the order was created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<OrderState>,
    pub to: OrderState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Unix seconds.
    pub at: u64,
}

/// An order or reservation a customer placed, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Order {
    /// `ord_…`
    pub id: String,
    pub business_id: String,
    pub state: OrderState,
    pub customer: OrderCustomer,
    /// The conversation the order was made in (`wa:<wa_id>` on WhatsApp).
    pub conversation_id: String,
    pub items: Vec<OrderItem>,
    pub fulfilment: Option<Fulfilment>,
    pub customer_note: Option<String>,
    /// The note of the business's latest action, if it gave one.
    pub business_note: Option<String>,
    /// The customer's language: notifications are written in it.
    pub language: String,
    /// Unique per business: `chat:<wamid>` for an order taken in the chat.
    pub idempotency_key: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds.
    pub updated_at: u64,
    /// Every change of state, oldest first: only when one order is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<OrderChange>>,
}
