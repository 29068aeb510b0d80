//! Search: a business's passages ranked against a question, with their scores and stored
//! product fields, and no reply written (`GET …/search?q=` and `POST …/search`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::handlers::{blocking, json_body};
use super::openapi::{BusinessPath, Internal, OtherBusiness, Unauthorized, UnknownBusiness};
use super::AppState;
use crate::index::Hit;

/// A search: the question as `query` or its alias `q` (not both); unknown fields are refused.
#[derive(Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchRequest {
    /// The question or search words (also accepted as `q`; give one of them, not both).
    #[serde(alias = "q")]
    #[schema(min_length = 1, examples("do you rent e-bikes"))]
    // Not required as a parameter: `q` may stand in its place.
    #[param(min_length = 1, example = "do you rent e-bikes", required = false)]
    query: String,
    /// Most hits to return; 10 when absent, then clamped to 1 … the configured maximum (100 by
    /// default), so 0 asks for one.
    #[schema(default = 10, examples(5))]
    #[param(default = 10, example = 5)]
    limit: Option<usize>,
}

/// The best passages for a question, best first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchResponse {
    business: String,
    /// The question as sent.
    query: String,
    /// The best passages, best first.
    hits: Vec<SearchHit>,
}

/// One ranked passage: its id plus the passage's stored fields.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// The passage's id, `document#ordinal`; sources cite passages this way.
    #[schema(examples("catalog.csv#0"))]
    passage: String,
    #[serde(flatten)]
    hit: Hit,
}

async fn search(
    state: AppState,
    caller: Caller,
    business: String,
    request: SearchRequest,
) -> Result<Json<SearchResponse>, ApiError> {
    caller.check(&business)?;
    let limit = request.limit.unwrap_or(10);
    let query = request.query.clone();
    let for_engine = business.clone();
    let hits = blocking(&state, move |e| e.search(&for_engine, &query, limit)).await?;
    Ok(Json(SearchResponse {
        business,
        query: request.query,
        hits: hits
            .into_iter()
            .map(|hit| SearchHit {
                passage: hit.passage_id(),
                hit,
            })
            .collect(),
    }))
}

/// Search passages.
///
/// Ranks the business's passages against a question and returns them with their scores and
/// stored product fields; no reply is written. Give the question as `query` (or `q`). A
/// business with no uploads yet answers with no hits. Unknown query parameters are refused.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/search",
    operation_id = "searchGet",
    tag = "search",
    params(
        BusinessPath,
        SearchRequest,
        ("q" = Option<String>, Query, description = "Same as `query` (its short name); give one of them, not both."),
    ),
    responses(
        (status = 200, description = "The best passages, best first.", body = SearchResponse),
        (status = 400, description = "Empty or over-long question (`bad_question`); a missing question, both `q` and `query`, an unknown parameter, an invalid `limit` or business id (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn search_get(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    query: Result<Query<SearchRequest>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Query(request) = query.map_err(|e| {
        ApiError::bad_request(format!("{}; use ?q=<question>&limit=<n>", e.body_text()))
    })?;
    search(state, caller, business, request).await
}

/// Search passages (JSON body).
///
/// The same search as the GET form, with the question in a JSON body (`query`, or its alias
/// `q`).
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/search",
    operation_id = "searchPost",
    tag = "search",
    params(BusinessPath),
    request_body(content = SearchRequest, example = json!({"query": "do you rent e-bikes", "limit": 5})),
    responses(
        (status = 200, description = "The best passages, best first.", body = SearchResponse),
        (status = 400, description = "Empty or over-long question (`bad_question`); a missing question, both `q` and `query`, an unknown field, an invalid `limit` or business id, or a malformed body (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn search_post(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let request = json_body(&state, body, "; send {\"query\", \"limit\"?}")?;
    search(state, caller, business, request).await
}
