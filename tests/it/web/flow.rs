//! A shop owner's afternoon in the browser: signs in with the shop's key, uploads two files
//! (one the API refuses, with its message shown for that file), asks in "try it", watches a
//! customer's WhatsApp question that the documents cannot answer arrive in the open inbox
//! without a reload, answers it — and the fake Cloud API gets that answer once, quoting the
//! customer's message —, accepts an order, changes the settings, and switches to English.

use std::time::{Duration, Instant};

use clerk::engine::{Fulfilment, NewOrder, OrderCustomer, OrderItem, OrderState};

use super::{Browser, Rig, NUMBER, SHOP};
use crate::whatsapp::{deliver, now};

const FAQ: &str = "# Häufige Fragen\n\n\
## Wann habt ihr geöffnet?\n\nWir haben Montag bis Samstag von 7 bis 18 Uhr geöffnet.\n\n\
## Verkauft ihr Zeitschriften?\n\nJa, wir führen über 300 Zeitschriften und Tageszeitungen.\n\n\
## Kann ich Zeitschriften abonnieren?\n\nJa, wir legen Ihnen jede Ausgabe zurück.\n";

const CUSTOMER: &str = "4917612345678";
const QUESTION_WAMID: &str = "wamid.HBgNNDkxNzYxMjM0NTY3OBUCABIYFjNFQjBGMDFBQjQ3NjQ1MTkyQjM2AA==";
const PATIENCE: Duration = Duration::from_secs(20);

