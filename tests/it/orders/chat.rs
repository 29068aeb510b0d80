//! The order conversation through the HTTP answer endpoint, as a chat pipeline calls it: its
//! customer reserves a book, confirms with the choice the answer offered, and the business
//! sees the order placed; confirming again places nothing more; a question in the same
//! conversation is still answered from the documents.

use clerk::engine::Upload;
use reqwest::Method;
use serde_json::{json, Value};

use super::{Rig, ADMIN, SHOP};
use crate::support;

async fn say(rig: &Rig, body: Value) -> Value {
    let path = format!("/v1/businesses/{SHOP}/answer");
    let body = body.to_string();
    let (status, answer) = rig
        .call(Method::POST, &path, Some(&rig.key), Some(&body))
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[tokio::test]
async fn a_chat_pipelines_customer_orders_through_the_answer_endpoint() {
    let rig = Rig::start().await;
    let catalog = std::fs::read(
        support::corpus()
            .join("buchhandlung-lindenblatt")
            .join("katalog.csv"),
    )
    .unwrap();
    let engine = rig.engine.clone();
    tokio::task::spawn_blocking(move || {
        engine.ingest(
            SHOP,
            &[Upload {
                name: "katalog.csv".into(),
                bytes: catalog,
            }],
        )
    })
    .await
    .unwrap()
    .unwrap();

    let summary = say(
        &rig,
        json!({"question": "Ich möchte zwei Buddenbrooks reservieren", "conversation_id": "chat-1"}),
    )
    .await;
    assert_eq!(summary["mode"], "order", "{summary}");
    assert_eq!(summary["order"]["step"], "summarized", "{summary}");
    assert!(
        summary["text"]
            .as_str()
            .unwrap()
            .contains("2 × Buddenbrooks (14,00 EUR)"),
        "{summary}"
    );
    let choices = summary["order"]["choices"].as_array().unwrap();
    let titles: Vec<&str> = choices
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Bestätigen", "Ändern", "Abbrechen"]);
    let confirm = choices[0]["id"].as_str().unwrap().to_string();
    let order_id = summary["order"]["order_id"].as_str().unwrap().to_string();
    assert!(confirm.contains(&order_id), "{confirm}");

    let tap = json!({"question": "Bestätigen", "conversation_id": "chat-1", "choice": confirm});
    let placed = say(&rig, tap.clone()).await;
    assert_eq!(placed["order"]["step"], "placed", "{placed}");
    assert_eq!(placed["order"]["order_id"], order_id.as_str());
    let orders = rig.orders("").await;
    let orders = orders["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0]["state"], "placed");
    assert_eq!(orders[0]["conversation_id"], "chat-1");
    assert_eq!(orders[0]["items"][0]["title"], "Buddenbrooks");
    assert_eq!(orders[0]["items"][0]["quantity"], 2);

    // The same confirmation again (a retried request) places nothing more.
    let again = say(&rig, tap).await;
    assert_eq!(again["order"]["step"], "already_placed", "{again}");
    assert_eq!(rig.orders("").await["orders"].as_array().unwrap().len(), 1);

    // A question is no order: the documents answer it, in the same conversation.
    let question = say(
        &rig,
        json!({"question": "Habt ihr den Zauberberg da?", "conversation_id": "chat-1"}),
    )
    .await;
    assert_ne!(question["mode"], "order", "{question}");
    assert!(question.get("order").is_none(), "{question}");
    let path = format!("/v1/businesses/{SHOP}/conversations/chat-1");
    let (status, conversation) = rig.call(Method::GET, &path, Some(ADMIN), None).await;
    assert_eq!(status, 200, "{conversation}");
    assert_eq!(
        conversation["turns"].as_array().unwrap().len(),
        8,
        "{conversation}"
    );
}
