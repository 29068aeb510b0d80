//! Who is calling: the admin (any business) or one business (only its own).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::error::ApiError;
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(ApiError::unauthorized)?;
        if let Some(admin) = &state.admin_token_hash {
            if same_secret(token, admin) {
                return Ok(Caller::Admin);
            }
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
