//! WhatsApp through Meta's Cloud API: the webhook (handshake, signature, payloads), a durable
//! inbox that makes a re-delivered message a no-op, workers that answer each customer's
//! messages in order with the answer pipeline, and a durable outbox sent with retries, backoff
//! and pacing.
//!
//! A customer message is acknowledged once its inbox row is committed; it is answered once,
//! because the reply, the conversation turn and the inbox row's `done` are one transaction;
//! and its reply is sent once, because each outbox row is marked `sending` before it leaves
//! and carries a tracker (`biz_opaque_callback_data`) that Meta echoes in the status webhook.
//! A row whose fate is unknown — found `sending` after a crash, or whose request got no answer
//! — waits for that status; if none comes within the grace period, it is sent again. That is
//! the one way to a duplicate: Meta took the message and its status never arrived in time.

pub mod fake;
mod graph;
pub mod interactive;
pub mod order_texts;
pub mod payload;
mod sender;
pub mod signature;
pub mod template;
pub mod texts;
mod worker;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde::Serialize;
use tokio::sync::Notify;

pub use fake::{FakeCloud, FakeMessage, Fault};
pub use graph::{parse_tracker, tracker, Graph, Outcome};

use crate::engine::whatsapp::{
    conversation_of, hash_secret, Accepted, DeadLetter, InboundRecord, StatusRecord, Unanswered,
    WhatsAppAccount, WhatsAppCounts, WhatsAppCustomer,
};
use crate::engine::{Engine, EngineError};
use payload::{Content, Event};

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v23.0";

#[derive(Debug, thiserror::Error)]
pub enum WhatsAppError {
    #[error(
        "the request has no X-Hub-Signature-256 header; only Meta's signed webhooks are accepted"
    )]
    MissingSignature,
    #[error(
        "the X-Hub-Signature-256 header does not match the body under any connected app's secret"
    )]
    BadSignature,
    #[error(
        "the verify token does not match any connected number's (or hub.mode is not \"subscribe\")"
    )]
    VerificationFailed,
    #[error(transparent)]
    Payload(#[from] payload::PayloadError),
    #[error("invalid WhatsApp settings: {0}")]
    InvalidAccount(String),
    #[error(
        "business {0:?} has no WhatsApp number connected; PUT /v1/businesses/{0}/whatsapp first"
    )]
    NotConnected(String),
    #[error("phone number {0} is already connected to another business")]
    PhoneNumberTaken(String),
    #[error(transparent)]
    Engine(EngineError),
}

impl From<EngineError> for WhatsAppError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::PhoneNumberTaken(id) => WhatsAppError::PhoneNumberTaken(id),
            other => WhatsAppError::Engine(other),
        }
    }
}

/// How the channel behaves; see `config` for the settings that set it.
#[derive(Debug, Clone)]
pub struct WhatsAppSettings {
    pub graph_url: String,
    pub api_version: String,
    /// Customers answered at the same time (each customer's messages stay in order).
    pub workers: usize,
    /// Messages (replies and read receipts) sent per second per number; Meta allows 80.
    pub max_per_second: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub request_timeout: Duration,
    /// How long a message that was in flight in a crash waits for Meta's status before it is
    /// sent again.
    pub resend_grace: Duration,
    pub handoff_words: Vec<String>,
    /// Whether replies cite their sources on a last line.
    pub cite_sources: bool,
}

impl Default for WhatsAppSettings {
    fn default() -> Self {
        WhatsAppSettings {
            graph_url: DEFAULT_GRAPH_URL.to_string(),
            api_version: DEFAULT_API_VERSION.to_string(),
            workers: 4,
            max_per_second: 60,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            request_timeout: Duration::from_secs(15),
            resend_grace: Duration::from_secs(60),
            handoff_words: texts::HANDOFF_WORDS.iter().map(|w| w.to_string()).collect(),
            cite_sources: true,
        }
    }
}

/// What the webhook did with one delivery.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    #[serde(flatten)]
    pub accepted: Accepted,
    /// Notifications that need nothing (reactions, edits, system notices, other apps' numbers).
    pub ignored: usize,
    /// Messages recorded as impossible to answer (see `GET …/whatsapp/unanswered`).
    pub unanswered: usize,
}

