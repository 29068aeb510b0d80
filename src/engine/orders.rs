//! The engine's orders: a customer's order recorded once per idempotency key, the business's
//! lists and actions, and each change told to a WhatsApp customer in their language.
//!
//! What an order holds is checked here (items, quantities, prices as strings exactly as the
//! catalog has them, notes, keys); the store keeps the state table and writes each change,
//! its event and its notification in one transaction. The notification's words come from the
//! channel's order sentences (`channels::whatsapp::order_texts`), split to WhatsApp's length,
//! with the business's PIX text when the order is accepted; where the business configured an
//! order template, the template message to send outside the 24-hour window comes with them
//! (`channels::whatsapp::template`). Nothing here logs a customer's number or what anyone
//! wrote: only ids and states.

use crate::channels::whatsapp::{order_texts, template, texts};
use crate::store::{BusinessSettings, Notice, StoreError};

use super::{validate_conversation_id, Engine, EngineError};

pub use crate::store::{
    Fulfilment, NewOrder, Order, OrderAction, OrderChange, OrderCustomer, OrderItem, OrderState,
};

/// Most lines one order may have.
pub const MAX_ITEMS: usize = 100;
/// Most pieces of one line.
pub const MAX_QUANTITY: u32 = 10_000;
/// Longest customer or business note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// A short text field: at most `max` characters, one line, not blank.
fn check_field(what: &str, value: &str, max: usize) -> Result<(), EngineError> {
    let chars = value.chars().count();
    let problem = if value.trim().is_empty() {
        "is empty".to_string()
    } else if chars > max {
        format!("is {chars} characters long; at most {max} are accepted")
    } else if value.chars().any(char::is_control) {
        "holds control characters; give it on one line".to_string()
    } else {
        return Ok(());
    };
    Err(EngineError::InvalidOrder(format!("{what} {problem}")))
}

/// A note of the customer or the business: up to [`MAX_NOTE_CHARS`], line breaks allowed.
/// A blank note is no note.
pub fn check_note(note: Option<&str>) -> Result<Option<&str>, EngineError> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(EngineError::InvalidNote(format!(
            "it is {chars} characters long; at most {MAX_NOTE_CHARS} are accepted"
        )));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(EngineError::InvalidNote(
            "it holds control characters other than line breaks".into(),
        ));
    }
    Ok(Some(note))
}

fn check_items(items: &[OrderItem]) -> Result<(), EngineError> {
    if items.is_empty() || items.len() > MAX_ITEMS {
        return Err(EngineError::InvalidOrder(format!(
            "an order has 1 to {MAX_ITEMS} items; this one has {}",
            items.len()
        )));
    }
    for (i, item) in items.iter().enumerate() {
        check_field(&format!("item {i}'s title"), &item.title, 200)?;
        // The price is kept as the catalog has it ("14,90", "ab 9 €"): only its shape is
        // checked. None at all ("") is a product the catalog gives no price for.
        if !item.price.is_empty() {
            check_field(&format!("item {i}'s price"), &item.price, 64)?;
        }
        if let Some(sku) = &item.sku {
            check_field(&format!("item {i}'s sku"), sku, 64)?;
        }
        if let Some(currency) = &item.currency {
            check_field(&format!("item {i}'s currency"), currency, 8)?;
        }
        if item.quantity == 0 || item.quantity > MAX_QUANTITY {
            return Err(EngineError::InvalidOrder(format!(
                "item {i}'s quantity is {}; it must be 1 to {MAX_QUANTITY}",
                item.quantity
            )));
        }
    }
    Ok(())
}

/// The WhatsApp message telling the customer of `order`'s new state: its parts, and the
/// business's order template filled in, if it has one. The note was checked against the
/// template's parameter before the change (see [`Engine::act_on_order`]), and the other
/// parameters are clerk's own words, so a template that cannot be built is a fault: it is
/// logged, and outside the window the notice becomes a dead letter as without a template.
fn notice(order: &Order, note: Option<&str>, settings: &BusinessSettings) -> Notice {
    let parts = order_texts::order_notice(order, note, settings.pix.as_deref())
        .map(|text| texts::split_reply(&text, texts::MAX_BODY))
        .unwrap_or_default();
    let template = settings.order_template.as_ref().and_then(|t| {
        match template::order_update(t, order, note) {
            Ok(built) => built.map(|object| object.to_string()),
            Err(e) => {
                tracing::error!(order = order.id, error = %e, "the order template could not be filled in");
                None
            }
        }
    });
    Notice { parts, template }
}

