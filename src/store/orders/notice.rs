//! An order's notification to its WhatsApp customer, written into the outbox inside the
//! transaction that changes the order; a person's reply (`store::privacy`) goes the same way.
//!
//! The row is of kind `notice`: a text that quotes no message, sent by the channel's sender
//! like any reply, after the customer's earlier rows. Where it cannot go it is written as a
//! dead letter at once, with the reason: the business has no number connected, the customer
//! opted out, or the customer's last message is older than Meta's 24-hour customer-service
//! window and there is no template to send instead. Only an order's notification has one,
//! when the business configured an order template: its rows then carry the template message
//! (the engine built it), which the sender sends in the first part's place outside the
//! window; the text's further parts are not sent there, the template standing for them. The
//! sender checks the window again when a row's turn comes, with the same reasons.

use rusqlite::{params, OptionalExtension, Transaction};

use super::super::{now, StoreError};

/// Meta's customer-service window: free-form messages only this long after the customer's.
pub const SERVICE_WINDOW_SECS: u64 = 24 * 60 * 60;

/// Why an order's notification does not go outside the window without a template.
pub const NO_ORDER_TEMPLATE: &str = "outside the 24-hour window: the customer's last message \
     is more than 24 hours old, and the business has no order template configured (set \
     `order_template` in its settings to a Meta-approved template to send order updates then)";
/// Why a person's reply does not go outside the window.
pub const PERSON_REPLY_OUTSIDE: &str = "outside the 24-hour window: the customer's last \
     message is more than 24 hours old, and a person's reply is free text, which Meta allows \
     only within 24 hours of the customer's message (only order updates go out as a template)";
/// Why the second and later parts of an order's notification do not go outside the window.
pub const TEMPLATE_STANDS_IN: &str = "outside the 24-hour window: the order template sent in \
     place of the first part told the customer of the change; the rest of the text is not sent";

/// An order's notification as the engine wrote it: the text parts, sent inside the window,
/// and the template message (the Cloud API's `template` object, as JSON) sent in their place
/// outside it, when the business configured one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notice {
    pub parts: Vec<String>,
    pub template: Option<String>,
}

/// Whose message a notice row is, told by its key: it decides what happens outside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeOf {
    /// An order's change (`order:<id>:<event>`).
    Order,
    /// A person's reply (`person:<n>`).
    PersonReply,
}

impl NoticeOf {
    /// The key of the notice of order `id`'s change number `seq`.
    pub fn order_key(id: &str, seq: i64) -> String {
        format!("order:{id}:{seq}")
    }

    /// The key of person reply number `row`.
    pub fn person_key(row: i64) -> String {
        format!("person:{row}")
    }

    /// Whose notice the row keyed `key` is.
    pub fn of_key(key: &str) -> NoticeOf {
        if key.starts_with("order:") {
            NoticeOf::Order
        } else {
            NoticeOf::PersonReply
        }
    }

    /// Why part `part` of such a notice does not go outside the window, or None where it goes
    /// (the first part of an order's notice that carries a template).
    pub fn outside_window(self, part: u32, has_template: bool) -> Option<&'static str> {
        match (self, has_template, part) {
            (NoticeOf::Order, true, 0) => None,
            (NoticeOf::Order, true, _) => Some(TEMPLATE_STANDS_IN),
            (NoticeOf::Order, false, _) => Some(NO_ORDER_TEMPLATE),
            (NoticeOf::PersonReply, _, _) => Some(PERSON_REPLY_OUTSIDE),
        }
    }
}

/// Why a notification made now could not be sent, if it could not. With a template all its
/// parts wait: should the customer write before their turn, they go as text; if not, the
/// sender sends the first as the template and gives the others up.
fn refusal(
    number: Option<&str>,
    customer: Option<(i64, bool)>,
    now: u64,
    (of, has_template): (NoticeOf, bool),
) -> Option<&'static str> {
    match (number, customer) {
        (None, _) => Some("the business has no WhatsApp number connected"),
        (_, None) => Some("the customer is not known to the WhatsApp channel"),
        (_, Some((_, true))) => Some("the customer opted out (STOP)"),
        (_, Some((last, false))) if now > last.max(0) as u64 + SERVICE_WINDOW_SECS => {
            of.outside_window(0, has_template)
        }
        _ => None,
    }
}

