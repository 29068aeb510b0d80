//! Sending the outbox: each customer's oldest open row, one at a time per customer (so replies
//! arrive in order), many customers at once, paced per number below Meta's 80 messages/s.
//! Failures that pass are retried with exponential backoff and full jitter; refusals become
//! dead letters with Meta's reason; a reply outside the 24-hour window is never attempted,
//! except an order's notification that carries the business's order template, which is sent
//! as that template instead.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::graph::{Graph, Outcome};
use super::WhatsApp;
use crate::engine::whatsapp::{DueOutbound, NoticeOf, WhatsAppDesk, SERVICE_WINDOW_SECS};
use crate::engine::EngineError;

/// Requests in flight at once, across customers.
const IN_FLIGHT: usize = 32;
const POLL: Duration = Duration::from_millis(250);

/// Spaces each number's requests `1/max_per_second` apart.
struct Pacer {
    interval: Duration,
    next: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    fn new(max_per_second: u32) -> Pacer {
        Pacer {
            interval: Duration::from_secs_f64(1.0 / f64::from(max_per_second.max(1))),
            next: Mutex::default(),
        }
    }

    async fn wait(&self, number: &str) {
        let slot = {
            let mut next = self.next.lock();
            let now = Instant::now();
            let slot = next.get(number).copied().unwrap_or(now).max(now);
            next.insert(number.to_string(), slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The wait before attempt `attempts + 1`: base·2^(attempts−1), capped, with full jitter over
/// its upper half so that many rows failing together do not return together.
pub fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
    let ceiling = exp.min(max);
    let floor = ceiling / 2;
    floor + ceiling.mul_f64(rand::rng().random_range(0.0..0.5))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) async fn run(channel: Arc<WhatsApp>) {
    let grace = channel.settings.resend_grace;
    let (engine, numbers) = (channel.engine.clone(), channel.numbers());
    match tokio::task::spawn_blocking(move || {
        engine
            .whatsapp()
            .recover_sending(&numbers, grace.as_millis() as u64)
    })
    .await
    {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::warn!(
            rows = n,
            grace_s = grace.as_secs(),
            "messages were in flight when clerk stopped; each is sent again unless Meta's \
             status shows it arrived"
        ),
        Ok(Err(e)) => tracing::error!(error = %e, "recovering the WhatsApp outbox failed"),
        Err(e) => tracing::error!(error = %e, "recovering the WhatsApp outbox panicked"),
    }
    let pacer = Arc::new(Pacer::new(channel.settings.max_per_second));
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        let (engine, numbers) = (channel.engine.clone(), channel.numbers());
        let due =
            tokio::task::spawn_blocking(move || engine.whatsapp().due_outbound(&numbers, 256))
                .await;
        match due {
            Ok(Ok(rows)) => {
                for row in rows {
                    if !in_flight.lock().insert(row.id) {
                        continue;
                    }
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        return;
                    };
                    pacer.wait(&row.phone_number_id).await;
                    let (channel, in_flight) = (channel.clone(), in_flight.clone());
                    tokio::spawn(async move {
                        let id = row.id;
                        if let Err(e) = send(&channel, row).await {
                            tracing::error!(outbox = id, error = %e, "recording a send failed");
                        }
                        in_flight.lock().remove(&id);
                        drop(permit);
                        channel.outbox.notify_one();
                    });
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "reading the WhatsApp outbox failed"),
            Err(e) => tracing::error!(error = %e, "the outbox reader panicked"),
        }
        tokio::select! {
            _ = channel.outbox.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Runs an outbox write on the blocking pool. A call that panics is logged and counts as one
/// that did nothing (`T::default()`: for `mark_sending`, "do not send").
async fn on_outbox<T: Default + Send + 'static>(
    channel: &WhatsApp,
    call: impl FnOnce(WhatsAppDesk<'_>) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, EngineError> {
    let engine = channel.engine.clone();
    match tokio::task::spawn_blocking(move || call(engine.whatsapp())).await {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(error = %e, "an outbox write panicked");
            Ok(T::default())
        }
    }
}

/// Sends one row and records what became of it.
async fn send(channel: &Arc<WhatsApp>, row: DueOutbound) -> Result<(), EngineError> {
    let id = row.id;
    let m = &channel.metrics;
    let Some(account) = channel.account_of_number(&row.phone_number_id) else {
        m.dead.fetch_add(1, Ordering::Relaxed);
        return on_outbox(channel, move |s: WhatsAppDesk<'_>| {
            s.give_up(id, "dead", "the number is no longer connected to clerk")
        })
        .await;
    };
    let outside_window =
        row.kind != "read" && now_secs() > row.last_inbound_at + SERVICE_WINDOW_SECS;
    if outside_window {
        let body = match outside_window_body(&row) {
            Ok(body) => body,
            Err(reason) => {
                m.undeliverable.fetch_add(1, Ordering::Relaxed);
                return on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                    s.give_up(id, "undeliverable", reason)
                })
                .await;
            }
        };
        return deliver(channel, &account.access_token, row, body).await;
    }
    let body = match (row.kind.as_str(), &row.body) {
        ("read", _) => Graph::read_body(&row.reply_to),
        // An order's notification answers no message of the customer's; a person's reply
        // quotes the one it answers.
        ("notice", Some(text)) => match &row.quote {
            Some(quote) => Graph::text_body(&row.wa_id, quote, text, id),
            None => Graph::notice_body(&row.wa_id, text, id),
        },
        ("interactive", Some(json)) => match serde_json::from_str(json) {
            Ok(interactive) => Graph::interactive_body(&row.wa_id, &row.reply_to, interactive, id),
            Err(_) => {
                return on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                    s.give_up(id, "dead", "an interactive message that is not JSON")
                })
                .await
            }
        },
        (_, Some(text)) => Graph::text_body(&row.wa_id, &row.reply_to, text, id),
        (_, None) => {
            return on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                s.give_up(id, "dead", "an empty message")
            })
            .await
        }
    };
    deliver(channel, &account.access_token, row, body).await
}

