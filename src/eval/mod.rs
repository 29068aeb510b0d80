//! Measuring retrieval (external BEIR sets, the demo businesses' own questions) and answers
//! (the demo questions through the whole pipeline).
//!
//! Everything here runs the same index, analyzers and scorer the service uses; it only adds
//! the bookkeeping of relevance judgments and timings.

pub mod answers;
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
