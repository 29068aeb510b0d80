use super::super::{InboundRecord, Store, StoreError};
use super::*;

const CUSTOMER: &str = "4915123456789";

fn store() -> Store {
    super::super::shop_on_whatsapp()
}

/// The customer writes to the shop `ago` seconds before now.
fn customer_writes(store: &Store, wamid: &str, ago: u64) {
    let record = InboundRecord {
        wamid: wamid.into(),
        business_id: "shop".into(),
        phone_number_id: "111".into(),
        wa_id: CUSTOMER.into(),
        user_id: None,
        name: Some("Anna".into()),
        kind: "text".into(),
        text: Some("Ich möchte den Zauberberg reservieren".into()),
        sent_at: super::super::now() - ago,
        choice: None,
        cart: None,
    };
    store.accept_whatsapp(&[record], &[]).unwrap();
}

fn new_order(key: &str, state: OrderState) -> NewOrder {
    NewOrder {
        customer: OrderCustomer::WhatsApp {
            wa_id: CUSTOMER.into(),
            name: None,
        },
        conversation_id: format!("wa:{CUSTOMER}"),
        state,
        items: vec![OrderItem {
            title: "Der Zauberberg".into(),
            sku: Some("978-3-10-048136-8".into()),
            quantity: 2,
            price: "14,90".into(),
            currency: Some("EUR".into()),
        }],
        fulfilment: Some(Fulfilment::Pickup),
        customer_note: Some("Abholung morgen".into()),
        language: Some("de".into()),
        idempotency_key: key.into(),
    }
}

/// The notice rows of the outbox: (reply_to, state, body, error).
fn notices(store: &Store) -> Vec<(String, String, String, Option<String>)> {
    let conn = store.conn.lock();
    let mut stmt = conn
        .prepare(
            "SELECT reply_to, state, body, error FROM wa_outbox WHERE kind = 'notice' ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn says(order: &Order) -> Vec<String> {
    vec![format!("{} {}", order.id, order.state)]
}

#[test]
fn the_state_table_allows_exactly_the_issues_moves() {
    use OrderAction as A;
    use OrderState as S;
    let legal = [
        (S::AwaitingConfirmation, A::Confirm, S::Placed),
        (S::AwaitingConfirmation, A::Cancel, S::Cancelled),
        (S::Placed, A::Accept, S::Accepted),
        (S::Placed, A::Decline, S::Declined),
        (S::Placed, A::Cancel, S::Cancelled),
        (S::Accepted, A::Ready, S::Ready),
        (S::Accepted, A::Cancel, S::Cancelled),
        (S::Ready, A::Collected, S::Collected),
    ];
    for from in S::ALL {
        for action in A::ALL {
            let expected = legal
                .iter()
                .find(|(f, a, _)| *f == from && *a == action)
                .map(|(_, _, to)| *to);
            assert_eq!(from.after(action), expected, "{from} by {action}");
        }
    }
    for state in S::ALL {
        assert_eq!(S::parse(state.as_str()), Some(state));
    }
    assert_eq!(A::of_business("accept"), Some(A::Accept));
    assert_eq!(A::of_business("confirm"), None);
    assert_eq!(S::Ready.allowed(), vec![A::Collected]);
}

#[test]
fn the_same_idempotency_key_is_one_order() {
    let store = store();
    customer_writes(&store, "wamid.1", 60);
    let (first, created) = store
        .create_order("shop", &new_order("wamid.confirm-1", OrderState::Placed))
        .unwrap();
    assert!(created);
    assert!(first.id.starts_with("ord_"));
    let (again, created) = store
        .create_order("shop", &new_order("wamid.confirm-1", OrderState::Placed))
        .unwrap();
    assert!(!created);
    assert_eq!(again, first);
    let (other, created) = store
        .create_order("shop", &new_order("wamid.confirm-2", OrderState::Placed))
        .unwrap();
    assert!(created);
    assert_ne!(other.id, first.id);
    assert_eq!(store.orders("shop", None).unwrap().len(), 2);
    // The key is unique per business, not across businesses.
    store.create_business("other", "Other", "en").unwrap();
    let api = NewOrder {
        customer: OrderCustomer::Api,
        conversation_id: "c_1".into(),
        ..new_order("wamid.confirm-1", OrderState::Placed)
    };
    let (theirs, created) = store.create_order("other", &api).unwrap();
    assert!(created);
    assert_ne!(theirs.id, first.id);
    assert_eq!(store.orders("shop", None).unwrap().len(), 2);
    assert!(store.order("other", &first.id).unwrap().is_none());
}

#[test]
fn orders_come_back_as_recorded_and_filter_by_state() {
    let store = store();
    customer_writes(&store, "wamid.1", 60);
    let (order, _) = store
        .create_order("shop", &new_order("k1", OrderState::AwaitingConfirmation))
        .unwrap();
    assert_eq!(order.items[0].price, "14,90");
    assert_eq!(
        order.customer,
        OrderCustomer::WhatsApp {
            wa_id: CUSTOMER.into(),
            name: Some("Anna".into())
        }
    );
    store
        .create_order("shop", &new_order("k2", OrderState::Placed))
        .unwrap();
    let placed = store.orders("shop", Some(OrderState::Placed)).unwrap();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].idempotency_key, "k2");
    assert!(store
        .orders("shop", Some(OrderState::Ready))
        .unwrap()
        .is_empty());
    let read = store.order("shop", &order.id).unwrap().unwrap();
    assert_eq!(read.fulfilment, Some(Fulfilment::Pickup));
    assert_eq!(read.customer_note.as_deref(), Some("Abholung morgen"));
    assert_eq!(
        read.history.unwrap(),
        vec![OrderChange {
            from: None,
            to: OrderState::AwaitingConfirmation,
            note: None,
            at: order.created_at
        }]
    );
}

