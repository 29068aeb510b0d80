//! Orders taken in the chat, end to end through the signed webhook, the real index of the
//! demo bookshop and the fake Cloud API: a customer asks for a book and reserves it, gets a summary with
//! three buttons, taps "Bestätigen", and the order is placed once however often the tap
//! arrives; the business accepts it and the customer is told. More pieces than the catalog's
//! stock are never ordered, a sold-out book is refused, a name two books share is asked back
//! with a list, a Meta cart becomes an order, and a question about ordering stays a question.

use std::time::Duration;

use clerk::channels::whatsapp::fake::{choice_payload, FakeMessage};
use clerk::channels::whatsapp::interactive::choices_of;
use serde_json::{json, Value};

use super::{now, rand_id, runtime, Rig, ADMIN, BOOKS, SECRET};

const NUMBER: &str = "4915100000001";

impl Rig {
    /// A customer's tap on choice `index` of interactive message `of`; returns its wamid.
    async fn tap(&self, wa_id: &str, of: &FakeMessage, index: usize) -> String {
        let object = of.interactive.as_ref().expect("an interactive message");
        let (id, title) = choices_of(object)[index].clone();
        let wamid = format!("wamid.tap.{}", rand_id());
        let body = choice_payload(NUMBER, wa_id, &wamid, object, (&id, &title), now());
        assert_eq!(
            self.post(body.to_string().as_bytes(), Some(SECRET)).await,
            200
        );
        wamid
    }

    /// The replies to `wamid` once it is settled, as the customer sees them.
    async fn answered(&self, wamid: &str) -> Vec<FakeMessage> {
        self.settled(wamid).await;
        self.fake.replies_to(wamid)
    }

    async fn orders(&self) -> Vec<Value> {
        let (status, body) = self.get(&format!("/v1/businesses/{BOOKS}/orders")).await;
        assert_eq!(status, 200, "{body}");
        body["orders"].as_array().cloned().unwrap_or_default()
    }
}

fn titles(message: &FakeMessage) -> Vec<String> {
    message
        .interactive
        .as_ref()
        .map(|o| choices_of(o).into_iter().map(|(_, t)| t).collect())
        .unwrap_or_default()
}

