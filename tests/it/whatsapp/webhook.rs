//! The webhook's front door: Meta's handshake, signatures, every real payload shape, and the
//! connection API that holds the secrets.

use clerk::channels::whatsapp::signature;
use serde_json::{json, Value};

use super::{runtime, Rig, ADMIN, BIKES, BOOKS, FIXTURE_NUMBER, SECRET};
use crate::support;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = support::shared().join("data/whatsapp/pywa/updates");
    let mut all = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for file in files {
        let cases: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        for (name, payload) in cases {
            all.push((format!("{stem}/{name}"), payload.to_string().into_bytes()));
        }
    }
    all
}

#[test]
fn every_pywa_payload_is_accepted_and_forgeries_are_refused_with_nothing_stored() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        rig.connect(BOOKS, FIXTURE_NUMBER).await;
        let fixtures = fixtures();
        assert!(fixtures.len() >= 70, "only {} fixtures", fixtures.len());
        let stored = || rig.channel.counts(None).unwrap();

        // Forged first, so that any row in the store could only have come from them.
        for (name, body) in &fixtures {
            assert_eq!(rig.post(body, None).await, 401, "{name} unsigned");
            assert_eq!(
                rig.post(body, Some("not-the-app-secret")).await,
                403,
                "{name} signed by someone else"
            );
            let mut tampered = body.clone();
            let header = signature::header_for(SECRET, body);
            let at = tampered.len() / 2;
            tampered[at] ^= 0x01;
            let response = rig
                .client
                .post(format!("{}/webhooks/whatsapp", rig.base))
                .header("x-hub-signature-256", header)
                .body(tampered)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 403, "{name} tampered");
        }
        let nothing = stored();
        assert_eq!(
            (nothing.inbox_pending, nothing.inbox_done, nothing.sent),
            (0, 0, 0)
        );
        assert_eq!(
            rig.post(b"sha256=garbage", Some(SECRET)).await,
            400,
            "signed but not JSON"
        );

        for (name, body) in &fixtures {
            assert_eq!(rig.post(body, Some(SECRET)).await, 200, "{name}");
        }
        // Messages that need a reply are in the inbox (the fixtures share a handful of wamids,
        // so each counts once); reactions, statuses, calls and account updates are not.
        let counts = stored();
        assert!(counts.inbox_pending + counts.inbox_done >= 5, "{counts:?}");
        let metrics = rig.metrics().await;
        assert!(
            metrics.contains(&format!(
                "clerk_whatsapp_webhooks_total{{outcome=\"refused\"}} {}",
                3 * fixtures.len()
            )),
            "{metrics}"
        );
    });
}

#[test]
fn the_signature_is_checked_over_the_raw_escaped_bytes() {
    let path = support::shared().join("data/whatsapp/signature_test_vectors.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let secret = vectors["app_secret"].as_str().unwrap();
    let escaped = vectors
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("body_bytes_signed_by_meta"))
        .unwrap()
        .1
        .as_str()
        .unwrap();
    let header = vectors["x_hub_signature_256"].as_str().unwrap();
    let digest = signature::parse_header(header).unwrap();
    assert!(signature::verify(secret, escaped.as_bytes(), &digest));
    // The same text decoded to UTF-8 is a different body, and must not verify.
    let decoded = vectors["body_as_parsed_string"].as_str().unwrap();
    assert!(!signature::verify(secret, decoded.as_bytes(), &digest));
    assert_eq!(
        signature::sign(secret, decoded.as_bytes()),
        vectors["hmac_over_raw_utf8_(does NOT match)"]
            .as_str()
            .unwrap()
    );
    let extra = &vectors["extra_vector_from_hexdocs_whatsapp_sdk"];
    assert_eq!(
        signature::sign(
            extra["secret"].as_str().unwrap(),
            extra["payload"].as_str().unwrap().as_bytes()
        ),
        extra["hex"].as_str().unwrap()
    );
}

#[test]
fn the_handshake_and_the_connection_api() {
    runtime().block_on(async {
        let rig = Rig::start(|_| {}).await;
        let connected = rig.connect(BOOKS, "1000001").await;
        assert_eq!(connected["phone_number_id"], "1000001");
        let shown = connected.to_string();
        for secret in [SECRET, "EAAG-token-for-tests", "verify-token-for-tests"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let (status, view) = rig.get(&format!("/v1/businesses/{BOOKS}/whatsapp")).await;
        assert_eq!(status, 200);
        assert!(!view.to_string().contains(SECRET), "{view}");
        assert_eq!(view["counts"]["inbox_pending"], 0);

        let verify = |query: &str| {
            let url = format!("{}/webhooks/whatsapp?{query}", rig.base);
            let client = rig.client.clone();
            async move {
                let r = client.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(
            verify("hub.mode=subscribe&hub.verify_token=verify-token-for-tests&hub.challenge=1158201444").await,
            (200, "1158201444".to_string())
        );
        assert_eq!(
            verify("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1").await.0,
            403
        );
        assert_eq!(
            verify("hub.mode=unsubscribe&hub.verify_token=verify-token-for-tests&hub.challenge=1")
                .await
                .0,
            403
        );

        let put = |business: &str, body: Value, token: &str| {
            let url = format!("{}/v1/businesses/{business}/whatsapp", rig.base);
            let request = rig.client.put(url).bearer_auth(token).json(&body);
            async move {
                let r = request.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let good = json!({"phone_number_id": "1000002", "access_token": "EAAG-token-for-tests",
                          "app_secret": SECRET, "verify_token": "verify-token-for-tests"});
        let mut letters = good.clone();
        letters["phone_number_id"] = json!("12ab");
        let (status, error) = put(BOOKS, letters, ADMIN).await;
        assert_eq!(status, 400, "{error}");
        assert!(error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("phone_number_id"));
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("app_secret");
        assert_eq!(put(BOOKS, missing, ADMIN).await.0, 400);
        assert_eq!(put("no-such-shop", good.clone(), ADMIN).await.0, 404);
        assert_eq!(put(BOOKS, good.clone(), "ck_not_a_key").await.0, 401);
        let mut taken = good.clone();
        taken["phone_number_id"] = json!("1000001");
        assert_eq!(put(BIKES, taken, ADMIN).await.0, 409);
        // Nothing of the refused calls was kept.
        let (_, view) = rig.get(&format!("/v1/businesses/{BOOKS}/whatsapp")).await;
        assert_eq!(view["phone_number_id"], "1000001");
        assert_eq!(
            rig.get(&format!("/v1/businesses/{BIKES}/whatsapp")).await.0,
            404
        );
    });
}
