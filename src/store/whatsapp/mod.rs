//! WhatsApp's durable state: each business's connected number and secrets, the customers with
//! their opt-out and 24-hour window, the inbox of customer messages keyed by `wamid`, the outbox
//! of replies, read receipts and order notifications (written by `orders`), and the delivery
//! statuses Meta reports.
//!
//! Exactly-once rests on three transactions: a webhook's messages enter the inbox (duplicates
//! of a `wamid` are ignored) before it is acknowledged; a message's reply, its exchange in the
//! conversation and the inbox row's `done` are written together; an outbox row is `sending`
//! before its request leaves and `sent` once Meta answers. What crashes between the last two is
//! settled by the status webhook that carries the row's tracker (see `channels::whatsapp`).

mod disclosure;
mod inbox;
mod outbox;
#[cfg(test)]
mod tests;

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use super::{now, Exchange, Store, StoreError};

pub use disclosure::DISCLOSURE_AFTER_SILENCE_SECS;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS wa_accounts (
    business_id     TEXT PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
    phone_number_id TEXT NOT NULL UNIQUE,
    access_token    TEXT NOT NULL,
    app_secret      TEXT NOT NULL,
    verify_token    TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wa_customers (
    business_id     TEXT NOT NULL,
    wa_id           TEXT NOT NULL,
    name            TEXT,
    last_inbound_at INTEGER NOT NULL DEFAULT 0,
    opted_out       INTEGER NOT NULL DEFAULT 0,
    user_id         TEXT,
    PRIMARY KEY (business_id, wa_id)
);
CREATE TABLE IF NOT EXISTS wa_unanswered (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id     TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    wamid           TEXT,
    kind            TEXT NOT NULL,
    reason          TEXT NOT NULL,
    received_at     INTEGER NOT NULL
);
-- A re-delivered webhook records its message once (messages without an id cannot be told
-- apart, and are recorded each time).
CREATE UNIQUE INDEX IF NOT EXISTS wa_unanswered_wamid ON wa_unanswered(wamid);
CREATE TABLE IF NOT EXISTS wa_inbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    wamid           TEXT NOT NULL UNIQUE,
    business_id     TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    wa_id           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    text            TEXT,
    sent_at         INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending',
    outcome         TEXT,
    choice_id       TEXT,
    cart            TEXT
);
CREATE INDEX IF NOT EXISTS wa_inbox_pending ON wa_inbox(state, business_id, wa_id, sent_at, seq);
CREATE TABLE IF NOT EXISTS wa_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    business_id     TEXT NOT NULL,
    phone_number_id TEXT NOT NULL,
    wa_id           TEXT NOT NULL,
    reply_to        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    part            INTEGER NOT NULL,
    body            TEXT,
    quote           TEXT,
    template        TEXT,
    state           TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    message_id      TEXT,
    delivery        TEXT,
    error           TEXT,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER,
    UNIQUE (reply_to, kind, part)
);
CREATE INDEX IF NOT EXISTS wa_outbox_open ON wa_outbox(state, business_id, wa_id, id);
CREATE INDEX IF NOT EXISTS wa_outbox_message ON wa_outbox(message_id);
CREATE TABLE IF NOT EXISTS wa_statuses (
    message_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    error       TEXT,
    PRIMARY KEY (message_id, status)
);
";

/// A business's connected number. The secrets leave the store only towards Meta (the token)
/// and the signature check (the app secret); no API response carries them.
#[derive(Clone, PartialEq, Eq)]
pub struct WhatsAppAccount {
    pub business_id: String,
    pub phone_number_id: String,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

impl std::fmt::Debug for WhatsAppAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsAppAccount")
            .field("business_id", &self.business_id)
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// Columns added after a table was first created, for data dirs of earlier versions.
pub(super) fn migrate(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let has_user_id: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('wa_customers') WHERE name = 'user_id'",
        [],
        |r| r.get(0),
    )?;
    if !has_user_id {
        conn.execute_batch("ALTER TABLE wa_customers ADD COLUMN user_id TEXT")?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS wa_customers_user ON wa_customers(business_id, user_id)",
    )?;
    for column in ["choice_id", "cart"] {
        let has: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('wa_inbox') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE wa_inbox ADD COLUMN {column} TEXT"))?;
        }
    }
    for column in ["quote", "template"] {
        let has: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('wa_outbox') WHERE name = ?1",
            [column],
            |r| r.get(0),
        )?;
        if !has {
            conn.execute_batch(&format!("ALTER TABLE wa_outbox ADD COLUMN {column} TEXT"))?;
        }
    }
    Ok(())
}

