//! What a person of the business sees first: the conversations, those waiting for a person
//! (handed over, and the customer's or clerk's turn last: nobody of the business has
//! answered yet) ahead of the rest and the latest first, each with its last message; and a
//! stamp that
//! changes whenever a turn is written or a conversation is marked or released, which the
//! web page's live inbox polls instead of reading every conversation again.

use rusqlite::params;
use serde::Serialize;

use super::{Store, StoreError};

/// One line of the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub id: String,
    /// A person has the conversation (clerk does not answer in it until it is released).
    pub needs_person: bool,
    /// It is with a person and nobody of the business has answered its last message.
    pub waiting: bool,
    pub updated_at: u64,
    pub turns: u32,
    /// Who wrote the last message ("customer", "assistant" or "person") and what.
    pub last_role: Option<String>,
    pub last_text: Option<String>,
}

/// Changes whenever the inbox would read differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InboxStamp {
    pub conversations: u64,
    pub turns: u64,
    pub waiting: u64,
    pub updated_at: u64,
}

impl Store {
    /// The business's `limit` most relevant conversations: waiting for a person first, then
    /// by their last change, newest first.
    pub fn inbox(
        &self,
        business: &str,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT c.id, c.needs_person, c.updated_at, \
                    (SELECT COUNT(*) FROM turns t \
                      WHERE t.business_id = c.business_id AND t.conversation = c.id), \
                    l.role, l.text, \
                    (c.needs_person AND COALESCE(l.role, '') <> 'person') AS waiting \
             FROM conversations c \
             LEFT JOIN turns l ON l.business_id = c.business_id AND l.conversation = c.id \
                  AND l.seq = (SELECT MAX(seq) FROM turns m \
                               WHERE m.business_id = c.business_id AND m.conversation = c.id) \
             WHERE c.business_id = ?1 \
             ORDER BY waiting DESC, c.updated_at DESC, c.id \
             LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![business, limit as i64], |row| {
                Ok(ConversationSummary {
                    id: row.get(0)?,
                    needs_person: row.get(1)?,
                    updated_at: row.get::<_, i64>(2)? as u64,
                    turns: row.get::<_, i64>(3)? as u32,
                    last_role: row.get(4)?,
                    last_text: row.get(5)?,
                    waiting: row.get(6)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The business's inbox stamp (see the module's note).
    pub fn inbox_stamp(&self, business: &str) -> Result<InboxStamp, StoreError> {
        let conn = self.conn.lock();
        let (conversations, waiting, updated_at) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(needs_person), 0), COALESCE(MAX(updated_at), 0) \
             FROM conversations WHERE business_id = ?1",
            params![business],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            },
        )?;
        let turns = conn.query_row(
            "SELECT COUNT(*) FROM turns WHERE business_id = ?1",
            params![business],
            |r| r.get::<_, i64>(0),
        )? as u64;
        Ok(InboxStamp {
            conversations,
            turns,
            waiting,
            updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::Exchange;
    use super::*;

    #[test]
    fn waiting_conversations_come_first_and_the_stamp_moves_with_each_turn() {
        let store = Store::in_memory().unwrap();
        store.create_business("shop", "Shop", "en").unwrap();
        let before = store.inbox_stamp("shop").unwrap();
        let exchange = |question, needs_person| Exchange {
            question,
            reply: if needs_person {
                "A person will answer."
            } else {
                "9 to 5."
            },
            mode: if needs_person { "abstained" } else { "faq" },
            needs_person,
        };
        store
            .record_exchange("shop", "a", &exchange("Do you ship to Mars?", true))
            .unwrap();
        let after_first = store.inbox_stamp("shop").unwrap();
        assert_ne!(before, after_first);
        store
            .record_exchange("shop", "b", &exchange("When are you open?", false))
            .unwrap();
        let inbox = store.inbox("shop", 10).unwrap();
        assert_eq!(
            inbox.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"],
            "the one waiting for a person comes first, though older"
        );
        assert_eq!(inbox[0].turns, 2);
        assert!(inbox[0].waiting && !inbox[1].waiting && !inbox[1].needs_person);
        assert_eq!(inbox[0].last_role.as_deref(), Some("assistant"));
        assert_eq!(inbox[1].last_text.as_deref(), Some("9 to 5."));
        assert_ne!(store.inbox_stamp("shop").unwrap(), after_first);
        assert!(store.inbox("other", 10).unwrap().is_empty());
        store.release_conversation("shop", "a").unwrap();
        assert_eq!(store.inbox_stamp("shop").unwrap().waiting, 0);
    }
}
