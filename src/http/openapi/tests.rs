//! The generated document against the router it describes and the responses it serves.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::engine::{Engine, EngineLimits, OrderAction};
use crate::http::{router, AppState};

const ADMIN: &str = "the-admin-token";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(&super::DOCUMENT).expect("the document is JSON")
}

/// A router over an empty data dir, with `ADMIN` as the admin token.
fn service() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(dir.path(), EngineLimits::default()).expect("open engine");
    (router(AppState::new(Arc::new(engine), Some(ADMIN))), dir)
}

/// The `/app` web page is HTML for people, not part of the API the document describes.
fn is_web_page(path: &str) -> bool {
    path == "/app" || path.starts_with("/app/")
}

/// Every path `router` serves. axum lists its routes nowhere public, but its `Debug` prints the
/// route table (`RouteId(n): "/path"`); `the_route_table_is_read` fails if that format changes,
/// so this cannot pass by finding nothing.
fn served_paths(router: &Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    // The fallback router's own table (its catch-all) follows; it is not a route.
    let table = debug.split("fallback_router").next().unwrap_or_default();
    table
        .split("RouteId(")
        .skip(1)
        .filter_map(|entry| {
            let quoted = entry.split_once("): \"")?.1;
            Some(quoted.split_once('"')?.0.to_string())
        })
        .collect()
}

/// `path` with every `{parameter}` filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x1"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The methods the router takes on `path`, from the `Allow` header of a method it lacks.
async fn routed_methods(router: &Router, path: &str) -> BTreeSet<String> {
    let request = Request::builder()
        .method(Method::TRACE)
        .uri(concrete(path))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(
        response.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "TRACE {path}"
    );
    let allow = response.headers()[header::ALLOW].to_str().unwrap();
    let methods: BTreeSet<String> = allow.split(',').map(|m| m.trim().to_lowercase()).collect();
    // axum answers HEAD wherever it answers GET; the document names the GET.
    let implied_head = methods.contains("get");
    methods
        .into_iter()
        .filter(|m| !(implied_head && m == "head"))
        .collect()
}

fn documented_methods(item: &Value) -> BTreeSet<String> {
    METHODS
        .iter()
        .filter(|m| item.get(**m).is_some())
        .map(|m| m.to_string())
        .collect()
}

#[test]
fn the_route_table_is_read() {
    let (router, _dir) = service();
    let served = served_paths(&router);
    for known in [
        "/healthz",
        "/v1/businesses/{business}/answer",
        "/webhooks/whatsapp",
    ] {
        assert!(served.contains(known), "{known} not found in {served:?}");
    }
    // The web app's pages are seen, and left out of the API.
    assert!(served.contains("/app/inbox") && is_web_page("/app/inbox"));
    let with_page = router.route("/app/probe", axum::routing::get(|| async { "probe" }));
    assert!(served_paths(&with_page).contains("/app/probe"));
    assert!(!is_web_page("/apply") && !is_web_page("/v1/businesses"));
}

#[tokio::test]
async fn the_document_describes_exactly_the_routes_the_router_serves() {
    let (router, _dir) = service();
    let doc = document();
    let paths = doc["paths"].as_object().expect("paths");
    let served: BTreeSet<String> = served_paths(&router)
        .into_iter()
        .filter(|p| !is_web_page(p))
        .collect();
    let described: BTreeSet<String> = paths.keys().cloned().collect();
    let undescribed: Vec<_> = served.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&served).collect();
    assert!(
        undescribed.is_empty() && unrouted.is_empty(),
        "routes without a #[utoipa::path] in ApiDoc: {undescribed:?}; described paths the router does not serve: {unrouted:?}"
    );
    for (path, item) in paths {
        assert_eq!(
            routed_methods(&router, path).await,
            documented_methods(item),
            "methods routed (left) and described (right) on {path}"
        );
    }
}

/// `value` with a `$ref` (to a schema or a response) followed.
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(target) => {
            let pointer = target.strip_prefix('#').expect("a local $ref");
            resolve(doc, doc.pointer(pointer).unwrap_or(&Value::Null))
        }
        None => value,
    }
}

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    found
}

