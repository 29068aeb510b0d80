//! WhatsApp end to end: Meta's signed webhooks into a real server with the demo businesses,
//! the real index and the default model, replies out to a fake Cloud API on loopback that
//! fails on demand. `crash` runs the `clerk` binary and kills it.

mod cli;
mod crash;
mod delivery;
mod identity;
mod ordering;
mod webhook;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clerk::app::{self, App};
use clerk::channels::whatsapp::fake::{text_payload, FakeCloud};
use clerk::channels::whatsapp::{signature, WhatsApp, WhatsAppSettings};
use clerk::engine::Engine;
use clerk::llm::model::LoadOptions;
use clerk::llm::{fetch, ChatModel};
use serde_json::{json, Value};

use crate::support;

pub use crate::support::ADMIN;
pub const BOOKS: &str = "buchhandlung-lindenblatt";
pub const BIKES: &str = "harbour-bikes";
/// The number pywa's fixtures are addressed to.
pub const FIXTURE_NUMBER: &str = "1122334455667";
pub const SECRET: &str = "app-secret-for-tests";

fn model() -> Arc<ChatModel> {
    static MODEL: OnceLock<Arc<ChatModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path =
                fetch::pull_default(&fetch::default_models_dir()).expect("the default model");
            let options = LoadOptions {
                context: Some(2048),
                ..LoadOptions::default()
            };
            Arc::new(ChatModel::load(&path, &options, 8, None).expect("load the default model"))
        })
        .clone()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The service with the demo businesses, the default model, and a fake Cloud API of its own.
pub struct Rig {
    pub base: String,
    pub fake: FakeCloud,
    pub channel: Arc<WhatsApp>,
    pub client: reqwest::Client,
    _app: App,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// Starts on the caller's runtime; `tune` adjusts the channel's settings.
    pub async fn start(tune: impl FnOnce(&mut WhatsAppSettings)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeCloud::start().await.unwrap();
        let mut config = support::config(dir.path());
        config.whatsapp = fast_settings(&fake.base_url);
        tune(&mut config.whatsapp);
        let app = app::Builder::new(config)
            .model(model())
            .start()
            .await
            .unwrap();
        let base = app.base_url();
        fake.report_statuses_to(&format!("{base}/webhooks/whatsapp"), SECRET);
        Rig {
            base,
            fake,
            channel: app.channel().clone(),
            client: reqwest::Client::new(),
            _app: app,
            _dir: dir,
        }
    }

    /// Connects `business` to `number` through the API, as its owner would.
    pub async fn connect(&self, business: &str, number: &str) -> Value {
        connect(&self.base, business, number).await
    }

    /// POSTs `body` to the webhook signed with `secret` (unsigned when None).
    pub async fn post(&self, body: &[u8], secret: Option<&str>) -> reqwest::StatusCode {
        let mut request = self
            .client
            .post(format!("{}/webhooks/whatsapp", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(secret) = secret {
            request = request.header("x-hub-signature-256", signature::header_for(secret, body));
        }
        request.send().await.unwrap().status()
    }

    /// A customer's text, delivered once; returns its wamid.
    pub async fn say(&self, number: &str, wa_id: &str, text: &str) -> String {
        Self::say_to(&self.base, number, wa_id, text).await
    }

    /// A customer's text, delivered once to the server at `base`.
    pub async fn say_to(base: &str, number: &str, wa_id: &str, text: &str) -> String {
        let wamid = format!("wamid.test.{}", rand_id());
        deliver(base, number, wa_id, &wamid, text, now()).await;
        wamid
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Waits until `wamid` is settled and none of its replies is still on its way.
    pub async fn settled(&self, wamid: &str) -> Vec<String> {
        settled_replies(
            self.channel.engine(),
            &self.fake,
            wamid,
            Duration::from_secs(120),
        )
        .await
    }
}

/// Waits (at most `patience`) until `wamid` is settled in `engine`'s inbox and none of its
/// replies is still on its way; returns the texts `fake` received in reply to it.
pub async fn settled_replies(
    engine: &Arc<Engine>,
    fake: &FakeCloud,
    wamid: &str,
    patience: Duration,
) -> Vec<String> {
    let started = Instant::now();
    loop {
        let (engine, id) = (engine.clone(), wamid.to_string());
        let (outcome, rows) = tokio::task::spawn_blocking(move || {
            let desk = engine.whatsapp();
            (
                desk.inbound_outcome(&id).unwrap(),
                desk.replies_to(&id).unwrap(),
            )
        })
        .await
        .unwrap();
        let done = outcome.as_deref().is_some_and(|o| o != "pending")
            && rows.iter().all(|(s, _)| s != "pending" && s != "sending");
        if done {
            return fake.replies_to(wamid).into_iter().map(|m| m.body).collect();
        }
        assert!(
            started.elapsed() < patience,
            "{wamid} not settled: {outcome:?} {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A service on `dir` without the demo businesses, sending to a fresh fake Cloud API, with
/// `options` laid over it (the rigs without a model: privacy, orders, the web page).
pub async fn start_with_fake(
    dir: &std::path::Path,
    options: impl FnOnce(app::Builder) -> app::Builder,
) -> (App, FakeCloud) {
    let fake = FakeCloud::start().await.unwrap();
    let mut config = support::config(dir);
    config.whatsapp = fast_settings(&fake.base_url);
    let app = options(app::Builder::new(config).without_demo())
        .start()
        .await
        .unwrap();
    (app, fake)
}

/// Connects `business` to `number` on `app`, the fake reporting delivery statuses back to it.
pub async fn connect_to_fake(app: &App, fake: &FakeCloud, business: &str, number: &str) {
    let base = app.base_url();
    fake.report_statuses_to(&format!("{base}/webhooks/whatsapp"), SECRET);
    connect(&base, business, number).await;
}

/// The channel's settings for tests: sends to `graph_url`, retries and waits briefly.
pub fn fast_settings(graph_url: &str) -> WhatsAppSettings {
    WhatsAppSettings {
        graph_url: graph_url.to_string(),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        request_timeout: Duration::from_secs(2),
        resend_grace: Duration::from_millis(300),
        ..WhatsAppSettings::default()
    }
}

/// Connects `business` to `number` on the server at `base`, as its owner would.
pub async fn connect(base: &str, business: &str, number: &str) -> Value {
    let response = reqwest::Client::new()
        .put(format!("{base}/v1/businesses/{business}/whatsapp"))
        .bearer_auth(ADMIN)
        .json(
            &json!({"phone_number_id": number, "access_token": "EAAG-token-for-tests",
                      "app_secret": SECRET, "verify_token": "verify-token-for-tests"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Customer `wa_id`'s text `wamid`, sent at `sent_at`, delivered once through the signed
/// webhook of the server at `base`.
pub async fn deliver(base: &str, number: &str, wa_id: &str, wamid: &str, text: &str, sent_at: u64) {
    let body = text_payload(number, wa_id, wamid, text, sent_at).to_string();
    let status = reqwest::Client::new()
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            signature::header_for(SECRET, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

pub fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
