//! An order's notification to its WhatsApp customer, written into the outbox inside the
//! transaction that changes the order; a person's reply (`store::privacy`) goes the same way.
//!
//! The row is of kind `notice`: a text that quotes no message, sent by the channel's sender
//! like any reply, after the customer's earlier rows. Where it cannot go it is written as a
//! dead letter at once, with the reason: the business has no number connected, the customer
//! opted out, or the customer's last message is older than Meta's 24-hour customer-service
//! window (clerk has no template for order notifications). The sender checks the window
//! again when the row's turn comes.

use rusqlite::{params, OptionalExtension, Transaction};

use super::super::{now, StoreError};

/// Meta's customer-service window: free-form messages only this long after the customer's.
pub const SERVICE_WINDOW_SECS: u64 = 24 * 60 * 60;

/// Why a notification made now could not be sent, if it could not.
fn refusal(number: Option<&str>, customer: Option<(i64, bool)>, now: u64) -> Option<&'static str> {
    match (number, customer) {
        (None, _) => Some("the business has no WhatsApp number connected"),
        (_, None) => Some("the customer is not known to the WhatsApp channel"),
        (_, Some((_, true))) => Some("the customer opted out (STOP)"),
        (_, Some((last, false))) if now > last.max(0) as u64 + SERVICE_WINDOW_SECS => Some(
            "outside the 24-hour window: the customer's last message is more than 24 hours \
             old, and clerk sends no template messages (order notifications and a person's \
             replies alike)",
        ),
        _ => None,
    }
}

/// Writes `parts` as outbox rows to customer `wa_id`, keyed by `key` (one per order change, so
/// a change is notified once; `person:<id>` for a person's reply): pending, or dead letters
/// with the reason they cannot go, which is returned.
pub(in crate::store) fn enqueue(
    tx: &Transaction<'_>,
    business: &str,
    wa_id: &str,
    key: &str,
    quote: Option<&str>,
    parts: &[String],
) -> Result<Option<&'static str>, StoreError> {
    if parts.is_empty() {
        return Ok(None);
    }
    let number: Option<String> = tx
        .query_row(
            "SELECT phone_number_id FROM wa_accounts WHERE business_id = ?1",
            params![business],
            |r| r.get(0),
        )
        .optional()?;
    let customer: Option<(i64, bool)> = tx
        .query_row(
            "SELECT last_inbound_at, opted_out FROM wa_customers \
             WHERE business_id = ?1 AND wa_id = ?2",
            params![business, wa_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let at = now();
    let reason = refusal(number.as_deref(), customer, at);
    let (state, done_at) = match reason {
        None => ("pending", None),
        Some(_) if number.is_none() => ("dead", Some(at as i64)),
        Some(_) => ("undeliverable", Some(at as i64)),
    };
    let due = (at as i64) * 1000;
    for (part, body) in parts.iter().enumerate() {
        tx.execute(
            "INSERT OR IGNORE INTO wa_outbox (business_id, phone_number_id, wa_id, reply_to, kind, \
             part, body, state, error, next_attempt_ms, created_at, done_at, quote) \
             VALUES (?1, ?2, ?3, ?4, 'notice', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                business,
                number.as_deref().unwrap_or(""),
                wa_id,
                key,
                part as i64,
                body,
                state,
                reason,
                due,
                at as i64,
                done_at,
                quote
            ],
        )?;
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_their_reason() {
        let now = 10 * SERVICE_WINDOW_SECS;
        let fresh = (now - 60) as i64;
        let stale = (now - SERVICE_WINDOW_SECS - 1) as i64;
        // (the business's number, the customer's last message and opt-out, the reason's words)
        type Case = (
            Option<&'static str>,
            Option<(i64, bool)>,
            Option<&'static str>,
        );
        let cases: &[Case] = &[
            (Some("111"), Some((fresh, false)), None),
            (
                Some("111"),
                Some(((now - SERVICE_WINDOW_SECS) as i64, false)),
                None,
            ),
            (
                Some("111"),
                Some((stale, false)),
                Some("outside the 24-hour window"),
            ),
            (Some("111"), Some((fresh, true)), Some("opted out")),
            (None, Some((fresh, false)), Some("no WhatsApp number")),
            (Some("111"), None, Some("not known")),
        ];
        for (number, customer, expected) in cases {
            let got = refusal(*number, *customer, now);
            match expected {
                None => assert_eq!(got, None, "{number:?} {customer:?}"),
                Some(part) => assert!(
                    got.is_some_and(|r| r.contains(part)),
                    "{number:?} {customer:?}: {got:?}"
                ),
            }
        }
    }
}
