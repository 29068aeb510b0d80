//! A WhatsApp customer hears of the business's decisions: once per change, in their language,
//! through the outbox and the (fake) Cloud API; outside the 24-hour window never, and the
//! business sees the dead letter with its reason.

use std::time::{Duration, Instant};

use super::{now, whatsapp_order, Rig};
use clerk::channels::whatsapp::FakeMessage;
use clerk::engine::OrderState;

/// What the fake received for `wa_id`, once nothing has been on its way for a while.
pub(super) async fn received(rig: &Rig, wa_id: &str, at_least: usize) -> Vec<FakeMessage> {
    let started = Instant::now();
    loop {
        let got: Vec<_> = rig
            .fake
            .messages()
            .into_iter()
            .filter(|m| m.to == wa_id)
            .collect();
        if got.len() >= at_least {
            // The sender polls every 250 ms: a duplicate would have come by now.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            return rig
                .fake
                .messages()
                .into_iter()
                .filter(|m| m.to == wa_id)
                .collect();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{wa_id} got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_accepted_whatsapp_order_is_told_to_the_customer_exactly_once() {
    let rig = Rig::start().await;
    let anna = "4915123456789";
    rig.customer_writes(
        anna,
        "wamid.anna.1",
        "Ich möchte den Zauberberg reservieren",
        now(),
    )
    .await;
    // The confirming button reply, delivered twice: one order.
    let first = rig
        .create(whatsapp_order(
            anna,
            "wamid.anna.confirm",
            OrderState::Placed,
        ))
        .await;
    let again = rig
        .create(whatsapp_order(
            anna,
            "wamid.anna.confirm",
            OrderState::Placed,
        ))
        .await;
    assert_eq!(again.id, first.id);
    let list = rig.orders("").await;
    assert_eq!(list["orders"].as_array().unwrap().len(), 1);
    assert_eq!(list["orders"][0]["customer"]["wa_id"], anna);
    assert_eq!(list["orders"][0]["customer"]["name"], "Customer");
    assert_eq!(list["orders"][0]["language"], "de");

    let (status, body) = rig
        .act(
            &first.id,
            "accept",
            Some(r#"{"note": "Bitte an der Kasse bezahlen."}"#),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Accepting again is refused and sends nothing more.
    let (status, body) = rig.act(&first.id, "accept", None).await;
    assert_eq!(status, 409);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("ready, cancel"), "{message}");

    let got = received(&rig, anna, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let reference = format!("#{}", first.id[4..10].to_uppercase());
    assert_eq!(
        got[0].body,
        format!(
            "Ihre Bestellung {reference} wurde angenommen: 2 × Der Zauberberg (16,00 EUR), \
             1 × Buddenbrooks (14,00 EUR). Wir melden uns, sobald sie bereitliegt.\n\n\
             Hinweis: Bitte an der Kasse bezahlen."
        )
    );
    // A notification quotes none of the customer's messages, and carries its tracker.
    assert_eq!(got[0].reply_to, None);
    assert!(got[0]
        .tracker
        .as_deref()
        .is_some_and(|t| t.starts_with("clerk:")));

    // The next change is the next message, after the first.
    let (status, _) = rig.act(&first.id, "ready", None).await;
    assert_eq!(status, 200);
    let got = received(&rig, anna, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        got[1].body,
        format!(
            "Ihre Bestellung {reference} liegt zur Abholung bereit: 2 × Der Zauberberg \
             (16,00 EUR), 1 × Buddenbrooks (14,00 EUR)."
        )
    );
    let letters = rig.dead_letters().await;
    assert!(letters.is_empty(), "{letters:?}");
}

#[tokio::test]
async fn outside_the_24_hour_window_the_notification_is_a_dead_letter() {
    let rig = Rig::start().await;
    let (ben, carla) = ("4917000000001", "5511988887777");
    rig.customer_writes(
        ben,
        "wamid.ben.1",
        "Kann ich Buddenbrooks bestellen?",
        now() - 25 * 3600,
    )
    .await;
    rig.customer_writes(
        carla,
        "wamid.carla.1",
        "Quero encomendar dois livros",
        now(),
    )
    .await;
    let stale = rig
        .create(whatsapp_order(ben, "wamid.ben.confirm", OrderState::Placed))
        .await;
    let mut fresh = whatsapp_order(carla, "wamid.carla.confirm", OrderState::Placed);
    fresh.language = Some("pt".into());
    let fresh = rig.create(fresh).await;
    let (status, _) = rig.act(&stale.id, "decline", None).await;
    assert_eq!(status, 200);
    let (status, _) = rig.act(&fresh.id, "cancel", None).await;
    assert_eq!(status, 200);

    let got = received(&rig, carla, 1).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].body.starts_with("Seu pedido #"), "{}", got[0].body);
    assert!(got[0].body.contains("foi cancelado"), "{}", got[0].body);
    assert!(rig.fake.messages().iter().all(|m| m.to != ben));

    let letters = rig.dead_letters().await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["wa_id"], ben);
    assert_eq!(letters[0]["kind"], "notice");
    assert_eq!(letters[0]["state"], "undeliverable");
    let reason = letters[0]["reason"].as_str().unwrap();
    assert!(reason.contains("outside the 24-hour window"), "{reason}");
    assert!(letters[0]["body"]
        .as_str()
        .unwrap()
        .starts_with("Leider können wir Ihre Bestellung"));
}