/// Writes `notice` as outbox rows to customer `wa_id`, keyed by `key` (one per order change,
/// so a change is notified once; `person:<id>` for a person's reply): pending, or dead
/// letters with the reason they cannot go, which is returned.
pub(in crate::store) fn enqueue(
    tx: &Transaction<'_>,
    business: &str,
    wa_id: &str,
    key: &str,
    quote: Option<&str>,
    notice: &Notice,
) -> Result<Option<&'static str>, StoreError> {
    if notice.parts.is_empty() {
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
    let of = NoticeOf::of_key(key);
    let reason = refusal(
        number.as_deref(),
        customer,
        at,
        (of, notice.template.is_some()),
    );
    let (state, done_at) = match reason {
        None => ("pending", None),
        Some(_) if number.is_none() => ("dead", Some(at as i64)),
        Some(_) => ("undeliverable", Some(at as i64)),
    };
    let due = (at as i64) * 1000;
    for (part, body) in notice.parts.iter().enumerate() {
        tx.execute(
            "INSERT OR IGNORE INTO wa_outbox (business_id, phone_number_id, wa_id, reply_to, kind, \
             part, body, state, error, next_attempt_ms, created_at, done_at, quote, template) \
             VALUES (?1, ?2, ?3, ?4, 'notice', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
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
                quote,
                notice.template
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
                Some("no order template configured"),
            ),
            (Some("111"), Some((fresh, true)), Some("opted out")),
            (None, Some((fresh, false)), Some("no WhatsApp number")),
            (Some("111"), None, Some("not known")),
        ];
        for (number, customer, expected) in cases {
            let got = refusal(*number, *customer, now, (NoticeOf::Order, false));
            match expected {
                None => assert_eq!(got, None, "{number:?} {customer:?}"),
                Some(part) => assert!(
                    got.is_some_and(|r| r.contains(part)),
                    "{number:?} {customer:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn outside_the_window_only_an_order_template_goes() {
        let now = 10 * SERVICE_WINDOW_SECS;
        let stale = Some(((now - SERVICE_WINDOW_SECS - 1) as i64, false));
        let fresh = Some(((now - 60) as i64, false));
        // (whose, part, template configured, the reason outside the window)
        let cases = [
            (NoticeOf::Order, 0, true, None),
            (NoticeOf::Order, 1, true, Some(TEMPLATE_STANDS_IN)),
            (NoticeOf::Order, 0, false, Some(NO_ORDER_TEMPLATE)),
            (NoticeOf::Order, 2, false, Some(NO_ORDER_TEMPLATE)),
            (NoticeOf::PersonReply, 0, false, Some(PERSON_REPLY_OUTSIDE)),
            (NoticeOf::PersonReply, 0, true, Some(PERSON_REPLY_OUTSIDE)),
        ];
        for (of, part, template, expected) in cases {
            assert_eq!(
                of.outside_window(part, template),
                expected,
                "{of:?} part {part} template {template}"
            );
            // Written now, a notice waits when its first part may go, and is refused with
            // the first part's reason otherwise; inside the window every part goes.
            let written = refusal(Some("111"), stale, now, (of, template));
            assert_eq!(written, of.outside_window(0, template));
            assert_eq!(refusal(Some("111"), fresh, now, (of, template)), None);
        }
        assert!(NO_ORDER_TEMPLATE.contains("order_template"));
        assert_eq!(
            NoticeOf::of_key(&NoticeOf::order_key("ord_1", 3)),
            NoticeOf::Order
        );
        assert_eq!(
            NoticeOf::of_key(&NoticeOf::person_key(3)),
            NoticeOf::PersonReply
        );
    }
}
