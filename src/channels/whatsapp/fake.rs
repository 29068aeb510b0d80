//! A stand-in for Meta's Cloud API on loopback, for the simulator, the tests and the load
//! benchmark: it takes sends and read receipts as Meta does, answers with Meta's shapes, fails
//! on demand (throttling, outages, timeouts, refusals, a connection that never answers), and
//! reports each accepted message back to clerk's webhook as a signed status, retrying that
//! delivery until clerk takes it, as Meta does.
//!
//! A template message is recorded with its template (name, language, parameters), after the
//! checks Meta makes of its text parameters (no line break or tab, at most four spaces in a
//! row, not empty), so a test sees both what was sent and that Meta would have taken it.
//!
//! Also here: the webhook payloads Meta would send for a customer's text and for a status, so
//! every caller builds them the same way.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::signature;

/// How the fake answers the next send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// An HTTP status with a Graph error of this code.
    Error { http: u16, code: i64 },
    /// No answer for this long, then a 503; the message is lost.
    Slow(Duration),
    /// Never answers; with `deliver` the message reaches the customer anyway (Meta took it
    /// and the answer was lost), without it the request is swallowed.
    Hang { deliver: bool },
}

/// A text message the fake accepted, as the customer would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeMessage {
    pub id: String,
    pub phone_number_id: String,
    pub to: String,
    /// The text, or an interactive message's body text.
    pub body: String,
    /// Reply buttons or a list: the `interactive` object as sent.
    pub interactive: Option<Value>,
    /// A template message: the `template` object as sent (`body` is then empty).
    pub template: Option<Value>,
    pub reply_to: Option<String>,
    pub tracker: Option<String>,
}

#[derive(Default)]
struct FakeState {
    messages: Vec<FakeMessage>,
    reads: Vec<String>,
    /// Typing indicators: the message each marks read, and how many messages had been
    /// accepted before it came.
    typing: Vec<(String, usize)>,
    faults: VecDeque<Fault>,
    requests: u64,
    /// Where and how to report statuses: clerk's webhook URL and the app secret.
    webhook: Option<(String, String)>,
    /// Statuses kept back (as when Meta's webhook delivery is late), with their number.
    held: Option<Vec<(String, FakeMessage)>>,
}

/// A running fake Cloud API.
#[derive(Clone)]
pub struct FakeCloud {
    pub base_url: String,
    state: Arc<Mutex<FakeState>>,
    client: reqwest::Client,
}

impl FakeCloud {
    /// Starts on a free loopback port of the current runtime.
    pub async fn start() -> std::io::Result<FakeCloud> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let fake = FakeCloud {
            base_url,
            state: Arc::default(),
            client: reqwest::Client::new(),
        };
        let app = Router::new()
            .route("/{version}/{number}/messages", post(messages))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    /// Reports each accepted message to `webhook_url`, signed with `app_secret`.
    pub fn report_statuses_to(&self, webhook_url: &str, app_secret: &str) {
        self.state.lock().webhook = Some((webhook_url.to_string(), app_secret.to_string()));
    }

