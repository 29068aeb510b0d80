//! Request handlers: parse, authorize, call the engine, shape the reply.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::documents::Cancel;
use crate::engine::{Engine, Upload};
use crate::index::{DocumentInfo, Hit};
use crate::store::Business;

/// Runs an engine call on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    state: &AppState,
    call: impl FnOnce(&Engine) -> Result<T, crate::engine::EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || call(&engine))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(ApiError::from)
}

/// A JSON body, or what is wrong with it: over the body limit (413, naming the limit), or not
/// the JSON expected (400; `hint` says what to send).
pub(super) fn json_body<T>(
    state: &AppState,
    body: Result<Json<T>, JsonRejection>,
    hint: &str,
) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large(state.body_limit())
        } else {
            ApiError::bad_request(format!("invalid JSON body: {}{hint}", e.body_text()))
        }
    })
}

/// Raised when the handler's future is dropped (the client went away), so that work on the
/// blocking pool stops at its next check instead of running on for nobody.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::method_not_allowed(&method)
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see the README for the API",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBusiness {
    id: String,
    name: Option<String>,
    language: Option<String>,
}

#[derive(Serialize)]
pub struct CreatedBusiness {
    business: Business,
    /// Shown once: store it now.
    api_key: String,
}

pub async fn create_business(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<CreateBusiness>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require_admin()?;
    let body = json_body(&state, body, "; send {\"id\", \"name\"?, \"language\"?}")?;
    let (business, api_key) = blocking(&state, move |e| {
        e.create_business(&body.id, body.name.as_deref(), body.language.as_deref())
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedBusiness { business, api_key }),
    ))
}

pub async fn list_businesses(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Business>>, ApiError> {
    match caller {
        Caller::Admin => Ok(Json(blocking(&state, |e| e.businesses()).await?)),
        Caller::Business(id) => Ok(Json(vec![
            blocking(&state, move |e| e.business(&id)).await?,
        ])),
    }
}

#[derive(Serialize)]
pub struct BusinessView {
    #[serde(flatten)]
    business: Business,
    documents: usize,
}

pub async fn get_business(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<BusinessView>, ApiError> {
    caller.check(&business)?;
    let view = blocking(&state, move |e| {
        Ok(BusinessView {
            business: e.business(&business)?,
            documents: e.documents(&business)?.len(),
        })
    })
    .await?;
    Ok(Json(view))
}

#[derive(Serialize)]
pub struct RotatedKey {
    api_key: String,
}

pub async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<RotatedKey>, ApiError> {
    caller.check(&business)?;
    let api_key = blocking(&state, move |e| e.rotate_key(&business)).await?;
    Ok(Json(RotatedKey { api_key }))
}

/// A JSON upload: text documents inline, binary ones (PDF) in base64.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonUpload {
    documents: Vec<JsonDocument>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonDocument {
    name: String,
    content: Option<String>,
    content_base64: Option<String>,
}

impl JsonDocument {
    fn into_upload(self) -> Result<Upload, ApiError> {
        let bytes = match (self.content, self.content_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "{}: content_base64 is not valid base64: {e}",
                        self.name
                    ))
                })?,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "{}: give exactly one of `content` (text) or `content_base64` (binary files such as PDF)",
                    self.name
                )))
            }
        };
        Ok(Upload {
            name: self.name,
            bytes,
        })
    }
}

async fn read_multipart(
    state: &AppState,
    mut multipart: Multipart,
) -> Result<Vec<Upload>, ApiError> {
    let too_large = |e: &axum::extract::multipart::MultipartError| {
        (e.status() == StatusCode::PAYLOAD_TOO_LARGE)
            .then(|| ApiError::body_too_large(state.body_limit()))
    };
    let mut uploads = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        too_large(&e).unwrap_or_else(|| {
            ApiError::bad_request(format!("invalid multipart body: {}", e.body_text()))
        })
    })? {
        let Some(name) = field.file_name().map(str::to_string) else {
            return Err(ApiError::bad_request(
                "every multipart part must be a file with a filename (e.g. curl -F file=@faq.md)",
            ));
        };
        let bytes = field.bytes().await.map_err(|e| {
            too_large(&e).unwrap_or_else(|| {
                ApiError::bad_request(format!("{name}: upload was cut off: {}", e.body_text()))
            })
        })?;
        uploads.push(Upload {
            name,
            bytes: bytes.to_vec(),
        });
    }
    Ok(uploads)
}

pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    caller.check(&business)?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let uploads = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| {
                ApiError::bad_request(format!("invalid multipart body: {}", e.body_text()))
            })?;
        read_multipart(&state, multipart).await?
    } else if content_type.starts_with("application/json") {
        let body: Result<Json<JsonUpload>, JsonRejection> =
            Json::from_request(request, &state).await;
        json_body(
            &state,
            body,
            "; send {\"documents\": [{\"name\", \"content\"}]}",
        )?
        .documents
        .into_iter()
        .map(JsonDocument::into_upload)
        .collect::<Result<Vec<_>, _>>()?
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload as multipart/form-data (files) or application/json ({\"documents\": [{\"name\", \"content\"}]})",
        ));
    };
    let cancel = Cancel::new();
    let _cancel_if_dropped = CancelOnDrop(cancel.clone());
    let report = blocking(&state, move |e| {
        e.ingest_unless_cancelled(&business, &uploads, cancel)
    })
    .await?;
    Ok((StatusCode::OK, Json(report)))
}

pub async fn list_documents(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<Vec<DocumentInfo>>, ApiError> {
    caller.check(&business)?;
    Ok(Json(
        blocking(&state, move |e| e.documents(&business)).await?,
    ))
}

pub async fn delete_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.check(&business)?;
    blocking(&state, move |e| e.delete_document(&business, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[serde(alias = "q")]
    query: String,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct SearchResponse {
    business: String,
    query: String,
    hits: Vec<SearchHit>,
}

#[derive(Serialize)]
pub struct SearchHit {
    /// "document#ordinal"
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

pub async fn search_post(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
    body: Result<Json<SearchRequest>, JsonRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let request = json_body(&state, body, "; send {\"query\", \"limit\"?}")?;
    search(state, caller, business, request).await
}
