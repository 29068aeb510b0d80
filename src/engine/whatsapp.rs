//! The WhatsApp channel's narrow way into the durable state: [`WhatsAppDesk`], what the
//! webhook, the answering workers and the sender read and write (the inbox, the outbox, the
//! connected numbers, what could not be answered), and nothing else of the store.
//!
//! Each method is one call of the store's, unchanged: the exactly-once rules (an inbox row
//! settled with its reply in one transaction, an outbox row marked `sending` before it leaves)
//! live in the store's SQL, and the desk only keeps the channel from reaching past them. Its
//! records are plain Rust data; every failure is an [`EngineError`]. Its calls block: async
//! callers run them on the blocking pool.

use super::{Engine, EngineError};
use crate::store::Store;

pub use crate::store::{
    conversation_of, hash_secret, Accepted, DeadLetter, DueOutbound, Exchange, InboundRecord,
    NoticeOf, Outgoing, PendingInbound, Processed, StatusRecord, Unanswered, WhatsAppAccount,
    WhatsAppCounts, WhatsAppCustomer, SERVICE_WINDOW_SECS,
};

/// The channel's view of the store; get one with [`Engine::whatsapp`].
#[derive(Clone, Copy)]
pub struct WhatsAppDesk<'a> {
    store: &'a Store,
}

impl Engine {
    /// What the WhatsApp channel keeps: its inbox, outbox and connected numbers.
    pub fn whatsapp(&self) -> WhatsAppDesk<'_> {
        WhatsAppDesk { store: &self.store }
    }
}

impl WhatsAppDesk<'_> {
    /// Every connected number, secrets included (the channel checks signatures with them).
    pub fn accounts(&self) -> Result<Vec<WhatsAppAccount>, EngineError> {
        Ok(self.store.whatsapp_accounts()?)
    }

    /// Connects (or reconnects) a business's number; a number another business holds is
    /// [`EngineError::PhoneNumberTaken`].
    pub fn connect(&self, account: &WhatsAppAccount) -> Result<(), EngineError> {
        Ok(self.store.set_whatsapp_account(account)?)
    }

    /// Writes one webhook delivery: new messages into the inbox (a known `wamid` is a
    /// duplicate and changes nothing) and delivery statuses.
    pub fn accept(
        &self,
        messages: &[InboundRecord],
        statuses: &[StatusRecord],
    ) -> Result<Accepted, EngineError> {
        Ok(self.store.accept_whatsapp(messages, statuses)?)
    }

    /// Keeps messages that cannot be answered, with their reasons; returns how many were new.
    pub fn record_unanswered(&self, records: &[Unanswered]) -> Result<usize, EngineError> {
        Ok(self.store.record_whatsapp_unanswered(records)?)
    }

    /// Customers (business, wa_id) with messages waiting on one of `numbers`, oldest first.
    pub fn waiting_customers(
        &self,
        numbers: &[String],
        limit: usize,
    ) -> Result<Vec<(String, String)>, EngineError> {
        Ok(self.store.whatsapp_waiting_customers(numbers, limit)?)
    }

    /// The customer's next waiting message, in the order they sent them.
    pub fn next_inbound(
        &self,
        business: &str,
        wa_id: &str,
    ) -> Result<Option<PendingInbound>, EngineError> {
        Ok(self.store.next_whatsapp_inbound(business, wa_id)?)
    }

    /// Settles an inbox message with its exchange and outgoing messages in one transaction;
    /// false (and nothing written) when it was already settled.
    pub fn finish_inbound(
        &self,
        inbound: &InboundRecord,
        processed: &Processed<'_>,
    ) -> Result<bool, EngineError> {
        Ok(self.store.finish_whatsapp_inbound(inbound, processed)?)
    }

    /// After a restart: rows of `numbers` that were leaving when the process died wait
    /// `grace_ms` for Meta's status, then go again. Returns how many.
    pub fn recover_sending(&self, numbers: &[String], grace_ms: u64) -> Result<usize, EngineError> {
        Ok(self.store.recover_whatsapp_sending(numbers, grace_ms)?)
    }

    /// Each customer's oldest open outbox row of `numbers`, if it is due.
    pub fn due_outbound(
        &self,
        numbers: &[String],
        limit: usize,
    ) -> Result<Vec<DueOutbound>, EngineError> {
        Ok(self.store.due_whatsapp_outbound(numbers, limit)?)
    }

    /// Marks a row as leaving, durably, before the request goes; false when it is no longer
    /// to be sent.
    pub fn mark_sending(&self, id: i64) -> Result<bool, EngineError> {
        Ok(self.store.whatsapp_sending(id)?)
    }

    pub fn mark_sent(&self, id: i64, message_id: Option<&str>) -> Result<(), EngineError> {
        Ok(self.store.whatsapp_sent(id, message_id)?)
    }

    /// Puts a row back to wait `delay_ms` after a failure that may pass.
    pub fn retry_later(&self, id: i64, delay_ms: u64, error: &str) -> Result<(), EngineError> {
        Ok(self.store.whatsapp_retry_later(id, delay_ms, error)?)
    }

    /// Gives a row up: `state` is "dead" (Meta refused it) or "undeliverable".
    pub fn give_up(&self, id: i64, state: &str, reason: &str) -> Result<(), EngineError> {
        Ok(self.store.whatsapp_give_up(id, state, reason)?)
    }

    pub fn dead_letters(&self, business: &str) -> Result<Vec<DeadLetter>, EngineError> {
        Ok(self.store.whatsapp_dead_letters(business)?)
    }

    pub fn unanswered(&self, business: &str) -> Result<Vec<Unanswered>, EngineError> {
        Ok(self.store.whatsapp_unanswered(business)?)
    }

    /// Inbox and outbox counts of `numbers`, for one business or (None) all.
    pub fn counts(
        &self,
        business: Option<&str>,
        numbers: &[String],
    ) -> Result<WhatsAppCounts, EngineError> {
        Ok(self.store.whatsapp_counts(business, numbers)?)
    }

    /// The customer keyed `wa_id` (a number or a business-scoped user id), if they wrote.
    pub fn customer(
        &self,
        business: &str,
        wa_id: &str,
    ) -> Result<Option<WhatsAppCustomer>, EngineError> {
        Ok(self.store.whatsapp_customer(business, wa_id)?)
    }

    /// How an inbox message was settled, if it was ("pending" while waiting): for the
    /// simulator and tests, which wait for a message's replies.
    pub fn inbound_outcome(&self, wamid: &str) -> Result<Option<String>, EngineError> {
        Ok(self.store.whatsapp_inbound_outcome(wamid)?)
    }

    /// The state and body of each reply to an inbound message, in order (simulator, tests).
    pub fn replies_to(&self, wamid: &str) -> Result<Vec<(String, String)>, EngineError> {
        Ok(self.store.whatsapp_replies_to(wamid)?)
    }
}
