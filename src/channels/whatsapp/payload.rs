//! What a webhook delivery says, in clerk's terms: customer messages (with the text to answer,
//! or the kind to decline, or nothing to do), delivery statuses of our own messages, and
//! everything else Meta sends (calls, templates, account updates, echoes), which is ignored.
//!
//! The payload is read loosely through `serde_json::Value`: Meta adds fields and kinds over
//! time, and a delivery clerk does not understand must still be acknowledged, never refused.

use serde_json::Value;

use crate::engine::CartLine;

/// What a customer message asks of clerk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Text to answer: a text message, a media caption, a template's quick-reply button.
    Text(String),
    /// A tap on one of our reply buttons or list rows: the id we gave it and its title.
    Choice { id: String, title: String },
    /// A cart sent from the business's Meta catalog, with the customer's note.
    Cart {
        lines: Vec<CartLine>,
        note: Option<String>,
    },
    /// A message clerk cannot read (audio, sticker, location…): it gets a short reply saying
    /// only written questions are answered. Holds the message type.
    Unreadable(String),
    /// Needs no reply: reactions, deletions, edits, system notices, flow and call replies.
    NoReply(String),
}

/// Who wrote a message. Meta sends the phone number's WhatsApp id (`from`) when it may share
/// it, and the business-scoped user id (`from_user_id`, "US.1349…") with every message since
/// 2026; for customers who chose a username it may be the only one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Phone {
        wa_id: String,
        user_id: Option<String>,
    },
    UserId(String),
}

