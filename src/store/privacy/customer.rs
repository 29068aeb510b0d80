//! One customer's data, read out whole (GDPR Art. 15) or erased (Art. 17).
//!
//! A customer is named by their conversation id: `wa:<key>` for a WhatsApp customer (the key
//! as the channel files them, phone number's WhatsApp id or business-scoped user id; either
//! finds the customer whose row holds it), any other id for a conversation of the HTTP API.
//! Erasure deletes their messages, clerk's and a person's replies, delivery statuses, turns,
//! conversation and customer row, and replaces the personal fields of their orders (customer
//! key, conversation, the customer's note) with a marker, in one transaction; the order
//! itself, its items, states and the business's notes stay. Messages clerk could not take in
//! (`wa_unanswered`) carry no sender, so none of them is anyone's.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

use super::super::orders::records::customer_orders;
use super::super::{Order, Store, StoreError, StoredTurn, WhatsAppCustomer};
use super::checkpoint;

/// What replaces an erased order's personal fields.
pub const ERASED: &str = "erased";

/// Who a customer route names, as the store files them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Subject {
    /// A WhatsApp customer's key, and the conversation ids that may hold their turns (the
    /// one asked for and the one of their key, when those differ).
    WhatsApp {
        wa_id: String,
        conversations: Vec<String>,
    },
    Api {
        conversation: String,
    },
}

impl Subject {
    fn conversations(&self) -> Vec<String> {
        match self {
            Subject::WhatsApp { conversations, .. } => conversations.clone(),
            Subject::Api { conversation } => vec![conversation.clone()],
        }
    }

    fn wa_id(&self) -> Option<&str> {
        match self {
            Subject::WhatsApp { wa_id, .. } => Some(wa_id),
            Subject::Api { .. } => None,
        }
    }
}

/// Resolves a conversation id to its customer: a `wa:` key given as the user id of a customer
/// filed under their number is that customer.
pub(super) fn subject(
    conn: &rusqlite::Connection,
    business: &str,
    id: &str,
) -> Result<Subject, StoreError> {
    let Some(key) = id.strip_prefix("wa:") else {
        return Ok(Subject::Api {
            conversation: id.to_string(),
        });
    };
    let filed: Option<String> = conn
        .query_row(
            "SELECT wa_id FROM wa_customers WHERE business_id = ?1 AND (wa_id = ?2 OR user_id = ?2) \
             ORDER BY wa_id = ?2 DESC LIMIT 1",
            params![business, key],
            |r| r.get(0),
        )
        .optional()?;
    let wa_id = filed.unwrap_or_else(|| key.to_string());
    let mut conversations = vec![id.to_string()];
    let own = format!("wa:{wa_id}");
    if own != id {
        conversations.push(own);
    }
    Ok(Subject::WhatsApp {
        wa_id,
        conversations,
    })
}

/// A customer message as clerk received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportedMessage {
    /// Meta's message id.
    pub wamid: String,
    /// The message type (`text`, `interactive`, `order`, …).
    pub kind: String,
    /// None once retention removed it.
    pub text: Option<String>,
    /// When the customer sent it, seconds since the Unix epoch.
    pub sent_at: u64,
    /// When clerk received it, seconds since the Unix epoch.
    pub received_at: u64,
    /// What became of it ("answered", "opted out", "held for a person"; the inbox state
    /// while it waits).
    pub outcome: String,
    /// The id of the button or list row tapped (kind `interactive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice_id: Option<String>,
    /// A Meta catalog cart's lines, as the webhook gave them (JSON); None once retention
    /// removed them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cart: Option<String>,
}

/// A message clerk (or a person of the business) wrote to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExportedReply {
    /// "text" (a reply quoting `reply_to`) or "notice" (an order's notification, or a
    /// person's reply when `reply_to` is `person:<n>`).
    pub kind: String,
    pub reply_to: String,
    /// None once retention removed it.
    pub body: Option<String>,
    /// The outbox state (`pending`, `sent`, `dead`, `undeliverable`, …).
    pub state: String,
    /// The last delivery status Meta reported (`delivered`, `read`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// Everything clerk holds of one customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerExport {
    pub conversation_id: String,
    /// Their WhatsApp customer record, for a WhatsApp customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<WhatsAppCustomer>,
    pub messages: Vec<ExportedMessage>,
    pub replies: Vec<ExportedReply>,
    pub turns: Vec<StoredTurn>,
    pub orders: Vec<Order>,
}

/// What an erasure removed, counted per kind of record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erased {
    pub messages: usize,
    pub replies: usize,
    pub statuses: usize,
    pub turns: usize,
    pub conversations: usize,
    pub customers: usize,
    /// Orders kept, with their personal fields replaced by a marker.
    pub orders: usize,
    /// Whether the WAL was emptied after (false: another process held it; the bytes go at
    /// the next checkpoint).
    pub checkpointed: bool,
}

impl Erased {
    fn anything(&self) -> bool {
        self.messages
            + self.replies
            + self.turns
            + self.conversations
            + self.customers
            + self.orders
            > 0
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items).to_string()
}

