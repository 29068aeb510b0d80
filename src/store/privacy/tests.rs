//! Retention, erasure, export and a person's replies on an in-memory store.

use super::super::{shop_on_whatsapp, Exchange, InboundRecord, Outgoing, Processed, Store};
use super::*;

const DAY: u64 = 24 * 60 * 60;

fn message(wamid: &str, wa_id: &str, text: &str, sent_at: u64) -> InboundRecord {
    InboundRecord {
        wamid: wamid.into(),
        business_id: "shop".into(),
        phone_number_id: "111".into(),
        wa_id: wa_id.into(),
        user_id: None,
        name: Some("Anna Beispiel".into()),
        kind: "text".into(),
        text: Some(text.into()),
        sent_at,
        choice: None,
        cart: None,
    }
}

/// The customer writes `text` and clerk answers `reply` (written, not yet sent); the
/// disclosure, when given, goes first if due.
fn exchange(store: &Store, m: &InboundRecord, reply: &str, disclosure: Option<&str>) {
    store.accept_whatsapp(std::slice::from_ref(m), &[]).unwrap();
    let processed = Processed {
        outcome: "answered",
        exchange: Some(Exchange {
            question: m.text.as_deref().unwrap(),
            reply,
            mode: "faq",
            needs_person: false,
        }),
        outgoing: vec![Outgoing::Read, Outgoing::Text(reply.into())],
        disclosure,
        ..Processed::default()
    };
    assert!(store.finish_whatsapp_inbound(m, &processed).unwrap());
}

fn bodies(store: &Store, wamid: &str) -> Vec<String> {
    store
        .whatsapp_replies_to(wamid)
        .unwrap()
        .into_iter()
        .map(|(_, body)| body)
        .collect()
}

#[test]
fn the_disclosure_goes_first_to_a_new_customer_and_after_a_month_of_silence() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    let said = Some("AUTOMATED");
    exchange(&store, &message("w1", "49151", "hallo", t), "R1", said);
    assert_eq!(bodies(&store, "w1"), ["AUTOMATED\n\nR1"]);
    exchange(&store, &message("w2", "49151", "und?", t + 60), "R2", said);
    assert_eq!(bodies(&store, "w2"), ["R2"]);
    // 29 days on: still known.
    exchange(
        &store,
        &message("w3", "49151", "noch da?", t + 29 * DAY),
        "R3",
        said,
    );
    assert_eq!(bodies(&store, "w3"), ["R3"]);
    // 31 days after the customer's last message: told again.
    exchange(
        &store,
        &message("w4", "49151", "hallo wieder", t + 60 * DAY),
        "R4",
        said,
    );
    assert_eq!(bodies(&store, "w4"), ["AUTOMATED\n\nR4"]);
    // Another customer is new.
    exchange(&store, &message("w5", "44777", "hi", t), "R5", said);
    assert_eq!(bodies(&store, "w5"), ["AUTOMATED\n\nR5"]);
}

#[test]
fn a_reply_too_long_to_share_a_message_gets_the_disclosure_on_its_own() {
    let store = shop_on_whatsapp();
    let long = "x".repeat(4090);
    exchange(
        &store,
        &message("w1", "49151", "hallo", super::super::now()),
        &long,
        Some("AUTOMATED"),
    );
    assert_eq!(bodies(&store, "w1"), ["AUTOMATED".to_string(), long]);
}

#[test]
fn a_disclosure_that_never_went_is_given_again() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    exchange(
        &store,
        &message("w1", "49151", "hallo", t),
        "R1",
        Some("AUTOMATED"),
    );
    for row in store.due_whatsapp_outbound(&["111".into()], 10).unwrap() {
        store.whatsapp_give_up(row.id, "dead", "refused").unwrap();
    }
    for row in store.due_whatsapp_outbound(&["111".into()], 10).unwrap() {
        store.whatsapp_give_up(row.id, "dead", "refused").unwrap();
    }
    exchange(
        &store,
        &message("w2", "49151", "noch da?", t + 60),
        "R2",
        Some("AUTOMATED"),
    );
    assert_eq!(bodies(&store, "w2"), ["AUTOMATED\n\nR2"]);
}

