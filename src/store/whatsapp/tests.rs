use super::super::{Exchange, Store};
use super::*;

fn store() -> Store {
    super::super::shop_on_whatsapp()
}

fn message(wamid: &str, wa_id: &str, sent_at: u64) -> InboundRecord {
    InboundRecord {
        wamid: wamid.into(),
        business_id: "shop".into(),
        phone_number_id: "111".into(),
        wa_id: wa_id.into(),
        user_id: None,
        name: None,
        kind: "text".into(),
        text: Some(format!("question {wamid}")),
        sent_at,
        choice: None,
        cart: None,
    }
}

fn numbers() -> Vec<String> {
    vec!["111".to_string()]
}

fn reply<'a>(text: &'a str, question: &'a str) -> Processed<'a> {
    Processed {
        outcome: "answered",
        exchange: Some(Exchange {
            question,
            reply: text,
            mode: "faq",
            needs_person: false,
        }),
        outgoing: vec![Outgoing::Read, Outgoing::Text(text.into())],
        ..Processed::default()
    }
}

#[test]
fn a_number_belongs_to_one_business() {
    let store = store();
    store.create_business("other", "Other", "en").unwrap();
    let mut account = store.whatsapp_accounts().unwrap().remove(0);
    account.business_id = "other".into();
    assert!(matches!(
        store.set_whatsapp_account(&account),
        Err(StoreError::PhoneNumberTaken(_))
    ));
    assert_eq!(store.whatsapp_accounts().unwrap().len(), 1);
    assert!(!format!("{account:?}").contains("secret-123"));
}

#[test]
fn moving_to_another_number_settles_the_old_numbers_messages() {
    let store = store();
    store
        .accept_whatsapp(
            &[message("wamid.a", "55", 100), message("wamid.b", "66", 100)],
            &[],
        )
        .unwrap();
    let p = store.next_whatsapp_inbound("shop", "55").unwrap().unwrap();
    store
        .finish_whatsapp_inbound(&p.record, &reply("hi", "q"))
        .unwrap();
    let mut account = store.whatsapp_accounts().unwrap().remove(0);
    account.phone_number_id = "222".into();
    store.set_whatsapp_account(&account).unwrap();
    // The waiting message is settled unanswered, the unsent reply is a dead letter.
    assert!(store.next_whatsapp_inbound("shop", "66").unwrap().is_none());
    assert_eq!(
        store
            .whatsapp_inbound_outcome("wamid.b")
            .unwrap()
            .as_deref(),
        Some("not answered: the business connected another number")
    );
    let dead = store.whatsapp_dead_letters("shop").unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(dead[0].reason.contains("another number"));
}

#[test]
fn a_redelivered_message_is_stored_once_and_answered_once() {
    let store = store();
    for _ in 0..5 {
        store
            .accept_whatsapp(&[message("wamid.a", "55", 100)], &[])
            .unwrap();
    }
    assert_eq!(
        store.whatsapp_waiting_customers(&numbers(), 10).unwrap(),
        vec![("shop".to_string(), "55".to_string())]
    );
    let pending = store.next_whatsapp_inbound("shop", "55").unwrap().unwrap();
    assert!(store
        .finish_whatsapp_inbound(&pending.record, &reply("hello", "q"))
        .unwrap());
    // A second worker settling the same message changes nothing.
    assert!(!store
        .finish_whatsapp_inbound(&pending.record, &reply("hello again", "q"))
        .unwrap());
    assert_eq!(
        store.whatsapp_replies_to("wamid.a").unwrap(),
        vec![("pending".to_string(), "hello".to_string())]
    );
    let turns = store.recent_turns("shop", "wa:55", 10).unwrap();
    assert_eq!(turns.len(), 2);
    assert!(store.next_whatsapp_inbound("shop", "55").unwrap().is_none());
    // Other numbers' messages are not this process's to answer.
    assert!(store
        .whatsapp_waiting_customers(&["222".to_string()], 10)
        .unwrap()
        .is_empty());
}

#[test]
fn a_customers_messages_come_in_the_order_they_were_sent() {
    let store = store();
    store
        .accept_whatsapp(&[message("wamid.late", "55", 200)], &[])
        .unwrap();
    store
        .accept_whatsapp(&[message("wamid.early", "55", 100)], &[])
        .unwrap();
    let first = store.next_whatsapp_inbound("shop", "55").unwrap().unwrap();
    assert_eq!(first.record.wamid, "wamid.early");
    assert_eq!(first.last_inbound_at, 200);
}