/// The erasure itself, inside the caller's transaction.
fn erase(tx: &Transaction<'_>, business: &str, who: &Subject) -> Result<Erased, StoreError> {
    let conversations = json_list(&who.conversations());
    let mut erased = Erased::default();
    if let Some(wa_id) = who.wa_id() {
        erased.statuses = tx.execute(
            "DELETE FROM wa_statuses WHERE message_id IN (SELECT message_id FROM wa_outbox \
             WHERE business_id = ?1 AND wa_id = ?2 AND message_id IS NOT NULL)",
            params![business, wa_id],
        )?;
        erased.replies = tx.execute(
            "DELETE FROM wa_outbox WHERE business_id = ?1 AND wa_id = ?2",
            params![business, wa_id],
        )?;
        erased.messages = tx.execute(
            "DELETE FROM wa_inbox WHERE business_id = ?1 AND wa_id = ?2",
            params![business, wa_id],
        )?;
        erased.customers = tx.execute(
            "DELETE FROM wa_customers WHERE business_id = ?1 AND wa_id = ?2",
            params![business, wa_id],
        )?;
    }
    erased.turns = tx.execute(
        "DELETE FROM turns WHERE business_id = ?1 \
         AND conversation IN (SELECT value FROM json_each(?2))",
        params![business, conversations],
    )?;
    erased.conversations = tx.execute(
        "DELETE FROM conversations WHERE business_id = ?1 \
         AND id IN (SELECT value FROM json_each(?2))",
        params![business, conversations],
    )?;
    tx.execute(
        "DELETE FROM person_replies WHERE business_id = ?1 \
         AND conversation IN (SELECT value FROM json_each(?2))",
        params![business, conversations],
    )?;
    erased.orders = tx.execute(
        "UPDATE orders SET wa_id = CASE WHEN wa_id IS NULL THEN NULL ELSE ?3 END, \
         conversation_id = ?3, \
         customer_note = CASE WHEN customer_note IS NULL THEN NULL ELSE ?3 END \
         WHERE business_id = ?1 AND ((?4 IS NOT NULL AND wa_id = ?4) \
         OR conversation_id IN (SELECT value FROM json_each(?2)))",
        params![business, conversations, ERASED, who.wa_id()],
    )?;
    Ok(erased)
}

impl Store {
    /// Erases the customer of conversation `id` (see the module's note) in one transaction,
    /// then empties the WAL. Nothing known of them is `Erased::default()`.
    pub fn erase_customer(&self, business: &str, id: &str) -> Result<Erased, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let who = subject(&tx, business, id)?;
        let mut erased = erase(&tx, business, &who)?;
        tx.commit()?;
        if erased.anything() {
            erased.checkpointed = checkpoint(&conn)?;
        }
        Ok(erased)
    }

    /// Everything held of the customer of conversation `id`; None when nothing is.
    pub fn export_customer(
        &self,
        business: &str,
        id: &str,
    ) -> Result<Option<CustomerExport>, StoreError> {
        let who = subject(&self.conn.lock(), business, id)?;
        let whatsapp = match who.wa_id() {
            Some(wa_id) => self.whatsapp_customer(business, wa_id)?,
            None => None,
        };
        let mut turns = Vec::new();
        for conversation in who.conversations() {
            if let Some(c) = self.conversation(business, &conversation)? {
                turns.extend(c.turns);
            }
        }
        let conn = self.conn.lock();
        let (mut messages, mut replies) = (Vec::new(), Vec::new());
        if let Some(wa_id) = who.wa_id() {
            let mut stmt = conn.prepare(
                "SELECT wamid, kind, text, sent_at, received_at, COALESCE(outcome, state), \
                 choice_id, cart FROM wa_inbox WHERE business_id = ?1 AND wa_id = ?2 ORDER BY sent_at, seq",
            )?;
            let rows = stmt.query_map(params![business, wa_id], |r| {
                Ok(ExportedMessage {
                    wamid: r.get(0)?,
                    kind: r.get(1)?,
                    text: r.get(2)?,
                    sent_at: r.get::<_, i64>(3)? as u64,
                    received_at: r.get::<_, i64>(4)? as u64,
                    outcome: r.get(5)?,
                    choice_id: r.get(6)?,
                    cart: r.get(7)?,
                })
            })?;
            messages = rows.collect::<Result<_, _>>()?;
            let mut stmt = conn.prepare(
                "SELECT kind, reply_to, body, state, delivery, created_at FROM wa_outbox \
                 WHERE business_id = ?1 AND wa_id = ?2 AND kind <> 'read' ORDER BY id",
            )?;
            let rows = stmt.query_map(params![business, wa_id], |r| {
                Ok(ExportedReply {
                    kind: r.get(0)?,
                    reply_to: r.get(1)?,
                    body: r.get(2)?,
                    state: r.get(3)?,
                    delivery: r.get(4)?,
                    created_at: r.get::<_, i64>(5)? as u64,
                })
            })?;
            replies = rows.collect::<Result<_, _>>()?;
        }
        let conversation_id = who.conversations().remove(0);
        let orders = customer_orders(&conn, business, who.wa_id(), &conversation_id)?;
        let nothing = whatsapp.is_none()
            && messages.is_empty()
            && replies.is_empty()
            && turns.is_empty()
            && orders.is_empty();
        if nothing {
            return Ok(None);
        }
        Ok(Some(CustomerExport {
            conversation_id,
            whatsapp,
            messages,
            replies,
            turns,
            orders,
        }))
    }
}