    /// Answers the next sends with these faults, in order.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().faults.extend(faults);
    }

    /// Keeps statuses back until [`FakeCloud::release_statuses`], as a late webhook would.
    pub fn hold_statuses(&self) {
        self.state.lock().held.get_or_insert_with(Vec::new);
    }

    /// Reports the statuses held back, and those to come at once.
    pub fn release_statuses(&self) {
        let held = self.state.lock().held.take().unwrap_or_default();
        for (number, message) in held {
            self.report(&number, &message);
        }
    }

    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.lock().messages.clone()
    }

    /// The replies quoting `wamid`, in the order they arrived.
    pub fn replies_to(&self, wamid: &str) -> Vec<FakeMessage> {
        self.state
            .lock()
            .messages
            .iter()
            .filter(|m| m.reply_to.as_deref() == Some(wamid))
            .cloned()
            .collect()
    }

    pub fn reads(&self) -> Vec<String> {
        self.state.lock().reads.clone()
    }

    /// Typing indicators received: the customer message each was for, and how many messages
    /// the fake had accepted before it.
    pub fn typing(&self) -> Vec<(String, usize)> {
        self.state.lock().typing.clone()
    }

    /// Requests received, read receipts and failures included.
    pub fn requests(&self) -> u64 {
        self.state.lock().requests
    }

    fn report(&self, phone_number_id: &str, message: &FakeMessage) {
        let (url, secret) = {
            let mut state = self.state.lock();
            if let Some(held) = &mut state.held {
                held.push((phone_number_id.to_string(), message.clone()));
                return;
            }
            match state.webhook.clone() {
                Some(webhook) => webhook,
                None => return,
            }
        };
        let body = status_payload(
            phone_number_id,
            &message.id,
            "sent",
            &message.to,
            message.tracker.as_deref(),
        )
        .to_string();
        let client = self.client.clone();
        tokio::spawn(async move {
            // Meta retries a webhook delivery for hours; the fake, for ten minutes.
            for _ in 0..3000 {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header(
                        "x-hub-signature-256",
                        signature::header_for(&secret, body.as_bytes()),
                    )
                    .body(body.clone())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
}

async fn messages(
    State(fake): State<FakeCloud>,
    Path((_version, number)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > "Bearer ".len() && v.starts_with("Bearer "));
    if !authorized {
        return graph_error(401, 190, "Invalid OAuth access token.");
    }
    let fault = {
        let mut state = fake.state.lock();
        state.requests += 1;
        if body.get("status").and_then(Value::as_str) == Some("read") {
            let id = body["message_id"].as_str().unwrap_or_default().to_string();
            if body["typing_indicator"]["type"] == "text" {
                let accepted = state.messages.len();
                state.typing.push((id.clone(), accepted));
            }
            state.reads.push(id);
            return (StatusCode::OK, Json(json!({"success": true})));
        }
        state.faults.pop_front()
    };
    let message = FakeMessage {
        id: String::new(),
        phone_number_id: number.clone(),
        // A phone number in `to`, or a business-scoped user id in `recipient`.
        to: body["to"]
            .as_str()
            .or(body["recipient"].as_str())
            .unwrap_or_default()
            .to_string(),
        body: body["text"]["body"]
            .as_str()
            .or(body["interactive"]["body"]["text"].as_str())
            .unwrap_or_default()
            .to_string(),
        interactive: body.get("interactive").cloned(),
        template: body.get("template").cloned(),
        reply_to: body["context"]["message_id"].as_str().map(str::to_string),
        tracker: body["biz_opaque_callback_data"]
            .as_str()
            .map(str::to_string),
    };
    let accept = |mut message: FakeMessage| {
        let mut state = fake.state.lock();
        message.id = format!("wamid.fake.{}", state.messages.len() + 1);
        state.messages.push(message.clone());
        message
    };
    match fault {
        Some(Fault::Error { http, code }) => graph_error(http, code, "fault injected by the test"),
        Some(Fault::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            graph_error(503, 131016, "Service unavailable")
        }
        Some(Fault::Hang { deliver }) => {
            if deliver {
                let message = accept(message);
                fake.report(&number, &message);
            }
            std::future::pending().await
        }
        None => {
            if let Some(template) = &message.template {
                if let Err(problem) = check_template(template) {
                    return graph_error(400, 132012, problem);
                }
            } else if message.body.is_empty() {
                return graph_error(400, 100, "Invalid parameter");
            }
            if message.to.is_empty() {
                return graph_error(400, 100, "Invalid parameter");
            }
            let message = accept(message);
            fake.report(&number, &message);
            (
                StatusCode::OK,
                Json(json!({
                    "messaging_product": "whatsapp",
                    "contacts": [if body.get("to").is_some() {
                        json!({"input": message.to, "wa_id": message.to})
                    } else {
                        json!({"input": message.to, "user_id": message.to})
                    }],
                    "messages": [{"id": message.id}],
                })),
            )
        }
    }
}

/// Meta's checks of a template message's shape and text parameters; the problem, as Meta's
/// details word it, when one fails.
fn check_template(template: &Value) -> Result<(), &'static str> {
    if template["name"].as_str().is_none_or(str::is_empty)
        || template["language"]["code"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        return Err("a template needs a name and a language code");
    }
    let parameters = template["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parameters"].as_array().into_iter().flatten());
    for parameter in parameters {
        let text = parameter["text"].as_str().unwrap_or_default();
        if text.trim().is_empty() {
            return Err("Param text cannot be empty");
        }
        if text.contains(['\n', '\t']) || text.contains("     ") {
            return Err(
                "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
            );
        }
    }
    Ok(())
}

fn graph_error(http: u16, code: i64, message: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::from_u16(http).unwrap_or(StatusCode::BAD_REQUEST),
        Json(json!({"error": {
            "message": message, "type": "OAuthException", "code": code,
            "error_data": {"details": message}, "fbtrace_id": "fake"
        }})),
    )
}

/// The webhook payload Meta sends when customer `wa_id` writes `text`.
pub fn text_payload(
    phone_number_id: &str,
    wa_id: &str,
    wamid: &str,
    text: &str,
    timestamp: u64,
) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{
    "field": "messages",
    "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Customer"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": wamid, "timestamp": timestamp.to_string(),
                      "type": "text", "text": {"body": text}}]
    }}]}]})
}

/// The webhook payload Meta sends when customer `wa_id` taps the button or list row `id`
/// titled `title` of our interactive message `of` (as the fake recorded it).
pub fn choice_payload(
    phone_number_id: &str,
    wa_id: &str,
    wamid: &str,
    of: &Value,
    (id, title): (&str, &str),
    timestamp: u64,
) -> Value {
    let kind = if of["type"] == "list" {
        "list_reply"
    } else {
        "button_reply"
    };
    let mut payload = text_payload(phone_number_id, wa_id, wamid, "", timestamp);
    let message = &mut payload["entry"][0]["changes"][0]["value"]["messages"][0];
    message["type"] = json!("interactive");
    message["interactive"] = json!({"type": kind, kind: {"id": id, "title": title}});
    if let Some(fields) = message.as_object_mut() {
        fields.remove("text");
    }
    payload
}

/// The webhook payload Meta sends when our message `message_id` changes `status`.
pub fn status_payload(
    phone_number_id: &str,
    message_id: &str,
    status: &str,
    recipient: &str,
    tracker: Option<&str>,
) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut entry = json!({"id": message_id, "status": status, "timestamp": now.to_string(),
                           "recipient_id": recipient});
    if let Some(tracker) = tracker {
        entry["biz_opaque_callback_data"] = json!(tracker);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{
    "field": "messages",
    "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "statuses": [entry]
    }}]}]})
}
