//! Whether a reply must begin by saying the customer is writing with an automated assistant
//! (EU AI Act Art. 50): decided inside the transaction that settles the message, so that a
//! crash and a second attempt at the same message write it once or not at all, never twice.
//!
//! It is due when clerk has never written to this customer (read receipts, a person's
//! replies and messages that never went — dead letters — do not count), or when the customer's message before this one was sent more than
//! [`DISCLOSURE_AFTER_SILENCE_SECS`] before it. Both are read from what the store keeps of
//! every message even after retention (times and rows; retention drops only texts), and an
//! erased customer is a new one. The words are the caller's (`Processed::disclosure`): the
//! business's own text or clerk's per language, both outside the store.

use std::borrow::Cow;

use rusqlite::{params, OptionalExtension, Transaction};

use super::super::StoreError;
use super::{InboundRecord, Outgoing, Processed};

/// A customer silent this long is told again, as if new.
pub const DISCLOSURE_AFTER_SILENCE_SECS: u64 = 30 * 24 * 60 * 60;

/// Whether `inbound`'s reply is the customer's first from clerk, or the first after a silence.
pub(super) fn due(tx: &Transaction<'_>, inbound: &InboundRecord) -> Result<bool, StoreError> {
    let replied_before: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM wa_outbox WHERE business_id = ?1 AND wa_id = ?2 \
         AND kind <> 'read' AND reply_to NOT LIKE 'person:%' \
         AND state NOT IN ('dead', 'undeliverable'))",
        params![inbound.business_id, inbound.wa_id],
        |r| r.get(0),
    )?;
    if !replied_before {
        return Ok(true);
    }
    // The customer's message before this one, in the order the worker takes them.
    let previous: Option<i64> = tx
        .query_row(
            "SELECT MAX(p.sent_at) FROM wa_inbox p, wa_inbox m \
             WHERE m.wamid = ?3 AND p.business_id = ?1 AND p.wa_id = ?2 \
             AND (p.sent_at < m.sent_at OR (p.sent_at = m.sent_at AND p.seq < m.seq))",
            params![inbound.business_id, inbound.wa_id, inbound.wamid],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(match previous {
        None => true,
        Some(previous) => inbound.sent_at > previous.max(0) as u64 + DISCLOSURE_AFTER_SILENCE_SECS,
    })
}

/// The longest text body WhatsApp accepts, in UTF-16 code units (Meta's limit, as the
/// channel's `texts::MAX_BODY`).
const MAX_BODY_UNITS: usize = 4096;

/// The rows to write for `processed`: its own, the first text beginning with the disclosure
/// when one is due (or, where the two would not fit one message or the reply has no plain
/// text first, the disclosure as a text of its own just before).
pub(super) fn outgoing<'p>(
    tx: &Transaction<'_>,
    inbound: &InboundRecord,
    processed: &'p Processed<'_>,
) -> Result<Cow<'p, [Outgoing]>, StoreError> {
    let Some(text) = processed
        .disclosure
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Ok(Cow::Borrowed(&processed.outgoing));
    };
    let Some(first) = processed
        .outgoing
        .iter()
        .position(|o| !matches!(o, Outgoing::Read))
    else {
        // Nothing is said to the customer, so nothing is disclosed: the next reply decides.
        return Ok(Cow::Borrowed(&processed.outgoing));
    };
    if !due(tx, inbound)? {
        return Ok(Cow::Borrowed(&processed.outgoing));
    }
    let mut rows = processed.outgoing.clone();
    match &rows[first] {
        Outgoing::Text(reply)
            if (text.encode_utf16().count() + 2 + reply.encode_utf16().count())
                <= MAX_BODY_UNITS =>
        {
            rows[first] = Outgoing::Text(format!("{text}\n\n{reply}"));
        }
        _ => rows.insert(first, Outgoing::Text(text.to_string())),
    }
    Ok(Cow::Owned(rows))
}