#[test]
fn every_json_body_has_a_schema_and_every_path_parameter_is_declared() {
    let doc = document();
    let mut problems = Vec::new();
    for (method, path, operation) in operations(&doc) {
        let mut contents = vec![("request".to_string(), &operation["requestBody"]["content"])];
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let content = &resolve(&doc, response)["content"];
            // One error shape: every 4xx/5xx is an `Error`, but for the probe that answers its
            // readiness with 503 so that load balancers hold traffic back.
            let error = &content["application/json"]["schema"]["$ref"];
            let probe = path == "/readyz" && status == "503";
            if status.as_str() >= "400" && !probe && error != "#/components/schemas/Error" {
                problems.push(format!("{method} {path} {status}: not an Error body"));
            }
            contents.push((status.clone(), content));
        }
        for (what, content) in contents {
            for (media, body) in content.as_object().into_iter().flatten() {
                let schema = resolve(&doc, &body["schema"]);
                let bare = schema.as_object().is_none_or(|s| s.is_empty());
                if media.contains("json") && bare {
                    problems.push(format!("{method} {path} {what} {media}: no schema"));
                }
            }
        }
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        let in_path: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        if declared != in_path {
            problems.push(format!("{method} {path}: path parameters {declared:?}"));
        }
        if operation["responses"]
            .as_object()
            .is_none_or(|r| r.is_empty())
        {
            problems.push(format!("{method} {path}: no responses"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Collects every `$ref` value in `value`, with the JSON pointer where it occurs.
fn refs<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push((at.clone(), child.as_str().unwrap_or("<not a string>")));
                } else {
                    refs(child, format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves() {
    let doc = document();
    let mut found = Vec::new();
    refs(&doc, String::new(), &mut found);
    assert!(
        found.len() > 50,
        "few $refs ({}): the walk is broken",
        found.len()
    );
    let broken: Vec<_> = found
        .iter()
        .filter(|(_, target)| {
            target
                .strip_prefix('#')
                .and_then(|pointer| doc.pointer(pointer))
                .is_none()
        })
        .collect();
    assert!(
        broken.is_empty(),
        "unresolved $ref (at, target): {broken:?}"
    );
}

#[test]
fn the_frame_is_openapi_3_1_with_bearer_auth_and_open_probes() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3.1"), "openapi version {version:?}");
    assert_eq!(doc["info"]["title"], "clerk");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/webhooks/whatsapp",
    ] {
        for (method, operation) in doc["paths"][path].as_object().expect(path) {
            assert_eq!(
                operation["security"],
                json!([]),
                "{method} {path} needs no token"
            );
        }
    }
    assert_eq!(
        doc["paths"]["/v1/businesses"]["post"]["security"],
        Value::Null,
        "the business routes take the document's bearer requirement"
    );
}

#[test]
fn every_operation_has_its_own_id_and_a_tag_the_document_describes() {
    let doc = document();
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let id = operation["operationId"].as_str().expect("an operationId");
        assert!(ids.insert(id), "{method} {path}: operationId {id} is taken");
        let tag = operation["tags"][0].as_str().unwrap_or_default();
        assert!(
            tags.contains(tag),
            "{method} {path}: tag {tag:?} is not described"
        );
        assert!(
            operation["summary"].is_string(),
            "{method} {path}: no summary"
        );
    }
}

#[test]
fn the_order_actions_in_the_path_are_the_ones_the_handler_takes() {
    let doc = document();
    let parameters = doc["paths"]["/v1/businesses/{business}/orders/{order}/{action}"]["post"]
        ["parameters"]
        .as_array()
        .expect("parameters");
    let action = parameters
        .iter()
        .find(|p| p["name"] == "action")
        .expect("action");
    let described: BTreeSet<&str> = resolve(&doc, &action["schema"])["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let taken: BTreeSet<&str> = OrderAction::ALL
        .into_iter()
        .filter(|a| OrderAction::of_business(a.as_str()).is_some())
        .map(OrderAction::as_str)
        .collect();
    assert_eq!(described, taken);
}

mod fit;
