//! The inbox side: webhook deliveries in (deduplicated by `wamid`), each customer's waiting
//! messages out in order, and each settled with its reply in one transaction.

use rusqlite::{params, OptionalExtension, Transaction};

use super::super::conversations::{write_customer_turn, write_exchange};
use super::super::{now, Store, StoreError};
use super::{
    conversation_of, disclosure, json_list, now_ms, Accepted, InboundRecord, Outgoing,
    PendingInbound, Processed, StatusRecord,
};

/// The customer a message belongs to: the phone number when the webhook carried one; else
/// the customer an earlier message tied to the same business-scoped user id; else that user
/// id itself, so a customer who hides their number is still one customer.
fn customer_key(tx: &Transaction<'_>, m: &InboundRecord) -> Result<String, StoreError> {
    let Some(user_id) = m.user_id.as_deref().filter(|u| *u == m.wa_id) else {
        return Ok(m.wa_id.clone());
    };
    let known: Option<String> = tx
        .query_row(
            "SELECT wa_id FROM wa_customers WHERE business_id = ?1 AND user_id = ?2 \
             ORDER BY last_inbound_at DESC LIMIT 1",
            params![m.business_id, user_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(known.unwrap_or_else(|| user_id.to_string()))
}

impl Store {
    /// Writes one webhook delivery: new messages into the inbox (a known `wamid` is a
    /// duplicate and changes nothing), each customer's window, and delivery statuses.
    pub fn accept_whatsapp(
        &self,
        messages: &[InboundRecord],
        statuses: &[StatusRecord],
    ) -> Result<Accepted, StoreError> {
        let received = now() as i64;
        let mut accepted = Accepted::default();
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        for m in messages {
            let wa_id = customer_key(&tx, m)?;
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO wa_inbox (wamid, business_id, phone_number_id, wa_id, kind, \
                 text, sent_at, received_at, choice_id, cart) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    m.wamid,
                    m.business_id,
                    m.phone_number_id,
                    wa_id,
                    m.kind,
                    m.text,
                    m.sent_at as i64,
                    received,
                    m.choice,
                    m.cart
                ],
            )?;
            if inserted == 0 {
                accepted.duplicates += 1;
                continue;
            }
            accepted.new_messages += 1;
            tx.execute(
                "INSERT INTO wa_customers (business_id, wa_id, name, last_inbound_at, user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (business_id, wa_id) DO UPDATE SET \
                 name = COALESCE(excluded.name, name), \
                 last_inbound_at = MAX(last_inbound_at, excluded.last_inbound_at), \
                 user_id = COALESCE(excluded.user_id, user_id)",
                params![m.business_id, wa_id, m.name, m.sent_at as i64, m.user_id],
            )?;
        }
        for s in statuses {
            record_status(&tx, s)?;
            accepted.statuses += 1;
        }
        tx.commit()?;
        Ok(accepted)
    }

    /// Customers with messages waiting on one of `numbers`, oldest waiting first. (Messages
    /// of numbers this process does not hold, such as the simulator's, are left alone.)
    pub fn whatsapp_waiting_customers(
        &self,
        numbers: &[String],
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT business_id, wa_id FROM wa_inbox WHERE state = 'pending' \
             AND phone_number_id IN (SELECT value FROM json_each(?1)) \
             GROUP BY business_id, wa_id ORDER BY MIN(seq) LIMIT ?2",
        )?;
        let numbers = json_list(numbers);
        let rows = stmt.query_map(params![numbers, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The customer's next waiting message, in the order they sent them.
    pub fn next_whatsapp_inbound(
        &self,
        business: &str,
        wa_id: &str,
    ) -> Result<Option<PendingInbound>, StoreError> {
        let conn = self.conn.lock();
        let record = conn
            .query_row(
                "SELECT wamid, phone_number_id, kind, text, sent_at, choice_id, cart FROM wa_inbox \
                 WHERE state = 'pending' AND business_id = ?1 AND wa_id = ?2 \
                 ORDER BY sent_at, seq LIMIT 1",
                params![business, wa_id],
                |r| {
                    Ok(InboundRecord {
                        wamid: r.get(0)?,
                        business_id: business.to_string(),
                        phone_number_id: r.get(1)?,
                        wa_id: wa_id.to_string(),
                        user_id: None,
                        name: None,
                        kind: r.get(2)?,
                        text: r.get(3)?,
                        sent_at: r.get::<_, i64>(4)? as u64,
                        choice: r.get(5)?,
                        cart: r.get(6)?,
                    })
                },
            )
            .optional()?;
        let Some(record) = record else {
            return Ok(None);
        };
        let (opted_out, last_inbound_at): (bool, i64) = conn
            .query_row(
                "SELECT opted_out, last_inbound_at FROM wa_customers \
                 WHERE business_id = ?1 AND wa_id = ?2",
                params![business, wa_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((false, 0));
        let handed_off: bool = conn
            .query_row(
                "SELECT needs_person FROM conversations WHERE business_id = ?1 AND id = ?2",
                params![business, conversation_of(wa_id)],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false);
        Ok(Some(PendingInbound {
            record,
            opted_out,
            handed_off,
            last_inbound_at: last_inbound_at as u64,
        }))
    }

    /// Settles an inbox message: its exchange, its outgoing messages and its `done` in one
    /// transaction. False (and nothing written) when it was already settled.
    pub fn finish_whatsapp_inbound(
        &self,
        inbound: &InboundRecord,
        processed: &Processed<'_>,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.lock();
        let tx = conn.transaction()?;
        let settled = tx.execute(
            "UPDATE wa_inbox SET state = 'done', outcome = ?2 WHERE wamid = ?1 AND state = 'pending'",
            params![inbound.wamid, processed.outcome],
        )?;
        if settled == 0 {
            return Ok(false);
        }
        let conversation = conversation_of(&inbound.wa_id);
        if let Some(exchange) = &processed.exchange {
            write_exchange(&tx, &inbound.business_id, &conversation, exchange)?;
        }
        if let Some(text) = processed.customer_turn {
            write_customer_turn(&tx, &inbound.business_id, &conversation, text)?;
        }
        if let Some(opted_out) = processed.set_opted_out {
            tx.execute(
                "UPDATE wa_customers SET opted_out = ?3 WHERE business_id = ?1 AND wa_id = ?2",
                params![inbound.business_id, inbound.wa_id, opted_out],
            )?;
        }
        let created = now() as i64;
        let due = now_ms();
        let outgoing = disclosure::outgoing(&tx, inbound, processed)?;
        for (part, outgoing) in outgoing.iter().enumerate() {
            let (kind, body) = match outgoing {
                Outgoing::Read => ("read", None),
                Outgoing::Text(text) => ("text", Some(text.as_str())),
                Outgoing::Interactive(json) => ("interactive", Some(json.as_str())),
            };
            tx.execute(
                "INSERT OR IGNORE INTO wa_outbox (business_id, phone_number_id, wa_id, reply_to, \
                 kind, part, body, next_attempt_ms, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    inbound.business_id,
                    inbound.phone_number_id,
                    inbound.wa_id,
                    inbound.wamid,
                    kind,
                    part as i64,
                    body,
                    due,
                    created
                ],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }
}

/// Records a status and applies it to our row: the tracker settles a row whose send outcome
/// was lost in a crash; a failure after sending turns the row into a dead letter.
fn record_status(tx: &Transaction<'_>, s: &StatusRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO wa_statuses (message_id, status, at, error) VALUES (?1, ?2, ?3, ?4)",
        params![s.message_id, s.status, s.at as i64, s.error],
    )?;
    if let Some(id) = s.outbox_id {
        tx.execute(
            "UPDATE wa_outbox SET state = 'sent', message_id = ?2, done_at = ?3, error = NULL \
             WHERE id = ?1 AND state IN ('pending', 'sending') AND kind IN ('text', 'interactive', 'notice') \
             AND phone_number_id = ?4",
            params![id, s.message_id, now() as i64, s.phone_number_id],
        )?;
    }
    if s.status == "failed" {
        tx.execute(
            "UPDATE wa_outbox SET state = 'dead', delivery = 'failed', error = ?2 \
             WHERE message_id = ?1 AND phone_number_id = ?3",
            params![
                s.message_id,
                s.error.as_deref().unwrap_or("failed after sending"),
                s.phone_number_id
            ],
        )?;
    } else {
        // Statuses may arrive out of order; keep the furthest one.
        tx.execute(
            "UPDATE wa_outbox SET delivery = ?2 WHERE message_id = ?1 AND phone_number_id = ?3 AND \
             (CASE COALESCE(delivery, '') WHEN 'read' THEN 3 WHEN 'played' THEN 3 \
              WHEN 'delivered' THEN 2 WHEN 'sent' THEN 1 ELSE 0 END) < \
             (CASE ?2 WHEN 'read' THEN 3 WHEN 'played' THEN 3 WHEN 'delivered' THEN 2 \
              WHEN 'sent' THEN 1 ELSE 0 END)",
            params![s.message_id, s.status, s.phone_number_id],
        )?;
    }
    Ok(())
}
