//! Taking an order in the chat: a customer's message that wants something reserved, ordered,
//! bought or picked up becomes an order awaiting their confirmation, summarized with three
//! buttons (confirm, change, cancel); their tap or short answer places, changes or drops it.
//! A Meta catalog cart becomes such an order too.
//!
//! Stages, each its own function: a tapped choice (`on_choice`); a short answer to the
//! order waiting in this conversation (`on_consent`); a new number of pieces for it; an order
//! message (`intent`) whose product the catalog resolves (`answer::catalog::meant`: one
//! clearly named, several to pick from in a list, or the product the conversation was just
//! about); the draft, checked against the stock the catalog gives (`draft`). Every price is
//! the catalog's as uploaded; never more pieces than its stock are put in an order.
//!
//! Exactly once rests on idempotency keys, not on one transaction with the reply: a draft
//! is keyed by the message that asked for it, so answering that message again (after a
//! crash) finds the same order; confirming a placed order changes nothing; a choice on an
//! order past its step is told so. Nothing here logs what the customer wrote.

mod intent;
#[cfg(test)]
mod tests;
mod texts;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::answer::ordered::{Choice, OrderStep};
pub use intent::Consent;

use super::orders::MAX_QUANTITY;
use super::{Engine, EngineError};
use crate::answer::catalog::{meant, named_in, Meant};
use crate::answer::{Role, Turn};
use crate::channels::whatsapp::order_texts::item_line;
use crate::index::{Catalog, CatalogEntry, Stock};
use crate::store::{
    Fulfilment, NewOrder, Order, OrderAction, OrderCustomer, OrderItem, OrderState, StoreError,
};

/// Most products a list to pick from shows (WhatsApp's list message holds ten rows).
pub const MOST_CHOICES: usize = 10;

/// One message of a customer, as the order conversation reads it.
#[derive(Debug, Clone)]
pub struct OrderMessage<'a> {
    pub customer: OrderCustomer,
    pub conversation: &'a str,
    pub text: &'a str,
    /// The id of the button or list row the customer tapped, if they tapped one.
    pub choice: Option<&'a str>,
    /// The message's own id: the key that makes answering it twice one order.
    pub key: &'a str,
    /// The conversation before it, most recent last.
    pub history: &'a [Turn],
    pub language: &'a str,
}

/// What the customer can tap under a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choices {
    /// Up to three buttons.
    Buttons(Vec<Choice>),
    /// A list behind a button, up to ten rows.
    List { button: String, rows: Vec<Choice> },
}

/// The order conversation's reply to one message.
#[derive(Debug, Clone)]
pub struct OrderReply {
    pub text: String,
    pub choices: Option<Choices>,
    pub order: Option<Order>,
    pub step: OrderStep,
}

/// One line of a Meta catalog cart (`type: "order"` messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The product's id in the business's Meta catalog: clerk matches it to a SKU.
    pub retailer_id: String,
    pub quantity: u32,
    /// The price Meta's catalog shows, used only for products clerk's catalog lacks.
    pub price: Option<String>,
    pub currency: Option<String>,
}

/// A line of a draft before the stock check: what to order and what the catalog says is there.
struct Line {
    item: OrderItem,
    stock: Option<(Stock, String)>,
}

fn line_of(entry: &CatalogEntry, quantity: u32) -> Line {
    Line {
        item: OrderItem {
            title: entry.title.clone(),
            sku: entry.fields.sku.clone(),
            quantity,
            price: entry.fields.price.clone().unwrap_or_default(),
            currency: entry.fields.currency.clone(),
        },
        stock: entry.fields.stock.clone().map(|s| (entry.stock, s)),
    }
}

/// A short stable name of a catalog entry for a list row's id: its document's hash and its
/// row (a re-upload that moves rows makes old rows stale, never another product).
fn entry_key(entry: &CatalogEntry) -> String {
    let digest = Sha256::digest(entry.document.as_bytes());
    format!("{}.{}", &hex::encode(digest)[..10], entry.ordinal)
}

