//! The engine's privacy side: a business's settings (its own disclosure text, its retention,
//! its hand-over words; its order template and PIX text are checked here with them),
//! the disclosure a WhatsApp reply begins with, a customer's export and erasure, a person's
//! reply into a conversation, and the retention job.
//!
//! A customer is named by their conversation id (`wa:<key>` on WhatsApp, the API's own id
//! otherwise; see `store::privacy`). The retention job runs on the blocking pool, one pass
//! every `every`, with the time from an injected [`Clock`], so a test can move it; it logs
//! only counts. Nothing here logs a number, a name or anything anyone wrote.

use std::sync::Arc;
use std::time::Duration;

use crate::channels::whatsapp::{template, texts};
use crate::store::{BusinessSettings, CustomerExport, Erased, PersonReply, ReplyDelivery};

use super::{validate_conversation_id, Engine, EngineError};

/// The longest disclosure a business may set: it precedes a reply, so it stays short.
pub const MAX_DISCLOSURE_CHARS: usize = 500;
/// The longest retention a business may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;
/// The longest reply a person may send in one request.
pub const MAX_REPLY_CHARS: usize = 4000;
/// The longest PIX text a business may set: a PIX key is at most 77 characters, a "copia e
/// cola" code (an EMV BR Code) a few hundred.
pub const MAX_PIX_CHARS: usize = 512;
/// The default retention, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// Seconds since the epoch, as the retention job sees them.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

/// A business's settings with what they come to (its retention, or the default).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: BusinessSettings,
    /// The retention in force: the business's own, or the server's default.
    pub effective_retention_days: u32,
}

/// At most this many hand-over words per business.
pub const MAX_HANDOFF_WORDS: usize = 50;
const MAX_HANDOFF_WORD_CHARS: usize = 40;

/// A business's hand-over words, lower-cased, trimmed and without repeats; each must be one
/// word of letters (a customer's message is matched word by word).
fn check_handoff_words(words: Vec<String>) -> Result<Vec<String>, EngineError> {
    let mut checked: Vec<String> = Vec::new();
    for word in words {
        let word = word.trim().to_lowercase();
        let chars = word.chars().count();
        if chars == 0 || chars > MAX_HANDOFF_WORD_CHARS || !word.chars().all(char::is_alphabetic) {
            return Err(EngineError::InvalidSetting(format!(
                "hand-over word {word:?} must be one word of 1-{MAX_HANDOFF_WORD_CHARS} letters"
            )));
        }
        if !checked.contains(&word) {
            checked.push(word);
        }
    }
    if checked.is_empty() || checked.len() > MAX_HANDOFF_WORDS {
        return Err(EngineError::InvalidSetting(format!(
            "give 1-{MAX_HANDOFF_WORDS} hand-over words, or null for the server's"
        )));
    }
    Ok(checked)
}

/// A business's PIX key or "copia e cola" code, trimmed: 1 to [`MAX_PIX_CHARS`] characters on
/// one line, spaces allowed (a code names the receiver), no control characters, since the
/// customer copies it whole.
fn check_pix(pix: &str) -> Result<String, EngineError> {
    let pix = pix.trim();
    let chars = pix.chars().count();
    let problem = if pix.is_empty() {
        "is empty; give the PIX key or copia e cola code, or null for none".to_string()
    } else if chars > MAX_PIX_CHARS {
        format!("is {chars} characters long; at most {MAX_PIX_CHARS} are accepted")
    } else if pix.chars().any(char::is_control) {
        "holds control characters (a line break, a tab); give it on one line".to_string()
    } else {
        return Ok(pix.to_string());
    };
    Err(EngineError::InvalidSetting(format!("pix {problem}")))
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), EngineError> {
    let chars = text.chars().count();
    let problem = if text.trim().is_empty() {
        "is empty".to_string()
    } else if chars > max {
        format!("is {chars} characters long; at most {max} are accepted")
    } else if text.chars().any(|c| c.is_control() && c != '\n') {
        "holds control characters other than line breaks".to_string()
    } else {
        return Ok(());
    };
    Err(EngineError::InvalidSetting(format!("{what} {problem}")))
}

impl Engine {
    /// The retention a business without its own keeps (set from the configuration).
    pub fn with_retention_days(mut self, days: u32) -> Engine {
        self.retention_days = days;
        self
    }

    pub fn business_settings(&self, business: &str) -> Result<SettingsView, EngineError> {
        self.business(business)?;
        let settings = self.store.business_settings(business)?;
        Ok(SettingsView {
            effective_retention_days: settings.retention_days.unwrap_or(self.retention_days),
            settings,
        })
    }

    /// Replaces a business's settings (None: the default).
    pub fn set_business_settings(
        &self,
        business: &str,
        mut settings: BusinessSettings,
    ) -> Result<SettingsView, EngineError> {
        self.business(business)?;
        if let Some(text) = &settings.disclosure {
            check_text("the disclosure", text, MAX_DISCLOSURE_CHARS)?;
            settings.disclosure = Some(text.trim().to_string());
        }
        if settings
            .retention_days
            .is_some_and(|d| d > MAX_RETENTION_DAYS)
        {
            return Err(EngineError::InvalidSetting(format!(
                "retention_days is at most {MAX_RETENTION_DAYS}; give null for the default"
            )));
        }
        if let Some(words) = settings.handoff_words.take() {
            settings.handoff_words = Some(check_handoff_words(words)?);
        }
        if let Some(order_template) = settings.order_template.take() {
            settings.order_template = Some(
                template::check_setting(order_template)
                    .map_err(|e| EngineError::InvalidSetting(format!("order_template: {e}")))?,
            );
        }
        if let Some(pix) = settings.pix.take() {
            settings.pix = Some(check_pix(&pix)?);
        }
        self.store.set_business_settings(business, &settings)?;
        self.business_settings(business)
    }

