//! The answer service end to end: the real server on port 0, the demo businesses indexed from
//! corpus/, and the default model generating. Each test asks what a customer or a client would
//! and checks what comes back: sources, language, follow-ups, abstentions, refusals, the
//! OpenAI-compatible endpoint driven by the official Python client, and overload.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use clerk::app;
use clerk::llm::model::LoadOptions;
use clerk::llm::{fetch, ChatModel};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support;

use crate::support::ADMIN;
const BIKES: &str = "harbour-bikes";
const BOOKS: &str = "buchhandlung-lindenblatt";

struct Service {
    base: String,
    /// Each demo business's own API key.
    keys: Vec<(String, String)>,
}

impl Service {
    fn key(&self, business: &str) -> &str {
        &self.keys.iter().find(|(b, _)| b == business).unwrap().1
    }
}

fn model(queue: usize) -> Arc<ChatModel> {
    let path = fetch::pull_default(&fetch::default_models_dir()).expect("the default model");
    let options = LoadOptions {
        context: Some(2048),
        ..LoadOptions::default()
    };
    Arc::new(ChatModel::load(&path, &options, queue, None).expect("load the default model"))
}

/// The service for the demo businesses with the default model and a `queue`-deep generation
/// queue, on its own thread and runtime so it outlives any one test.
fn start(queue: usize) -> Service {
    let dir = tempfile::tempdir().unwrap().keep();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let app = app::Builder::new(support::config(&dir))
                .model(model(queue))
                .start()
                .await
                .unwrap();
            tx.send(Service {
                base: app.base_url(),
                keys: app.demo_keys().to_vec(),
            })
            .unwrap();
            app.serve_until(std::future::pending()).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| start(8))
}

async fn ask(service: &Service, business: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/businesses/{business}/answer", service.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn ask_admin(service: &Service, business: &str, question: &str) -> (StatusCode, Value) {
    ask(service, business, ADMIN, json!({ "question": question })).await
}