/// What goes outside the 24-hour window in the row's place: the template an order's notice
/// carries, as a request body; else why nothing goes.
fn outside_window_body(row: &DueOutbound) -> Result<serde_json::Value, &'static str> {
    if row.kind != "notice" {
        return Err(
            "the customer's last message is more than 24 hours old; outside the \
             customer-service window only a template message may be sent",
        );
    }
    if let Some(reason) =
        NoticeOf::of_key(&row.reply_to).outside_window(row.part, row.template.is_some())
    {
        return Err(reason);
    }
    match row.template.as_deref().map(serde_json::from_str) {
        Some(Ok(template)) => Ok(Graph::template_body(&row.wa_id, template, row.id)),
        _ => Err("an order template message that is not JSON"),
    }
}

/// Shows the customer who sent `wamid` that a reply is being typed (and marks the message
/// read), at once and outside the outbox: it is a courtesy while the model writes, not a
/// message, so it is sent once, never retried nor paced (one per drafted reply, far below the
/// number's limit), and a failure changes nothing — the reply's own read receipt still goes
/// through the outbox.
pub(super) fn show_typing(channel: &WhatsApp, phone_number_id: &str, wamid: &str) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Some(account) = channel.account_of_number(phone_number_id) else {
        return;
    };
    let graph = channel.graph.clone();
    let body = Graph::typing_body(wamid);
    let number = phone_number_id.to_string();
    runtime.spawn(async move {
        let outcome = graph.send(&number, &account.access_token, &body).await;
        if !matches!(outcome, Outcome::Sent(_)) {
            tracing::debug!(?outcome, "typing indicator not shown");
        }
    });
}