#[test]
fn a_message_answered_without_words_leaves_the_disclosure_to_the_next_reply() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    let m = message("w1", "49151", "STOP", t);
    store
        .accept_whatsapp(std::slice::from_ref(&m), &[])
        .unwrap();
    let held = Processed {
        outcome: "held for a person",
        customer_turn: Some("STOP"),
        disclosure: Some("AUTOMATED"),
        ..Processed::default()
    };
    assert!(store.finish_whatsapp_inbound(&m, &held).unwrap());
    exchange(
        &store,
        &message("w2", "49151", "hallo", t + 5),
        "R2",
        Some("AUTOMATED"),
    );
    assert_eq!(bodies(&store, "w2"), ["AUTOMATED\n\nR2"]);
}

#[test]
fn retention_drops_texts_but_keeps_unsent_replies_counts_and_orders() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    let m = message("w1", "49151", "Wo ist mein Paket?", t);
    exchange(&store, &m, "Unterwegs.", None);
    let rows = store.due_whatsapp_outbound(&["111".into()], 10).unwrap();
    // The read receipt went; the text reply has not been sent yet.
    store.whatsapp_sent(rows[0].id, None).unwrap();
    // Nothing is old yet.
    assert_eq!(store.purge_expired(t, 30).unwrap(), Purged::default());
    let purged = store.purge_expired(t + 31 * DAY, 30).unwrap();
    assert_eq!(purged.turns, 2);
    assert_eq!(purged.message_texts, 1);
    assert_eq!(purged.names, 1);
    assert_eq!(purged.conversations, 1);
    assert_eq!(purged.reply_bodies, 0, "an unsent reply keeps its body");
    assert_eq!(bodies(&store, "w1"), ["Unterwegs."]);
    let export = store.export_customer("shop", "wa:49151").unwrap().unwrap();
    assert_eq!(export.messages.len(), 1, "the message's row stays");
    assert_eq!(export.messages[0].text, None);
    assert!(export.turns.is_empty());
    // Once sent, the body goes at the next pass.
    let text_row = store.due_whatsapp_outbound(&["111".into()], 10).unwrap()[0].id;
    store.whatsapp_sent(text_row, Some("wamid.out")).unwrap();
    assert_eq!(
        store.purge_expired(t + 31 * DAY, 30).unwrap().reply_bodies,
        1
    );
    assert_eq!(bodies(&store, "w1"), [""]);
    assert_eq!(
        store
            .whatsapp_counts(Some("shop"), &["111".into()])
            .unwrap()
            .sent,
        1
    );
}

#[test]
fn a_business_keeps_its_own_retention_and_zero_keeps_nothing_delivered() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    store
        .set_business_settings(
            "shop",
            &BusinessSettings {
                retention_days: Some(0),
                ..BusinessSettings::default()
            },
        )
        .unwrap();
    store
        .record_exchange(
            "shop",
            "c1",
            &Exchange {
                question: "q",
                reply: "r",
                mode: "faq",
                needs_person: false,
            },
        )
        .unwrap();
    // The global default would keep it for 30 days; the business keeps nothing.
    assert_eq!(store.purge_expired(t, 30).unwrap().turns, 2);
    assert!(store.conversation("shop", "c1").unwrap().is_none());
}

