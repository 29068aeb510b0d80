//! A customer's data read out, erased to the last byte of the data dir's files, and what
//! retention leaves once the clock has moved a month on.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk::engine::{Clock, Fulfilment, NewOrder, OrderCustomer, OrderItem, OrderState};
use reqwest::Method;

use super::{now, Rig, DAY, SHOP};

fn order_of(wa_id: &str, key: &str, note: &str) -> NewOrder {
    NewOrder {
        customer: OrderCustomer::WhatsApp {
            wa_id: wa_id.to_string(),
            name: None,
        },
        conversation_id: format!("wa:{wa_id}"),
        state: OrderState::Placed,
        items: vec![OrderItem {
            title: "Der Zauberberg".into(),
            sku: Some("9783596574629".into()),
            quantity: 1,
            price: "16,00".into(),
            currency: Some("EUR".into()),
        }],
        fulfilment: Some(Fulfilment::Pickup),
        customer_note: Some(note.to_string()),
        language: None,
        idempotency_key: key.to_string(),
    }
}

/// Every file under `dir`, as bytes.
fn files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn an_erased_customer_leaves_no_byte_of_their_words_or_number_in_the_data_dir() {
    let rig = Rig::start().await;
    let carla = "4915199887766";
    let secret = "Quittenbrot-Geheimnis-4711";
    let question = format!("Kann ich Bücher reservieren? Stichwort {secret}");
    rig.writes(carla, "wamid.carla.1", &question, now()).await;
    rig.replies_to("wamid.carla.1").await;
    let engine = rig.engine.clone();
    let carla_order = order_of(
        carla,
        "wamid.carla.confirm",
        "Abholung durch Carla Quittenbaum",
    );
    let order = tokio::task::spawn_blocking(move || engine.create_order(SHOP, carla_order))
        .await
        .unwrap()
        .unwrap();
    // Another customer stays as they are.
    rig.writes(
        "4915100000009",
        "wamid.dora.1",
        "Wann habt ihr geöffnet?",
        now(),
    )
    .await;
    rig.replies_to("wamid.dora.1").await;

    let path = format!("/v1/businesses/{SHOP}/customers/wa:{carla}");
    let (status, export) = rig.call(Method::GET, &path, None, &[]).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["messages"][0]["text"], question.as_str());
    assert_eq!(export["whatsapp"]["wa_id"], carla);
    assert!(export["turns"].as_array().unwrap().len() >= 2);
    assert_eq!(export["orders"][0]["id"], order.id.as_str());
    assert!(!export["replies"].as_array().unwrap().is_empty());

    let (status, erased) = rig.call(Method::DELETE, &path, None, &[]).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["messages"], 1);
    assert_eq!(erased["orders"], 1);
    assert_eq!(erased["checkpointed"], true);
    let (status, _) = rig.call(Method::GET, &path, None, &[]).await;
    assert_eq!(status, 404);
    // The order stays, with its items, without her.
    let (_, kept) = rig
        .call(
            Method::GET,
            &format!("/v1/businesses/{SHOP}/orders/{}", order.id),
            None,
            &[],
        )
        .await;
    assert_eq!(kept["items"][0]["title"], "Der Zauberberg");
    assert_eq!(kept["customer_note"], "erased");
    assert_eq!(kept["customer"]["wa_id"], "erased");

    let mut all = Vec::new();
    files(rig.dir.path(), &mut all);
    assert!(all.iter().any(|(name, _)| name.ends_with("clerk.sqlite")));
    for (name, bytes) in &all {
        for needle in [secret, carla, "Carla Quittenbaum"] {
            assert!(!holds(bytes, needle), "{name} still holds {needle:?}");
        }
    }
    // The other customer's words are still there (the scan can find what is there).
    let sqlite = &all
        .iter()
        .find(|(n, _)| n.ends_with("clerk.sqlite"))
        .unwrap()
        .1;
    assert!(holds(sqlite, "4915100000009"));
}

#[tokio::test]
async fn retention_removes_old_texts_once_the_clock_has_moved_on() {
    // The service's own retention job, on a clock the test moves on.
    let ahead = Arc::new(AtomicU64::new(0));
    let offset = ahead.clone();
    let clock: Clock = Arc::new(move || now() + offset.load(Ordering::SeqCst));
    let rig = Rig::start_with(|service| service.retention(clock, Duration::from_millis(50))).await;
    let eve = "4915100000005";
    rig.writes(eve, "wamid.eve.1", "Wann habt ihr geöffnet?", now())
        .await;
    rig.replies_to("wamid.eve.1").await;
    let engine = rig.engine.clone();
    let eve_order = order_of(eve, "wamid.eve.confirm", "bis Freitag");
    tokio::task::spawn_blocking(move || engine.create_order(SHOP, eve_order))
        .await
        .unwrap()
        .unwrap();
    let path = format!("/v1/businesses/{SHOP}/customers/wa:{eve}");
    // A day on, within the 30 days: everything stays.
    ahead.store(DAY, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, export) = rig.call(Method::GET, &path, None, &[]).await;
    assert_eq!(export["messages"][0]["text"], "Wann habt ihr geöffnet?");
    // 31 days on: the words go, the facts stay.
    ahead.store(31 * DAY, Ordering::SeqCst);
    let started = Instant::now();
    loop {
        let (status, export) = rig.call(Method::GET, &path, None, &[]).await;
        assert_eq!(status, 200, "{export}");
        if export["messages"][0]["text"].is_null() {
            assert!(export["turns"].as_array().unwrap().is_empty(), "{export}");
            let replies = export["replies"].as_array().unwrap();
            assert!(!replies.is_empty());
            assert!(replies.iter().all(|r| r["body"].is_null()), "{export}");
            assert_eq!(export["orders"][0]["items"][0]["title"], "Der Zauberberg");
            assert_eq!(export["orders"][0]["customer_note"], "bis Freitag");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{export}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = rig
        .call(
            Method::GET,
            &format!("/v1/businesses/{SHOP}/whatsapp"),
            None,
            &[],
        )
        .await;
    assert_eq!(status["counts"]["inbox_done"], 1, "{status}");
    assert!(status["counts"]["sent"].as_u64().unwrap() >= 1, "{status}");
}