#[test]
fn an_order_is_summarized_confirmed_once_and_accepted() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        rig.connect(BOOKS, NUMBER).await;
        let customer = "4917612345678";

        // Asked about first, then reserved by reference.
        let about = rig.say(NUMBER, customer, "Habt ihr Buddenbrooks da?").await;
        let told = rig.answered(&about).await;
        assert!(told[0].body.contains("Buddenbrooks"), "{}", told[0].body);
        assert!(told.iter().all(|m| m.interactive.is_none()));
        let asked = rig
            .say(NUMBER, customer, "Super, ich möchte zwei davon reservieren")
            .await;
        let replies = rig.answered(&asked).await;
        let summary = replies.last().expect("a summary");
        assert!(
            summary.body.contains("2 × Buddenbrooks (14,00 EUR)"),
            "{}",
            summary.body
        );
        assert_eq!(titles(summary), ["Bestätigen", "Ändern", "Abbrechen"]);
        assert_eq!(summary.reply_to.as_deref(), Some(asked.as_str()));
        let drafts = rig.orders().await;
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0]["state"], "awaiting_confirmation");

        let confirmed = rig.tap(customer, summary, 0).await;
        let placed = rig.answered(&confirmed).await;
        assert!(placed[0].body.contains("aufgegeben"), "{}", placed[0].body);
        // The same tap delivered again by Meta, and a second tap on the button: one order.
        let redelivered = choice_payload(
            NUMBER,
            customer,
            &confirmed,
            summary.interactive.as_ref().unwrap(),
            (
                &choices_of(summary.interactive.as_ref().unwrap())[0].0,
                "Bestätigen",
            ),
            now(),
        );
        assert_eq!(
            rig.post(redelivered.to_string().as_bytes(), Some(SECRET))
                .await,
            200
        );
        let again = rig.tap(customer, summary, 0).await;
        let told = rig.answered(&again).await;
        assert!(told[0].body.contains("bereits"), "{}", told[0].body);
        let orders = rig.orders().await;
        assert_eq!(orders.len(), 1, "{orders:?}");
        let order = &orders[0];
        assert_eq!(order["state"], "placed");
        assert_eq!(order["items"][0]["title"], "Buddenbrooks");
        assert_eq!(order["items"][0]["quantity"], 2);
        assert_eq!(order["items"][0]["price"], "14,00");
        assert_eq!(order["customer"]["wa_id"], customer);
        assert_eq!(rig.fake.replies_to(&confirmed).len(), 1);

        // The business accepts; the customer is told once, in German.
        let id = order["id"].as_str().unwrap();
        let response = rig
            .client
            .post(format!(
                "{}/v1/businesses/{BOOKS}/orders/{id}/accept",
                rig.base
            ))
            .bearer_auth(ADMIN)
            .json(&json!({"note": "Liegt ab morgen an der Kasse."}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let started = std::time::Instant::now();
        let notice = loop {
            let told: Vec<FakeMessage> = rig
                .fake
                .messages()
                .into_iter()
                .filter(|m| m.to == customer && m.body.contains("angenommen"))
                .collect();
            if !told.is_empty() {
                break told;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no notice");
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        assert_eq!(notice.len(), 1);
        assert!(notice[0].body.contains("Liegt ab morgen an der Kasse."));
    });
}

#[test]
fn stock_names_and_carts_shape_the_order() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        rig.connect(BOOKS, NUMBER).await;

        // "Der Tod in Venedig" has 2 in stock: five are not promised.
        let greedy = "4917600000002";
        let asked = rig
            .say(NUMBER, greedy, "Ich möchte 5 Der Tod in Venedig bestellen")
            .await;
        let summary = rig.answered(&asked).await.pop().unwrap();
        assert!(
            summary.body.contains("2 × Der Tod in Venedig (9,00 EUR)"),
            "{}",
            summary.body
        );
        assert!(summary.body.contains("nur 2 vorrätig"), "{}", summary.body);
        // Cancelled by the button: the draft is dropped and nothing is sent as a notice.
        let cancelled = rig.tap(greedy, &summary, 2).await;
        let dropped = rig.answered(&cancelled).await;
        assert!(dropped[0].body.contains("verworfen"), "{}", dropped[0].body);

        // "Das Schloss" has 0: refused, no order.
        let asked = rig
            .say(NUMBER, greedy, "Kann ich Das Schloss reservieren?")
            .await;
        let refused = rig.answered(&asked).await;
        assert!(refused[0].body.contains("nicht vorrätig"), "{}", refused[0].body);
        assert!(refused[0].interactive.is_none());

        // Two books are "Faust": the customer picks one from a list.
        let chooser = "4917600000003";
        let asked = rig
            .say(NUMBER, chooser, "Ich würde gern Faust bestellen")
            .await;
        let list = rig.answered(&asked).await.pop().unwrap();
        let object = list.interactive.as_ref().expect("a list");
        assert_eq!(object["type"], "list");
        assert!(list.body.contains("Faust. Der Tragödie zweiter Teil (6,00 EUR)"));
        // Row titles are cut to 24 characters; the description holds the whole name.
        let rows = object["action"]["sections"][0]["rows"].as_array().unwrap();
        let second = rows
            .iter()
            .position(|r| r["description"].as_str().unwrap_or("").contains("zweiter"))
            .expect("Faust II is a row");
        let picked = rig.tap(chooser, &list, second).await;
        let summary = rig.answered(&picked).await.pop().unwrap();
        assert!(
            summary
                .body
                .contains("1 × Faust. Der Tragödie zweiter Teil (6,00 EUR)"),
            "{}",
            summary.body
        );
        // A number alone changes the waiting order.
        let changed = rig.say(NUMBER, chooser, "3").await;
        let summary = rig.answered(&changed).await.pop().unwrap();
        assert!(summary.body.contains("3 × Faust. Der Tragödie zweiter Teil"));

        // A cart from the Meta catalog, matched by ISBN.
        let shopper = "4917600000004";
        let wamid = format!("wamid.cart.{}", rand_id());
        let mut cart = clerk::channels::whatsapp::fake::text_payload(NUMBER, shopper, &wamid, "", now());
        let message = &mut cart["entry"][0]["changes"][0]["value"]["messages"][0];
        message["type"] = json!("order");
        message["order"] = json!({"catalog_id": "1", "text": "Bitte zurücklegen", "product_items": [
            {"product_retailer_id": "9783596574629", "quantity": "1", "item_price": "16", "currency": "EUR"}
        ]});
        message.as_object_mut().unwrap().remove("text");
        assert_eq!(rig.post(cart.to_string().as_bytes(), Some(SECRET)).await, 200);
        let summary = rig.answered(&wamid).await.pop().unwrap();
        assert!(
            summary.body.contains("1 × Der Zauberberg (16,00 EUR)"),
            "{}",
            summary.body
        );
        assert_eq!(titles(&summary).len(), 3);

        // Asking how to order is a question for the documents, not an order.
        let asked = rig.say(NUMBER, shopper, "Wie kann ich bestellen?").await;
        let answered = rig.answered(&asked).await;
        assert!(answered.iter().all(|m| m.interactive.is_none()));
        // "ok" after that answer is no confirmation of the cart's summary before it.
        let thanks = rig.say(NUMBER, shopper, "ok").await;
        let answered = rig.answered(&thanks).await;
        assert!(answered.iter().all(|m| !m.body.contains("aufgegeben")));

        let states: Vec<String> = rig
            .orders()
            .await
            .iter()
            .map(|o| o["state"].as_str().unwrap().to_string())
            .collect();
        // Cancelled Venedig; the Faust draft replaced by the one for three (cancelled, then
        // awaiting); the cart awaiting.
        assert_eq!(
            states.iter().filter(|s| *s == "awaiting_confirmation").count(),
            2,
            "{states:?}"
        );
        assert_eq!(
            states.iter().filter(|s| *s == "cancelled").count(),
            2,
            "{states:?}"
        );
    });
}
