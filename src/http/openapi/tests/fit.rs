//! Real responses against the schemas the document gives them: every required field present,
//! every field sent described, every value of the described type.

use super::*;
use crate::answer::catalog::{CatalogResult, ListedProduct};
use crate::answer::{Answer, GenerationStats, Mode, PassageEvidence, Source, Timings};
use crate::store::{Fulfilment, Order, OrderChange, OrderCustomer, OrderItem, OrderState};

/// What is wrong with `value` as an instance of `schema`, each problem with its place.
fn misfits(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(choices) = schema[key].as_array() {
            let fits_one = choices.iter().any(|choice| {
                let mut problems = Vec::new();
                misfits(doc, choice, value, at, &mut problems);
                problems.is_empty()
            });
            if !fits_one {
                out.push(format!("{at}: fits none of the {key} choices: {value}"));
            }
            return;
        }
    }
    if let Some(types) = types_of(schema) {
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_f64() => "number",
            Value::Number(_) => "integer",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
        if !fits {
            out.push(format!("{at}: a {kind}, described as {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            out.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    match value {
        Value::Object(fields) => {
            let (properties, required) = object_shape(doc, schema);
            for name in &required {
                if !fields.contains_key(name) {
                    out.push(format!("{at}: required field `{name}` missing"));
                }
            }
            let free_form = properties.is_empty();
            for (name, field) in fields {
                match properties.iter().find(|(n, _)| n == name) {
                    Some((_, property)) => {
                        misfits(doc, property, field, &format!("{at}.{name}"), out)
                    }
                    None if !free_form => {
                        out.push(format!("{at}: field `{name}` is not described"))
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (i, element) in items.iter().enumerate() {
                    misfits(doc, item, element, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

fn types_of(schema: &Value) -> Option<Vec<&str>> {
    match &schema["type"] {
        Value::String(one) => Some(vec![one.as_str()]),
        Value::Array(many) => Some(many.iter().filter_map(Value::as_str).collect()),
        _ => None,
    }
}

/// The properties and required fields of an object schema, `allOf` parts (serde's flatten)
/// merged; a part that may be null (a flattened `Option`) adds its properties, none required.
fn object_shape(doc: &Value, schema: &Value) -> (Vec<(String, Value)>, Vec<String>) {
    let schema = resolve(doc, schema);
    let mut properties: Vec<(String, Value)> = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, property)| (name.clone(), property.clone()))
        .collect();
    let mut required: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let part = resolve(doc, part);
        match part["oneOf"].as_array() {
            Some(choices) => {
                for choice in choices {
                    properties.extend(object_shape(doc, choice).0);
                }
            }
            None => {
                let (more, needed) = object_shape(doc, part);
                properties.extend(more);
                required.extend(needed);
            }
        }
    }
    (properties, required)
}

fn schema_named<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    schema
}

fn assert_fits(doc: &Value, schema: &Value, value: &Value, what: &str) {
    let mut problems = Vec::new();
    misfits(doc, schema, value, what, &mut problems);
    assert!(
        problems.is_empty(),
        "{what} does not fit its schema: {problems:#?}\n{value:#}"
    );
}

#[test]
fn the_check_finds_a_missing_field_an_undescribed_one_and_a_wrong_type() {
    let doc = document();
    let error = schema_named(&doc, "Error");
    let problems = |value: Value| {
        let mut found = Vec::new();
        misfits(&doc, error, &value, "Error", &mut found);
        found
    };
    assert!(problems(json!({"error": {"code": "busy", "message": "wait"}})).is_empty());
    assert_eq!(problems(json!({"error": {"code": "busy"}})).len(), 1);
    assert_eq!(
        problems(json!({"error": {"code": "busy", "message": "", "x": 1}})).len(),
        1
    );
    assert_eq!(
        problems(json!({"error": {"code": 7, "message": ""}})).len(),
        1
    );
}

#[test]
fn a_full_answer_and_order_fit_their_schemas() {
    let doc = document();
    let source = Source {
        document: "catalog.csv".into(),
        passage: 3,
        title: "Tidewater 500".into(),
        snippet: "649.00 GBP".into(),
        score: 1.5,
    };
    let listed = ListedProduct {
        title: "Tidewater 500".into(),
        document: "catalog.csv".into(),
        passage: 3,
    };
    // Every optional field filled, so that a field the schema lacks shows.
    let answer = Answer {
        text: "The Tidewater 500 costs 649.00 GBP.".into(),
        sources: vec![source],
        mode: Mode::Generated,
        language: "en".into(),
        timings: Timings::default(),
        model: Some("SmolLM2".into()),
        needs_person: false,
        conversation_id: Some("c-1".into()),
        generation: Some(GenerationStats {
            prompt_tokens: 100,
            tokens: 12,
            tokens_per_second: 30.5,
            sources_used: 1,
            source_shortened: false,
            rejected: Some("650".into()),
        }),
        evidence: Some(PassageEvidence {
            coverage: 0.8,
            similarity: Some(0.9),
            sentence_similarity: Some(0.85),
            question_similarity: Some(0.7),
            margin: Some(0.1),
            foreign: false,
            confidence: 0.95,
            judgement: Some(2.0),
        }),
        catalog: Some(CatalogResult {
            matched: 1,
            products: vec![listed.clone()],
            shown: vec![listed],
        }),
        order: Some(crate::answer::ordered::OrderPart {
            step: crate::answer::ordered::OrderStep::Summarized,
            order_id: Some("ord_1".into()),
            choices: vec![crate::answer::ordered::Choice {
                id: "order:ord_1:confirm".into(),
                title: "Bestätigen".into(),
                description: None,
            }],
        }),
    };
    let value = serde_json::to_value(&answer).unwrap();
    assert_fits(&doc, schema_named(&doc, "Answer"), &value, "Answer");

    let order = Order {
        id: "ord_1".into(),
        business_id: "harbour-bikes".into(),
        state: OrderState::Accepted,
        customer: OrderCustomer::WhatsApp {
            wa_id: "4915112345678".into(),
            name: Some("Ana".into()),
        },
        conversation_id: "wa:4915112345678".into(),
        items: vec![OrderItem {
            title: "Tidewater 500".into(),
            sku: Some("TW-500".into()),
            quantity: 1,
            price: "649.00".into(),
            currency: Some("GBP".into()),
        }],
        fulfilment: Some(Fulfilment::Pickup),
        customer_note: Some("after 5".into()),
        business_note: None,
        language: "en".into(),
        idempotency_key: "chat:wamid.1".into(),
        created_at: 1,
        updated_at: 2,
        history: Some(vec![OrderChange {
            from: Some(OrderState::Placed),
            to: OrderState::Accepted,
            note: Some("see you".into()),
            at: 2,
        }]),
    };
    let value = serde_json::to_value(&order).unwrap();
    assert_fits(&doc, schema_named(&doc, "Order"), &value, "Order");
    let api_customer = serde_json::to_value(OrderCustomer::Api).unwrap();
    assert_fits(
        &doc,
        schema_named(&doc, "OrderCustomer"),
        &api_customer,
        "OrderCustomer::Api",
    );
}

/// Sends `method uri` (with `body` as JSON) as the admin and checks the reply against what the
/// document says `method template` answers with that status.
async fn call(
    router: &Router,
    doc: &Value,
    (method, template, uri): (&str, &str, &str),
    body: Option<Value>,
) -> Value {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16().to_string();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let value: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{method} {uri} ({status}): not JSON ({e})"));
    let operation = &doc["paths"][template][method.to_lowercase()];
    let response = resolve(doc, &operation["responses"][&status]);
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {template} documents no JSON for {status}: {value}"
    );
    assert_fits(doc, schema, &value, &format!("{method} {uri} ({status})"));
    value
}

#[tokio::test]
async fn the_router_s_responses_fit_the_schemas_the_document_gives_them() {
    let (router, _dir) = service();
    let doc = document();
    let r = &router;
    let d = &doc;
    let business = "/v1/businesses/harbour-bikes";
    call(r, d, ("GET", "/readyz", "/readyz"), None).await;
    let served = call(r, d, ("GET", "/openapi.json", "/openapi.json"), None).await;
    assert_eq!(
        served, doc,
        "GET /openapi.json serves the document the tests read"
    );
    call(
        r,
        d,
        ("POST", "/v1/businesses", "/v1/businesses"),
        Some(json!({"id": "harbour-bikes", "name": "Harbour Bikes", "language": "en"})),
    )
    .await;
    call(r, d, ("GET", "/v1/businesses", "/v1/businesses"), None).await;
    call(r, d, ("GET", "/v1/businesses/{business}", business), None).await;
    let missing = ("GET", "/v1/businesses/{business}", "/v1/businesses/nobody");
    let error = call(r, d, missing, None).await;
    assert_eq!(error["error"]["code"], "unknown_business");
    let documents = format!("{business}/documents");
    let faq = "## Do you rent e-bikes?\nYes, from 25 EUR a day.\n\n## When are you open?\nDaily 9:00 to 18:00.";
    let upload = json!({"documents": [{"name": "faq.md", "content": faq}]});
    let path = "/v1/businesses/{business}/documents";
    call(r, d, ("POST", path, &documents), Some(upload)).await;
    call(r, d, ("GET", path, &documents), None).await;
    let search = "/v1/businesses/{business}/search";
    let uri = format!("{business}/search?q=e-bikes&limit=3");
    let hits = call(r, d, ("GET", search, &uri), None).await;
    assert!(!hits["hits"].as_array().unwrap().is_empty(), "{hits}");
    let uri = format!("{business}/search");
    call(r, d, ("POST", search, &uri), Some(json!({"query": "open"}))).await;
    let question = json!({"question": "Do you rent e-bikes?", "conversation_id": "c-1"});
    let uri = format!("{business}/answer");
    let path = "/v1/businesses/{business}/answer";
    call(r, d, ("POST", path, &uri), Some(question)).await;
    let path = "/v1/businesses/{business}/conversations/{conversation}";
    call(
        r,
        d,
        ("GET", path, &format!("{business}/conversations/c-1")),
        None,
    )
    .await;
    let uri = format!("{business}/conversations/c-1/release");
    call(r, d, ("POST", &format!("{path}/release"), &uri), None).await;
    let path = "/v1/businesses/{business}/settings";
    let uri = format!("{business}/settings");
    call(r, d, ("GET", path, &uri), None).await;
    let settings = json!({"disclosure": "Automated assistant.", "retention_days": 7});
    call(r, d, ("PUT", path, &uri), Some(settings)).await;
    let path = "/v1/businesses/{business}/customers/{customer}";
    let uri = format!("{business}/customers/c-1");
    call(r, d, ("GET", path, &uri), None).await;
    call(r, d, ("DELETE", path, &uri), None).await;
    let uri = format!("{business}/orders");
    call(
        r,
        d,
        ("GET", "/v1/businesses/{business}/orders", &uri),
        None,
    )
    .await;
    call(r, d, ("GET", "/v1/models", "/v1/models"), None).await;
    let chat = json!({"model": "harbour-bikes", "messages": [{"role": "user", "content": "When are you open?"}]});
    let path = "/v1/chat/completions";
    call(r, d, ("POST", path, path), Some(chat.clone())).await;
    streamed_chunks_fit(r, d, chat).await;
}

/// Each `data:` of a streamed completion is a `ChatCompletionChunk`.
async fn streamed_chunks_fit(router: &Router, doc: &Value, mut chat: Value) {
    chat["stream"] = json!(true);
    let request = Request::post("/v1/chat/completions")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(chat.to_string()))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter(|data| *data != "[DONE]")
        .map(|data| serde_json::from_str(data).expect("a chunk is JSON"))
        .collect();
    assert!(
        chunks.len() >= 3,
        "role, content and the last chunk: {text}"
    );
    let schema = schema_named(doc, "ChatCompletionChunk");
    for (i, chunk) in chunks.iter().enumerate() {
        assert_fits(doc, schema, chunk, &format!("chunk {i}"));
    }
    let last = chunks.last().unwrap();
    assert!(
        last["sources"].is_array() && last["usage"].is_object(),
        "{last}"
    );
}