/// A customer message as the webhook delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRecord {
    pub wamid: String,
    pub business_id: String,
    pub phone_number_id: String,
    /// The customer: their phone number's WhatsApp id when Meta shares it, else their
    /// business-scoped user id. A message carrying only a user id that an earlier message
    /// tied to a phone number is filed under that number (see `accept_whatsapp`).
    pub wa_id: String,
    /// The business-scoped user id (`from_user_id`), when the webhook carried one.
    pub user_id: Option<String>,
    pub name: Option<String>,
    /// "text" (text, caption or a template button's title in `text`), "interactive" (a tap
    /// on one of our buttons or list rows: its title in `text`, its id in `choice`), "order"
    /// (a Meta catalog cart: its lines in `cart`, the customer's note in `text`), or the
    /// message type to decline.
    pub kind: String,
    pub text: Option<String>,
    /// The id of the button or list row tapped.
    pub choice: Option<String>,
    /// A cart's lines, as JSON (the channel's to read).
    pub cart: Option<String>,
    /// When the customer sent it (the payload's timestamp, seconds).
    pub sent_at: u64,
}

impl InboundRecord {
    /// What the customer wrote, or for a message without text its type ("audio").
    pub fn said(&self) -> &str {
        match self.text.as_deref() {
            Some(text) if !text.is_empty() => text,
            _ => &self.kind,
        }
    }
}

/// A delivery status Meta reported for one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRecord {
    /// The number the status came for: it may settle only that number's rows.
    pub phone_number_id: String,
    pub message_id: String,
    pub status: String,
    pub at: u64,
    /// Our outbox row, when the status carries the tracker we sent.
    pub outbox_id: Option<i64>,
    pub error: Option<String>,
}

/// What one webhook delivery added to the inbox.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// Messages stored for answering.
    pub new_messages: usize,
    /// Messages already in the inbox (a re-delivery; a known `wamid`).
    pub duplicates: usize,
    /// Delivery statuses stored.
    pub statuses: usize,
}

/// A pending inbox message, with what the worker needs to know of its customer.
#[derive(Debug, Clone)]
pub struct PendingInbound {
    pub record: InboundRecord,
    pub opted_out: bool,
    pub handed_off: bool,
    pub last_inbound_at: u64,
}

/// One message to send: a read receipt for `reply_to`, or a text part quoting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Read,
    Text(String),
    /// Reply buttons or a list message: the Cloud API's `interactive` object as JSON (the
    /// channel builds and checks it against Meta's limits).
    Interactive(String),
}

/// What processing an inbox message decided, written in one transaction.
#[derive(Default)]
pub struct Processed<'a> {
    /// Why, in a word or two, for the operator ("answered", "opted out", "held for a person").
    pub outcome: &'a str,
    /// The exchange to add to the customer's conversation.
    pub exchange: Option<Exchange<'a>>,
    /// A customer message recorded without a reply (while a person has the conversation).
    pub customer_turn: Option<&'a str>,
    pub set_opted_out: Option<bool>,
    pub outgoing: Vec<Outgoing>,
    /// Sent before the reply's first text when the store finds the customer has not been
    /// told they write with an automated assistant, or not since a long silence (see
    /// `disclosure`); None says nothing.
    pub disclosure: Option<&'a str>,
}

