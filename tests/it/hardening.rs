//! What an outside probe tried, against the real server: uploads built to make a parser work
//! quadratically or forever, bodies over the limits, damaged files, framework rejections,
//! unbounded names; and `clerk serve` itself, whose data dir must be private and whose log
//! must hold no key, token or secret.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clerk::engine::EngineLimits;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::http::{error_message, Server, ADMIN};
use crate::support;

async fn upload(server: &Server, business: &str, files: &[(&str, String)]) -> (StatusCode, Value) {
    let documents: Vec<Value> = files
        .iter()
        .map(|(name, content)| json!({"name": name, "content": content}))
        .collect();
    let response = server
        .client
        .post(server.url(&format!("/v1/businesses/{business}/documents")))
        .bearer_auth(ADMIN)
        .json(&json!({ "documents": documents }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn document_names(server: &Server, business: &str) -> Vec<String> {
    let (_, listed) = server
        .get_json(&format!("/v1/businesses/{business}/documents"))
        .await;
    let mut names: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// A 413 in the documented shape whose message names `limit`.
async fn assert_names_limit(response: reqwest::Response, limit: usize) {
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    assert!(
        error_message(&body).contains(&format!("{limit} bytes")),
        "{body}"
    );
}

/// The probe's page: `<div></x>` does not close the `<div>`, so the divs nest `n` deep.
fn nested_divs(n: usize) -> String {
    format!("<html><body>{}</body></html>", "<div></x>".repeat(n))
}

#[tokio::test]
async fn pages_that_nest_without_end_are_refused_and_nothing_is_stored() {
    let server = Server::start().await;
    server.create("laden", "de").await;
    let faq = "## Wann habt ihr offen?\n\nMontag bis Freitag 9 bis 18 Uhr.\n".to_string();
    assert_eq!(
        upload(&server, "laden", &[("faq.md", faq.clone())]).await.0,
        200
    );

    // 80k repetitions (720 KB), and a 10 MB one; alone and beside a good file.
    for page in [nested_divs(80_000), nested_divs(10 * 1024 * 1024 / 9)] {
        for files in [
            vec![("seite.html", page.clone())],
            vec![("neu.md", faq.clone()), ("seite.html", page.clone())],
        ] {
            let (status, body) = upload(&server, "laden", &files).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["error"]["code"], "invalid_document");
            let message = error_message(&body);
            assert!(message.starts_with("seite.html: "), "{message}");
            assert!(message.contains("levels deep"), "{message}");
        }
    }
    assert_eq!(document_names(&server, "laden").await, ["faq.md"]);
}

#[tokio::test]
async fn a_parse_past_its_time_budget_is_refused_and_nothing_is_stored() {
    let mut limits = EngineLimits::default();
    // One millisecond: no parser reads megabytes in that, so the budget must stop it.
    limits.documents.max_parse_ms = 1;
    let server = Server::start_with(limits).await;
    server.create("laden", "de").await;
    let long = "## Frage?\n\nEine Antwort mit einigen Wörtern darin.\n\n".repeat(80_000);
    let (status, body) = upload(&server, "laden", &[("lang.md", long)]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "document_too_complex", "{body}");
    assert!(
        error_message(&body).contains("longer than the limit"),
        "{body}"
    );
    assert!(document_names(&server, "laden").await.is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_naming_the_limit() {
    let mut limits = EngineLimits::default();
    limits.documents.max_file_bytes = 4096;
    limits.max_files = 2;
    let server = Server::start_with(limits).await;
    server.create("laden", "de").await;
    // 2 files × 4096 bytes + 1 MiB of multipart room.
    let limit = 2 * 4096 + (1 << 20);
    let big = "x".repeat(limit + 10);

    let (status, body) = upload(&server, "laden", &[("a.txt", big.clone())]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        error_message(&body).contains(&format!("{limit} bytes")),
        "{body}"
    );

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(big.into_bytes()).file_name("a.txt"),
    );
    let response = server
        .client
        .post(server.url("/v1/businesses/laden/documents"))
        .bearer_auth(ADMIN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_names_limit(response, limit).await;

    // The webhook has its own, smaller limit (4 MiB), and says so in the same shape.
    let response = server
        .client
        .post(server.url("/webhooks/whatsapp"))
        .header("x-hub-signature-256", "sha256=00")
        .body(vec![b' '; (4 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_names_limit(response, 4 << 20).await;
    assert!(document_names(&server, "laden").await.is_empty());
}

#[tokio::test]
async fn framework_rejections_come_in_the_documented_shape() {
    let server = Server::start().await;
    server.create("laden", "de").await;
    let cases = [
        (
            reqwest::Method::DELETE,
            "/v1/businesses",
            None,
            405,
            "method_not_allowed",
        ),
        (reqwest::Method::GET, "/v2/nothing", None, 404, "not_found"),
        (
            reqwest::Method::GET,
            "/v1/businesses/laden/documents/a/b",
            None,
            404,
            "not_found",
        ),
        (
            reqwest::Method::POST,
            "/v1/businesses",
            Some("{\"id\":"),
            400,
            "bad_request",
        ),
        (
            reqwest::Method::GET,
            "/v1/businesses/%FF%FE",
            None,
            400,
            "bad_request",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let mut request = server
            .client
            .request(method.clone(), server.url(path))
            .bearer_auth(ADMIN);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let allow = response.headers().get("allow").cloned();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("application/json"),
            "{method} {path}: {content_type}"
        );
        let got: Value = response.json().await.unwrap();
        assert_eq!(got["error"]["code"], code, "{method} {path}: {got}");
        assert!(!error_message(&got).is_empty(), "{got}");
        if status == 405 {
            assert!(allow.is_some(), "405 keeps its Allow header");
            assert!(error_message(&got).contains("Allow header"), "{got}");
        }
    }
}

/// A PDF whose cross-reference table is valid and whose catalog holds an array nested 200,000
/// deep: there is no page to read, and the owner must hear that the file is damaged.
fn damaged_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let catalog_at = pdf.len();
    let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    pdf.extend(
        format!("1 0 obj\n<< /Type /Catalog /Pages 2 0 R /Deep {deep} >>\nendobj\n").as_bytes(),
    );
    let pages_at = pdf.len();
    pdf.extend(b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n");
    let xref_at = pdf.len();
    pdf.extend(
        format!(
            "xref\n0 3\n0000000000 65535 f \n{catalog_at:010} 00000 n \n{pages_at:010} 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n"
        )
        .as_bytes(),
    );
    pdf
}

#[tokio::test]
async fn a_damaged_pdf_is_called_damaged() {
    use base64::Engine as _;
    let server = Server::start().await;
    server.create("laden", "de").await;
    let content = base64::engine::general_purpose::STANDARD.encode(damaged_pdf());
    let response = server
        .client
        .post(server.url("/v1/businesses/laden/documents"))
        .bearer_auth(ADMIN)
        .json(&json!({"documents": [{"name": "preise.pdf", "content_base64": content}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let message = error_message(&body);
    assert!(message.contains("damaged"), "{message}");
    assert!(!message.contains("scanned"), "{message}");
}

#[tokio::test]
async fn names_are_bounded_and_on_one_line() {
    let server = Server::start().await;
    for (name, why) in [
        ("B".repeat(100_000), "at most 120"),
        ("Laden\nZweite Zeile".to_string(), "control characters"),
        ("Laden\u{0}".to_string(), "control characters"),
        ("   ".to_string(), "empty"),
    ] {
        let response = server
            .client
            .post(server.url("/v1/businesses"))
            .bearer_auth(ADMIN)
            .json(&json!({"id": "laden", "name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
        let body: Value = response.json().await.unwrap();
        assert!(error_message(&body).contains(why), "{body}");
    }
    let (_, listed) = server.get_json("/v1/businesses").await;
    assert_eq!(listed, json!([]), "nothing was created");
    let response = server
        .client
        .post(server.url("/v1/businesses"))
        .bearer_auth(ADMIN)
        .json(&json!({"id": "laden", "name": "  Buchhandlung Lindenblatt  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["business"]["name"], "Buchhandlung Lindenblatt");
}

/// Every folder's and file's mode under `dir`, relative paths first.
fn modes(dir: &Path, out: &mut Vec<(String, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        out.push((entry.path().display().to_string(), mode));
        if entry.file_type().unwrap().is_dir() {
            modes(&entry.path(), out);
        }
    }
}

#[test]
fn clerk_serve_keeps_its_data_dir_private_and_its_log_free_of_secrets() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_path = root.path().join("clerk.log");
    // No admin token given: clerk makes one and keeps it in the data dir. No model: the
    // point here is the files, and the default level of the log.
    let mut child = Command::new(env!("CARGO_BIN_EXE_clerk"))
        .arg("serve")
        .env("CLERK_DATA_DIR", &data)
        .env("CLERK_LISTEN", format!("127.0.0.1:{port}"))
        .env("CLERK_CORPUS_DIR", support::corpus())
        .env("CLERK_MODEL", "none")
        .env("CLERK_ENCODER", "none")
        .env_remove("CLERK_ADMIN_TOKEN")
        .env_remove("CLERK_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start clerk");
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secrets = runtime.block_on(async {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while !client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "clerk did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
        let token = token.trim().to_string();
        let keys = std::fs::read_to_string(data.join("demo-api-keys")).unwrap();
        let mut secrets: Vec<String> = keys
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .collect();
        assert_eq!(secrets.len(), support::demo_businesses(), "{keys}");
        // Each demo key works, so the file holds the real ones.
        for (line, key) in keys.lines().zip(&secrets) {
            let business = line.split_whitespace().next().unwrap();
            let status = client
                .get(format!("{base}/v1/businesses/{business}"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200, "{business}");
        }
        let (access_token, app_secret) = ("EAAG-secret-token-123", "app-secret-456789");
        let response = client
            .put(format!("{base}/v1/businesses/harbour-bikes/whatsapp"))
            .bearer_auth(&token)
            .json(
                &json!({"phone_number_id": "1234567", "access_token": access_token,
                          "app_secret": app_secret, "verify_token": "verify-token-1"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        secrets.extend([
            token,
            access_token.into(),
            app_secret.into(),
            "verify-token-1".into(),
        ]);
        secrets
    });
    let _ = child.kill();
    let _ = child.wait();

    let mut found = vec![(
        data.display().to_string(),
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
    )];
    modes(&data, &mut found);
    assert!(found.len() > 5, "{found:?}");
    for (path, mode) in &found {
        let wanted = if Path::new(path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(*mode, wanted, "{path} is {mode:o}");
    }
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("demo-api-keys"),
        "the log says where the keys are: {log}"
    );
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log holds a secret: {log}"
        );
    }
}