fn order_for(customer: &str) -> NewOrder {
    NewOrder {
        customer: OrderCustomer::WhatsApp {
            wa_id: customer.to_string(),
            name: None,
        },
        conversation_id: format!("wa:{customer}"),
        state: OrderState::Placed,
        items: vec![OrderItem {
            title: "Die Zeit (aktuelle Ausgabe)".into(),
            sku: None,
            quantity: 2,
            price: "6,50".into(),
            currency: Some("EUR".into()),
        }],
        fulfilment: Some(Fulfilment::Pickup),
        customer_note: None,
        language: Some("de".into()),
        idempotency_key: "web-test-order".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_owner_teaches_tries_takes_over_and_settles_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let rig = Rig::start().await;
    let b = &browser.client;

    // Sign in: a wrong key is refused on the page, the shop's key opens its documents.
    b.goto(&format!("{}/app", rig.base)).await.unwrap();
    browser.screenshot("sign-in").await;
    browser.type_into("#key", "not-a-key").await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_for_text("p.error", "unbekannt", PATIENCE)
        .await;
    browser.type_into("#key", &rig.key).await;
    browser.click("form button[type=submit]").await;
    browser
        .wait_for_text("main h1", "Dokumente", PATIENCE)
        .await;
    let url = b.current_url().await.unwrap();
    assert!(!url.as_str().contains(&rig.key), "no key in a URL: {url}");

    // Upload: two files at once; each shows its own outcome, the refused one the API's words.
    let files = tempfile::tempdir().unwrap();
    let faq = files.path().join("fragen.md");
    std::fs::write(&faq, FAQ).unwrap();
    let sheet = files.path().join("preise.xlsx");
    std::fs::write(&sheet, b"PK\x03\x04 not a format clerk reads").unwrap();
    browser
        .type_into("#files", &format!("{}\n{}", faq.display(), sheet.display()))
        .await;
    browser.click("#upload button[type=submit]").await;
    browser
        .wait_for(
            "#progress li[data-file='fragen.md'][data-result='ok']",
            PATIENCE,
        )
        .await;
    let refused = browser
        .wait_for_text("#progress li[data-file='preise.xlsx']", "Fehler", PATIENCE)
        .await;
    assert!(
        refused.contains("preise.xlsx"),
        "the API's message names the file: {refused}"
    );
    let row = browser
        .wait_for("tr[data-document='fragen.md']", PATIENCE)
        .await;
    let cells = row.text().await.unwrap();
    assert!(cells.contains("markdown"), "{cells}");
    browser.screenshot("documents").await;
    let engine = rig.engine.clone();
    let names: Vec<String> = tokio::task::spawn_blocking(move || {
        engine
            .documents(SHOP)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    })
    .await
    .unwrap();
    assert_eq!(names, ["fragen.md"], "the refused file changed nothing");

    // Try it: a question as a customer asks it, answered from the FAQ with its source.
    browser.click("nav a[href='/app/try']").await;
    browser
        .type_into("#question", "Habt ihr samstags offen?")
        .await;
    browser.click("#ask button[type=submit]").await;
    let answer = browser
        .wait_for_text("#chat .bubble.assistant[data-mode]", "fragen.md", PATIENCE)
        .await;
    assert!(answer.contains("7 bis 18 Uhr"), "{answer}");

    // An order in "try it": the summary's choices are buttons; a click confirms it.
    let engine = rig.engine.clone();
    tokio::task::spawn_blocking(move || {
        let catalog = "Titel,Preis,Währung,Bestand\nDer Zauberberg,\"16,00\",EUR,3\n";
        engine
            .ingest(
                SHOP,
                &[clerk::engine::Upload {
                    name: "katalog.csv".into(),
                    bytes: catalog.as_bytes().to_vec(),
                }],
            )
            .unwrap()
    })
    .await
    .unwrap();
    browser
        .type_into("#question", "Ich möchte zwei Zauberberg reservieren")
        .await;
    browser.click("#ask button[type=submit]").await;
    let confirm = "#chat .bubble.assistant[data-mode='order'] .choices button.choice";
    browser.wait_for_text(confirm, "Bestätigen", PATIENCE).await;
    browser.screenshot("try-it").await;
    browser.click(confirm).await;
    let placed = browser
        .wait_for_text("#chat .bubble.assistant:last-child", "aufgegeben", PATIENCE)
        .await;
    assert!(placed.contains("order"), "the mode is shown: {placed}");

    // The inbox, open and live: a customer's question the documents cannot answer arrives.
    browser.click("nav a[href='/app/inbox']").await;
    browser
        .wait_for("#live[data-connected='yes']", PATIENCE)
        .await;
    deliver(
        &rig.base,
        NUMBER,
        CUSTOMER,
        QUESTION_WAMID,
        "Repariert ihr auch Fahrräder?",
        now(),
    )
    .await;
    let waiting = format!("li.waiting[data-conversation='wa:{CUSTOMER}']");
    browser.wait_for(&waiting, PATIENCE).await;
    browser.screenshot("inbox").await;
    b.set_window_size(412, 915).await.unwrap();
    browser.screenshot("inbox-phone").await;
    b.set_window_size(1100, 900).await.unwrap();

    // Answer it from the page: the reply reaches the customer once, quoting their message.
    browser.click(&format!("{waiting} a")).await;
    browser
        .wait_for_text("ol.turns li.customer", "Fahrräder", PATIENCE)
        .await;
    browser
        .wait_for("#live[data-connected='yes']", PATIENCE)
        .await;
    let reply = "Leider nicht, aber die Werkstatt Speiche in der Marktstraße 4 hilft Ihnen gern.";
    browser.type_into("#reply-text", reply).await;
    browser.click("#reply button[type=submit]").await;
    browser
        .wait_for_text("#reply-status", "Gesendet", PATIENCE)
        .await;
    browser
        .wait_for_text("ol.turns li.person", "Werkstatt Speiche", PATIENCE)
        .await;
    browser.screenshot("conversation").await;
    let sent = reply_reaching(&rig, reply).await;
    assert_eq!(
        sent.len(),
        1,
        "one reply, however the page behaved: {sent:?}"
    );
    assert_eq!(
        sent[0].reply_to.as_deref(),
        Some(QUESTION_WAMID),
        "the reply quotes the customer's question"
    );

    // Orders: the business accepts a placed order; the customer hears of it.
    let engine = rig.engine.clone();
    let order = tokio::task::spawn_blocking(move || {
        engine.create_order(SHOP, order_for(CUSTOMER)).unwrap()
    })
    .await
    .unwrap();
    browser.click("nav a[href='/app/orders']").await;
    let card = format!("li[data-order='{}']", order.id);
    browser
        .wait_for_text(&card, "Die Zeit (aktuelle Ausgabe)", PATIENCE)
        .await;
    browser.screenshot("orders").await;
    browser
        .click(&format!("{card} button[data-action='accept']"))
        .await;
    browser
        .wait_for(&format!("{card}[data-state='accepted']"), PATIENCE)
        .await;
    let engine = rig.engine.clone();
    let id = order.id.clone();
    let state = tokio::task::spawn_blocking(move || engine.order(SHOP, &id).unwrap().state)
        .await
        .unwrap();
    assert_eq!(state, OrderState::Accepted);

    // Settings: retention, the disclosure, the order template and PIX, saved through the API.
    browser.click("nav a[href='/app/settings']").await;
    browser.type_into("#retention", "14").await;
    browser.type_into("#handoff", "Chef, Inhaber").await;
    browser.type_into("#disclosure", "Hier antwortet der Assistent des Kiosks; schreiben Sie „Mitarbeiter“ für einen Menschen.").await;
    browser.type_into("#template-name", "order_update").await;
    browser.type_into("#template-languages", "de, en_US").await;
    browser.type_into("#pix", "kiosk@example.com").await;
    browser.click("#privacy button[type=submit]").await;
    browser
        .wait_for_text("#privacy .status", "Gespeichert", PATIENCE)
        .await;
    browser.wait_for_text("#wa-state", NUMBER, PATIENCE).await;
    browser.screenshot("settings").await;
    let engine = rig.engine.clone();
    let settings = tokio::task::spawn_blocking(move || engine.business_settings(SHOP).unwrap())
        .await
        .unwrap();
    assert_eq!(settings.settings.retention_days, Some(14));
    assert_eq!(
        settings.settings.handoff_words,
        Some(vec!["chef".to_string(), "inhaber".to_string()])
    );
    assert!(settings
        .settings
        .disclosure
        .is_some_and(|d| d.starts_with("Hier antwortet")));
    let template = settings
        .settings
        .order_template
        .expect("the order template");
    assert_eq!(
        (template.name.as_str(), template.languages),
        ("order_update", vec!["de".to_string(), "en_US".to_string()])
    );
    assert_eq!(settings.settings.pix.as_deref(), Some("kiosk@example.com"));

    // The same page in English.
    browser.click("a.lang").await;
    browser.wait_for_text("main h1", "Settings", PATIENCE).await;
    browser.wait_for_text("nav", "Inbox", PATIENCE).await;
    browser.close().await;
}

/// The messages the fake took for the customer with `text`, once one came and a duplicate
/// would have had time to follow.
async fn reply_reaching(rig: &Rig, text: &str) -> Vec<clerk::channels::whatsapp::FakeMessage> {
    let started = Instant::now();
    let matching = || -> Vec<_> {
        rig.fake
            .messages()
            .into_iter()
            .filter(|m| m.to == CUSTOMER && m.body == text)
            .collect()
    };
    while matching().is_empty() {
        assert!(started.elapsed() < PATIENCE, "{:?}", rig.fake.messages());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The sender polls every 250 ms and retries after 20 ms: a second copy would be here.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    matching()
}
