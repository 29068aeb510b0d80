//! Privacy through the HTTP API and a fake Cloud API, without a model: the disclosure a
//! WhatsApp customer's first reply begins with (`disclosure`), a customer's export, erasure
//! down to the bytes of the data dir, and retention with a moved clock (`customers`), and a
//! person's replies, sent once however often the POST is repeated (`replies`).

mod customers;
mod disclosure;
mod replies;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk::app::{self, App};
use clerk::channels::whatsapp::fake::FakeCloud;
use clerk::channels::whatsapp::FakeMessage;
use clerk::engine::{Engine, Upload};
use reqwest::Method;
use serde_json::Value;

use crate::whatsapp::{connect_to_fake, deliver, settled_replies, start_with_fake};
pub use crate::whatsapp::{now, ADMIN};

pub const SHOP: &str = "lindenblatt";
pub const NUMBER: &str = "1122334455667";
pub const DAY: u64 = 24 * 60 * 60;

/// The shop's one document: questions the BM25-only pipeline answers from its FAQ.
const FAQ: &str = "# Häufige Fragen\n\n\
## Wann habt ihr geöffnet?\n\nWir haben Montag bis Samstag von 9 bis 19 Uhr geöffnet.\n\n\
## Kann ich Bücher reservieren?\n\nJa, wir legen Bücher eine Woche lang für Sie zurück.\n\n\
## Liefert ihr auch nach Hause?\n\nJa, innerhalb der Stadt liefern wir mit dem Fahrrad.\n";

/// A German bookshop answering on WhatsApp through a fake Cloud API, from its FAQ alone.
pub struct Rig {
    pub base: String,
    pub engine: Arc<Engine>,
    pub fake: FakeCloud,
    pub client: reqwest::Client,
    _app: App,
    pub dir: tempfile::TempDir,
}

impl Rig {
    pub async fn start() -> Rig {
        Self::start_with(|service| service).await
    }

    /// Starts with `options` laid over the service's (a moved clock, for instance).
    pub async fn start_with(options: impl FnOnce(app::Builder) -> app::Builder) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let (app, fake) = start_with_fake(dir.path(), options).await;
        let engine = app.engine().clone();
        let setup = engine.clone();
        tokio::task::spawn_blocking(move || {
            setup
                .create_business(SHOP, Some("Buchhandlung Lindenblatt"), Some("de"))
                .unwrap();
            let faq = Upload {
                name: "fragen.md".into(),
                bytes: FAQ.as_bytes().to_vec(),
            };
            setup.ingest(SHOP, &[faq]).unwrap();
        })
        .await
        .unwrap();
        connect_to_fake(&app, &fake, SHOP, NUMBER).await;
        Rig {
            base: app.base_url(),
            engine,
            fake,
            client: reqwest::Client::new(),
            _app: app,
            dir,
        }
    }

    /// Customer `wa_id` writes `text` at `sent_at`, through the signed webhook.
    pub async fn writes(&self, wa_id: &str, wamid: &str, text: &str, sent_at: u64) {
        deliver(&self.base, NUMBER, wa_id, wamid, text, sent_at).await;
    }

    /// What reached the customer in reply to `wamid`, once it is answered and sent.
    pub async fn replies_to(&self, wamid: &str) -> Vec<String> {
        settled_replies(&self.engine, &self.fake, wamid, Duration::from_secs(30)).await
    }

    /// How many messages the fake took for `wa_id` so far.
    pub fn sent_to(&self, wa_id: &str) -> usize {
        self.fake
            .messages()
            .iter()
            .filter(|m| m.to == wa_id)
            .count()
    }

    /// The messages the fake took for `wa_id` after its first `skip`, once `at_least` came
    /// and a duplicate would have had time to follow.
    pub async fn later_to(&self, wa_id: &str, skip: usize, at_least: usize) -> Vec<FakeMessage> {
        let started = Instant::now();
        let later = || -> Vec<FakeMessage> {
            self.fake
                .messages()
                .into_iter()
                .filter(|m| m.to == wa_id)
                .skip(skip)
                .collect()
        };
        while later().len() < at_least {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{wa_id}: {:?}",
                later()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        // The sender polls every 250 ms and retries after 20 ms: a second copy would be here.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        later()
    }

    /// `method` `path` as the admin, with a JSON body and headers: status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}