fn fulfilment_code(f: Option<Fulfilment>) -> &'static str {
    match f {
        Some(Fulfilment::Pickup) => "p",
        Some(Fulfilment::Delivery) => "d",
        None => "-",
    }
}

fn fulfilment_of(code: &str) -> Option<Fulfilment> {
    match code {
        "p" => Some(Fulfilment::Pickup),
        "d" => Some(Fulfilment::Delivery),
        _ => None,
    }
}

/// What a tapped id asks for.
enum Tapped<'a> {
    Consent {
        order: &'a str,
        consent: Consent,
    },
    Pick {
        quantity: u32,
        fulfilment: Option<Fulfilment>,
        entry: &'a str,
    },
}

fn parse_choice(id: &str) -> Option<Tapped<'_>> {
    let mut parts = id.split(':');
    match (parts.next()?, parts.next()?, parts.next()?) {
        ("order", order, action) => Some(Tapped::Consent {
            order,
            consent: match action {
                "confirm" => Consent::Confirm,
                "change" => Consent::Change,
                "cancel" => Consent::Cancel,
                _ => return None,
            },
        }),
        ("pick", quantity, fulfilment) => Some(Tapped::Pick {
            quantity: quantity.parse().ok()?,
            fulfilment: fulfilment_of(fulfilment),
            entry: parts.next()?,
        }),
        _ => None,
    }
}

fn consent_id(order: &str, consent: Consent) -> String {
    let action = match consent {
        Consent::Confirm => "confirm",
        Consent::Change => "change",
        Consent::Cancel => "cancel",
    };
    format!("order:{order}:{action}")
}

