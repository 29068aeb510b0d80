//! The HTTP API on a real server (port 0): businesses, keys, uploads, listing, deleting,
//! searching, and the errors a client gets for each kind of mistake.

use clerk::app::{self, App};
use clerk::engine::EngineLimits;
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support;
pub use crate::support::ADMIN;

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    _app: App,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(EngineLimits::default()).await
    }

    /// The service without businesses, its data in a fresh temporary dir, under `limits`.
    pub async fn start_with(limits: EngineLimits) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = support::config(dir.path());
        config.limits = limits;
        let app = app::Builder::new(config)
            .without_demo()
            .start()
            .await
            .unwrap();
        Server {
            base: app.base_url(),
            client: reqwest::Client::new(),
            _app: app,
            _dir: dir,
        }
    }

    /// GET `path` with the admin token: its status and JSON body.
    pub async fn get_json(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn create(&self, id: &str, language: &str) -> String {
        let resp = self
            .client
            .post(self.url("/v1/businesses"))
            .bearer_auth(ADMIN)
            .json(&json!({"id": id, "language": language}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.unwrap();
        body["api_key"].as_str().unwrap().to_string()
    }

    async fn search(&self, business: &str, key: &str, q: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .get(self.url(&format!("/v1/businesses/{business}/search")))
            .query(&[("q", q)])
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

pub fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn businesses_upload_search_list_delete() {
    let s = Server::start().await;
    let key_a = s.create("shop-a", "de").await;

    // Multipart upload of two files.
    let form = Form::new()
        .part(
            "file",
            Part::bytes(b"## Wann habt ihr offen?\n\nMo-Fr 9:30-19:00.\n".to_vec())
                .file_name("faq.md"),
        )
        .part(
            "file",
            Part::bytes(
                "Titel;Preis;Bestand\nDer Zauberberg;14,90;3\n"
                    .as_bytes()
                    .to_vec(),
            )
            .file_name("katalog.csv"),
        );
    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(&key_a)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let report: Value = resp.json().await.unwrap();
    assert_eq!(report["passages"], 2);

    let (status, body) = s.search("shop-a", &key_a, "zauberbeg").await;
    assert_eq!(status, StatusCode::OK);
    let hit = &body["hits"][0];
    assert_eq!(hit["title"], "Der Zauberberg");
    assert_eq!(hit["document"], "katalog.csv");
    assert_eq!(hit["product"]["price"], "14,90");
    assert_eq!(hit["passage"], "katalog.csv#0");

    // JSON upload with the admin token; then list and delete.
    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(ADMIN)
        .json(&json!({"documents": [{"name": "info.txt", "content": "Frage: Habt ihr WLAN?\nAntwort: Ja, kostenlos.\n"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let list: Value = s
        .client
        .get(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["faq.md", "info.txt", "katalog.csv"]);

    let resp = s
        .client
        .delete(s.url("/v1/businesses/shop-a/documents/info.txt"))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = s
        .client
        .delete(s.url("/v1/businesses/shop-a/documents/info.txt"))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_business_key_never_reaches_another() {
    let s = Server::start().await;
    let key_a = s.create("shop-a", "en").await;
    let key_b = s.create("shop-b", "en").await;
    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-b/documents"))
        .bearer_auth(&key_b)
        .json(&json!({"documents": [{"name": "secret.md", "content": "## What is the secret?\n\nThe vault code is 4711.\n"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // A's key may neither search, list, upload to nor delete from B.
    let (status, body) = s.search("shop-b", &key_a, "vault code").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!body.to_string().contains("4711"));
    let resp = s
        .client
        .get(s.url("/v1/businesses/shop-b/documents"))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-b/documents"))
        .bearer_auth(&key_a)
        .json(
            &json!({"documents": [{"name": "secret.md", "content": "## Overwritten?\n\nYes.\n"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = s
        .client
        .delete(s.url("/v1/businesses/shop-b/documents/secret.md"))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // B's document is untouched, and A's own index has none of it.
    let (status, body) = s.search("shop-b", &key_b, "vault code").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["hits"][0]["title"], "What is the secret?");
    let (status, body) = s.search("shop-a", &key_a, "vault code").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["hits"].as_array().unwrap().len(), 0);
    // A business key cannot create businesses.
    let resp = s
        .client
        .post(s.url("/v1/businesses"))
        .bearer_auth(&key_a)
        .json(&json!({"id": "shop-c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn mistakes_get_4xx_that_say_what_to_fix() {
    let s = Server::start().await;
    let key = s.create("shop-a", "en").await;

    let (status, body) = s.search("shop-a", "", "hello").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = s.search("shop-a", "ck_not_a_key", "hello").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = s.search("nobody", ADMIN, "hello").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_message(&body).contains("nobody"));
    let (status, body) = s.search("shop-a", &key, "  ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&body).contains("empty"));
    let (status, body) = s.search("shop-a", &key, &"x".repeat(3000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&body).contains("2000"));

    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{\"documents\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert!(error_message(&body).contains("invalid JSON"), "{body}");

    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(&key)
        .json(&json!({"documents": [
            {"name": "ok.md", "content": "## Fine?\n\nYes.\n"},
            {"name": "bad.jsonl", "content": "{\"name\": \"Lamp\", \"price\": \"10\"}\n{\"name\": \"Desk\"\n"}
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.unwrap();
    assert!(error_message(&body).contains("bad.jsonl"), "{body}");
    assert!(error_message(&body).contains("line 2"), "{body}");
    let list: Value = s
        .client
        .get(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        0,
        "nothing of a failed upload is kept"
    );

    let resp = s
        .client
        .post(s.url("/v1/businesses/shop-a/documents"))
        .bearer_auth(&key)
        .json(&json!({"documents": [{"name": "report.docx", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let resp = s
        .client
        .post(s.url("/v1/businesses"))
        .bearer_auth(ADMIN)
        .json(&json!({"id": "shop-a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = s
        .client
        .post(s.url("/v1/businesses"))
        .bearer_auth(ADMIN)
        .json(&json!({"id": "Bad Id"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
