//! Customers Meta identifies by a business-scoped user id (BSUID) instead of, or beside, a
//! phone number; and messages that cannot be answered at all, which are recorded, never
//! dropped.

use clerk::channels::whatsapp::Fault;
use serde_json::{json, Value};

use super::{now, rand_id, runtime, Rig, BIKES, SECRET};

const NUMBER: &str = "15550007777";

/// A text message as Meta sends it for a customer: `from` only when the phone number is
/// shared, `from_user_id` always.
fn payload(wamid: &str, phone: Option<&str>, user_id: Option<&str>, text: &str) -> Vec<u8> {
    let mut contact = json!({"profile": {"name": "Kim"}});
    let mut message = json!({"id": wamid, "timestamp": now().to_string(), "type": "text",
                             "text": {"body": text}});
    if let Some(phone) = phone {
        contact["wa_id"] = json!(phone);
        message["from"] = json!(phone);
    }
    if let Some(user_id) = user_id {
        contact["user_id"] = json!(user_id);
        message["from_user_id"] = json!(user_id);
    }
    let contacts = if phone.is_some() || user_id.is_some() {
        json!([contact])
    } else {
        json!([])
    };
    json!({"object": "whatsapp_business_account", "entry": [{"id": "0", "changes": [{
        "field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550000000", "phone_number_id": NUMBER},
                  "contacts": contacts, "messages": [message]}}]}]})
    .to_string()
    .into_bytes()
}

async fn deliver(rig: &Rig, phone: Option<&str>, user_id: Option<&str>, text: &str) -> String {
    let wamid = format!("wamid.id.{}", rand_id());
    let body = payload(&wamid, phone, user_id, text);
    assert_eq!(rig.post(&body, Some(SECRET)).await, 200);
    wamid
}

#[test]
fn a_customer_known_only_by_user_id_is_answered_through_recipient() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        rig.connect(BIKES, NUMBER).await;

        let user = "US.13491208655302741918";
        let wamid = deliver(&rig, None, Some(user), "When are you open on Saturday?").await;
        let replies = rig.settled(&wamid).await;
        assert!(!replies.is_empty(), "no reply to a user-id-only customer");
        let sent = rig.fake.replies_to(&wamid);
        assert!(sent.iter().all(|m| m.to == user), "{sent:?}");
        let (status, customer) = rig
            .get(&format!("/v1/businesses/{BIKES}/whatsapp/customers/{user}"))
            .await;
        assert_eq!(status, 200, "{customer}");
        assert_eq!(customer["wa_id"], user);
        // The conversation is the user id's.
        let (status, conversation) = rig
            .get(&format!("/v1/businesses/{BIKES}/conversations/wa:{user}"))
            .await;
        assert_eq!(status, 200, "{conversation}");

        // A customer whose number Meta shared once stays one customer when later messages
        // carry only the user id: the reply goes to the number, in the same conversation.
        let (phone, user2) = ("4915112345678", "DE.ABC123xyz");
        let first = deliver(&rig, Some(phone), Some(user2), "Do you repair e-bikes?").await;
        rig.settled(&first).await;
        let later = deliver(&rig, None, Some(user2), "And how long does it take?").await;
        rig.settled(&later).await;
        let sent = rig.fake.replies_to(&later);
        assert!(
            !sent.is_empty() && sent.iter().all(|m| m.to == phone),
            "{sent:?}"
        );
        let (_, customer) = rig
            .get(&format!(
                "/v1/businesses/{BIKES}/whatsapp/customers/{user2}"
            ))
            .await;
        assert_eq!(customer["wa_id"], phone, "{customer}");
        assert_eq!(customer["user_id"], user2, "{customer}");
    });
}

#[test]
fn a_user_id_meta_will_not_message_becomes_a_dead_letter_with_the_reason() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        rig.connect(BIKES, NUMBER).await;
        rig.fake.fail_next([Fault::Error {
            http: 400,
            code: 131062,
        }]);
        let wamid = deliver(&rig, None, Some("BR.998877"), "Vocês aceitam PIX?").await;
        rig.settled(&wamid).await;
        let (_, dead) = rig
            .get(&format!("/v1/businesses/{BIKES}/whatsapp/dead-letters"))
            .await;
        let letters = dead["dead_letters"].as_array().unwrap();
        assert!(
            letters
                .iter()
                .any(|l| l["wa_id"] == "BR.998877"
                    && l["reason"].as_str().unwrap().contains("131062")),
            "{dead}"
        );
    });
}

#[test]
fn a_message_naming_no_sender_is_recorded_with_its_reason() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        rig.connect(BIKES, NUMBER).await;
        let wamid = format!("wamid.nobody.{}", rand_id());
        let body = payload(&wamid, None, None, "hello?");
        // Meta re-delivers what it thinks was not taken: recorded once all the same.
        assert_eq!(rig.post(&body, Some(SECRET)).await, 200);
        assert_eq!(rig.post(&body, Some(SECRET)).await, 200);

        let (status, listed) = rig
            .get(&format!("/v1/businesses/{BIKES}/whatsapp/unanswered"))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            listed["unanswered"].as_array().unwrap().len(),
            1,
            "{listed}"
        );
        let entry: &Value = &listed["unanswered"][0];
        assert_eq!(entry["wamid"], wamid.as_str(), "{listed}");
        assert!(
            entry["reason"].as_str().unwrap().contains("no sender"),
            "{listed}"
        );
        let (_, connection) = rig.get(&format!("/v1/businesses/{BIKES}/whatsapp")).await;
        assert_eq!(connection["counts"]["unanswered"], 1, "{connection}");
        let metrics = rig.metrics().await;
        assert!(
            metrics.contains("clerk_whatsapp_events_total{event=\"unanswered\"} 1"),
            "{metrics}"
        );
        assert!(metrics.contains("clerk_whatsapp_messages{state=\"unanswered\"} 1"));
    });
}