/// The words of a product's title, lower case (digits of a name are no quantity).
fn name_words(entry: &CatalogEntry) -> Vec<String> {
    entry
        .title
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

impl Engine {
    /// The order conversation's reply to `message`, or None when the message is not about
    /// an order (then the answer pipeline answers it).
    pub fn order_turn(
        &self,
        business: &str,
        message: &OrderMessage<'_>,
    ) -> Result<Option<OrderReply>, EngineError> {
        if let Some(tapped) = message.choice.and_then(parse_choice) {
            return self.on_choice(business, message, tapped).map(Some);
        }
        // A short answer or a bare number is about the draft only while our last reply is
        // its summary or the question what to change: "ok danke" a day later confirms nothing.
        let draft = self
            .draft_of(business, message.conversation)?
            .filter(|d| awaits_answer(d, message.history));
        if let Some(draft) = &draft {
            if let Some(consent) = intent::consent(message.text, &texts::all_button_titles()) {
                return self.on_consent(business, message, draft, consent).map(Some);
            }
        }
        let Some(catalog) = self.catalog(business)?.filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        // A number alone changes the waiting order's ("3", "drei Stück").
        if let Some(draft) = draft.as_ref().filter(|d| d.items.len() == 1) {
            if let Some(quantity) = intent::quantity(message.text, &[]) {
                if intent::product_words(message.text).is_empty() {
                    let item = &draft.items[0];
                    if let Some(entry) = catalog
                        .entries()
                        .iter()
                        .find(|e| e.title == item.title && e.fields.sku == item.sku)
                    {
                        let line = line_of(entry, quantity);
                        return self
                            .draft(business, message, vec![line], draft.fulfilment)
                            .map(Some);
                    }
                }
            }
        }
        if let Some(intent) = intent::intent(message.text, &[]) {
            if let Some(lines) = read_lines(message.text, &catalog) {
                let lines = lines
                    .into_iter()
                    .map(|(entry, quantity)| line_of(&catalog.entries()[entry as usize], quantity))
                    .collect();
                return self
                    .draft(business, message, lines, intent.fulfilment)
                    .map(Some);
            }
        }
        let (product, intent) = match self.read_order(message, &catalog) {
            Some(found) => found,
            None => return Ok(None),
        };
        let quantity = intent.quantity.unwrap_or(1);
        match product {
            Meant::One(entry) => {
                let line = line_of(&catalog.entries()[entry as usize], quantity);
                self.draft(business, message, vec![line], intent.fulfilment)
                    .map(Some)
            }
            Meant::Several(entries) => Ok(Some(which_one(
                &catalog,
                &entries,
                quantity,
                intent.fulfilment,
                message.language,
            ))),
            Meant::Nothing => Ok(None),
        }
    }

    /// A Meta catalog cart as an order awaiting confirmation: each line matched to the
    /// catalog by SKU (its price and stock then the catalog's), else kept with Meta's price.
    pub fn cart_order(
        &self,
        business: &str,
        message: &OrderMessage<'_>,
        cart: &[CartLine],
    ) -> Result<OrderReply, EngineError> {
        let catalog = self.catalog(business)?;
        let lines = cart
            .iter()
            .filter(|l| l.quantity > 0)
            .map(|l| {
                let quantity = l.quantity.min(MAX_QUANTITY);
                let known = catalog.as_ref().and_then(|c| {
                    c.entries()
                        .iter()
                        .find(|e| e.fields.sku.as_deref() == Some(l.retailer_id.as_str()))
                });
                match known {
                    Some(entry) => line_of(entry, quantity),
                    None => Line {
                        item: OrderItem {
                            title: l.retailer_id.clone(),
                            sku: Some(l.retailer_id.clone()),
                            quantity,
                            price: l.price.clone().unwrap_or_else(|| "?".into()),
                            currency: l.currency.clone(),
                        },
                        stock: None,
                    },
                }
            })
            .collect();
        self.draft(business, message, lines, None)
    }

    /// The order message's product and what it asks, or None when it is no order (or names
    /// nothing the catalog has, and the conversation was about nothing in particular).
    fn read_order(
        &self,
        message: &OrderMessage<'_>,
        catalog: &Catalog,
    ) -> Option<(Meant, intent::OrderIntent)> {
        // Most messages are no orders: the grammar says so before the catalog is asked.
        intent::intent(message.text, &[])?;
        // Digits first as part of a name ("reserve the Tidewater 500"), then as a number of
        // pieces ("2 Tidewater").
        let mut product = meant(&intent::product_words_with_digits(message.text), catalog);
        if !matches!(product, Meant::One(_)) {
            let without = meant(&intent::product_words(message.text), catalog);
            if matches!(without, Meant::One(_)) || product == Meant::Nothing {
                product = without;
            }
        }
        let names = match &product {
            Meant::One(e) => name_words(&catalog.entries()[*e as usize]),
            _ => Vec::new(),
        };
        let intent = intent::intent(message.text, &names)?;
        if product == Meant::Nothing {
            // "Can I collect it tomorrow?": the product the last turns were about, when they
            // were about one; "zwei davon" after a list: one of those listed.
            let recent: Vec<Meant> = message
                .history
                .iter()
                .rev()
                .take(2)
                .map(|t| match t.role {
                    Role::Assistant | Role::Person => named_in(&t.text, catalog),
                    Role::Customer => meant(&intent::product_words_with_digits(&t.text), catalog),
                })
                .collect();
            product = recent
                .iter()
                .find(|m| matches!(m, Meant::One(_)))
                .or(recent.first().filter(|m| matches!(m, Meant::Several(_))))
                .cloned()
                .unwrap_or(Meant::Nothing);
        }
        (product != Meant::Nothing).then_some((product, intent))
    }

    /// The newest order of this conversation still awaiting the customer's confirmation.
    fn draft_of(&self, business: &str, conversation: &str) -> Result<Option<Order>, EngineError> {
        Ok(self
            .store
            .conversation_orders(business, conversation, OrderState::AwaitingConfirmation)?
            .into_iter()
            .next())
    }

    /// Checks `lines` against stock and records them as an order awaiting confirmation
    /// (replacing the conversation's earlier draft), or says that nothing of it is there.
    fn draft(
        &self,
        business: &str,
        message: &OrderMessage<'_>,
        lines: Vec<Line>,
        fulfilment: Option<Fulfilment>,
    ) -> Result<OrderReply, EngineError> {
        let mut items = Vec::new();
        let mut limited = Vec::new();
        let mut sold_out = Vec::new();
        for Line { mut item, stock } in lines {
            match stock {
                Some((Stock::Count(n), shown)) if n < 1.0 => sold_out.push((item.title, shown)),
                Some((Stock::SoldOut, shown)) => sold_out.push((item.title, shown)),
                Some((Stock::Count(n), shown)) if f64::from(item.quantity) > n => {
                    item.quantity = n.floor() as u32;
                    limited.push((item.title.clone(), shown));
                    items.push(item);
                }
                _ => items.push(item),
            }
        }
        if items.is_empty() {
            let text = match sold_out.first() {
                Some((title, shown)) => texts::sold_out(message.language, title, shown),
                None => texts::nothing_available(message.language).to_string(),
            };
            return Ok(OrderReply {
                text,
                choices: None,
                order: None,
                step: OrderStep::SoldOut,
            });
        }
        let key = format!("chat:{}", message.key);
        if let Some(earlier) = self.draft_of(business, message.conversation)? {
            if earlier.idempotency_key != key {
                self.drop_draft(business, &earlier.id)?;
            }
        }
        let order = self.create_order(
            business,
            NewOrder {
                customer: message.customer.clone(),
                conversation_id: message.conversation.to_string(),
                state: OrderState::AwaitingConfirmation,
                items,
                fulfilment,
                customer_note: None,
                language: Some(message.language.to_string()),
                idempotency_key: key,
            },
        )?;
        let buttons = texts::button_titles(&order.language)
            .into_iter()
            .map(|(title, consent)| Choice {
                id: consent_id(&order.id, consent),
                title: title.to_string(),
                description: None,
            })
            .collect();
        Ok(OrderReply {
            text: texts::summary(&order, &limited, &sold_out),
            choices: Some(Choices::Buttons(buttons)),
            order: Some(order),
            step: OrderStep::Summarized,
        })
    }

    /// The customer dropped a draft: cancelled without a notice (the chat says so itself).
    fn drop_draft(&self, business: &str, id: &str) -> Result<Order, EngineError> {
        match self
            .store
            .change_order(business, id, OrderAction::Cancel, None, &|_| Vec::new())
        {
            Ok(order) => Ok(order),
            Err(StoreError::IllegalTransition { .. }) => self.order(business, id),
            Err(e) => Err(e.into()),
        }
    }

    fn on_choice(
        &self,
        business: &str,
        message: &OrderMessage<'_>,
        tapped: Tapped<'_>,
    ) -> Result<OrderReply, EngineError> {
        match tapped {
            Tapped::Consent { order, consent } => match self.store.order(business, order)? {
                Some(order) => self.on_consent(business, message, &order, consent),
                None => Ok(stale(message.language)),
            },
            Tapped::Pick {
                quantity,
                fulfilment,
                entry,
            } => {
                let catalog = self.catalog(business)?;
                let found = catalog
                    .as_ref()
                    .and_then(|c| c.entries().iter().find(|e| entry_key(e) == entry));
                match found {
                    Some(e) => {
                        let line = line_of(e, quantity.clamp(1, MAX_QUANTITY));
                        self.draft(business, message, vec![line], fulfilment)
                    }
                    None => Ok(stale(message.language)),
                }
            }
        }
    }

    fn on_consent(
        &self,
        business: &str,
        message: &OrderMessage<'_>,
        order: &Order,
        consent: Consent,
    ) -> Result<OrderReply, EngineError> {
        let awaiting = order.state == OrderState::AwaitingConfirmation;
        let reply = |text: String, order: Order, step| OrderReply {
            text,
            choices: None,
            order: Some(order),
            step,
        };
        match consent {
            Consent::Confirm if awaiting => {
                let placed = self.confirm_order(business, &order.id)?;
                tracing::info!(business, order = placed.id, "order confirmed in the chat");
                Ok(reply(texts::placed(&placed), placed, OrderStep::Placed))
            }
            Consent::Change if awaiting => Ok(reply(
                texts::what_to_change(&order.language).to_string(),
                order.clone(),
                OrderStep::AskedWhatToChange,
            )),
            Consent::Cancel if awaiting => {
                let dropped = self.drop_draft(business, &order.id)?;
                Ok(reply(
                    texts::cancelled(&order.language).to_string(),
                    dropped,
                    OrderStep::Cancelled,
                ))
            }
            _ if order.state == OrderState::Cancelled => Ok(stale(message.language)),
            _ => Ok(reply(
                texts::already(order),
                order.clone(),
                OrderStep::AlreadyPlaced,
            )),
        }
    }
}

/// Whether our last reply in `history` asks about `draft`: its summary (which lists its
/// first item) or the question what to change.
fn awaits_answer(draft: &Order, history: &[Turn]) -> bool {
    let Some(last) = history.iter().rev().find(|t| t.role == Role::Assistant) else {
        return false;
    };
    let item = draft.items.first().map(item_line);
    item.is_some_and(|line| last.text.contains(&line))
        || last.text == texts::what_to_change(&draft.language)
}

fn stale(language: &str) -> OrderReply {
    OrderReply {
        text: texts::stale(language).to_string(),
        choices: None,
        order: None,
        step: OrderStep::Stale,
    }
}

/// A list of the products that fit, each with its price and stock as uploaded.
/// Several products, each with its own number of pieces, listed in one order message ("2
/// Zauberberg und 1 Buddenbrooks", "a Kraken cable lock and 2 Beacon 80 rear lights"): every
/// part of the list that names a product names one clearly. None where fewer than two are so
/// named, or a part fits several products (then the whole message is read as one order and
/// the customer picks).
fn read_lines(text: &str, catalog: &Catalog) -> Option<Vec<(u32, u32)>> {
    let titles: Vec<String> = catalog
        .entries()
        .iter()
        .map(|e| name_words(e).join(" "))
        .collect();
    let parts = intent::parts(text, |words| titles.iter().any(|t| t.contains(words)));
    if parts.len() < 2 {
        return None;
    }
    let mut lines: Vec<(u32, u32)> = Vec::new();
    for part in &parts {
        let product = match meant(&intent::product_words_with_digits(part), catalog) {
            Meant::One(entry) => Meant::One(entry),
            _ => meant(&intent::product_words(part), catalog),
        };
        match product {
            Meant::One(entry) if !lines.iter().any(|(e, _)| *e == entry) => {
                let names = name_words(&catalog.entries()[entry as usize]);
                lines.push((entry, intent::quantity(part, &names).unwrap_or(1)));
            }
            // A part naming nothing is the sentence around the list ("bitte schicken").
            Meant::Nothing => {}
            _ => return None,
        }
    }
    (lines.len() >= 2).then_some(lines)
}

fn which_one(
    catalog: &Catalog,
    entries: &[u32],
    quantity: u32,
    fulfilment: Option<Fulfilment>,
    language: &str,
) -> OrderReply {
    let rows = entries
        .iter()
        .take(MOST_CHOICES)
        .map(|e| {
            let entry = &catalog.entries()[*e as usize];
            let price = [
                entry.fields.price.as_deref(),
                entry.fields.currency.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            Choice {
                id: format!(
                    "pick:{quantity}:{}:{}",
                    fulfilment_code(fulfilment),
                    entry_key(entry)
                ),
                title: entry.title.clone(),
                description: (!price.is_empty()).then_some(price),
            }
        })
        .collect();
    OrderReply {
        text: texts::which_one(language).to_string(),
        choices: Some(Choices::List {
            button: texts::choose(language).to_string(),
            rows,
        }),
        order: None,
        step: OrderStep::AskedWhich,
    }
}
