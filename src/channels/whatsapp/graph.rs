//! The Cloud API's send endpoint, `POST {graph}/{version}/{phone_number_id}/messages`, and what
//! its answers mean for a message: sent, try again later, or never.
//!
//! Meta asks clients to act on the error `code`, not its text: throttling and outages
//! (130429, 131056, 4, 80007, 131016, 131000, any 5xx or HTTP 429, timeouts) pass; everything
//! else (131047 outside the 24-hour window, 131026 undeliverable, 131051 unsupported, 190 an
//! expired token, 132xxx templates, …) will fail the same way again.

use std::time::Duration;

use serde_json::{json, Value};

use super::payload::describe_error;

/// Codes that say "not now" rather than "never".
const PASSING_CODES: &[i64] = &[1, 2, 4, 17, 341, 80007, 130429, 131000, 131016, 131056];
/// The pair rate limit allows about one message every 6 s to the same customer.
const PAIR_RATE_CODE: i64 = 131056;

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Meta took it; the message id it gave (read receipts get none).
    Sent(Option<String>),
    /// Try again, no sooner than `at_least` when Meta said so.
    Retry {
        reason: String,
        at_least: Option<Duration>,
    },
    /// The request left but no answer came back (a timeout, a connection cut after sending):
    /// Meta may have the message. Sent again only if its status does not show up first.
    Unknown(String),
    /// Sending it again would fail the same way.
    Permanent(String),
}

/// The Cloud API as clerk calls it.
#[derive(Clone)]
pub struct Graph {
    client: reqwest::Client,
    base: String,
    version: String,
}

/// The tracker sent with a reply and returned in its status webhooks.
pub fn tracker(outbox_id: i64) -> String {
    format!("clerk:{outbox_id}")
}

pub fn parse_tracker(tracker: &str) -> Option<i64> {
    tracker.strip_prefix("clerk:")?.parse().ok()
}

impl Graph {
    pub fn new(base: &str, version: &str, timeout: Duration) -> Graph {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .expect("an HTTP client with default TLS");
        Graph {
            client,
            base: base.trim_end_matches('/').to_string(),
            version: version.trim_matches('/').to_string(),
        }
    }

    /// A text message to customer `to` (see [`recipient_field`]), quoting `reply_to`.
    pub fn text_body(to: &str, reply_to: &str, text: &str, outbox_id: i64) -> Value {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": "text",
            "context": {"message_id": reply_to},
            "text": {"body": text, "preview_url": false},
            "biz_opaque_callback_data": tracker(outbox_id),
        });
        body[recipient_field(to)] = json!(to);
        body
    }

    /// A text message to customer `to` that quotes nothing (an order's notification).
    pub fn notice_body(to: &str, text: &str, outbox_id: i64) -> Value {
        let mut body = Self::text_body(to, "", text, outbox_id);
        if let Some(fields) = body.as_object_mut() {
            fields.remove("context");
        }
        body
    }

    /// A template message (`template`, the object `template::order_update` built) to customer
    /// `to`, outside the 24-hour window; it quotes nothing.
    pub fn template_body(to: &str, template: Value, outbox_id: i64) -> Value {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": "template",
            "template": template,
            "biz_opaque_callback_data": tracker(outbox_id),
        });
        body[recipient_field(to)] = json!(to);
        body
    }

    /// Reply buttons or a list (`interactive`, built by `interactive::parts`) to customer
    /// `to`, quoting `reply_to`.
    pub fn interactive_body(to: &str, reply_to: &str, interactive: Value, outbox_id: i64) -> Value {
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "type": "interactive",
            "context": {"message_id": reply_to},
            "interactive": interactive,
            "biz_opaque_callback_data": tracker(outbox_id),
        });
        body[recipient_field(to)] = json!(to);
        body
    }

    /// Marks the customer's message as read (blue ticks).
    pub fn read_body(message_id: &str) -> Value {
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": message_id})
    }

    /// Marks the customer's message as read and shows them that a reply is being typed; Meta
    /// shows it until the reply arrives or 25 s have passed.
    pub fn typing_body(message_id: &str) -> Value {
        let mut body = Self::read_body(message_id);
        body["typing_indicator"] = json!({"type": "text"});
        body
    }

    pub async fn send(&self, phone_number_id: &str, token: &str, body: &Value) -> Outcome {
        let url = format!(
            "{}/{}/{}/messages",
            self.base, self.version, phone_number_id
        );
        let response = match self
            .client
            .post(&url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
        {
            Ok(response) => response,
            // Never connected: the message did not leave.
            Err(e) if e.is_connect() => {
                return Outcome::Retry {
                    reason: format!("the Cloud API could not be reached: {e}"),
                    at_least: None,
                }
            }
            Err(e) if e.is_timeout() => {
                return Outcome::Unknown("the Cloud API did not answer in time".to_string())
            }
            Err(e) => return Outcome::Unknown(format!("the Cloud API's answer was lost: {e}")),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        // A 2xx whose body is unreadable still means Meta took the message.
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            let id = answer
                .pointer("/messages/0/id")
                .and_then(Value::as_str)
                .map(str::to_string);
            return Outcome::Sent(id);
        }
        classify(status.as_u16(), &answer, retry_after)
    }
}

