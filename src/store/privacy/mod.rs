//! What the store keeps of people, and for how long: each business's settings (its own
//! disclosure text, its retention, its hand-over words, and beside them its order template and
//! PIX text), retention itself, a customer's export and erasure
//! (`customer`), and a person's replies written into a conversation (`replies`).
//!
//! Retention drops words, not facts: turns are deleted, the texts of answered messages and
//! the bodies of settled outbox rows are set to NULL, delivery statuses and customers' names
//! go; rows, their times and states stay (the counts, the order of a customer's messages,
//! whether clerk ever wrote to them), and orders stay whole. A message still waiting and an
//! outbox row not yet sent keep their text: they are the work still to do. The file is
//! opened with `secure_delete`, and what was removed is checkpointed out of the WAL, so the
//! removed bytes do not linger in `clerk.sqlite` or its `-wal`.

mod customer;
mod replies;
#[cfg(test)]
mod tests;

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{require_business, Store, StoreError};

pub use customer::{CustomerExport, Erased, ExportedMessage, ExportedReply};
pub use replies::{PersonReply, ReplyDelivery};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS business_settings (
    business_id     TEXT PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
    disclosure      TEXT,
    retention_days  INTEGER,
    handoff_words   TEXT,
    order_template  TEXT,
    pix             TEXT
);
CREATE TABLE IF NOT EXISTS person_replies (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id     TEXT NOT NULL,
    conversation    TEXT NOT NULL,
    key             TEXT NOT NULL,
    delivery        TEXT NOT NULL,
    reason          TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (business_id, conversation, key)
);
";

const DAY_SECS: i64 = 24 * 60 * 60;

/// A business's privacy settings; None is the default (clerk's disclosure in the customer's
/// language; the configured retention).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BusinessSettings {
    /// What a WhatsApp customer's first reply (and the first after 30 days of their silence)
    /// begins with, in place of clerk's own text in the customer's language (de, en, pt, es,
    /// fr, it, nl), which names the business and a word that brings a person. Null: clerk's
    /// text. At most 500 characters.
    #[schema(max_length = 500)]
    pub disclosure: Option<String>,
    /// Days conversation texts are kept: turns, the texts of answered messages, the bodies of
    /// settled replies, delivery statuses and customer names older than this are removed
    /// hourly (0: nothing is kept once answered or delivered). Waiting messages and unsent
    /// replies keep theirs; counts and orders stay. Null: the server's `retention_days`
    /// (default 30).
    #[schema(maximum = 3650)]
    pub retention_days: Option<u32>,
    /// The words with which a WhatsApp customer, in a short message, asks for a person (and
    /// which clerk's disclosure names). Null: the server's `whatsapp_handoff_words`.
    #[serde(default)]
    pub handoff_words: Option<Vec<String>>,
    /// The Meta-approved template an order update goes out as when the customer's last
    /// message is older than Meta's 24-hour customer-service window (inside it the update is
    /// a plain text). Its body takes three text parameters: `{{1}}` the order's reference
    /// (`#A1B2C3`), `{{2}}` the order's new state in the customer's language ("angenommen",
    /// "ready for pickup"), `{{3}}` the business's note to this change on one line, or "–"
    /// without one. Null: no template, and such an update is a dead letter.
    #[serde(default)]
    pub order_template: Option<OrderTemplate>,
    /// The business's PIX key or PIX "copia e cola" code, appended to the message a WhatsApp
    /// customer gets when their order is accepted (and only then), under a label in their
    /// language. 1 to 512 characters on one line (spaces allowed, no control characters). It
    /// is text for the customer to copy: clerk processes no payment. Not part of an order
    /// template (its parameters are fixed when Meta approves it). Null: nothing appended.
    #[serde(default)]
    #[schema(max_length = 512)]
    pub pix: Option<String>,
}

/// A message template the business had approved by Meta for order updates: its name and the
/// language codes it was approved in. The customer gets it in their language where it was
/// approved (`pt` also matching `pt_BR`), else in the first listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderTemplate {
    /// The template's name as in WhatsApp Manager: lower-case letters, digits and `_`, at
    /// most 512 characters.
    #[schema(example = "order_update", max_length = 512)]
    pub name: String,
    /// The codes of the languages it was approved in (`de`, `en_US`, `pt_BR`), 1 to 20.
    #[schema(example = json!(["de", "en"]))]
    pub languages: Vec<String>,
}

/// Columns added after the table was first created, for data dirs of earlier versions.
pub(super) fn migrate(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    for column in ["handoff_words", "order_template", "pix"] {
        let has: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('business_settings') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!(
                "ALTER TABLE business_settings ADD COLUMN {column} TEXT"
            ))?;
        }
    }
    Ok(())
}

/// What one retention pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub turns: usize,
    pub conversations: usize,
    pub message_texts: usize,
    pub reply_bodies: usize,
    pub statuses: usize,
    pub names: usize,
    pub reply_keys: usize,
}

impl Purged {
    pub fn total(&self) -> usize {
        self.turns
            + self.conversations
            + self.message_texts
            + self.reply_bodies
            + self.statuses
            + self.names
            + self.reply_keys
    }
}

