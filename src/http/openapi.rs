//! The API description served at `GET /openapi.json`: a hand-written OpenAPI 3.1 document
//! (`openapi.json`) kept next to the handlers it describes and compiled into the binary. A test
//! keeps it in step with the router: every routed path is described, nothing unrouted is, and
//! every schema reference resolves.

use axum::http::header;
use axum::response::IntoResponse;

/// The OpenAPI document, as written.
const DOCUMENT: &str = include_str!("openapi.json");

/// `GET /openapi.json`
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;

    /// Every path the router serves (axum 0.8 and OpenAPI share the `{param}` syntax). Add a
    /// route here and to `openapi.json` together.
    const ROUTES: &[&str] = &[
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/businesses",
        "/v1/businesses/{business}",
        "/v1/businesses/{business}/keys",
        "/v1/businesses/{business}/documents",
        "/v1/businesses/{business}/documents/{name}",
        "/v1/businesses/{business}/search",
        "/v1/businesses/{business}/answer",
        "/v1/businesses/{business}/conversations/{conversation}",
        "/v1/businesses/{business}/conversations/{conversation}/release",
        "/v1/businesses/{business}/conversations/{conversation}/reply",
        "/v1/businesses/{business}/settings",
        "/v1/businesses/{business}/customers/{customer}",
        "/v1/businesses/{business}/orders",
        "/v1/businesses/{business}/orders/{order}",
        "/v1/businesses/{business}/orders/{order}/{action}",
        "/v1/businesses/{business}/whatsapp",
        "/v1/businesses/{business}/whatsapp/dead-letters",
        "/v1/businesses/{business}/whatsapp/unanswered",
        "/v1/businesses/{business}/whatsapp/customers/{wa_id}",
        "/webhooks/whatsapp",
        "/v1/chat/completions",
        "/v1/models",
    ];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    #[test]
    fn is_openapi_3_1() {
        let doc = document();
        let version = doc["openapi"].as_str().expect("`openapi` is a string");
        assert!(version.starts_with("3.1"), "openapi version {version:?}");
        assert_eq!(doc["info"]["title"], "clerk");
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }

    #[test]
    fn paths_match_routes() {
        let doc = document();
        let described: BTreeSet<&str> = doc["paths"]
            .as_object()
            .expect("`paths` is an object")
            .keys()
            .map(String::as_str)
            .collect();
        let routed: BTreeSet<&str> = ROUTES.iter().copied().collect();
        assert_eq!(routed.len(), ROUTES.len(), "ROUTES lists a path twice");
        let undescribed: Vec<_> = routed.difference(&described).collect();
        let unrouted: Vec<_> = described.difference(&routed).collect();
        assert!(
            undescribed.is_empty() && unrouted.is_empty(),
            "routes missing from openapi.json: {undescribed:?}; paths in openapi.json that are not routed: {unrouted:?}"
        );
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
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("`components.schemas` is an object");
        let mut found = Vec::new();
        refs(&doc, String::new(), &mut found);
        assert!(!found.is_empty(), "no $ref at all: the walk is broken");
        let broken: Vec<_> = found
            .iter()
            .filter(|(_, target)| {
                target
                    .strip_prefix("#/components/schemas/")
                    .is_none_or(|name| !schemas.contains_key(name))
            })
            .collect();
        assert!(
            broken.is_empty(),
            "unresolved $ref (at, target): {broken:?}"
        );
    }
}
