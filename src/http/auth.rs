//! Who is calling: the admin (any business) or one business (only its own), named by a bearer
//! token, or by the web page's session cookie — which acts for the one business its browser
//! signed in to (an admin's too, once they picked one) and, for anything but a read, only
//! with the session's CSRF token in `X-CSRF-Token` from a page of this site.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::web::session;
use super::AppState;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Business(String),
}

impl Caller {
    /// Refuses a caller that may not act on `business`.
    pub fn check(&self, business: &str) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Business(own) if own == business => Ok(()),
            Caller::Business(_) => Err(ApiError::forbidden(business)),
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self {
            Caller::Admin => Ok(()),
            Caller::Business(_) => Err(ApiError::admin_only()),
        }
    }
}

/// Compares two secrets in time that depends only on their lengths' hashes, not their bytes.
fn same_secret(a: &str, b_hash: &[u8; 32]) -> bool {
    let a_hash: [u8; 32] = Sha256::digest(a.as_bytes()).into();
    a_hash
        .iter()
        .zip(b_hash)
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Whether `token` is the admin token (never, when none is configured).
pub(super) fn is_admin_token(state: &AppState, token: &str) -> bool {
    state
        .admin_token_hash
        .as_ref()
        .is_some_and(|admin| same_secret(token, admin))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return from_session(parts, state);
        };
        let header = header.to_str().map_err(|_| ApiError::unauthorized())?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        if is_admin_token(state, token) {
            return Ok(Caller::Admin);
        }
        let engine = state.engine.clone();
        let token = token.to_string();
        let business = tokio::task::spawn_blocking(move || engine.business_for_key(&token))
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(ApiError::from)?;
        business
            .map(Caller::Business)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The caller a web page's session cookie names (see the module's note).
fn from_session(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let (_, session) = state
        .sessions
        .of_request(&parts.headers)
        .ok_or_else(ApiError::unauthorized)?;
    if !parts.method.is_safe() {
        let sent = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !session::same(sent, &session.csrf) || !session::same_origin(&parts.headers) {
            return Err(ApiError::csrf());
        }
    }
    session
        .business
        .map(Caller::Business)
        .ok_or_else(ApiError::unauthorized)
}