impl Sender {
    /// The customer's key: the phone number when known, else the user id.
    pub fn key(&self) -> &str {
        match self {
            Sender::Phone { wa_id, .. } => wa_id,
            Sender::UserId(user_id) => user_id,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Sender::Phone { user_id, .. } => user_id.as_deref(),
            Sender::UserId(user_id) => Some(user_id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub phone_number_id: String,
    pub wamid: String,
    pub sender: Sender,
    pub name: Option<String>,
    /// When the customer sent it, seconds since the epoch.
    pub timestamp: u64,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub phone_number_id: String,
    /// The id Meta gave our outbound message.
    pub message_id: String,
    pub status: String,
    pub timestamp: u64,
    /// `biz_opaque_callback_data`: the tracker we sent with the message.
    pub tracker: Option<String>,
    /// For `failed`: the error's code, title and details.
    pub error: Option<String>,
}

/// A customer message that cannot be answered, and why (it is recorded, never dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unanswerable {
    pub phone_number_id: String,
    pub wamid: Option<String>,
    pub kind: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Message(Message),
    Status(Status),
    Unanswerable(Unanswerable),
    /// Something clerk does not act on, named for the debug log.
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
#[error("the webhook body is not a WhatsApp notification: {0}")]
pub struct PayloadError(String);

fn text(value: &Value, path: &[&str]) -> Option<String> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn timestamp(value: &Value) -> u64 {
    match value.get("timestamp") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

/// The events of one delivery, in the order they appear.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, PayloadError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| PayloadError(format!("invalid JSON: {e}")))?;
    let object = root.get("object").and_then(Value::as_str).unwrap_or("");
    let Some(entries) = root.get("entry").and_then(Value::as_array) else {
        return Err(PayloadError("it has no \"entry\" list".into()));
    };
    let mut events = Vec::new();
    if object != "whatsapp_business_account" {
        events.push(Event::Ignored(format!("object {object:?}")));
        return Ok(events);
    }
    for change in entries
        .iter()
        .filter_map(|e| e.get("changes").and_then(Value::as_array))
        .flatten()
    {
        let field = change.get("field").and_then(Value::as_str).unwrap_or("");
        let value = change.get("value").unwrap_or(&Value::Null);
        if field != "messages" {
            events.push(Event::Ignored(format!("field {field:?}")));
            continue;
        }
        let Some(phone_number_id) = text(value, &["metadata", "phone_number_id"]) else {
            events.push(Event::Ignored("a change without metadata".into()));
            continue;
        };
        let contacts = value.get("contacts").and_then(Value::as_array);
        for message in value
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let wamid = text(message, &["id"]);
            let sender = sender(message, contacts.map(Vec::as_slice).unwrap_or_default());
            let (Some(wamid), Some(sender)) = (wamid.clone(), sender) else {
                let reason = if wamid.is_none() {
                    "the message has no id, so it cannot be answered or told apart from a re-delivery"
                } else {
                    "the message names no sender (neither from nor from_user_id), so there is no one to answer"
                };
                events.push(Event::Unanswerable(Unanswerable {
                    phone_number_id: phone_number_id.clone(),
                    wamid,
                    kind: text(message, &["type"]).unwrap_or_else(|| "unknown".into()),
                    reason: reason.into(),
                }));
                continue;
            };
            let name = contacts
                .into_iter()
                .flatten()
                .find(|c| {
                    let of = |key: &str| text(c, &[key]);
                    match &sender {
                        Sender::Phone { wa_id, user_id } => {
                            of("wa_id").as_ref() == Some(wa_id)
                                || (user_id.is_some() && of("user_id") == *user_id)
                        }
                        Sender::UserId(user_id) => of("user_id").as_ref() == Some(user_id),
                    }
                })
                .and_then(|c| text(c, &["profile", "name"]));
            events.push(Event::Message(Message {
                phone_number_id: phone_number_id.clone(),
                wamid,
                sender,
                name,
                timestamp: timestamp(message),
                content: content(message),
            }));
        }
        for status in value
            .get("statuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(message_id), Some(state)) =
                (text(status, &["id"]), text(status, &["status"]))
            else {
                events.push(Event::Ignored("a status without id".into()));
                continue;
            };
            let error = status
                .get("errors")
                .and_then(Value::as_array)
                .and_then(|errors| errors.first())
                .map(describe_error);
            events.push(Event::Status(Status {
                phone_number_id: phone_number_id.clone(),
                message_id,
                status: state.to_lowercase(),
                timestamp: timestamp(status),
                tracker: text(status, &["biz_opaque_callback_data"]),
                error,
            }));
        }
        if value.get("messages").is_none() && value.get("statuses").is_none() {
            events.push(Event::Ignored("a messages change without messages".into()));
        }
    }
    Ok(events)
}

/// The sender of `message`: `from` (or the matching contact's `wa_id`) and `from_user_id`
/// (or the contact's `user_id`). With a single contact, its ids stand for the sender even
/// where the message itself leaves them out.
fn sender(message: &Value, contacts: &[Value]) -> Option<Sender> {
    let only_contact = match contacts {
        [one] => Some(one),
        _ => None,
    };
    let wa_id = text(message, &["from"]).or_else(|| only_contact.and_then(|c| text(c, &["wa_id"])));
    let user_id = text(message, &["from_user_id"])
        .or_else(|| only_contact.and_then(|c| text(c, &["user_id"])));
    match (wa_id, user_id) {
        (Some(wa_id), user_id) => Some(Sender::Phone { wa_id, user_id }),
        (None, Some(user_id)) => Some(Sender::UserId(user_id)),
        (None, None) => None,
    }
}

/// "code 131047: Re-engagement message (details…)" from a Graph error object.
pub fn describe_error(error: &Value) -> String {
    let code = error
        .get("code")
        .map(|c| c.to_string())
        .unwrap_or_else(|| "?".into());
    let title = text(error, &["title"])
        .or_else(|| text(error, &["message"]))
        .unwrap_or_else(|| "unknown error".into());
    match text(error, &["error_data", "details"]) {
        Some(details) if details != title => format!("code {code}: {title} ({details})"),
        _ => format!("code {code}: {title}"),
    }
}

fn content(message: &Value) -> Content {
    let kind = text(message, &["type"]).unwrap_or_else(|| "unknown".into());
    let found = match kind.as_str() {
        "text" => text(message, &["text", "body"]),
        "image" | "video" | "document" => text(message, &[kind.as_str(), "caption"]),
        "button" => text(message, &["button", "text"]),
        "interactive" => {
            let reply = message.get("interactive").unwrap_or(&Value::Null);
            let kind = text(reply, &["type"]).unwrap_or_default();
            if !matches!(kind.as_str(), "button_reply" | "list_reply") {
                // Flow and call-permission replies answer something the business asked.
                return Content::NoReply("interactive".into());
            }
            let (id, title) = (
                text(reply, &[kind.as_str(), "id"]),
                text(reply, &[kind.as_str(), "title"]),
            );
            return match (id, title) {
                (Some(id), Some(title)) => Content::Choice { id, title },
                (None, Some(title)) => Content::Text(title),
                _ => Content::Unreadable("interactive".into()),
            };
        }
        "order" => {
            let order = message.get("order").unwrap_or(&Value::Null);
            let lines: Vec<CartLine> = order
                .get("product_items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(cart_line)
                .collect();
            if lines.is_empty() {
                return Content::Unreadable(kind);
            }
            return Content::Cart {
                lines,
                note: text(order, &["text"]),
            };
        }
        "reaction" | "system" | "revoke" | "edit" | "request_welcome" | "ephemeral" => {
            return Content::NoReply(kind)
        }
        _ => None,
    };
    match found {
        Some(text) => Content::Text(text),
        None => Content::Unreadable(kind),
    }
}

/// One line of a cart: Meta sends the quantity and price as strings or numbers.
fn cart_line(item: &Value) -> Option<CartLine> {
    let number = |key: &str| match item.get(key) {
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(CartLine {
        retailer_id: text(item, &["product_retailer_id"])?,
        quantity: number("quantity")?.parse().ok()?,
        price: number("item_price"),
        currency: text(item, &["currency"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn delivery(message: Value) -> Vec<u8> {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "1", "phone_number_id": "42"},
                      "contacts": [{"profile": {"name": "Ana"}, "wa_id": "551199"}],
                      "messages": [message]}}]}]})
        .to_string()
        .into_bytes()
    }

