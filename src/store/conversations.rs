//! Conversations: each customer question and clerk's reply, in order, per business.
//!
//! A follow-up ("and how much is it?") is answered with the turns before it, so each exchange
//! is written in one transaction once its reply exists; a conversation whose reply abstained
//! is marked for a person until someone clears it.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{now, Store, StoreError};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS conversations (
    business_id  TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    needs_person INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (business_id, id)
);
CREATE TABLE IF NOT EXISTS turns (
    business_id  TEXT NOT NULL,
    conversation TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    role         TEXT NOT NULL,
    text         TEXT NOT NULL,
    mode         TEXT,
    at           INTEGER NOT NULL,
    PRIMARY KEY (business_id, conversation, seq),
    FOREIGN KEY (business_id, conversation) REFERENCES conversations(business_id, id) ON DELETE CASCADE
);
";

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredTurn {
    /// `customer`, `assistant` (clerk) or `person` (someone of the business, through
    /// `POST …/reply`).
    #[schema(examples("customer", "assistant", "person"))]
    pub role: String,
    pub text: String,
    /// How clerk's reply was made (a `Mode`), on assistant turns.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(examples("faq", "abstained"))]
    pub mode: Option<String>,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

/// A conversation's turns in order, and whether it waits for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conversation {
    /// 1-128 characters: letters, digits and `-_.:+@` (`wa:<wa_id>` on WhatsApp).
    pub id: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch.
    pub updated_at: u64,
    /// Whether the conversation waits for a person (clerk does not answer there until it is
    /// released).
    pub needs_person: bool,
    pub turns: Vec<StoredTurn>,
}

/// A question and the reply it got, written together.
pub struct Exchange<'a> {
    pub question: &'a str,
    pub reply: &'a str,
    pub mode: &'a str,
    pub needs_person: bool,
}

impl Store {
    /// The last `limit` turns of a conversation, oldest first (none for an unknown id).
    pub fn recent_turns(
        &self,
        business: &str,
        conversation: &str,
        limit: usize,
    ) -> Result<Vec<StoredTurn>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT role, text, mode, at FROM turns WHERE business_id = ?1 AND conversation = ?2 \
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let mut turns = stmt
            .query_map(params![business, conversation, limit as i64], |row| {
                Ok(StoredTurn {
                    role: row.get(0)?,
                    text: row.get(1)?,
                    mode: row.get(2)?,
                    at: row.get::<_, i64>(3)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        turns.reverse();
        Ok(turns)
    }

    /// Appends a question and its reply to a conversation (creating it), in one transaction. A
    /// reply that needs a person marks the conversation; a later answered one does not clear it.
    pub fn record_exchange(
        &self,
        business: &str,
        conversation: &str,
        exchange: &Exchange,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        write_exchange(&tx, business, conversation, exchange)?;
        tx.commit()?;
        Ok(())
    }

    /// Hands a conversation back to clerk after a person has taken it: it answers again.
    /// False when the business has no conversation of that id.
    pub fn release_conversation(&self, business: &str, id: &str) -> Result<bool, StoreError> {
        let conn = self.conn.lock();
        Ok(conn.execute(
            "UPDATE conversations SET needs_person = 0, updated_at = ?3 \
             WHERE business_id = ?1 AND id = ?2",
            params![business, id, now() as i64],
        )? > 0)
    }

    /// A whole conversation, or None when the business has none of that id.
    pub fn conversation(
        &self,
        business: &str,
        id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let head = {
            let conn = self.conn.lock();
            conn.query_row(
                "SELECT created_at, updated_at, needs_person FROM conversations \
                 WHERE business_id = ?1 AND id = ?2",
                params![business, id],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)? as u64,
                        row.get::<_, i64>(1)? as u64,
                        row.get::<_, bool>(2)?,
                    ))
                },
            )
            .optional()?
        };
        let Some((created_at, updated_at, needs_person)) = head else {
            return Ok(None);
        };
        Ok(Some(Conversation {
            id: id.to_string(),
            created_at,
            updated_at,
            needs_person,
            turns: self.recent_turns(business, id, usize::MAX >> 1)?,
        }))
    }
}