/// Counters for `/metrics`; they restart with the process.
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    pub webhooks: AtomicU64,
    pub refused: AtomicU64,
    pub new_messages: AtomicU64,
    pub duplicates: AtomicU64,
    pub statuses: AtomicU64,
    pub answered: AtomicU64,
    pub sent: AtomicU64,
    pub retries: AtomicU64,
    pub dead: AtomicU64,
    pub undeliverable: AtomicU64,
    /// Customer messages recorded as impossible to answer (no sender, no id).
    pub unanswered: AtomicU64,
    /// Notifications that need nothing (reactions, edits, calls, account updates, other
    /// apps' numbers).
    pub ignored: AtomicU64,
}

/// The connected numbers, and what a connection shows (no secrets).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Connection {
    pub business: String,
    /// The number's id from the WhatsApp Manager.
    pub phone_number_id: String,
    /// The path to give Meta as callback URL (behind your HTTPS host).
    #[schema(examples("/webhooks/whatsapp"))]
    pub webhook: &'static str,
}

pub struct WhatsApp {
    engine: Arc<Engine>,
    settings: WhatsAppSettings,
    graph: Graph,
    /// Every connected number, the store's copy held in memory for the signature check.
    accounts: RwLock<Vec<WhatsAppAccount>>,
    /// Set when answers may start (the model, if any, is loaded).
    ready: Arc<AtomicBool>,
    inbox: Notify,
    outbox: Notify,
    pub metrics: ChannelMetrics,
}

impl WhatsApp {
    /// The channel for every number connected in `engine`; nothing runs until
    /// [`WhatsApp::start`].
    pub fn new(
        engine: Arc<Engine>,
        settings: WhatsAppSettings,
        ready: Arc<AtomicBool>,
    ) -> Result<Arc<WhatsApp>, WhatsAppError> {
        let accounts = engine.whatsapp().accounts()?;
        Ok(Self::with_accounts(engine, settings, ready, accounts))
    }

    /// The channel for `accounts` only, held in memory: the simulator's fake number, which
    /// must not touch (or be touched by) a server on the same data dir.
    pub fn with_accounts(
        engine: Arc<Engine>,
        settings: WhatsAppSettings,
        ready: Arc<AtomicBool>,
        accounts: Vec<WhatsAppAccount>,
    ) -> Arc<WhatsApp> {
        let graph = Graph::new(
            &settings.graph_url,
            &settings.api_version,
            settings.request_timeout,
        );
        Arc::new(WhatsApp {
            engine,
            settings,
            graph,
            accounts: RwLock::new(accounts),
            ready,
            inbox: Notify::new(),
            outbox: Notify::new(),
            metrics: ChannelMetrics::default(),
        })
    }

    /// Starts the workers and the sender on the current tokio runtime.
    pub fn start(self: &Arc<Self>) {
        tokio::spawn(worker::dispatch(self.clone()));
        tokio::spawn(sender::run(self.clone()));
    }