    /// `base` with the fields of `extra` added.
    fn merged(mut base: Value, extra: Value) -> Value {
        if let (Some(fields), Value::Object(more)) = (base.as_object_mut(), extra) {
            fields.extend(more);
        }
        base
    }

    fn only_content(message: Value) -> Content {
        match parse(&delivery(message)).unwrap().as_slice() {
            [Event::Message(m)] => m.content.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn text_captions_and_titles_are_answered() {
        let with = |extra| {
            merged(
                json!({"from": "551199", "id": "wamid.1", "timestamp": "1700000000"}),
                extra,
            )
        };
        assert_eq!(
            only_content(with(
                json!({"type": "text", "text": {"body": " Vocês aceitam PIX? "}})
            )),
            Content::Text("Vocês aceitam PIX?".into())
        );
        assert_eq!(
            only_content(with(
                json!({"type": "image", "image": {"id": "1", "caption": "is this in stock?"}})
            )),
            Content::Text("is this in stock?".into())
        );
        assert_eq!(
            only_content(with(json!({"type": "image", "image": {"id": "1"}}))),
            Content::Unreadable("image".into())
        );
        assert_eq!(
            only_content(with(json!({"type": "audio", "audio": {"id": "1"}}))),
            Content::Unreadable("audio".into())
        );
        assert_eq!(
            only_content(with(
                json!({"type": "reaction", "reaction": {"message_id": "x", "emoji": "👍"}})
            )),
            Content::NoReply("reaction".into())
        );
        let m = match parse(&delivery(with(
            json!({"type": "text", "text": {"body": "hi"}}),
        )))
        .unwrap()
        .remove(0)
        {
            Event::Message(m) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(m.name.as_deref(), Some("Ana"));
        assert_eq!(m.timestamp, 1_700_000_000);
        assert_eq!(m.phone_number_id, "42");
    }

    /// Taps on our buttons and list rows are choices by id; a cart is its lines (pywa's
    /// shapes, as Meta documents them).
    #[test]
    fn choices_and_carts_are_read() {
        let with = |extra| {
            merged(
                json!({"from": "551199", "id": "wamid.2", "timestamp": "1700000000"}),
                extra,
            )
        };
        assert_eq!(
            only_content(with(json!({"type": "interactive", "interactive": {
                "type": "button_reply", "button_reply": {"id": "order:ord_1:confirm", "title": "Bestätigen"}}}))),
            Content::Choice {
                id: "order:ord_1:confirm".into(),
                title: "Bestätigen".into()
            }
        );
        assert_eq!(
            only_content(with(json!({"type": "interactive", "interactive": {
                "type": "list_reply", "list_reply": {"id": "pick:1:-:ab.3", "title": "Lock", "description": "€ 30"}}}))),
            Content::Choice {
                id: "pick:1:-:ab.3".into(),
                title: "Lock".into()
            }
        );
        assert_eq!(
            only_content(with(json!({"type": "interactive", "interactive": {
                "type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}}))),
            Content::NoReply("interactive".into())
        );
        assert_eq!(
            only_content(with(json!({"type": "order", "order": {
            "catalog_id": "123", "text": "bis Freitag bitte",
            "product_items": [
                {"product_retailer_id": "9783596574629", "quantity": "2", "item_price": "16.00", "currency": "EUR"},
                {"product_retailer_id": "x", "quantity": 1, "item_price": 4.5, "currency": "EUR"},
                {"quantity": "1"}
            ]}}))),
            Content::Cart {
                lines: vec![
                    CartLine {
                        retailer_id: "9783596574629".into(),
                        quantity: 2,
                        price: Some("16.00".into()),
                        currency: Some("EUR".into())
                    },
                    CartLine {
                        retailer_id: "x".into(),
                        quantity: 1,
                        price: Some("4.5".into()),
                        currency: Some("EUR".into())
                    },
                ],
                note: Some("bis Freitag bitte".into()),
            }
        );
        assert_eq!(
            only_content(with(
                json!({"type": "order", "order": {"product_items": []}})
            )),
            Content::Unreadable("order".into())
        );
    }

    #[test]
    fn a_customer_known_only_by_user_id_is_a_sender() {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                      "metadata": {"display_phone_number": "1", "phone_number_id": "42"},
                      "contacts": [{"profile": {"name": "Ana", "username": "ana"}, "user_id": "BR.5511AB"}],
                      "messages": [
                          {"from_user_id": "BR.5511AB", "id": "wamid.1", "timestamp": "1",
                           "type": "text", "text": {"body": "oi"}},
                          {"id": "wamid.2", "timestamp": "1", "type": "text", "text": {"body": "?"}},
                          {"from": "551199", "timestamp": "1", "type": "text", "text": {"body": "?"}}
                      ]}}]}]})
        .to_string();
        let events = parse(body.as_bytes()).unwrap();
        match &events[0] {
            Event::Message(m) => {
                assert_eq!(m.sender, Sender::UserId("BR.5511AB".into()));
                assert_eq!(m.sender.key(), "BR.5511AB");
                assert_eq!(m.name.as_deref(), Some("Ana"));
            }
            other => panic!("{other:?}"),
        }
        // The lone contact stands for the sender the message leaves out.
        match &events[1] {
            Event::Message(m) => assert_eq!(m.sender, Sender::UserId("BR.5511AB".into())),
            other => panic!("{other:?}"),
        }
        match &events[2] {
            Event::Unanswerable(u) => {
                assert_eq!(u.wamid, None);
                assert!(u.reason.contains("no id"), "{}", u.reason);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn not_json_is_an_error_and_other_objects_are_ignored() {
        assert!(parse(b"{").is_err());
        assert!(parse(b"{}").is_err());
        assert_eq!(
            parse(br#"{"object":"page","entry":[]}"#).unwrap(),
            vec![Event::Ignored("object \"page\"".into())]
        );
    }
}
