//! Orders through the HTTP API on a real server with a real `Engine`: the business lists,
//! reads and moves orders (`routes`); a WhatsApp customer is told of each move exactly once
//! through the outbox and a fake Cloud API, and outside the 24-hour window the message is a
//! dead letter (`notify`) unless the business configured an order template, which then goes
//! instead; an accepted order's message carries the business's PIX text (`template`). Orders
//! are created through the engine, as the chat will, or by a chat pipeline's customer through
//! the answer endpoint (`chat`).

mod chat;
mod notify;
mod routes;
mod template;

use std::sync::Arc;

use clerk::app::{self, App};
use clerk::channels::whatsapp::fake::FakeCloud;
use clerk::engine::{Engine, Fulfilment, NewOrder, Order, OrderCustomer, OrderItem, OrderState};
use reqwest::Method;
use serde_json::Value;

use crate::support;
use crate::whatsapp::{connect_to_fake, deliver, start_with_fake};
pub use crate::whatsapp::{now, ADMIN};

pub const SHOP: &str = "buchhandlung";
pub const NUMBER: &str = "1122334455667";

/// Two lines of the demo bookshop's catalog, as `katalog.csv` has them (checked in
/// [`catalog_items`]): ISBN, title, price, currency.
const CATALOG: &[(&str, &str, &str, &str)] = &[
    ("9783596574629", "Der Zauberberg", "16,00", "EUR"),
    ("9783596740291", "Buddenbrooks", "14,00", "EUR"),
];

/// Order lines for the catalog rows above, `quantity` of each.
pub fn catalog_items(quantities: &[u32]) -> Vec<OrderItem> {
    let csv = std::fs::read_to_string(
        support::corpus()
            .join("buchhandlung-lindenblatt")
            .join("katalog.csv"),
    )
    .unwrap();
    CATALOG
        .iter()
        .zip(quantities)
        .map(|((isbn, title, price, currency), quantity)| {
            let row = format!("{isbn},{title},");
            assert!(csv.contains(&row), "katalog.csv has no row {row}");
            assert!(csv.contains(&format!("\"{price}\",{currency},")));
            OrderItem {
                title: title.to_string(),
                sku: Some(isbn.to_string()),
                quantity: *quantity,
                price: price.to_string(),
                currency: Some(currency.to_string()),
            }
        })
        .collect()
}

/// A server with one business (German), its WhatsApp number connected to a fake Cloud API.
/// The channel sends but never answers, so what reaches the fake is only what the orders
/// enqueue.
pub struct Rig {
    pub base: String,
    pub key: String,
    pub engine: Arc<Engine>,
    pub fake: FakeCloud,
    pub client: reqwest::Client,
    _app: App,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub async fn start() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let (app, fake) = start_with_fake(dir.path(), app::Builder::without_answers).await;
        let engine = app.engine().clone();
        let (_, key) = engine
            .create_business(SHOP, Some("Buchhandlung Lindenblatt"), Some("de"))
            .unwrap();
        connect_to_fake(&app, &fake, SHOP, NUMBER).await;
        Rig {
            base: app.base_url(),
            key,
            engine,
            fake,
            client: reqwest::Client::new(),
            _app: app,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Customer `wa_id` writes `text` at `sent_at`, through the signed webhook.
    pub async fn customer_writes(&self, wa_id: &str, wamid: &str, text: &str, sent_at: u64) {
        deliver(&self.base, NUMBER, wa_id, wamid, text, sent_at).await;
    }

    /// Records an order through the engine, as the chat will.
    pub async fn create(&self, order: NewOrder) -> Order {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.create_order(SHOP, order))
            .await
            .unwrap()
            .unwrap()
    }

    /// `method` `path` with `auth` (and a raw body, when given): status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(auth) = auth {
            request = request.bearer_auth(auth);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET …/orders` + `query` with the admin token: the body.
    pub async fn orders(&self, query: &str) -> Value {
        let path = format!("/v1/businesses/{SHOP}/orders{query}");
        let (status, body) = self.call(Method::GET, &path, Some(ADMIN), None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The business's WhatsApp dead letters.
    pub async fn dead_letters(&self) -> Vec<Value> {
        let path = format!("/v1/businesses/{SHOP}/whatsapp/dead-letters");
        let (status, body) = self.call(Method::GET, &path, Some(ADMIN), None).await;
        assert_eq!(status, 200, "{body}");
        body["dead_letters"].as_array().unwrap().clone()
    }

    /// PUTs the business's settings with its own key: status and body.
    pub async fn put_settings(&self, settings: Value) -> (u16, Value) {
        let path = format!("/v1/businesses/{SHOP}/settings");
        self.call(
            Method::PUT,
            &path,
            Some(&self.key.clone()),
            Some(&settings.to_string()),
        )
        .await
    }

    /// POSTs the business's `action` on order `id` with its own key.
    pub async fn act(&self, id: &str, action: &str, body: Option<&str>) -> (u16, Value) {
        let path = format!("/v1/businesses/{SHOP}/orders/{id}/{action}");
        self.call(Method::POST, &path, Some(&self.key.clone()), body)
            .await
    }
}

/// An order from WhatsApp customer `wa_id`, confirmed by message `key`.
pub fn whatsapp_order(wa_id: &str, key: &str, state: OrderState) -> NewOrder {
    NewOrder {
        customer: OrderCustomer::WhatsApp {
            wa_id: wa_id.to_string(),
            name: None,
        },
        conversation_id: format!("wa:{wa_id}"),
        state,
        items: catalog_items(&[2, 1]),
        fulfilment: Some(Fulfilment::Pickup),
        customer_note: Some("Ich hole es morgen ab.".into()),
        language: None,
        idempotency_key: key.to_string(),
    }
}