    pub fn settings(&self) -> &WhatsAppSettings {
        &self.settings
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Connects `business` to a number (blocking: it writes the store).
    pub fn connect(&self, account: WhatsAppAccount) -> Result<Connection, WhatsAppError> {
        self.engine.business(&account.business_id)?;
        validate(&account)?;
        self.engine.whatsapp().connect(&account)?;
        let connection = Connection {
            business: account.business_id.clone(),
            phone_number_id: account.phone_number_id.clone(),
            webhook: "/webhooks/whatsapp",
        };
        self.remember(account);
        tracing::info!(
            business = connection.business,
            phone_number_id = connection.phone_number_id,
            "WhatsApp number connected"
        );
        Ok(connection)
    }

    fn remember(&self, account: WhatsAppAccount) {
        let mut accounts = self.accounts.write();
        accounts.retain(|a| {
            a.business_id != account.business_id && a.phone_number_id != account.phone_number_id
        });
        accounts.push(account);
    }

    pub fn connection(&self, business: &str) -> Result<Connection, WhatsAppError> {
        self.engine.business(business)?;
        self.account_of_business(business)
            .map(|a| Connection {
                business: a.business_id,
                phone_number_id: a.phone_number_id,
                webhook: "/webhooks/whatsapp",
            })
            .ok_or_else(|| WhatsAppError::NotConnected(business.to_string()))
    }

    /// The words with which a customer asks for a person, where a business chose none
    /// (configured for the whole server).
    pub fn handoff_words(&self) -> &[String] {
        &self.settings.handoff_words
    }

    /// The numbers this process sends and answers for.
    fn numbers(&self) -> Vec<String> {
        self.accounts
            .read()
            .iter()
            .map(|a| a.phone_number_id.clone())
            .collect()
    }

    fn account_of_business(&self, business: &str) -> Option<WhatsAppAccount> {
        self.accounts
            .read()
            .iter()
            .find(|a| a.business_id == business)
            .cloned()
    }

    fn account_of_number(&self, phone_number_id: &str) -> Option<WhatsAppAccount> {
        self.accounts
            .read()
            .iter()
            .find(|a| a.phone_number_id == phone_number_id)
            .cloned()
    }

    /// The GET handshake: the challenge to echo when the token is one of ours.
    pub fn verify_subscription(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Result<String, WhatsAppError> {
        let (Some("subscribe"), Some(token), Some(challenge)) = (mode, token, challenge) else {
            return Err(WhatsAppError::VerificationFailed);
        };
        let token_hash = hash_secret(token);
        let known = self.accounts.read().iter().fold(false, |found, a| {
            // Compared as hashes so the time taken does not depend on the tokens' bytes.
            found | (hash_secret(&a.verify_token) == token_hash)
        });
        if known {
            Ok(challenge.to_string())
        } else {
            Err(WhatsAppError::VerificationFailed)
        }
    }

    /// A POSTed delivery: verified against the connected apps' secrets before anything else,
    /// then written to the inbox (blocking). Returns once it is durable.
    pub fn receive(&self, body: &[u8], signature: Option<&str>) -> Result<Receipt, WhatsAppError> {
        self.metrics.webhooks.fetch_add(1, Ordering::Relaxed);
        let secret = match self.verify_signature(body, signature) {
            Ok(secret) => secret,
            Err(e) => {
                self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let mut receipt = Receipt::default();
        let mut messages = Vec::new();
        let mut statuses = Vec::new();
        let mut unanswered = Vec::new();
        for event in payload::parse(body)? {
            let number = match &event {
                Event::Message(m) => &m.phone_number_id,
                Event::Status(s) => &s.phone_number_id,
                Event::Unanswerable(u) => &u.phone_number_id,
                Event::Ignored(what) => {
                    tracing::debug!(what, "WhatsApp notification ignored");
                    receipt.ignored += 1;
                    continue;
                }
            };
            // A number of another app, or none of ours: signed, but not for us to act on.
            let Some(account) = self
                .account_of_number(number)
                .filter(|a| a.app_secret == secret)
            else {
                tracing::debug!(
                    phone_number_id = number,
                    "WhatsApp notification for a number not connected here"
                );
                receipt.ignored += 1;
                continue;
            };
            match event {
                Event::Message(m) => {
                    let (kind, text, choice, cart) = match m.content {
                        Content::Text(text) => ("text".to_string(), Some(text), None, None),
                        Content::Choice { id, title } => {
                            ("interactive".to_string(), Some(title), Some(id), None)
                        }
                        Content::Cart { lines, note } => (
                            "order".to_string(),
                            note,
                            None,
                            Some(serde_json::to_string(&lines).expect("cart lines serialize")),
                        ),
                        Content::Unreadable(kind) => (kind, None, None, None),
                        Content::NoReply(kind) => {
                            tracing::debug!(kind, wamid = m.wamid, "no reply needed");
                            receipt.ignored += 1;
                            continue;
                        }
                    };
                    messages.push(InboundRecord {
                        wamid: m.wamid,
                        business_id: account.business_id,
                        phone_number_id: m.phone_number_id,
                        wa_id: m.sender.key().to_string(),
                        user_id: m.sender.user_id().map(str::to_string),
                        name: m.name,
                        kind,
                        text,
                        sent_at: m.timestamp,
                        choice,
                        cart,
                    });
                }
                Event::Status(s) => statuses.push(StatusRecord {
                    phone_number_id: s.phone_number_id,
                    outbox_id: s.tracker.as_deref().and_then(parse_tracker),
                    message_id: s.message_id,
                    status: s.status,
                    at: s.timestamp,
                    error: s.error,
                }),
                Event::Unanswerable(u) => {
                    tracing::warn!(
                        business = account.business_id,
                        kind = u.kind,
                        reason = u.reason,
                        "a WhatsApp message cannot be answered; recorded"
                    );
                    unanswered.push(Unanswered {
                        business_id: account.business_id,
                        phone_number_id: u.phone_number_id,
                        wamid: u.wamid,
                        kind: u.kind,
                        reason: u.reason,
                        at: 0,
                    });
                }
                Event::Ignored(_) => unreachable!("handled above"),
            }
        }
        if !unanswered.is_empty() {
            let new = self.engine.whatsapp().record_unanswered(&unanswered)?;
            receipt.unanswered = unanswered.len();
            self.metrics
                .unanswered
                .fetch_add(new as u64, Ordering::Relaxed);
        }
        if !messages.is_empty() || !statuses.is_empty() {
            receipt.accepted = self.engine.whatsapp().accept(&messages, &statuses)?;
        }
        let m = &self.metrics;
        m.ignored
            .fetch_add(receipt.ignored as u64, Ordering::Relaxed);
        m.new_messages
            .fetch_add(receipt.accepted.new_messages as u64, Ordering::Relaxed);
        m.duplicates
            .fetch_add(receipt.accepted.duplicates as u64, Ordering::Relaxed);
        m.statuses
            .fetch_add(receipt.accepted.statuses as u64, Ordering::Relaxed);
        if receipt.accepted.new_messages > 0 {
            self.inbox.notify_one();
        }
        if receipt.accepted.statuses > 0 {
            // A status may settle a row the sender is holding back.
            self.outbox.notify_one();
        }
        Ok(receipt)
    }

    /// The secret `body` is signed with, among the connected apps'.
    fn verify_signature(
        &self,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<String, WhatsAppError> {
        let header = signature.ok_or(WhatsAppError::MissingSignature)?;
        let digest = signature::parse_header(header).ok_or(WhatsAppError::BadSignature)?;
        let secrets: HashSet<String> = self
            .accounts
            .read()
            .iter()
            .map(|a| a.app_secret.clone())
            .collect();
        secrets
            .into_iter()
            .find(|secret| signature::verify(secret, body, &digest))
            .ok_or(WhatsAppError::BadSignature)
    }

    pub fn dead_letters(&self, business: &str) -> Result<Vec<DeadLetter>, WhatsAppError> {
        self.engine.business(business)?;
        Ok(self.engine.whatsapp().dead_letters(business)?)
    }

    pub fn unanswered(&self, business: &str) -> Result<Vec<Unanswered>, WhatsAppError> {
        self.engine.business(business)?;
        Ok(self.engine.whatsapp().unanswered(business)?)
    }

    pub fn counts(&self, business: Option<&str>) -> Result<WhatsAppCounts, WhatsAppError> {
        Ok(self.engine.whatsapp().counts(business, &self.numbers())?)
    }

    pub fn customer(&self, business: &str, wa_id: &str) -> Result<WhatsAppCustomer, WhatsAppError> {
        self.engine.business(business)?;
        self.engine
            .whatsapp()
            .customer(business, wa_id)?
            .ok_or_else(|| {
                WhatsAppError::Engine(EngineError::UnknownConversation {
                    business: business.to_string(),
                    id: conversation_of(wa_id),
                })
            })
    }

    /// Wakes the workers (after a handoff is released, for instance).
    pub fn wake(&self) {
        self.inbox.notify_one();
        self.outbox.notify_one();
    }
}

fn validate(account: &WhatsAppAccount) -> Result<(), WhatsAppError> {
    let bad = |what: &str| Err(WhatsAppError::InvalidAccount(what.to_string()));
    if account.phone_number_id.is_empty()
        || account.phone_number_id.len() > 32
        || !account.phone_number_id.bytes().all(|b| b.is_ascii_digit())
    {
        return bad(
            "phone_number_id must be the number's id from the WhatsApp Manager: digits only",
        );
    }
    for (name, value, min) in [
        ("access_token", &account.access_token, 8),
        ("app_secret", &account.app_secret, 8),
        ("verify_token", &account.verify_token, 8),
    ] {
        if value.trim().len() < min || value.len() > 1024 || value.chars().any(char::is_control) {
            return bad(&format!("{name} must be {min}-1024 printable characters"));
        }
    }
    Ok(())
}