/// Where the Send API takes a customer's key: a phone number's WhatsApp id (digits only) in
/// `to`, a business-scoped user id ("US.13491208655302741918": a country code, a dot and
/// letters or digits) in `recipient`. Meta answers code 131062 where a message kind cannot go
/// to a user id; that is a refusal, and the reply becomes a dead letter with Meta's reason.
pub fn recipient_field(customer: &str) -> &'static str {
    if !customer.is_empty() && customer.bytes().all(|b| b.is_ascii_digit()) {
        "to"
    } else {
        "recipient"
    }
}

/// What a refused request means, from its HTTP status and Graph error.
pub fn classify(status: u16, answer: &Value, retry_after: Option<Duration>) -> Outcome {
    let error = answer.get("error");
    let code = error.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let reason = match error {
        Some(error) => format!("HTTP {status}, {}", describe_error(error)),
        None => format!("HTTP {status}"),
    };
    let passing = status == 429
        || status >= 500
        || status == 408
        || code.is_some_and(|c| PASSING_CODES.contains(&c));
    if passing {
        let at_least = if code == Some(PAIR_RATE_CODE) {
            Some(
                retry_after
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(6)),
            )
        } else {
            retry_after
        };
        Outcome::Retry { reason, at_least }
    } else {
        Outcome::Permanent(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64) -> Value {
        json!({"error": {"code": code, "message": "m", "error_data": {"details": "d"}}})
    }

    #[test]
    fn throttling_passes_and_refusals_do_not() {
        for code in [130429, 131056, 4, 80007, 131016] {
            assert!(
                matches!(classify(400, &error(code), None), Outcome::Retry { .. }),
                "{code}"
            );
        }
        for code in [131047, 131026, 131051, 190, 132000, 132012, 100] {
            assert!(
                matches!(classify(400, &error(code), None), Outcome::Permanent(_)),
                "{code}"
            );
        }
        assert!(matches!(
            classify(503, &Value::Null, None),
            Outcome::Retry { .. }
        ));
        assert!(matches!(
            classify(429, &Value::Null, Some(Duration::from_secs(3))),
            Outcome::Retry { at_least: Some(d), .. } if d == Duration::from_secs(3)
        ));
        match classify(400, &error(131047), None) {
            Outcome::Permanent(reason) => assert!(reason.contains("131047"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_real_error_samples_are_refusals() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/whatsapp/graph_error_responses.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let samples: Value = serde_json::from_str(&text).unwrap();
        for sample in samples["responses"].as_array().unwrap() {
            let code = sample["error"]["code"].as_i64().unwrap();
            let outcome = classify(400, sample, None);
            assert!(
                matches!(outcome, Outcome::Permanent(_)),
                "{code}: {outcome:?}"
            );
        }
        assert_eq!(parse_tracker(&tracker(17)), Some(17));
        assert_eq!(parse_tracker("some data"), None);
    }
}