/// An outbox row the sender may send now.
#[derive(Debug, Clone)]
pub struct DueOutbound {
    pub id: i64,
    pub business_id: String,
    pub phone_number_id: String,
    pub wa_id: String,
    /// The customer message a reply quotes; for a notice, its key (`order:<id>:<change>`).
    pub reply_to: String,
    /// "read" (a read receipt), "text" (a reply), "interactive" (a reply with buttons or a
    /// list; `body` is the `interactive` object) or "notice" (an order's notification,
    /// quoting nothing).
    pub kind: String,
    pub body: Option<String>,
    /// The customer message a notice quotes (a person's reply quotes the customer's last).
    pub quote: Option<String>,
    /// Which part of its reply or notice the row is (0 first).
    pub part: u32,
    /// For an order's notice, when the business configured an order template: the Cloud
    /// API's `template` object (JSON) sent outside the 24-hour window in place of the first
    /// part (every part carries it, so the others know the template stands for them).
    pub template: Option<String>,
    pub attempts: u32,
    pub last_inbound_at: u64,
}

/// A customer message clerk could not take in to answer, and why (kept so that no message is
/// dropped without a trace).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Unanswered {
    pub business_id: String,
    pub phone_number_id: String,
    /// Meta's message id, when the message had one.
    pub wamid: Option<String>,
    /// The message type ("text", "image", …).
    pub kind: String,
    /// Why it cannot be answered.
    pub reason: String,
    /// When it was recorded, seconds since the epoch: set by the store, ignored when recording.
    pub at: u64,
}

/// An outbound message that will not be sent, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeadLetter {
    pub id: i64,
    /// The customer it was for.
    pub wa_id: String,
    /// The customer message's wamid; for an order's notification (`notice`),
    /// `order:<id>:<change>`; for a person's reply, `person:<n>`.
    pub reply_to: String,
    /// `text`, `read` (a read receipt) or `notice`.
    #[schema(examples("text", "read", "notice"))]
    pub kind: String,
    /// Null once retention removed it.
    pub body: Option<String>,
    /// "dead" (Meta refused it) or "undeliverable" (outside the 24-hour window, opted out,
    /// no number connected).
    #[schema(examples("dead", "undeliverable"))]
    pub state: String,
    /// Meta's code and text, or clerk's own reason.
    pub reason: String,
    pub attempts: u32,
    /// Unix seconds.
    pub at: u64,
}

/// Counts for a business's WhatsApp status page and the metrics.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct WhatsAppCounts {
    pub inbox_pending: u64,
    pub inbox_done: u64,
    pub outbox_pending: u64,
    pub sent: u64,
    pub dead: u64,
    pub undeliverable: u64,
    /// Customer messages recorded as impossible to answer (see [`Unanswered`]).
    pub unanswered: u64,
}

/// A customer as the business sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WhatsAppCustomer {
    /// The customer's phone number as WhatsApp gives it, or their business-scoped user id
    /// (e.g. `US.13491208655302741918`) when Meta shares no number.
    pub wa_id: String,
    /// Their business-scoped user id, once a webhook carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Their WhatsApp profile name (null once retention removed it).
    pub name: Option<String>,
    /// When their last message was sent, Unix seconds: the 24-hour window starts there.
    pub last_inbound_at: u64,
    /// They wrote STOP (or its equivalent); START opts back in.
    pub opted_out: bool,
    /// A person has their conversation (clerk keeps their messages unanswered until it is
    /// released).
    pub handed_off: bool,
}