#[test]
fn the_outbox_sends_each_customers_rows_in_order_and_recovers_after_a_crash() {
    let store = store();
    store
        .accept_whatsapp(
            &[message("wamid.a", "55", 100), message("wamid.b", "66", 100)],
            &[],
        )
        .unwrap();
    for wa_id in ["55", "66"] {
        let p = store.next_whatsapp_inbound("shop", wa_id).unwrap().unwrap();
        store
            .finish_whatsapp_inbound(&p.record, &reply("hi", "q"))
            .unwrap();
    }
    // The read receipt of each customer comes first; their texts wait behind them.
    let due = store.due_whatsapp_outbound(&numbers(), 10).unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|r| r.kind == "read"));
    assert!(store.whatsapp_sending(due[0].id).unwrap());
    store.whatsapp_sent(due[0].id, None).unwrap();
    // A row that is no longer pending does not leave again.
    assert!(!store.whatsapp_sending(due[0].id).unwrap());
    store.whatsapp_sending(due[1].id).unwrap();
    // Customer 66's read receipt is in flight, so only 55's text is due.
    let due2 = store.due_whatsapp_outbound(&numbers(), 10).unwrap();
    assert_eq!(due2.len(), 1);
    assert_eq!(
        (due2[0].kind.as_str(), due2[0].wa_id.as_str()),
        ("text", "55")
    );
    store.whatsapp_sending(due2[0].id).unwrap();
    // The process dies here. At start, rows in flight wait out the grace period...
    assert_eq!(
        store.recover_whatsapp_sending(&numbers(), 60_000).unwrap(),
        2
    );
    assert!(store
        .due_whatsapp_outbound(&numbers(), 10)
        .unwrap()
        .is_empty());
    // A status for another number cannot settle it, even with its tracker...
    store
        .accept_whatsapp(
            &[],
            &[StatusRecord {
                phone_number_id: "222".into(),
                message_id: "wamid.forged".into(),
                status: "sent".into(),
                at: 1,
                outbox_id: Some(due2[0].id),
                error: None,
            }],
        )
        .unwrap();
    assert_eq!(
        store.whatsapp_replies_to("wamid.a").unwrap()[0].0,
        "pending"
    );
    // ...but Meta's status for this number, carrying the tracker, shows the text arrived.
    store
        .accept_whatsapp(
            &[],
            &[StatusRecord {
                phone_number_id: "111".into(),
                message_id: "wamid.out".into(),
                status: "sent".into(),
                at: 1,
                outbox_id: Some(due2[0].id),
                error: None,
            }],
        )
        .unwrap();
    assert_eq!(
        store.whatsapp_replies_to("wamid.a").unwrap(),
        vec![("sent".to_string(), "hi".to_string())]
    );
    // A delivered, then a late "sent", keeps "delivered".
    for status in ["delivered", "sent"] {
        store
            .accept_whatsapp(
                &[],
                &[StatusRecord {
                    phone_number_id: "111".into(),
                    message_id: "wamid.out".into(),
                    status: status.into(),
                    at: 2,
                    outbox_id: None,
                    error: None,
                }],
            )
            .unwrap();
    }
    let delivery: String = store
        .conn
        .lock()
        .query_row(
            "SELECT delivery FROM wa_outbox WHERE message_id = 'wamid.out'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(delivery, "delivered");
    let counts = store.whatsapp_counts(Some("shop"), &numbers()).unwrap();
    assert_eq!((counts.sent, counts.outbox_pending), (1, 1));
}

#[test]
fn refusals_and_late_failures_become_dead_letters_with_their_reason() {
    let store = store();
    store
        .accept_whatsapp(&[message("wamid.a", "55", 100)], &[])
        .unwrap();
    let p = store.next_whatsapp_inbound("shop", "55").unwrap().unwrap();
    store
        .finish_whatsapp_inbound(&p.record, &reply("hi", "q"))
        .unwrap();
    let due = store.due_whatsapp_outbound(&numbers(), 10).unwrap();
    store.whatsapp_sent(due[0].id, None).unwrap();
    let text = store
        .due_whatsapp_outbound(&numbers(), 10)
        .unwrap()
        .remove(0);
    store.whatsapp_retry_later(text.id, 0, "HTTP 503").unwrap();
    store.whatsapp_sent(text.id, Some("wamid.out")).unwrap();
    store
        .accept_whatsapp(
            &[],
            &[StatusRecord {
                phone_number_id: "111".into(),
                message_id: "wamid.out".into(),
                status: "failed".into(),
                at: 3,
                outbox_id: None,
                error: Some("code 131047: Re-engagement message".into()),
            }],
        )
        .unwrap();
    let dead = store.whatsapp_dead_letters("shop").unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].state, "dead");
    assert!(dead[0].reason.contains("131047"), "{}", dead[0].reason);
}
