//! Durable state outside the indexes: businesses, their hashed API keys, conversations, the
//! WhatsApp inbox and outbox, and orders, in SQLite.
//!
//! The store is one SQLite file in the data dir, opened in WAL mode with `secure_delete`;
//! every change is one transaction; what it keeps of people, and for how long, is `privacy`. API keys are kept only as SHA-256 hashes: a key is shown once, when it is made,
//! and can be replaced but never read back. Passages and the list of documents live in each
//! business's index, not here (see `index`), so an upload commits in one place.

mod conversations;
mod inbox;
mod orders;
mod privacy;
mod whatsapp;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use conversations::{Conversation, Exchange, StoredTurn};
pub use inbox::{ConversationSummary, InboxStamp};
pub use orders::{
    Fulfilment, NewOrder, Notice, NoticeOf, Order, OrderAction, OrderChange, OrderCustomer,
    OrderItem, OrderState, SERVICE_WINDOW_SECS,
};
pub use privacy::{
    BusinessSettings, CustomerExport, Erased, ExportedMessage, ExportedReply, OrderTemplate,
    PersonReply, Purged, ReplyDelivery,
};
pub use whatsapp::{
    conversation_of, Accepted, DeadLetter, DueOutbound, InboundRecord, Outgoing, PendingInbound,
    Processed, StatusRecord, Unanswered, WhatsAppAccount, WhatsAppCounts, WhatsAppCustomer,
    DISCLOSURE_AFTER_SILENCE_SECS,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("business {0:?} already exists")]
    BusinessExists(String),
    #[error("no business {0:?}")]
    UnknownBusiness(String),
    #[error("the store at {path} could not be opened: {message}")]
    Open { path: String, message: String },
    #[error("phone number {0} is already connected to another business")]
    PhoneNumberTaken(String),
    #[error("no order {0:?}")]
    UnknownOrder(String),
    #[error("the order is {from}; it cannot be moved by {action}")]
    IllegalTransition {
        from: OrderState,
        action: OrderAction,
    },
    #[error("the WhatsApp customer of the order is not known to the channel")]
    UnknownCustomer,
    #[error("store query failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// A business as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Business {
    /// 1-64 characters a-z, 0-9, `-` or `_`, starting with a letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", examples("harbour-bikes"))]
    pub id: String,
    #[schema(examples("Harbour Bikes"))]
    pub name: String,
    /// Retrieval language code (`en`, `de`, `fr`, `es`, `pt`, `it`, `nl`, or `plain` for no
    /// stemming and stop words), or `auto` until the first upload decides it.
    #[schema(examples("en", "de", "auto"))]
    pub language: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS businesses (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    language    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash    TEXT PRIMARY KEY,
    business_id TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS api_keys_business ON api_keys(business_id);
";

/// `UnknownBusiness` unless `business` exists (checked inside the caller's transaction, so
/// what follows is written for a business that is there).
fn require_business(conn: &Connection, business: &str) -> Result<(), StoreError> {
    let known: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM businesses WHERE id = ?1",
        params![business],
        |r| r.get(0),
    )?;
    if known {
        Ok(())
    } else {
        Err(StoreError::UnknownBusiness(business.to_string()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Hex SHA-256 of a secret: what is stored and compared in place of the secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh API key: "ck_" and 32 random bytes in hex.
pub fn new_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("ck_{}", hex::encode(bytes))
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Store, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted content is overwritten with zeros, so an erased customer's words do not
        // stay in free pages of the file (see `privacy`).
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(conversations::SCHEMA)?;
        conn.execute_batch(whatsapp::SCHEMA)?;
        conn.execute_batch(orders::SCHEMA)?;
        conn.execute_batch(privacy::SCHEMA)?;
        whatsapp::migrate(&conn)?;
        privacy::migrate(&conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// Records a new business and returns it with its first API key (shown only now).
    pub fn create_business(
        &self,
        id: &str,
        name: &str,
        language: &str,
    ) -> Result<(Business, String), StoreError> {
        let business = Business {
            id: id.to_string(),
            name: name.to_string(),
            language: language.to_string(),
            created_at: now(),
        };
        let key = new_api_key();
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO businesses (id, name, language, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![business.id, business.name, business.language, business.created_at],
        )?;
        if inserted == 0 {
            return Err(StoreError::BusinessExists(id.to_string()));
        }
        tx.execute(
            "INSERT INTO api_keys (key_hash, business_id, created_at) VALUES (?1, ?2, ?3)",
            params![hash_secret(&key), business.id, business.created_at],
        )?;
        tx.commit()?;
        Ok((business, key))
    }

    pub fn business(&self, id: &str) -> Result<Option<Business>, StoreError> {
        let conn = self.conn.lock();
        Ok(conn
            .query_row(
                "SELECT id, name, language, created_at FROM businesses WHERE id = ?1",
                params![id],
                row_to_business,
            )
            .optional()?)
    }

    pub fn businesses(&self) -> Result<Vec<Business>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt =
            conn.prepare("SELECT id, name, language, created_at FROM businesses ORDER BY id")?;
        let rows = stmt.query_map([], row_to_business)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records the language the first upload decided on.
    pub fn set_language(&self, id: &str, language: &str) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        let changed = conn.execute(
            "UPDATE businesses SET language = ?2 WHERE id = ?1",
            params![id, language],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownBusiness(id.to_string()));
        }
        Ok(())
    }

    /// Which business an API key belongs to, if any.
    pub fn business_for_key(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn.lock();
        Ok(conn
            .query_row(
                "SELECT business_id FROM api_keys WHERE key_hash = ?1",
                params![hash_secret(key)],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Replaces all of a business's keys with one new key.
    pub fn rotate_key(&self, id: &str) -> Result<String, StoreError> {
        let key = new_api_key();
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        require_business(&tx, id)?;
        tx.execute("DELETE FROM api_keys WHERE business_id = ?1", params![id])?;
        tx.execute(
            "INSERT INTO api_keys (key_hash, business_id, created_at) VALUES (?1, ?2, ?3)",
            params![hash_secret(&key), id, now()],
        )?;
        tx.commit()?;
        Ok(key)
    }
}

/// For the store's tests: a store with business "shop" on WhatsApp number "111".
#[cfg(test)]
fn shop_on_whatsapp() -> Store {
    let store = Store::in_memory().unwrap();
    store.create_business("shop", "Shop", "en").unwrap();
    store
        .set_whatsapp_account(&WhatsAppAccount {
            business_id: "shop".into(),
            phone_number_id: "111".into(),
            access_token: "token-123".into(),
            app_secret: "secret-123".into(),
            verify_token: "verify-123".into(),
        })
        .unwrap();
    store
}

fn row_to_business(row: &rusqlite::Row<'_>) -> rusqlite::Result<Business> {
    Ok(Business {
        id: row.get(0)?,
        name: row.get(1)?,
        language: row.get(2)?,
        created_at: row.get::<_, i64>(3)? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stored_hashed_and_resolve_to_their_business() {
        let store = Store::in_memory().unwrap();
        let (b, key) = store.create_business("shop-a", "Shop A", "auto").unwrap();
        assert_eq!(b.id, "shop-a");
        assert!(key.starts_with("ck_"));
        assert_eq!(
            store.business_for_key(&key).unwrap().as_deref(),
            Some("shop-a")
        );
        assert_eq!(store.business_for_key("ck_wrong").unwrap(), None);
        let stored: String = store
            .conn
            .lock()
            .query_row("SELECT key_hash FROM api_keys", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, key);
        assert_eq!(stored, hash_secret(&key));
    }

    #[test]
    fn duplicate_business_is_refused_and_rotation_replaces_keys() {
        let store = Store::in_memory().unwrap();
        let (_, old) = store.create_business("shop-a", "Shop A", "de").unwrap();
        assert!(matches!(
            store.create_business("shop-a", "Again", "de"),
            Err(StoreError::BusinessExists(_))
        ));
        let new = store.rotate_key("shop-a").unwrap();
        assert_eq!(store.business_for_key(&old).unwrap(), None);
        assert_eq!(
            store.business_for_key(&new).unwrap().as_deref(),
            Some("shop-a")
        );
        assert!(matches!(
            store.rotate_key("nope"),
            Err(StoreError::UnknownBusiness(_))
        ));
    }

    #[test]
    fn a_data_dir_of_the_previous_version_gains_the_new_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clerk.sqlite");
        {
            // The two tables as the previous versions created them: business_settings before
            // handoff_words (and the order template and PIX text), wa_outbox before quote
            // (and the template a notice carries).
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE business_settings (business_id TEXT PRIMARY KEY, \
                 disclosure TEXT, retention_days INTEGER); \
                 CREATE TABLE wa_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, \
                 business_id TEXT NOT NULL, phone_number_id TEXT NOT NULL, wa_id TEXT NOT NULL, \
                 reply_to TEXT NOT NULL, kind TEXT NOT NULL, part INTEGER NOT NULL, body TEXT, \
                 state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, \
                 next_attempt_ms INTEGER NOT NULL, message_id TEXT, delivery TEXT, error TEXT, \
                 created_at INTEGER NOT NULL, done_at INTEGER, UNIQUE (reply_to, kind, part)); \
                 INSERT INTO business_settings VALUES ('shop', 'Hier antwortet ein Bot.', 7);",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        store.create_business("shop", "Shop", "de").unwrap();
        let kept = store.business_settings("shop").unwrap();
        assert_eq!(kept.disclosure.as_deref(), Some("Hier antwortet ein Bot."));
        assert_eq!(
            (kept.retention_days, kept.handoff_words.clone()),
            (Some(7), None)
        );
        assert_eq!(
            (kept.order_template.clone(), kept.pix.clone()),
            (None, None)
        );
        // Each setting the new columns hold comes back as it was set, and null again.
        let cases = [
            BusinessSettings {
                handoff_words: Some(vec!["chefin".into()]),
                ..kept.clone()
            },
            BusinessSettings {
                order_template: Some(privacy::OrderTemplate {
                    name: "order_update".into(),
                    languages: vec!["pt_BR".into(), "en".into()],
                }),
                pix: Some("00020126580014BR.GOV.BCB.PIX0136loja@example.com".into()),
                ..kept.clone()
            },
            kept.clone(),
        ];
        for settings in cases {
            store.set_business_settings("shop", &settings).unwrap();
            assert_eq!(store.business_settings("shop").unwrap(), settings);
        }
        for column in ["quote", "template"] {
            let has: bool = store
                .conn
                .lock()
                .query_row(
                    "SELECT COUNT(*) > 0 FROM pragma_table_info('wa_outbox') WHERE name = ?1",
                    [column],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(has, "the outbox has its {column} column");
        }
        drop(store);
        Store::open(&path).expect("opening it again migrates nothing twice");
    }
}