async fn get_json(url: String) -> Value {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn text(answer: &Value) -> &str {
    answer["text"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_question_is_answered_from_the_documents_with_sources() {
    let s = service();
    let (status, answer) = ask_admin(s, BIKES, "When are you open on Saturday?").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(text(&answer).contains("9:00am–5:00pm"), "{answer}");
    assert_eq!(answer["sources"][0]["document"], "faq.md", "{answer}");
    assert_eq!(answer["language"], "en");
    assert_eq!(answer["needs_person"], false);
    assert!(answer["conversation_id"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
}

#[tokio::test]
async fn a_german_question_is_answered_in_german() {
    let s = service();
    let key = s.key(BOOKS).to_string();
    let (status, answer) = ask(
        s,
        BOOKS,
        &key,
        json!({"question": "Habt ihr den Zauberberg da?"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["language"], "de", "{answer}");
    assert_eq!(answer["mode"], "catalog", "{answer}");
    let reply = text(&answer);
    assert!(
        reply.contains("Der Zauberberg") && reply.contains("16,00"),
        "{reply}"
    );
    assert!(
        reply.contains("Preis") && reply.contains("Vorrätig"),
        "{reply}"
    );
    // The English-only model never writes to a German customer, even of the English shop.
    let (_, answer) = ask_admin(s, BIKES, "Habt ihr E-Bikes zum Mieten?").await;
    assert_eq!(answer["language"], "de", "{answer}");
    assert_ne!(answer["mode"], "generated", "{answer}");
}

#[tokio::test]
async fn a_follow_up_is_resolved_from_the_conversation() {
    let s = service();
    let (_, first) = ask_admin(s, BIKES, "How much is the Tidewater 500?").await;
    assert!(text(&first).contains("649.00"), "{first}");
    let conversation = first["conversation_id"].as_str().unwrap();
    let (status, follow_up) = ask(
        s,
        BIKES,
        ADMIN,
        json!({"question": "and is it in stock?", "conversation_id": conversation}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{follow_up}");
    assert_eq!(
        follow_up["sources"][0]["title"], "Tidewater 500 Hybrid",
        "{follow_up}"
    );
    assert!(text(&follow_up).contains("In stock: 6"), "{follow_up}");
    // Without the conversation the same words are about nothing in particular.
    let (_, alone) = ask_admin(s, BIKES, "and is it in stock?").await;
    assert!(!text(&alone).contains("Tidewater 500"), "{alone}");
}

#[tokio::test]
async fn an_unanswerable_question_is_handed_to_a_person() {
    let s = service();
    let (status, answer) = ask_admin(s, BIKES, "Can I hire a kayak from you?").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["mode"], "abstained", "{answer}");
    assert_eq!(answer["needs_person"], true);
    assert!(answer["sources"].as_array().unwrap().is_empty());
    let id = answer["conversation_id"].as_str().unwrap();
    let stored = get_json(format!(
        "{}/v1/businesses/{BIKES}/conversations/{id}",
        s.base
    ))
    .await;
    assert_eq!(stored["needs_person"], true, "{stored}");
    assert_eq!(stored["turns"].as_array().unwrap().len(), 2, "{stored}");
}

#[tokio::test]
async fn bad_questions_and_foreign_keys_are_refused() {
    let s = service();
    let (status, body) = ask_admin(s, BIKES, "   ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("empty"));
    let long = "why ".repeat(1000);
    let (status, body) = ask(s, BIKES, ADMIN, json!({"question": long})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most"));
    let (status, _) = ask(s, BIKES, ADMIN, json!({"q": "typo in the field"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let books_key = s.key(BOOKS).to_string();
    let (status, body) = ask(s, BIKES, &books_key, json!({"question": "opening hours?"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = ask(s, BIKES, "ck_wrong", json!({"question": "opening hours?"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = ask(
        s,
        "no-such-shop",
        ADMIN,
        json!({"question": "opening hours?"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_streamed_answer_ends_with_the_whole_answer() {
    let s = service();
    let body = reqwest::Client::new()
        .post(format!("{}/v1/businesses/{BIKES}/answer", s.base))
        .bearer_auth(ADMIN)
        .json(&json!({"question": "who is your ebike mechanic", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let events: Vec<(&str, Value)> = body
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let name = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or("");
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or("null");
            (name, serde_json::from_str(data).unwrap())
        })
        .collect();
    let (last, answer) = events.last().expect("events");
    assert_eq!(*last, "answer", "{body}");
    let streamed: String = events
        .iter()
        .filter(|(name, _)| *name == "token")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    // Streamed text is the final reply when the model's reply stood; when it did not, the
    // streamed part was withdrawn with a reset before the answer.
    let reset = events.iter().any(|(name, _)| *name == "reset");
    if answer["mode"] == "generated" {
        assert!(!reset, "{body}");
        assert_eq!(streamed.trim(), text(answer).trim(), "{body}");
    } else if !streamed.is_empty() {
        assert!(reset, "streamed text was not withdrawn: {body}");
    }
    assert!(!text(answer).is_empty());
}

/// The `openai` package, installed into target/ when the system Python lacks it.
fn python_with_openai() -> (String, Option<PathBuf>) {
    let python = std::env::var("CLERK_PYTHON").unwrap_or_else(|_| "python3".into());
    let has = |path: Option<&PathBuf>| {
        let mut command = Command::new(&python);
        command.args(["-c", "import openai"]);
        if let Some(path) = path {
            command.env("PYTHONPATH", path);
        }
        command.output().is_ok_and(|o| o.status.success())
    };
    if has(None) {
        return (python, None);
    }
    let target = support::repo().join("target").join("python-openai");
    if !has(Some(&target)) {
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-warn-conflicts",
                "--target",
            ])
            .arg(&target)
            .arg("openai>=1.40,<3")
            .status()
            .expect("python3 runs");
        assert!(status.success(), "pip could not install the openai package");
    }
    (python, Some(target))
}

#[tokio::test]
async fn the_openai_python_client_works_unchanged() {
    let s = service();
    let key = s.key(BIKES).to_string();
    let base = s.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        let (python, path) = python_with_openai();
        let mut command = Command::new(python);
        command
            .arg(support::repo().join("tests/clients/openai_chat.py"))
            .args([&base, &key, BIKES]);
        if let Some(path) = path {
            command.env("PYTHONPATH", path);
        }
        command.output().expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        seen["text"].as_str().unwrap().contains("Saturday"),
        "{seen}"
    );
    // The key of one business may not use another; its own model list holds only itself.
    assert_eq!(seen["refused"], 403, "{seen}");
    assert_eq!(seen["models"], json!([BIKES]), "{seen}");
}

#[tokio::test]
async fn overload_is_refused_at_once_with_retry_after() {
    // A service of its own, with room for one waiting generation: the others are refused.
    let s = start(1);
    let client = reqwest::Client::new();
    let requests = (0..6).map(|_| {
        client
            .post(format!("{}/v1/businesses/{BIKES}/answer", s.base))
            .bearer_auth(ADMIN)
            .json(&json!({"question": "who is your ebike mechanic"}))
            .send()
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut refused = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert!(response.headers().contains_key("retry-after"));
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "busy", "{body}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused >= 1, "six generations at once and none refused");
    let metrics = client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused_series = format!(
        "clerk_http_requests_total{{route=\"/v1/businesses/{{business}}/answer\",method=\"POST\",status=\"429\"}} {refused}"
    );
    assert!(metrics.contains(&refused_series), "{metrics}");
}

#[tokio::test]
async fn health_readiness_and_the_api_description_are_served() {
    let s = service();
    let ready = get_json(format!("{}/readyz", s.base)).await;
    assert_eq!(ready["ready"], true, "{ready}");
    // Every demo business in corpus/ was indexed.
    assert_eq!(ready["businesses"], crate::support::demo_businesses());
    let spec = get_json(format!("{}/openapi.json", s.base)).await;
    assert!(spec["paths"]["/v1/businesses/{business}/answer"].is_object());
}
