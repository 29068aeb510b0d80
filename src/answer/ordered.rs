//! What an answer carries when the order conversation, not the documents, answered the
//! message (mode `order`): what happened to the order, the order it drafted or moved, and
//! the choices the customer can send back. Plain data, shared by the engine's order
//! conversation (which decides it) and every front end (which shows it).

use serde::{Deserialize, Serialize};

/// What happened to the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStep {
    /// A draft was summarized for confirmation.
    Summarized,
    Placed,
    /// A confirmation of an order past confirming: nothing changed.
    AlreadyPlaced,
    Cancelled,
    AskedWhatToChange,
    /// Several products fit: a list to pick from.
    AskedWhich,
    /// Nothing of it is in stock.
    SoldOut,
    /// A choice that fits no order or product any more.
    Stale,
}

impl OrderStep {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStep::Summarized => "order summarized",
            OrderStep::Placed => "order placed",
            OrderStep::AlreadyPlaced => "order already placed",
            OrderStep::Cancelled => "order cancelled",
            OrderStep::AskedWhatToChange => "order change asked",
            OrderStep::AskedWhich => "order product asked",
            OrderStep::SoldOut => "order refused: sold out",
            OrderStep::Stale => "order choice stale",
        }
    }
}

/// An option the customer can pick: its id comes back with their choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
// "Choice" is the OpenAI endpoint's completion choice in the document.
#[schema(as = OrderChoice)]
pub struct Choice {
    /// Send it back as the answer request's `choice`.
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The order conversation's part of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderPart {
    pub step: OrderStep,
    /// The order drafted, placed or cancelled (`GET …/orders/{order}` shows it whole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// What the customer can pick next: confirm / change / cancel under a summary, or the
    /// products to choose from.
    pub choices: Vec<Choice>,
}
