//! What a start writes into the data dir when it finds it new: the demo businesses (indexed
//! from the corpus folder) with their keys in a private file, and a generated admin token
//! when none is configured. Keys and tokens go to files readable by this user only, never to
//! the log, which other people and tools read.

use std::path::Path;

use super::AppError;
use crate::engine::{write_private, Engine};

/// Indexes the demo corpus into `engine` (the businesses it does not have yet) and writes
/// their keys to `<data dir>/demo-api-keys`; returns each new business with its key. A
/// missing corpus folder is a warning: the service starts empty.
pub fn seed_demo(engine: &Engine, corpus: &Path) -> Result<Vec<(String, String)>, AppError> {
    if !corpus.is_dir() {
        tracing::warn!(corpus = %corpus.display(), "no demo corpus found; starting empty");
        return Ok(Vec::new());
    }
    tracing::info!(corpus = %corpus.display(), "indexing the demo businesses");
    let seeded = engine.seed_demo(corpus)?;
    let keys_path = engine.data_dir().join("demo-api-keys");
    let keys: String = seeded
        .iter()
        .map(|(report, key)| format!("{} {key}\n", report.business))
        .collect();
    write_private(&keys_path, keys.as_bytes()).map_err(|source| AppError::DataDir {
        path: keys_path.clone(),
        source,
    })?;
    for (report, _) in &seeded {
        tracing::info!(
            business = report.business,
            documents = report.documents.len(),
            passages = report.passages,
            language = report.language,
            "demo business ready"
        );
    }
    tracing::info!(
        path = %keys_path.display(),
        "the demo businesses' API keys are in this file (readable by this user only); the admin token works too"
    );
    Ok(seeded
        .into_iter()
        .map(|(report, key)| (report.business, key))
        .collect())
}

/// The admin token kept in the data dir when none is configured, made on first use.
pub fn generated_admin_token(data_dir: &Path) -> Result<String, AppError> {
    let path = data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_string();
        if token.len() >= 16 {
            tracing::info!(path = %path.display(), "using the admin token stored in the data dir");
            return Ok(token);
        }
    }
    let token = crate::store::new_api_key().replacen("ck_", "adm_", 1);
    write_private(&path, token.as_bytes()).map_err(|source| AppError::DataDir {
        path: path.clone(),
        source,
    })?;
    tracing::warn!(path = %path.display(), "CLERK_ADMIN_TOKEN is not set; generated an admin token and wrote it there");
    Ok(token)
}