#[test]
fn erasure_removes_the_customer_and_marks_their_orders() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    exchange(
        &store,
        &message("w1", "49151", "Zauberberg bitte", t),
        "Gern.",
        None,
    );
    exchange(&store, &message("w9", "44777", "other", t), "Other.", None);
    let (order, _) = store
        .create_order(
            "shop",
            &crate::store::NewOrder {
                customer: crate::store::OrderCustomer::WhatsApp {
                    wa_id: "49151".into(),
                    name: None,
                },
                conversation_id: "wa:49151".into(),
                state: crate::store::OrderState::Placed,
                items: vec![crate::store::OrderItem {
                    title: "Der Zauberberg".into(),
                    sku: None,
                    quantity: 1,
                    price: "16,00".into(),
                    currency: None,
                }],
                fulfilment: None,
                customer_note: Some("Anna, ab 17 Uhr".into()),
                language: Some("de".into()),
                idempotency_key: "w1".into(),
            },
        )
        .unwrap();
    let erased = store.erase_customer("shop", "wa:49151").unwrap();
    assert_eq!(erased.messages, 1);
    assert_eq!(erased.replies, 2);
    assert_eq!(erased.turns, 2);
    assert_eq!(erased.customers, 1);
    assert_eq!(erased.orders, 1);
    assert!(store.export_customer("shop", "wa:49151").unwrap().is_none());
    let kept = store.order("shop", &order.id).unwrap().unwrap();
    assert_eq!(kept.items.len(), 1);
    assert_eq!(kept.customer_note.as_deref(), Some("erased"));
    assert_eq!(kept.conversation_id, "erased");
    // The other customer is untouched.
    assert_eq!(bodies(&store, "w9"), ["Other."]);
    assert_eq!(
        store.erase_customer("shop", "wa:49151").unwrap(),
        Erased::default()
    );
}

#[test]
fn a_persons_reply_is_written_once_per_key() {
    let store = shop_on_whatsapp();
    let t = super::super::now();
    exchange(&store, &message("w1", "49151", "hallo", t), "R1", None);
    let parts = vec!["Hier ist Maria.".to_string()];
    let first = store
        .record_person_reply("shop", "wa:49151", "k1", "Hier ist Maria.", &parts)
        .unwrap()
        .unwrap();
    assert_eq!(first.delivery, ReplyDelivery::Queued);
    let again = store
        .record_person_reply("shop", "wa:49151", "k1", "Hier ist Maria.", &parts)
        .unwrap()
        .unwrap();
    assert!(again.repeated);
    assert_eq!(again.id, first.id);
    let export = store.export_customer("shop", "wa:49151").unwrap().unwrap();
    let person: Vec<_> = export.turns.iter().filter(|t| t.role == "person").collect();
    assert_eq!(person.len(), 1);
    let notices: Vec<_> = export
        .replies
        .iter()
        .filter(|r| r.kind == "notice")
        .collect();
    assert_eq!(notices.len(), 1);
    // A person now has the conversation.
    assert!(
        store
            .conversation("shop", "wa:49151")
            .unwrap()
            .unwrap()
            .needs_person
    );
    // Unknown customers and conversations are None.
    assert!(store
        .record_person_reply("shop", "wa:000", "k1", "x", &parts)
        .unwrap()
        .is_none());
    assert!(store
        .record_person_reply("shop", "c_missing", "k1", "x", &parts)
        .unwrap()
        .is_none());
}

#[test]
fn a_persons_reply_outside_the_window_is_a_dead_letter_without_a_turn() {
    let store = shop_on_whatsapp();
    let old = super::super::now() - 2 * DAY;
    exchange(&store, &message("w1", "49151", "hallo", old), "R1", None);
    let reply = store
        .record_person_reply("shop", "wa:49151", "k1", "Spät", &["Spät".into()])
        .unwrap()
        .unwrap();
    assert_eq!(reply.delivery, ReplyDelivery::Undeliverable);
    assert!(reply.reason.unwrap().contains("24-hour window"));
    let turns = store
        .conversation("shop", "wa:49151")
        .unwrap()
        .unwrap()
        .turns;
    assert!(turns.iter().all(|t| t.role != "person"));
    assert_eq!(store.whatsapp_dead_letters("shop").unwrap().len(), 1);
}