/// Opens (or touches) a conversation, marking it for a person when `needs_person`.
fn touch(
    tx: &Transaction<'_>,
    business: &str,
    conversation: &str,
    needs_person: bool,
) -> Result<i64, StoreError> {
    let at = now() as i64;
    tx.execute(
        "INSERT INTO conversations (business_id, id, created_at, updated_at, needs_person) \
         VALUES (?1, ?2, ?3, ?3, ?4) ON CONFLICT (business_id, id) DO UPDATE SET \
         updated_at = excluded.updated_at, needs_person = needs_person OR excluded.needs_person",
        params![business, conversation, at, needs_person],
    )?;
    Ok(tx.query_row(
        "SELECT COALESCE(MAX(seq), -1) + 1 FROM turns WHERE business_id = ?1 AND conversation = ?2",
        params![business, conversation],
        |row| row.get(0),
    )?)
}

fn write_turn(
    tx: &Transaction<'_>,
    business: &str,
    conversation: &str,
    seq: i64,
    role: &str,
    text: &str,
    mode: Option<&str>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO turns (business_id, conversation, seq, role, text, mode, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![business, conversation, seq, role, text, mode, now() as i64],
    )?;
    Ok(())
}

/// Writes a question and its reply inside the caller's transaction.
pub(super) fn write_exchange(
    tx: &Transaction<'_>,
    business: &str,
    conversation: &str,
    exchange: &Exchange,
) -> Result<(), StoreError> {
    let next = touch(tx, business, conversation, exchange.needs_person)?;
    write_turn(
        tx,
        business,
        conversation,
        next,
        "customer",
        exchange.question,
        None,
    )?;
    write_turn(
        tx,
        business,
        conversation,
        next + 1,
        "assistant",
        exchange.reply,
        Some(exchange.mode),
    )
}

/// Writes a customer message that gets no reply (a person has the conversation).
pub(super) fn write_customer_turn(
    tx: &Transaction<'_>,
    business: &str,
    conversation: &str,
    text: &str,
) -> Result<(), StoreError> {
    let next = touch(tx, business, conversation, false)?;
    write_turn(tx, business, conversation, next, "customer", text, None)
}

/// Writes what a person of the business wrote to the customer, and keeps the conversation
/// with a person (`needs_person`) until it is released: clerk does not answer over them.
pub(super) fn write_person_turn(
    tx: &Transaction<'_>,
    business: &str,
    conversation: &str,
    text: &str,
) -> Result<(), StoreError> {
    let next = touch(tx, business, conversation, true)?;
    write_turn(tx, business, conversation, next, "person", text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_come_back_in_order_and_abstentions_mark_the_conversation() {
        let store = Store::in_memory().unwrap();
        store.create_business("shop", "Shop", "en").unwrap();
        let ask = |q: &'static str, needs_person| Exchange {
            question: q,
            reply: "reply",
            mode: if needs_person { "abstained" } else { "faq" },
            needs_person,
        };
        store
            .record_exchange("shop", "c1", &ask("first", false))
            .unwrap();
        store
            .record_exchange("shop", "c1", &ask("second", true))
            .unwrap();
        store
            .record_exchange("shop", "c1", &ask("third", false))
            .unwrap();
        let turns = store.recent_turns("shop", "c1", 3).unwrap();
        let texts: Vec<&str> = turns.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["reply", "third", "reply"]);
        let conversation = store.conversation("shop", "c1").unwrap().unwrap();
        assert!(conversation.needs_person);
        assert_eq!(conversation.turns.len(), 6);
        assert!(store.conversation("shop", "c2").unwrap().is_none());
        assert!(store.recent_turns("shop", "c2", 4).unwrap().is_empty());
        // Another business never sees it.
        store.create_business("other", "Other", "en").unwrap();
        assert!(store.conversation("other", "c1").unwrap().is_none());
    }
}