/// Sends `body` for the row and records what became of it: marked `sending` first, then sent,
/// retried or given up by Meta's answer.
async fn deliver(
    channel: &Arc<WhatsApp>,
    access_token: &str,
    row: DueOutbound,
    body: serde_json::Value,
) -> Result<(), EngineError> {
    let id = row.id;
    let m = &channel.metrics;
    // Durable before the request leaves: a crash from here on is found and settled at start.
    if !on_outbox(channel, move |s: WhatsAppDesk<'_>| s.mark_sending(id)).await? {
        return Ok(());
    }
    let outcome = channel
        .graph
        .send(&row.phone_number_id, access_token, &body)
        .await;
    let settings = &channel.settings;
    match outcome {
        Outcome::Sent(message_id) => {
            if row.kind != "read" {
                m.sent.fetch_add(1, Ordering::Relaxed);
            }
            on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                s.mark_sent(id, message_id.as_deref())
            })
            .await
        }
        Outcome::Retry { reason, at_least } => {
            m.retries.fetch_add(1, Ordering::Relaxed);
            let delay = backoff(row.attempts + 1, settings.retry_base, settings.retry_max)
                .max(at_least.unwrap_or(Duration::ZERO));
            tracing::info!(
                outbox = id,
                attempt = row.attempts + 1,
                retry_in_ms = delay.as_millis() as u64,
                reason,
                "WhatsApp send will be retried"
            );
            on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                s.retry_later(id, delay.as_millis() as u64, &reason)
            })
            .await
        }
        Outcome::Unknown(reason) => {
            m.retries.fetch_add(1, Ordering::Relaxed);
            // As after a crash: Meta's status, carrying the tracker, may still settle it.
            let delay = settings.resend_grace.max(backoff(
                row.attempts + 1,
                settings.retry_base,
                settings.retry_max,
            ));
            tracing::warn!(
                outbox = id,
                retry_in_ms = delay.as_millis() as u64,
                reason,
                "no answer to a WhatsApp send; it goes again unless Meta's status shows it arrived"
            );
            on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                s.retry_later(id, delay.as_millis() as u64, &reason)
            })
            .await
        }
        Outcome::Permanent(reason) => {
            if row.kind == "read" {
                // A read receipt Meta refuses changes nothing for the customer.
                tracing::debug!(outbox = id, reason, "read receipt refused");
                return on_outbox(channel, move |s: WhatsAppDesk<'_>| s.mark_sent(id, None)).await;
            }
            m.dead.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                outbox = id,
                reason,
                "WhatsApp message refused; kept as a dead letter"
            );
            on_outbox(channel, move |s: WhatsAppDesk<'_>| {
                s.give_up(id, "dead", &reason)
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_cap_with_jitter() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempts in 1..12 {
            let d = backoff(attempts, base, max);
            let ceiling = (base * 2u32.pow(attempts - 1)).min(max);
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempts}: {d:?}");
        }
    }

    fn row(kind: &str, reply_to: &str, part: u32, template: Option<&str>) -> DueOutbound {
        DueOutbound {
            id: 7,
            business_id: "shop".into(),
            phone_number_id: "111".into(),
            wa_id: "4915100000000".into(),
            reply_to: reply_to.into(),
            kind: kind.into(),
            body: Some("Ihre Bestellung …".into()),
            quote: None,
            part,
            template: template.map(str::to_string),
            attempts: 0,
            last_inbound_at: 0,
        }
    }

    #[test]
    fn outside_the_window_only_an_order_notice_with_its_template_goes() {
        let template = r#"{"name":"order_update","language":{"code":"de"},"components":[]}"#;
        // (the row, the reason's words or None where the template goes)
        let cases = [
            (row("notice", "order:ord_1:2", 0, Some(template)), None),
            (
                row("notice", "order:ord_1:2", 1, Some(template)),
                Some("the order template sent in place of the first part"),
            ),
            (
                row("notice", "order:ord_1:2", 0, None),
                Some("set `order_template`"),
            ),
            (
                row("notice", "person:3", 0, None),
                Some("a person's reply is free text"),
            ),
            (
                row("text", "wamid.1", 0, None),
                Some("only a template message may be sent"),
            ),
            (
                row("notice", "order:ord_1:2", 0, Some("{not json")),
                Some("not JSON"),
            ),
        ];
        for (row, expected) in cases {
            match (outside_window_body(&row), expected) {
                (Ok(body), None) => {
                    assert_eq!(body["type"], "template");
                    assert_eq!(body["template"]["name"], "order_update");
                    assert_eq!(body["to"], "4915100000000");
                    assert_eq!(body["biz_opaque_callback_data"], "clerk:7");
                    assert!(body.get("context").is_none());
                }
                (Err(reason), Some(words)) => {
                    assert!(reason.contains(words), "{}: {reason}", row.reply_to)
                }
                (got, _) => panic!("{} part {}: {got:?}", row.reply_to, row.part),
            }
        }
    }
}