impl Engine {
    /// Records a customer's order (`AwaitingConfirmation` while it is being confirmed, or
    /// `Placed`). An order whose idempotency key the business already has is that order: it
    /// is returned and nothing is written. Without a language, the business's is used.
    pub fn create_order(&self, business: &str, mut order: NewOrder) -> Result<Order, EngineError> {
        let record = self.business(business)?;
        if !matches!(
            order.state,
            OrderState::AwaitingConfirmation | OrderState::Placed
        ) {
            return Err(EngineError::InvalidOrder(format!(
                "a new order is awaiting_confirmation or placed, not {}",
                order.state
            )));
        }
        check_items(&order.items)?;
        check_field("the idempotency key", &order.idempotency_key, 200)?;
        validate_conversation_id(&order.conversation_id)?;
        if let OrderCustomer::WhatsApp { wa_id, .. } = &order.customer {
            check_field("the customer's WhatsApp id", wa_id, 128)?;
        }
        order.customer_note = check_note(order.customer_note.as_deref())?.map(str::to_string);
        let language = match order.language.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => code.to_ascii_lowercase(),
            _ if record.language != "auto" => record.language,
            _ => "en".to_string(),
        };
        check_field("the language", &language, 8)?;
        order.language = Some(language);
        let (order, created) = self
            .store
            .create_order(business, &order)
            .map_err(|e| order_error(business, "", e))?;
        if created {
            tracing::info!(business, order = order.id, state = %order.state, "order recorded");
        }
        Ok(order)
    }

    /// The customer confirmed: an order awaiting confirmation is placed. Confirming it again
    /// (a re-delivered confirmation) returns it as it is.
    pub fn confirm_order(&self, business: &str, id: &str) -> Result<Order, EngineError> {
        self.act_on_order(business, id, OrderAction::Confirm, None)
    }

    /// A business's orders, newest first; only those in `state` when given.
    pub fn orders(
        &self,
        business: &str,
        state: Option<OrderState>,
    ) -> Result<Vec<Order>, EngineError> {
        self.business(business)?;
        Ok(self.store.orders(business, state)?)
    }

    /// One order with its history of changes.
    pub fn order(&self, business: &str, id: &str) -> Result<Order, EngineError> {
        self.business(business)?;
        self.store
            .order(business, id)?
            .ok_or_else(|| EngineError::UnknownOrder {
                business: business.to_string(),
                id: id.to_string(),
            })
    }

    /// Moves an order by the business's `action` (with an optional note for the customer). A
    /// WhatsApp customer is told in their language, through the outbox, in the same
    /// transaction. A move the states do not allow is [`EngineError::IllegalTransition`]. With
    /// an order template configured, a note longer than its parameter takes
    /// ([`template::MAX_NOTE_PARAMETER`]) is [`EngineError::InvalidNote`].
    pub fn act_on_order(
        &self,
        business: &str,
        id: &str,
        action: OrderAction,
        note: Option<&str>,
    ) -> Result<Order, EngineError> {
        self.business(business)?;
        let note = check_note(note)?;
        let before = self.store.order(business, id)?;
        let settings = self.store.business_settings(business)?;
        let to_whatsapp = before
            .as_ref()
            .is_some_and(|o| matches!(o.customer, OrderCustomer::WhatsApp { .. }));
        if settings.order_template.is_some() && to_whatsapp {
            // The note may have to go as the template's parameter: one that cannot is refused
            // now, while the business can shorten it, rather than lost outside the window.
            template::note_parameter(note).map_err(|e| EngineError::InvalidNote(e.to_string()))?;
        }
        let before = before.map(|o| o.state);
        let order = self
            .store
            .change_order_telling(business, id, action, note, &|o| notice(o, note, &settings))
            .map_err(|e| order_error(business, id, e))?;
        if before != Some(order.state) {
            tracing::info!(business, order = id, %action, state = %order.state, "order changed");
        }
        Ok(order)
    }

    /// Orders of every business by state, every state listed (for the metrics).
    pub fn order_counts(&self) -> Result<Vec<(OrderState, u64)>, EngineError> {
        let counts = self.store.order_counts()?;
        Ok(OrderState::ALL
            .into_iter()
            .map(|s| {
                let n = counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
                (s, n)
            })
            .collect())
    }
}

/// The store's order errors, with the business and order they concern.
fn order_error(business: &str, id: &str, e: StoreError) -> EngineError {
    match e {
        StoreError::UnknownOrder(id) => EngineError::UnknownOrder {
            business: business.to_string(),
            id,
        },
        StoreError::IllegalTransition { from, action } => EngineError::IllegalTransition {
            id: id.to_string(),
            from,
            action,
            allowed: from
                .allowed()
                .into_iter()
                .filter(|a| *a != OrderAction::Confirm)
                .map(OrderAction::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        },
        StoreError::UnknownCustomer => EngineError::UnknownCustomer(business.to_string()),
        other => other.into(),
    }
}
