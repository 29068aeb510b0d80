//! The business's order template and PIX text, through the settings route, the order routes,
//! the outbox and the fake Cloud API. A customer's last message is aged by the timestamp Meta
//! gives it (the webhook's `timestamp`, which the 24-hour window is counted from), so nothing
//! here waits out a day: outside the window an order update goes as the configured template,
//! in the customer's language where it was approved, with its parameters as Meta takes them;
//! without the setting it is a dead letter whose reason names it, as a person's reply stays
//! one either way. An accepted order's message carries the PIX text; a declined one's does not.

use reqwest::Method;
use serde_json::{json, Value};

use super::notify::received;
use super::{now, whatsapp_order, Rig, SHOP};
use clerk::engine::OrderState;

const DAY_AND_AN_HOUR: u64 = 25 * 3600;

/// The template's body parameters as the fake received them.
fn parameters(template: &Value) -> Vec<String> {
    template["components"][0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "text");
            p["text"].as_str().unwrap().to_string()
        })
        .collect()
}

fn reference(order_id: &str) -> String {
    format!("#{}", order_id[4..10].to_uppercase())
}

#[tokio::test]
async fn outside_the_window_an_order_update_goes_as_the_configured_template() {
    let rig = Rig::start().await;
    let template = json!({"name": "order_update", "languages": ["de", "en"]});
    let (status, body) = rig.put_settings(json!({"order_template": template})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order_template"], template);
    assert_eq!(body["pix"], Value::Null);

    // (customer, order language, action, note, template language, state parameter, note
    // parameter): the customer's language where approved, else the first listed; the note on
    // one line, "–" without one.
    let cases = [
        (
            "4917000000011",
            "de",
            "accept",
            Some("Abholung ab 10 Uhr.\nBitte bar   zahlen."),
            "de",
            "angenommen",
            "Abholung ab 10 Uhr. Bitte bar zahlen.",
        ),
        (
            "4917000000012",
            "en",
            "decline",
            None,
            "en",
            "declined",
            "–",
        ),
        (
            "4917000000013",
            "fr",
            "cancel",
            None,
            "de",
            "storniert",
            "–",
        ),
    ];
    for (wa_id, language, action, note, sent_in, state, note_parameter) in cases {
        let wamid = format!("wamid.{wa_id}.1");
        rig.customer_writes(
            wa_id,
            &wamid,
            "Ich möchte etwas bestellen",
            now() - DAY_AND_AN_HOUR,
        )
        .await;
        let mut order = whatsapp_order(wa_id, &format!("{wamid}.confirm"), OrderState::Placed);
        order.language = Some(language.into());
        let order = rig.create(order).await;
        let note = note.map(|n| json!({ "note": n }).to_string());
        let (status, body) = rig.act(&order.id, action, note.as_deref()).await;
        assert_eq!(status, 200, "{body}");

        let got = received(&rig, wa_id, 1).await;
        assert_eq!(got.len(), 1, "exactly one message: {got:?}");
        let sent = got[0].template.as_ref().expect("a template message");
        assert_eq!(sent["name"], "order_update", "{wa_id}");
        assert_eq!(sent["language"]["code"], sent_in, "{wa_id}");
        assert_eq!(
            parameters(sent),
            [reference(&order.id).as_str(), state, note_parameter],
            "{wa_id}"
        );
        assert_eq!(got[0].body, "", "no free text outside the window");
        assert_eq!(got[0].reply_to, None);
        assert!(got[0]
            .tracker
            .as_deref()
            .is_some_and(|t| t.starts_with("clerk:")));
    }
    let letters = rig.dead_letters().await;
    assert!(letters.is_empty(), "{letters:?}");

    // A person's reply is free text: outside the window it stays a dead letter, template or not.
    let stale = cases[0].0;
    let response = rig
        .client
        .post(rig.url(&format!(
            "/v1/businesses/{SHOP}/conversations/wa:{stale}/reply"
        )))
        .bearer_auth(&rig.key)
        .header("Idempotency-Key", "late-reply")
        .json(&json!({"text": "Hallo, hier ist Maria."}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let letters = rig.dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("a person's reply is free text"), "{reason}");
    assert_eq!(received(&rig, stale, 1).await.len(), 1);

    // With the template in force a note its parameter cannot carry is refused, and nothing
    // changes; the business can shorten it.
    let wa_id = cases[1].0;
    let order = rig
        .create(whatsapp_order(
            wa_id,
            "wamid.long.confirm",
            OrderState::Placed,
        ))
        .await;
    let long = json!({ "note": "Bitte beachten: ".repeat(30) }).to_string();
    let (status, body) = rig.act(&order.id, "accept", Some(&long)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_note");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("at most 400"), "{message}");
    assert_eq!(
        rig.engine.order(SHOP, &order.id).unwrap().state,
        OrderState::Placed
    );
}

#[tokio::test]
async fn without_a_template_a_stale_update_is_a_dead_letter_that_names_the_setting() {
    let rig = Rig::start().await;
    let ben = "4917000000021";
    rig.customer_writes(
        ben,
        "wamid.ben.1",
        "Buddenbrooks bitte",
        now() - DAY_AND_AN_HOUR,
    )
    .await;
    let order = rig
        .create(whatsapp_order(ben, "wamid.ben.confirm", OrderState::Placed))
        .await;
    let (status, _) = rig.act(&order.id, "accept", None).await;
    assert_eq!(status, 200);
    let letters = rig.dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["state"], "undeliverable");
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("outside the 24-hour window"), "{reason}");
    assert!(reason.contains("order_template"), "{reason}");
    assert!(rig.fake.messages().iter().all(|m| m.to != ben));
}

#[tokio::test]
async fn an_accepted_orders_message_carries_the_pix_text_and_a_declined_ones_does_not() {
    let rig = Rig::start().await;
    let pix = "00020126580014BR.GOV.BCB.PIX0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR5913Livraria Sol6009SAO PAULO62070503***6304ABCD";
    // What the setting takes: one line, not blank, not over 512 characters.
    for refused in [
        json!("linha 1\nlinha 2"),
        json!("   "),
        json!("x".repeat(513)),
    ] {
        let (status, body) = rig.put_settings(json!({ "pix": refused })).await;
        assert_eq!(status, 422, "{refused}: {body}");
        assert_eq!(body["error"]["code"], "invalid_setting");
    }
    let (status, body) = rig
        .put_settings(json!({ "pix": format!("  {pix} ") }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pix"], pix);
    let (status, body) = rig
        .call(
            Method::GET,
            &format!("/v1/businesses/{SHOP}/settings"),
            Some(&rig.key.clone()),
            None,
        )
        .await;
    assert_eq!((status, body["pix"].as_str()), (200, Some(pix)));

    // (customer, order language, action, the PIX label, or None for no PIX text)
    let cases = [
        (
            "5511988880001",
            "pt",
            "accept",
            Some("Pagamento por PIX (copia e cola):"),
        ),
        ("5511988880002", "pt", "decline", None),
        (
            "5511988880003",
            "de",
            "accept",
            Some("Zahlung per PIX (Copia e Cola):"),
        ),
        (
            "5511988880004",
            "es",
            "accept",
            Some("Pago con PIX (copia y pega):"),
        ),
    ];
    for (wa_id, language, action, label) in cases {
        let wamid = format!("wamid.{wa_id}.1");
        rig.customer_writes(wa_id, &wamid, "Quero encomendar dois livros", now())
            .await;
        let mut order = whatsapp_order(wa_id, &format!("{wamid}.confirm"), OrderState::Placed);
        order.language = Some(language.into());
        let order = rig.create(order).await;
        let (status, body) = rig.act(&order.id, action, None).await;
        assert_eq!(status, 200, "{body}");
        let got = received(&rig, wa_id, 1).await;
        assert_eq!(got.len(), 1, "{got:?}");
        match label {
            Some(label) => assert!(
                got[0].body.ends_with(&format!("\n\n{label}\n{pix}")),
                "{wa_id}: {}",
                got[0].body
            ),
            None => assert!(!got[0].body.contains(pix), "{wa_id}: {}", got[0].body),
        }
        if action == "accept" {
            // The next change of the same order says nothing of paying.
            let (status, _) = rig.act(&order.id, "ready", None).await;
            assert_eq!(status, 200);
            let got = received(&rig, wa_id, 2).await;
            assert!(!got[1].body.contains(pix), "{}", got[1].body);
        }
    }
}
