//! Request handlers for businesses, their keys and documents (parse, authorize, call the
//! engine, shape the reply), and what every handler shares: running engine calls on the
//! blocking pool and reading JSON bodies. Search is in `search`, answers in `answers`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::openapi::{
    AdminOnly, BadBusinessId, BusinessPath, IndexLocked, Internal, OtherBusiness, Unauthorized,
    UnknownBusiness,
};
use super::AppState;
use crate::documents::Cancel;
use crate::engine::{Engine, IngestReport, Upload};
use crate::index::DocumentInfo;
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

/// Liveness probe.
///
/// Answers `ok` as soon as the process serves HTTP, before the model and indexes are loaded.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    security(),
    responses((
        status = 200,
        description = "The process is alive.",
        body = String,
        content_type = "text/plain; charset=utf-8",
        example = "ok",
    )),
)]
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

/// A new business (unknown fields are refused).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBusiness {
    /// 1-64 characters a-z, 0-9, `-` or `_`, starting with a letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", examples("harbour-bikes"))]
    id: String,
    /// Display name; defaults to the id. At most 120 characters, no control characters.
    #[schema(examples("Harbour Bikes"))]
    name: Option<String>,
    /// Retrieval language: an ISO 639-1 code (`en`, `de`, `fr`, `es`, `pt`, `it`, `nl`),
    /// `plain`, or the language's English name (`german`), case-insensitive. Absent, empty or
    /// `auto` lets the first upload decide. The business records the code.
    #[schema(examples("en", "de", "auto"))]
    language: Option<String>,
}

/// A business just created, with its first API key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedBusiness {
    business: Business,
    /// A business API key (`ck_` and 64 hex digits); send it as `Authorization: Bearer ck_…`.
    /// Shown once: store it now.
    #[schema(pattern = "^ck_[0-9a-f]{64}$")]
    api_key: String,
}

/// Create a business.
///
/// Creates a business and its first API key (admin token only). The key is shown in this
/// response only: store it now.
#[utoipa::path(
    post,
    path = "/v1/businesses",
    operation_id = "createBusiness",
    tag = "businesses",
    request_body(
        content = CreateBusiness,
        example = json!({"id": "harbour-bikes", "name": "Harbour Bikes", "language": "en"}),
    ),
    responses(
        (status = 201, description = "The business and its API key.", body = CreatedBusiness),
        (status = 400, description = "Invalid JSON body (including unknown fields), business id, name or language (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = AdminOnly),
        (status = 409, description = "A business with this id exists (`business_exists`).", body = ErrorBody),
        (status = 500, response = Internal),
    ),
)]
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

/// List businesses.
///
/// Lists every business (ordered by id) for the admin token; a business API key gets a
/// one-element array with its own business. The body is a bare JSON array.
#[utoipa::path(
    get,
    path = "/v1/businesses",
    operation_id = "listBusinesses",
    tag = "businesses",
    responses(
        (status = 200, description = "The businesses the caller may see.", body = Vec<Business>),
        (status = 401, response = Unauthorized),
        (status = 500, response = Internal),
    ),
)]
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

/// A business with the number of its uploaded documents.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BusinessView {
    #[serde(flatten)]
    business: Business,
    /// How many documents the business has uploaded.
    documents: usize,
}

/// Show a business.
///
/// Returns one business with the number of its uploaded documents; allowed for the admin token
/// or that business's API key.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}",
    operation_id = "getBusiness",
    tag = "businesses",
    params(BusinessPath),
    responses(
        (status = 200, description = "The business and its document count.", body = BusinessView),
        (status = 400, response = BadBusinessId),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
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

/// A business's new API key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RotatedKey {
    /// A business API key (`ck_` and 64 hex digits). Shown once: store it now.
    #[schema(pattern = "^ck_[0-9a-f]{64}$")]
    api_key: String,
}

