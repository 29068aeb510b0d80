//! A person of the business writing into a conversation: once per idempotency key, as a turn
//! of role "person", and for a WhatsApp customer through the outbox (kind `notice`, keyed
//! `person:<n>`, quoting the customer's last message), so it is sent exactly as clerk's replies are — once, and
//! after the customer's earlier rows. Outside the 24-hour window, to a customer who opted
//! out, or without a connected number, its rows are dead letters at once and no turn is
//! written: the customer never reads it.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::super::conversations::write_person_turn;
use super::super::orders::notice::{self, Notice, NoticeOf};
use super::super::{now, Store, StoreError};
use super::customer::{subject, Subject};

/// Where a person's reply went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyDelivery {
    /// In the WhatsApp outbox, to be sent.
    Queued,
    /// Stored in an API conversation (its client reads it there).
    Recorded,
    /// A dead letter: it will not reach the customer (`reason` says why).
    Undeliverable,
}

impl ReplyDelivery {
    fn as_str(self) -> &'static str {
        match self {
            ReplyDelivery::Queued => "queued",
            ReplyDelivery::Recorded => "recorded",
            ReplyDelivery::Undeliverable => "undeliverable",
        }
    }

    fn parse(name: &str) -> ReplyDelivery {
        match name {
            "queued" => ReplyDelivery::Queued,
            "recorded" => ReplyDelivery::Recorded,
            _ => ReplyDelivery::Undeliverable,
        }
    }
}

/// What became of a person's reply, the first time its key was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PersonReply {
    pub id: i64,
    pub delivery: ReplyDelivery,
    /// Why it is undeliverable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True when the key was known: nothing was written now.
    pub repeated: bool,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

impl Store {
    /// Writes `text` (sent as `parts`) into conversation `id` under idempotency `key`: a key
    /// the conversation already has returns its first outcome and writes nothing. A WhatsApp
    /// customer must be known to the channel; an API conversation must exist.
    pub fn record_person_reply(
        &self,
        business: &str,
        id: &str,
        key: &str,
        text: &str,
        parts: &[String],
    ) -> Result<Option<PersonReply>, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let known = tx
            .query_row(
                "SELECT id, delivery, reason, created_at FROM person_replies \
                 WHERE business_id = ?1 AND conversation = ?2 AND key = ?3",
                params![business, id, key],
                |r| {
                    Ok(PersonReply {
                        id: r.get(0)?,
                        delivery: ReplyDelivery::parse(&r.get::<_, String>(1)?),
                        reason: r.get(2)?,
                        repeated: true,
                        at: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
            .optional()?;
        if known.is_some() {
            return Ok(known);
        }
        let who = subject(&tx, business, id)?;
        let exists = match &who {
            Subject::WhatsApp { wa_id, .. } => tx.query_row(
                "SELECT COUNT(*) > 0 FROM wa_customers WHERE business_id = ?1 AND wa_id = ?2",
                params![business, wa_id],
                |r| r.get::<_, bool>(0),
            )?,
            Subject::Api { conversation } => tx.query_row(
                "SELECT COUNT(*) > 0 FROM conversations WHERE business_id = ?1 AND id = ?2",
                params![business, conversation],
                |r| r.get::<_, bool>(0),
            )?,
        };
        if !exists {
            return Ok(None);
        }
        let at = now();
        tx.execute(
            "INSERT INTO person_replies (business_id, conversation, key, delivery, created_at) \
             VALUES (?1, ?2, ?3, 'recorded', ?4)",
            params![business, id, key, at as i64],
        )?;
        let row = tx.last_insert_rowid();
        let (delivery, reason, conversation) = match &who {
            Subject::WhatsApp { wa_id, .. } => {
                // It answers what the customer last wrote, and says so in their chat.
                let last: Option<String> = tx
                    .query_row(
                        "SELECT wamid FROM wa_inbox WHERE business_id = ?1 AND wa_id = ?2 \
                         ORDER BY seq DESC LIMIT 1",
                        params![business, wa_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let key = NoticeOf::person_key(row);
                let message = Notice {
                    parts: parts.to_vec(),
                    template: None,
                };
                let refused =
                    notice::enqueue(&tx, business, wa_id, &key, last.as_deref(), &message)?;
                match refused {
                    None => (ReplyDelivery::Queued, None, format!("wa:{wa_id}")),
                    Some(why) => (ReplyDelivery::Undeliverable, Some(why), String::new()),
                }
            }
            Subject::Api { conversation } => (ReplyDelivery::Recorded, None, conversation.clone()),
        };
        if delivery != ReplyDelivery::Undeliverable {
            write_person_turn(&tx, business, &conversation, text)?;
        }
        tx.execute(
            "UPDATE person_replies SET delivery = ?2, reason = ?3 WHERE id = ?1",
            params![row, delivery.as_str(), reason],
        )?;
        tx.commit()?;
        Ok(Some(PersonReply {
            id: row,
            delivery,
            reason: reason.map(str::to_string),
            repeated: false,
            at,
        }))
    }
}