/// The SQL for "the newest time `table`'s row may have and still be removed": `?1` is now,
/// `?2` the default retention in days, the business's own setting winning.
fn cutoff(business_column: &str) -> String {
    format!(
        "(?1 - {DAY_SECS} * COALESCE((SELECT s.retention_days FROM business_settings s \
         WHERE s.business_id = {business_column}), ?2))"
    )
}

/// Moves every frame of the WAL into the database and empties the WAL file, so that what was
/// just deleted (zeroed in the database by `secure_delete`) is not left in old frames. False
/// when another connection (another process on the same data dir) kept it from finishing.
pub(super) fn checkpoint(conn: &rusqlite::Connection) -> Result<bool, StoreError> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

impl Store {
    /// The business's settings (all defaults when it never set any).
    pub fn business_settings(&self, business: &str) -> Result<BusinessSettings, StoreError> {
        let conn = self.conn.lock();
        Ok(conn
            .query_row(
                "SELECT disclosure, retention_days, handoff_words, order_template, pix \
                 FROM business_settings WHERE business_id = ?1",
                params![business],
                |r| {
                    Ok(BusinessSettings {
                        disclosure: r.get(0)?,
                        retention_days: r.get::<_, Option<i64>>(1)?.map(|d| d as u32),
                        handoff_words: r
                            .get::<_, Option<String>>(2)?
                            .and_then(|json| serde_json::from_str(&json).ok()),
                        order_template: r
                            .get::<_, Option<String>>(3)?
                            .and_then(|json| serde_json::from_str(&json).ok()),
                        pix: r.get(4)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Replaces the business's settings.
    pub fn set_business_settings(
        &self,
        business: &str,
        settings: &BusinessSettings,
    ) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        require_business(&conn, business)?;
        conn.execute(
            "INSERT INTO business_settings (business_id, disclosure, retention_days, \
             handoff_words, order_template, pix) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (business_id) DO UPDATE SET \
             disclosure = excluded.disclosure, retention_days = excluded.retention_days, \
             handoff_words = excluded.handoff_words, order_template = excluded.order_template, \
             pix = excluded.pix",
            params![
                business,
                settings.disclosure,
                settings.retention_days.map(i64::from),
                settings
                    .handoff_words
                    .as_ref()
                    .map(|words| serde_json::to_string(words).unwrap_or_default()),
                settings
                    .order_template
                    .as_ref()
                    .map(|template| serde_json::to_string(template).unwrap_or_default()),
                settings.pix
            ],
        )?;
        Ok(())
    }

    /// Removes what is older than each business's retention (`default_days` where it set
    /// none) at time `now` (seconds; the caller's clock), in one transaction, then empties
    /// the WAL. Waiting messages and unsent replies keep their text whatever their age.
    pub fn purge_expired(&self, now: u64, default_days: u32) -> Result<Purged, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let at = params![now as i64, i64::from(default_days)];
        let mut purged = Purged {
            turns: tx.execute(
                &format!(
                    "DELETE FROM turns WHERE at <= {}",
                    cutoff("turns.business_id")
                ),
                at,
            )?,
            message_texts: tx.execute(
                &format!(
                    "UPDATE wa_inbox SET text = NULL, cart = NULL \
                     WHERE (text IS NOT NULL OR cart IS NOT NULL) AND state = 'done' \
                     AND received_at <= {}",
                    cutoff("wa_inbox.business_id")
                ),
                at,
            )?,
            reply_bodies: tx.execute(
                &format!(
                    "UPDATE wa_outbox SET body = NULL, template = NULL WHERE body IS NOT NULL \
                     AND state IN ('sent', 'dead', 'undeliverable') \
                     AND COALESCE(done_at, created_at) <= {}",
                    cutoff("wa_outbox.business_id")
                ),
                at,
            )?,
            names: tx.execute(
                &format!(
                    "UPDATE wa_customers SET name = NULL WHERE name IS NOT NULL \
                     AND last_inbound_at <= {}",
                    cutoff("wa_customers.business_id")
                ),
                at,
            )?,
            reply_keys: tx.execute(
                &format!(
                    "DELETE FROM person_replies WHERE created_at <= {}",
                    cutoff("person_replies.business_id")
                ),
                at,
            )?,
            ..Purged::default()
        };
        // A status names only Meta's message id; the business is its outbox row's.
        purged.statuses = tx.execute(
            &format!(
                "DELETE FROM wa_statuses WHERE at <= {}",
                cutoff(
                    "(SELECT o.business_id FROM wa_outbox o \
                     WHERE o.message_id = wa_statuses.message_id LIMIT 1)"
                )
            ),
            at,
        )?;
        // A conversation left without turns goes too, unless a person still has to answer it.
        purged.conversations = tx.execute(
            &format!(
                "DELETE FROM conversations WHERE needs_person = 0 AND updated_at <= {} \
                 AND NOT EXISTS (SELECT 1 FROM turns t WHERE t.business_id = \
                 conversations.business_id AND t.conversation = conversations.id)",
                cutoff("conversations.business_id")
            ),
            at,
        )?;
        tx.commit()?;
        if purged.total() > 0 {
            checkpoint(&conn)?;
        }
        Ok(purged)
    }
}