/// Replace the API key.
///
/// Issues a new API key for the business and revokes the old one at once. The new key is shown
/// in this response only.
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/keys",
    operation_id = "rotateKey",
    tag = "businesses",
    params(BusinessPath),
    responses(
        (status = 200, description = "The new API key.", body = RotatedKey),
        (status = 400, response = BadBusinessId),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
pub async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(business): Path<String>,
) -> Result<Json<RotatedKey>, ApiError> {
    caller.check(&business)?;
    let id = business.clone();
    let api_key = blocking(&state, move |e| e.rotate_key(&id)).await?;
    // A browser signed in with the old key is signed out with it.
    state.sessions.close_business(&business);
    Ok(Json(RotatedKey { api_key }))
}

/// A JSON upload: text documents inline, binary ones (PDF) in base64.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonUpload {
    #[schema(min_items = 1)]
    documents: Vec<JsonDocument>,
}

/// One file of a JSON upload: give exactly one of `content` (text) or `content_base64`
/// (binary files such as PDF).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonDocument {
    /// The document name; its extension picks the format.
    #[schema(examples("faq.md"))]
    name: String,
    /// The file's text.
    content: Option<String>,
    /// The file's bytes in standard base64.
    #[schema(content_encoding = "base64")]
    content_base64: Option<String>,
}

/// A multipart upload, as described (the handler reads the parts as they stream in): one part
/// per file; each part's filename is the document's name and its extension picks the format
/// (e.g. `curl -F file=@faq.md -F file=@catalog.csv`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct MultipartUpload {
    /// The files, each a part with a filename (the part's own name is not read).
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
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

/// Upload documents.
///
/// Parses and indexes one or more documents; a document whose name exists replaces it.
/// All-or-nothing: if any file is refused, none is indexed and the error message names the
/// file (and line).
#[utoipa::path(
    post,
    path = "/v1/businesses/{business}/documents",
    operation_id = "uploadDocuments",
    tag = "documents",
    params(BusinessPath),
    request_body(content(
        (MultipartUpload = "multipart/form-data"),
        (JsonUpload = "application/json", example = json!({"documents": [{"name": "faq.md", "content": "## Do you rent e-bikes?\nYes, from 25 EUR a day."}]})),
    )),
    responses(
        (status = 200, description = "What the upload added.", body = IngestReport),
        (status = 400, description = "Malformed body (including unknown fields), no files, a part without a filename, a duplicate name, a document with both or neither of `content` and `content_base64`, invalid base64, or an invalid business id (`bad_request`).", body = ErrorBody),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 413, description = "The body is over the upload limit (`payload_too_large`), a file is too large or has too many rows (`document_too_large`), or the upload has too many files (`too_many_files`).", body = ErrorBody),
        (status = 415, description = "A file's extension names no supported format (`unsupported_format`), or the body is neither multipart nor JSON (`unsupported_media_type`).", body = ErrorBody),
        (status = 422, description = "A document could not be parsed (`invalid_document`; the message names the file and line), or its parse ran past the budget (`document_too_complex`).", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = IndexLocked),
    ),
)]
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

/// List documents.
///
/// Lists the business's uploaded documents with their format, passage count, size and upload
/// time, ordered by name; empty before the first upload. The body is a bare JSON array.
#[utoipa::path(
    get,
    path = "/v1/businesses/{business}/documents",
    operation_id = "listDocuments",
    tag = "documents",
    params(BusinessPath),
    responses(
        (status = 200, description = "The business's documents.", body = Vec<DocumentInfo>),
        (status = 400, response = BadBusinessId),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, response = UnknownBusiness),
        (status = 500, response = Internal),
    ),
)]
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

/// Delete a document.
///
/// Removes the document and all its passages from the business's index.
#[utoipa::path(
    delete,
    path = "/v1/businesses/{business}/documents/{name}",
    operation_id = "deleteDocument",
    tag = "documents",
    params(
        BusinessPath,
        ("name" = String, Path, description = "The document's name as uploaded (percent-encoded), e.g. `faq.md`."),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadBusinessId),
        (status = 401, response = Unauthorized),
        (status = 403, response = OtherBusiness),
        (status = 404, description = "No such business (`unknown_business`) or document (`unknown_document`).", body = ErrorBody),
        (status = 500, response = Internal),
        (status = 503, response = IndexLocked),
    ),
)]
pub async fn delete_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((business, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.check(&business)?;
    blocking(&state, move |e| e.delete_document(&business, &name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