/// The conversation a WhatsApp customer's messages are kept in.
pub fn conversation_of(wa_id: &str) -> String {
    format!("wa:{wa_id}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `numbers` as a JSON array, for `phone_number_id IN (SELECT value FROM json_each(?))`: the
/// way each query here keeps to the numbers its process holds.
fn json_list(numbers: &[String]) -> String {
    serde_json::Value::from(numbers).to_string()
}

/// Row counts by `state` from a `SELECT state, COUNT(*) … GROUP BY state` over `business`
/// (NULL for all) and `numbers`.
fn counts_by_state(
    conn: &rusqlite::Connection,
    sql: &str,
    business: Option<&str>,
    numbers: &str,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(params![business, numbers], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Connects (or re-connects) a business's number; a number another business holds is
    /// refused.
    pub fn set_whatsapp_account(&self, account: &WhatsAppAccount) -> Result<(), StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let owner: Option<String> = tx
            .query_row(
                "SELECT business_id FROM wa_accounts WHERE phone_number_id = ?1",
                params![account.phone_number_id],
                |r| r.get(0),
            )
            .optional()?;
        if owner.as_deref().is_some_and(|o| o != account.business_id) {
            return Err(StoreError::PhoneNumberTaken(
                account.phone_number_id.clone(),
            ));
        }
        // Messages of the number the business leaves can no longer be answered from it.
        let gone = "the business connected another number";
        tx.execute(
            "UPDATE wa_inbox SET state = 'done', outcome = 'not answered: ' || ?3 \
             WHERE business_id = ?1 AND phone_number_id <> ?2 AND state = 'pending'",
            params![account.business_id, account.phone_number_id, gone],
        )?;
        tx.execute(
            "UPDATE wa_outbox SET state = 'dead', error = ?3, done_at = ?4 \
             WHERE business_id = ?1 AND phone_number_id <> ?2 AND state IN ('pending', 'sending')",
            params![
                account.business_id,
                account.phone_number_id,
                gone,
                now() as i64
            ],
        )?;
        tx.execute(
            "INSERT INTO wa_accounts (business_id, phone_number_id, access_token, app_secret, \
             verify_token, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (business_id) DO UPDATE SET phone_number_id = excluded.phone_number_id, \
             access_token = excluded.access_token, app_secret = excluded.app_secret, \
             verify_token = excluded.verify_token, updated_at = excluded.updated_at",
            params![
                account.business_id,
                account.phone_number_id,
                account.access_token,
                account.app_secret,
                account.verify_token,
                now() as i64
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn whatsapp_accounts(&self) -> Result<Vec<WhatsAppAccount>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT business_id, phone_number_id, access_token, app_secret, verify_token \
             FROM wa_accounts ORDER BY business_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(WhatsAppAccount {
                business_id: r.get(0)?,
                phone_number_id: r.get(1)?,
                access_token: r.get(2)?,
                app_secret: r.get(3)?,
                verify_token: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn whatsapp_dead_letters(&self, business: &str) -> Result<Vec<DeadLetter>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT id, wa_id, reply_to, kind, body, state, COALESCE(error, ''), attempts, \
             COALESCE(done_at, created_at) FROM wa_outbox \
             WHERE business_id = ?1 AND state IN ('dead', 'undeliverable') ORDER BY id",
        )?;
        let rows = stmt.query_map(params![business], |r| {
            Ok(DeadLetter {
                id: r.get(0)?,
                wa_id: r.get(1)?,
                reply_to: r.get(2)?,
                kind: r.get(3)?,
                body: r.get(4)?,
                state: r.get(5)?,
                reason: r.get(6)?,
                attempts: r.get::<_, i64>(7)? as u32,
                at: r.get::<_, i64>(8)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records customer messages that cannot be answered, with why; a message already
    /// recorded (a re-delivery) is not recorded again.
    /// Returns how many were new.
    pub fn record_whatsapp_unanswered(&self, records: &[Unanswered]) -> Result<usize, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let mut new = 0;
        for u in records {
            new += tx.execute(
                "INSERT OR IGNORE INTO wa_unanswered (business_id, phone_number_id, wamid, kind, reason, \
                 received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    u.business_id,
                    u.phone_number_id,
                    u.wamid,
                    u.kind,
                    u.reason,
                    now() as i64
                ],
            )?;
        }
        tx.commit()?;
        Ok(new)
    }

    pub fn whatsapp_unanswered(&self, business: &str) -> Result<Vec<Unanswered>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT business_id, phone_number_id, wamid, kind, reason, received_at \
             FROM wa_unanswered WHERE business_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![business], |r| {
            Ok(Unanswered {
                business_id: r.get(0)?,
                phone_number_id: r.get(1)?,
                wamid: r.get(2)?,
                kind: r.get(3)?,
                reason: r.get(4)?,
                at: r.get::<_, i64>(5)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inbox and outbox counts of `numbers`, for one business or (None) all.
    pub fn whatsapp_counts(
        &self,
        business: Option<&str>,
        numbers: &[String],
    ) -> Result<WhatsAppCounts, StoreError> {
        let conn = self.conn.lock();
        let numbers = json_list(numbers);
        let mut counts = WhatsAppCounts::default();
        for (state, n) in counts_by_state(
            &conn,
            "SELECT state, COUNT(*) FROM wa_inbox WHERE (?1 IS NULL OR business_id = ?1) \
             AND phone_number_id IN (SELECT value FROM json_each(?2)) GROUP BY state",
            business,
            &numbers,
        )? {
            match state.as_str() {
                "pending" => counts.inbox_pending = n,
                _ => counts.inbox_done += n,
            }
        }
        for (state, n) in counts_by_state(
            &conn,
            "SELECT state, COUNT(*) FROM wa_outbox WHERE kind IN ('text', 'interactive', 'notice') \
             AND (?1 IS NULL OR business_id = ?1) \
             AND phone_number_id IN (SELECT value FROM json_each(?2)) GROUP BY state",
            business,
            &numbers,
        )? {
            match state.as_str() {
                "pending" | "sending" => counts.outbox_pending += n,
                "sent" => counts.sent = n,
                "dead" => counts.dead = n,
                _ => counts.undeliverable += n,
            }
        }
        counts.unanswered = conn.query_row(
            "SELECT COUNT(*) FROM wa_unanswered WHERE (?1 IS NULL OR business_id = ?1) \
             AND phone_number_id IN (SELECT value FROM json_each(?2))",
            params![business, numbers],
            |r| r.get::<_, i64>(0),
        )? as u64;
        Ok(counts)
    }

    pub fn whatsapp_customer(
        &self,
        business: &str,
        wa_id: &str,
    ) -> Result<Option<WhatsAppCustomer>, StoreError> {
        let conn = self.conn.lock();
        Ok(conn
            .query_row(
                "SELECT c.wa_id, c.name, c.last_inbound_at, c.opted_out, \
                 COALESCE(v.needs_person, 0), c.user_id FROM wa_customers c \
                 LEFT JOIN conversations v ON v.business_id = c.business_id AND v.id = 'wa:' || c.wa_id \
                 WHERE c.business_id = ?1 AND (c.wa_id = ?2 OR c.user_id = ?2) \
                 ORDER BY c.wa_id = ?2 DESC LIMIT 1",
                params![business, wa_id],
                |r| {
                    Ok(WhatsAppCustomer {
                        wa_id: r.get(0)?,
                        name: r.get(1)?,
                        last_inbound_at: r.get::<_, i64>(2)? as u64,
                        opted_out: r.get(3)?,
                        handed_off: r.get(4)?,
                        user_id: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    /// The texts (and interactive objects, as JSON) sent in reply to an inbound message, in
    /// order (for the simulator and tests).
    pub fn whatsapp_replies_to(&self, wamid: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT state, COALESCE(body, '') FROM wa_outbox WHERE reply_to = ?1 \
             AND kind IN ('text', 'interactive') \
             ORDER BY part",
        )?;
        let rows = stmt.query_map(params![wamid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How an inbox message was settled, if it was ("pending" while waiting).
    pub fn whatsapp_inbound_outcome(&self, wamid: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn.lock();
        Ok(conn
            .query_row(
                "SELECT COALESCE(outcome, state) FROM wa_inbox WHERE wamid = ?1",
                params![wamid],
                |r| r.get(0),
            )
            .optional()?)
    }
}