    /// The words with which a customer of `business` asks for a person: its own, else
    /// `server` (the channel's configured list).
    pub fn handoff_words(
        &self,
        business: &str,
        server: &[String],
    ) -> Result<Vec<String>, EngineError> {
        Ok(self
            .store
            .business_settings(business)?
            .handoff_words
            .unwrap_or_else(|| server.to_vec()))
    }

    /// What a WhatsApp reply begins with when the customer has not been told (or not for a
    /// month) that they write with an automated assistant: the business's own text, or
    /// clerk's in the customer's `language`, naming a word that brings a person (one of the
    /// business's hand-over words, else of `server`'s).
    pub fn disclosure(
        &self,
        business: &str,
        language: &str,
        server: &[String],
    ) -> Result<String, EngineError> {
        let settings = self.store.business_settings(business)?;
        if let Some(own) = settings.disclosure {
            return Ok(own);
        }
        let name = self.business(business)?.name;
        let words = settings.handoff_words.as_deref().unwrap_or(server);
        Ok(texts::disclosure(language, &name, words))
    }

    /// Everything held of the customer of conversation `id`.
    pub fn export_customer(&self, business: &str, id: &str) -> Result<CustomerExport, EngineError> {
        self.business(business)?;
        validate_conversation_id(id)?;
        self.store
            .export_customer(business, id)?
            .ok_or_else(|| EngineError::UnknownConversation {
                business: business.to_string(),
                id: id.to_string(),
            })
    }

    /// Erases the customer of conversation `id`; erasing one already gone erases nothing and
    /// says so with zero counts.
    pub fn erase_customer(&self, business: &str, id: &str) -> Result<Erased, EngineError> {
        self.business(business)?;
        validate_conversation_id(id)?;
        let erased = self.store.erase_customer(business, id)?;
        tracing::info!(
            business,
            messages = erased.messages,
            turns = erased.turns,
            orders = erased.orders,
            checkpointed = erased.checkpointed,
            "a customer was erased"
        );
        if !erased.checkpointed && erased != Erased::default() {
            tracing::warn!(
                business,
                "after an erasure the WAL could not be emptied (another process holds the \
                 data dir); its old frames go at the next checkpoint"
            );
        }
        Ok(erased)
    }

    /// A person's reply into conversation `id`, once per idempotency `key`: queued for a
    /// WhatsApp customer, stored in an API conversation. One that cannot reach the customer
    /// is kept as a dead letter and is [`EngineError::Undeliverable`], also when repeated.
    pub fn reply_as_person(
        &self,
        business: &str,
        id: &str,
        key: &str,
        text: &str,
    ) -> Result<PersonReply, EngineError> {
        self.business(business)?;
        validate_conversation_id(id)?;
        let key = key.trim();
        if key.is_empty() || key.chars().count() > 200 || key.chars().any(char::is_control) {
            return Err(EngineError::InvalidSetting(
                "the Idempotency-Key header must be 1-200 printable characters".into(),
            ));
        }
        check_text("the reply's text", text, MAX_REPLY_CHARS)?;
        let text = text.trim();
        let parts = texts::split_reply(text, texts::MAX_BODY);
        let reply = self
            .store
            .record_person_reply(business, id, key, text, &parts)?
            .ok_or_else(|| EngineError::UnknownConversation {
                business: business.to_string(),
                id: id.to_string(),
            })?;
        if !reply.repeated {
            tracing::info!(business, reply = reply.id, delivery = ?reply.delivery, "a person replied");
        }
        if reply.delivery == ReplyDelivery::Undeliverable {
            return Err(EngineError::Undeliverable(
                reply.reason.clone().unwrap_or_default(),
            ));
        }
        Ok(reply)
    }

    /// One retention pass at `now`: what is older than each business's retention goes.
    pub fn purge_expired(&self, now: u64) -> Result<crate::store::Purged, EngineError> {
        Ok(self.store.purge_expired(now, self.retention_days)?)
    }
}

/// Runs a retention pass every `every` on the current tokio runtime, timed by `clock`.
pub fn spawn_retention(
    engine: Arc<Engine>,
    every: Duration,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let (engine, now) = (engine.clone(), clock());
            match tokio::task::spawn_blocking(move || engine.purge_expired(now)).await {
                Ok(Ok(purged)) if purged.total() > 0 => tracing::info!(
                    turns = purged.turns,
                    message_texts = purged.message_texts,
                    reply_bodies = purged.reply_bodies,
                    statuses = purged.statuses,
                    "retention removed old conversation data"
                ),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "the retention pass failed"),
                Err(e) => tracing::error!(error = %e, "the retention pass panicked"),
            }
            tokio::time::sleep(every).await;
        }
    })
}