#[test]
fn an_unknown_whatsapp_customer_or_business_orders_nothing() {
    let store = store();
    assert!(matches!(
        store.create_order("shop", &new_order("k1", OrderState::Placed)),
        Err(StoreError::UnknownCustomer)
    ));
    assert!(matches!(
        store.create_order("nope", &new_order("k1", OrderState::Placed)),
        Err(StoreError::UnknownBusiness(_))
    ));
    assert!(store.orders("shop", None).unwrap().is_empty());
}

#[test]
fn each_change_is_recorded_with_one_notice_and_illegal_ones_change_nothing() {
    let store = store();
    customer_writes(&store, "wamid.1", 60);
    let (order, _) = store
        .create_order("shop", &new_order("k1", OrderState::AwaitingConfirmation))
        .unwrap();
    let id = order.id.clone();
    let quiet = |_: &Order| Vec::new();
    let placed = store
        .change_order("shop", &id, OrderAction::Confirm, None, &quiet)
        .unwrap();
    assert_eq!(placed.state, OrderState::Placed);
    // A repeated confirmation is the same order, unchanged.
    let again = store
        .change_order("shop", &id, OrderAction::Confirm, None, &says)
        .unwrap();
    assert_eq!(again.state, OrderState::Placed);
    assert!(notices(&store).is_empty());
    let accepted = store
        .change_order(
            "shop",
            &id,
            OrderAction::Accept,
            Some("Liegt an der Kasse"),
            &says,
        )
        .unwrap();
    assert_eq!(
        accepted.business_note.as_deref(),
        Some("Liegt an der Kasse")
    );
    for illegal in [
        OrderAction::Accept,
        OrderAction::Decline,
        OrderAction::Collected,
    ] {
        match store.change_order("shop", &id, illegal, Some("x"), &says) {
            Err(StoreError::IllegalTransition { from, action }) => {
                assert_eq!((from, action), (OrderState::Accepted, illegal))
            }
            other => panic!("{illegal}: {other:?}"),
        }
    }
    store
        .change_order("shop", &id, OrderAction::Ready, None, &says)
        .unwrap();
    let read = store.order("shop", &id).unwrap().unwrap();
    assert_eq!(read.state, OrderState::Ready);
    assert_eq!(read.business_note.as_deref(), Some("Liegt an der Kasse"));
    let moves: Vec<_> = read
        .history
        .unwrap()
        .iter()
        .map(|c| (c.from, c.to, c.note.clone()))
        .collect();
    assert_eq!(
        moves,
        vec![
            (None, OrderState::AwaitingConfirmation, None),
            (
                Some(OrderState::AwaitingConfirmation),
                OrderState::Placed,
                None
            ),
            (
                Some(OrderState::Placed),
                OrderState::Accepted,
                Some("Liegt an der Kasse".into())
            ),
            (Some(OrderState::Accepted), OrderState::Ready, None),
        ]
    );
    let sent = notices(&store);
    assert_eq!(
        sent,
        vec![
            (
                format!("order:{id}:2"),
                "pending".into(),
                format!("{id} accepted"),
                None
            ),
            (
                format!("order:{id}:3"),
                "pending".into(),
                format!("{id} ready"),
                None
            ),
        ]
    );
    assert!(matches!(
        store.change_order("shop", "ord_nope", OrderAction::Accept, None, &says),
        Err(StoreError::UnknownOrder(_))
    ));
}

#[test]
fn a_cancelled_order_cannot_be_confirmed_and_api_orders_notify_nobody() {
    let store = store();
    let api = NewOrder {
        customer: OrderCustomer::Api,
        conversation_id: "c_1".into(),
        ..new_order("k1", OrderState::AwaitingConfirmation)
    };
    let (order, _) = store.create_order("shop", &api).unwrap();
    store
        .change_order("shop", &order.id, OrderAction::Cancel, None, &says)
        .unwrap();
    assert!(matches!(
        store.change_order("shop", &order.id, OrderAction::Confirm, None, &says),
        Err(StoreError::IllegalTransition {
            from: OrderState::Cancelled,
            action: OrderAction::Confirm
        })
    ));
    assert!(notices(&store).is_empty());
}

#[test]
fn a_notice_outside_the_window_is_a_dead_letter_with_its_reason() {
    let store = store();
    customer_writes(&store, "wamid.old", SERVICE_WINDOW_SECS + 3600);
    let (order, _) = store
        .create_order("shop", &new_order("k1", OrderState::Placed))
        .unwrap();
    store
        .change_order("shop", &order.id, OrderAction::Decline, None, &says)
        .unwrap();
    let letters = store.whatsapp_dead_letters("shop").unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].state, "undeliverable");
    assert_eq!(letters[0].kind, "notice");
    assert!(
        letters[0].reason.contains("outside the 24-hour window"),
        "{}",
        letters[0].reason
    );
    // Nothing of it is due to be sent.
    assert!(store
        .due_whatsapp_outbound(&["111".to_string()], 10)
        .unwrap()
        .iter()
        .all(|row| row.kind != "notice"));
}

#[test]
fn order_counts_are_by_state() {
    let store = store();
    customer_writes(&store, "wamid.1", 60);
    for key in ["a", "b", "c"] {
        store
            .create_order("shop", &new_order(key, OrderState::Placed))
            .unwrap();
    }
    let first = &store.orders("shop", None).unwrap()[0];
    store
        .change_order("shop", &first.id, OrderAction::Accept, None, &says)
        .unwrap();
    let mut counts = store.order_counts().unwrap();
    counts.sort();
    assert_eq!(
        counts,
        vec![(OrderState::Placed, 2), (OrderState::Accepted, 1)]
    );
}
