//! Measuring retrieval: external BEIR sets and the demo businesses' own questions.
//!
//! Everything here runs the same index, analyzers and scorer the service uses; it only adds
//! the bookkeeping of relevance judgments and timings.

pub mod beir;
pub mod demo;
pub mod metrics;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {message}")]
    Data { path: String, message: String },
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl EvalError {
    pub(crate) fn data(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        EvalError::Data {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}
