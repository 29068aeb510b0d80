//! The order routes: lists and filters, one order with its history, each action, and the
//! status code and error code of every kind of refusal.

use clerk::engine::{NewOrder, OrderCustomer, OrderState};
use reqwest::Method;
use serde_json::Value;

use super::{catalog_items, Rig, ADMIN, SHOP};

fn api_order(key: &str, state: OrderState) -> NewOrder {
    NewOrder {
        customer: OrderCustomer::Api,
        conversation_id: format!("c_{key}"),
        state,
        items: catalog_items(&[1, 3]),
        fulfilment: None,
        customer_note: None,
        language: Some("en".into()),
        idempotency_key: key.to_string(),
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_business_moves_an_order_through_its_states() {
    let rig = Rig::start().await;
    let waiting = rig
        .create(api_order("k-wait", OrderState::AwaitingConfirmation))
        .await;
    let order = rig.create(api_order("k-placed", OrderState::Placed)).await;
    let list = format!("/v1/businesses/{SHOP}/orders");
    let key = rig.key.clone();

    let (status, body) = rig.call(Method::GET, &list, Some(&key), None).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), [order.id.clone(), waiting.id.clone()]);
    let listed = &body["orders"][0];
    assert_eq!(listed["state"], "placed");
    assert_eq!(listed["customer"]["channel"], "api");
    assert_eq!(listed["items"][0]["title"], "Der Zauberberg");
    assert_eq!(listed["items"][0]["price"], "16,00");
    assert_eq!(listed["items"][1]["quantity"], 3);
    assert_eq!(listed["fulfilment"], Value::Null);
    assert!(listed["created_at"].as_u64().unwrap() > 0);
    assert!(listed.get("history").is_none());

    let path = |action: &str| format!("/v1/businesses/{SHOP}/orders/{}/{action}", order.id);
    for (action, body, state) in [
        (
            "accept",
            Some(r#"{"note": "Please pay at the till."}"#),
            "accepted",
        ),
        ("ready", None, "ready"),
        ("collected", Some("  "), "collected"),
    ] {
        let (status, moved) = rig
            .call(Method::POST, &path(action), Some(&key), body)
            .await;
        assert_eq!(status, 200, "{action}: {moved}");
        assert_eq!(moved["state"], state);
        let filtered = format!("{list}?state={state}");
        let (_, body) = rig.call(Method::GET, &filtered, Some(&key), None).await;
        assert_eq!(ids(&body), std::slice::from_ref(&order.id), "{state}");
    }
    assert!(ids(&rig.orders("?state=placed").await).is_empty());

    let one = format!("{list}/{}", order.id);
    let (status, body) = rig.call(Method::GET, &one, Some(&key), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["business_note"], "Please pay at the till.");
    let history: Vec<(Value, Value)> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["from"].clone(), c["to"].clone()))
        .collect();
    let s = |v: &str| Value::from(v);
    assert_eq!(
        history,
        [
            (Value::Null, s("placed")),
            (s("placed"), s("accepted")),
            (s("accepted"), s("ready")),
            (s("ready"), s("collected")),
        ]
    );
    assert_eq!(body["history"][1]["note"], "Please pay at the till.");

    // The order waiting for its confirmation is placed once, however often it is confirmed.
    for _ in 0..2 {
        let engine = rig.engine.clone();
        let id = waiting.id.clone();
        let confirmed = tokio::task::spawn_blocking(move || engine.confirm_order(SHOP, &id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(confirmed.state, OrderState::Placed);
    }
    let (_, body) = rig
        .call(
            Method::GET,
            &format!("{list}/{}", waiting.id),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(body["history"].as_array().unwrap().len(), 2);

    let metrics = rig
        .client
        .get(rig.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "clerk_orders{state=\"placed\"} 1",
        "clerk_orders{state=\"collected\"} 1",
        "clerk_orders{state=\"accepted\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
}

#[tokio::test]
async fn a_duplicate_idempotency_key_creates_no_second_order() {
    let rig = Rig::start().await;
    // The same confirmation, delivered four times at once.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let engine = rig.engine.clone();
            tokio::task::spawn_blocking(move || {
                engine.create_order(SHOP, api_order("wamid.confirm-1", OrderState::Placed))
            })
        })
        .collect();
    let mut made = Vec::new();
    for task in tasks {
        made.push(task.await.unwrap().unwrap().id);
    }
    made.dedup();
    assert_eq!(made.len(), 1, "{made:?}");
    let other = rig
        .create(api_order("wamid.confirm-2", OrderState::Placed))
        .await;
    assert_eq!(ids(&rig.orders("").await), [other.id, made[0].clone()]);
}

#[tokio::test]
async fn each_refusal_has_its_status_and_code() {
    let rig = Rig::start().await;
    let order = rig.create(api_order("k1", OrderState::Placed)).await;
    let (_, other_key) = rig
        .engine
        .create_business("other-shop", None, Some("en"))
        .unwrap();
    let key = rig.key.clone();
    let id = order.id.as_str();
    let orders = format!("/v1/businesses/{SHOP}/orders");
    let long_note = format!(r#"{{"note": "{}"}}"#, "x".repeat(1001));
    // (method, path, credentials, body, status, error code)
    type Case<'a> = (
        Method,
        String,
        Option<&'a str>,
        Option<&'a str>,
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (Method::GET, orders.clone(), None, None, 401, "unauthorized"),
        (
            Method::GET,
            orders.clone(),
            Some(&other_key),
            None,
            403,
            "forbidden",
        ),
        (
            Method::GET,
            format!("{orders}?state=shipped"),
            Some(&key),
            None,
            400,
            "bad_request",
        ),
        (
            Method::GET,
            format!("{orders}?colour=red"),
            Some(&key),
            None,
            400,
            "bad_request",
        ),
        (
            Method::GET,
            "/v1/businesses/nope/orders".into(),
            Some(ADMIN),
            None,
            404,
            "unknown_business",
        ),
        (
            Method::GET,
            format!("{orders}/ord_nope"),
            Some(&key),
            None,
            404,
            "unknown_order",
        ),
        (
            Method::GET,
            format!("{orders}/{id}"),
            Some(&other_key),
            None,
            403,
            "forbidden",
        ),
        (
            Method::POST,
            format!("{orders}/ord_nope/accept"),
            Some(&key),
            None,
            404,
            "unknown_order",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/confirm"),
            Some(&key),
            None,
            404,
            "unknown_order_action",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/ship"),
            Some(&key),
            None,
            404,
            "unknown_order_action",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/accept"),
            Some(&other_key),
            None,
            403,
            "forbidden",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/accept"),
            Some(&key),
            Some("{not json"),
            400,
            "bad_request",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/accept"),
            Some(&key),
            Some(r#"{"note": 5}"#),
            400,
            "bad_request",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/accept"),
            Some(&key),
            Some(r#"{"nota": "x"}"#),
            400,
            "bad_request",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/accept"),
            Some(&key),
            Some(&long_note),
            422,
            "invalid_note",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/ready"),
            Some(&key),
            None,
            409,
            "illegal_transition",
        ),
        (
            Method::POST,
            format!("{orders}/{id}/collected"),
            Some(&key),
            None,
            409,
            "illegal_transition",
        ),
        (
            Method::DELETE,
            format!("{orders}/{id}"),
            Some(&key),
            None,
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path, auth, body, status, code) in cases {
        let what = format!("{method} {path} {body:?}");
        let (got, response) = rig.call(method, &path, auth, body).await;
        assert_eq!(got, status, "{what}: {response}");
        assert_eq!(response["error"]["code"], code, "{what}: {response}");
    }
    // None of it moved the order.
    let (_, body) = rig
        .call(Method::GET, &format!("{orders}/{id}"), Some(&key), None)
        .await;
    assert_eq!(body["state"], "placed");
    assert_eq!(body["history"].as_array().unwrap().len(), 1);

    // A move the state does not allow says what it is and what would be.
    let (status, _) = rig.act(id, "decline", None).await;
    assert_eq!(status, 200);
    let (status, body) = rig.act(id, "accept", None).await;
    assert_eq!(status, 409);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("is declined") && message.contains("nothing (it is final)"),
        "{message}"
    );
}
