//! The outbox side: which rows are due (each customer's oldest first), and each row's way
//! through `pending` → `sending` → `sent`, or back to `pending` with a delay, or to a dead
//! letter.

use rusqlite::params;

use super::super::{now, Store, StoreError};
use super::{json_list, now_ms, DueOutbound};

impl Store {
    /// Outbox rows of `numbers` to send now: each customer's oldest open row, if it is due, so
    /// one customer's replies leave in order.
    pub fn due_whatsapp_outbound(
        &self,
        numbers: &[String],
        limit: usize,
    ) -> Result<Vec<DueOutbound>, StoreError> {
        let conn = self.conn.lock();
        let mut stmt = conn.prepare(
            "SELECT o.id, o.business_id, o.phone_number_id, o.wa_id, o.reply_to, o.kind, o.body, \
             o.attempts, COALESCE(c.last_inbound_at, 0), o.quote, o.part, o.template \
             FROM (SELECT MIN(id) AS id FROM wa_outbox WHERE state IN ('pending', 'sending') \
                   GROUP BY business_id, wa_id) AS heads \
             JOIN wa_outbox o ON o.id = heads.id \
             LEFT JOIN wa_customers c ON c.business_id = o.business_id AND c.wa_id = o.wa_id \
             WHERE o.state = 'pending' AND o.next_attempt_ms <= ?1 \
             AND o.phone_number_id IN (SELECT value FROM json_each(?3)) \
             ORDER BY o.next_attempt_ms, o.id LIMIT ?2",
        )?;
        let numbers = json_list(numbers);
        let rows = stmt.query_map(params![now_ms(), limit as i64, numbers], |r| {
            Ok(DueOutbound {
                id: r.get(0)?,
                business_id: r.get(1)?,
                phone_number_id: r.get(2)?,
                wa_id: r.get(3)?,
                reply_to: r.get(4)?,
                kind: r.get(5)?,
                body: r.get(6)?,
                attempts: r.get::<_, i64>(7)? as u32,
                last_inbound_at: r.get::<_, i64>(8)? as u64,
                quote: r.get(9)?,
                part: r.get::<_, i64>(10)? as u32,
                template: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Marks a pending row as leaving now; after a crash it is found in this state. False
    /// when the row is no longer pending (a status settled it meanwhile): it must not go.
    pub fn whatsapp_sending(&self, id: i64) -> Result<bool, StoreError> {
        let conn = self.conn.lock();
        Ok(conn.execute(
            "UPDATE wa_outbox SET state = 'sending', attempts = attempts + 1 \
             WHERE id = ?1 AND state = 'pending'",
            params![id],
        )? > 0)
    }

    /// Meta accepted the row as `message_id` (None for read receipts).
    pub fn whatsapp_sent(&self, id: i64, message_id: Option<&str>) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute(
            "UPDATE wa_outbox SET state = 'sent', message_id = COALESCE(message_id, ?2), \
             error = NULL, done_at = ?3 WHERE id = ?1 AND state IN ('pending', 'sending')",
            params![id, message_id, now() as i64],
        )?;
        Ok(())
    }

    /// Puts a row back to wait `delay_ms` after a failure that may pass.
    pub fn whatsapp_retry_later(
        &self,
        id: i64,
        delay_ms: u64,
        error: &str,
    ) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute(
            "UPDATE wa_outbox SET state = 'pending', next_attempt_ms = ?2, error = ?3 \
             WHERE id = ?1 AND state IN ('pending', 'sending')",
            params![id, now_ms() + delay_ms as i64, error],
        )?;
        Ok(())
    }

    /// Gives a row up: `state` is "dead" (Meta refused it) or "undeliverable".
    pub fn whatsapp_give_up(&self, id: i64, state: &str, reason: &str) -> Result<(), StoreError> {
        let conn = self.conn.lock();
        conn.execute(
            "UPDATE wa_outbox SET state = ?2, error = ?3, done_at = ?4 \
             WHERE id = ?1 AND state IN ('pending', 'sending')",
            params![id, state, reason, now() as i64],
        )?;
        Ok(())
    }

    /// After a restart: rows of `numbers` that were leaving when the process died wait
    /// `grace_ms` for the status webhook that would show Meta got them, then go again.
    /// Returns how many.
    pub fn recover_whatsapp_sending(
        &self,
        numbers: &[String],
        grace_ms: u64,
    ) -> Result<usize, StoreError> {
        let conn = self.conn.lock();
        let numbers = json_list(numbers);
        Ok(conn.execute(
            "UPDATE wa_outbox SET state = 'pending', next_attempt_ms = ?1, \
             error = 'in flight when the process stopped; waiting for a status before resending' \
             WHERE state = 'sending' AND phone_number_id IN (SELECT value FROM json_each(?2))",
            params![now_ms() + grace_ms as i64, numbers],
        )?)
    }
}
