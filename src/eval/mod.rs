//! Measuring retrieval (external BEIR sets, the demo businesses' own questions) and answers
//! (the demo questions through the whole pipeline).
//!
//! Everything here runs the same index, analyzers and scorer the service uses; it only adds
//! the bookkeeping of relevance judgments and timings.

pub mod answers;
pub mod beir;
pub mod calibrate;
pub mod catalog;
pub mod demo;
pub mod metrics;
pub mod orders;

use std::path::PathBuf;
use std::sync::Arc;

use crate::engine::Engine;
use crate::index::{Embedder, HybridParams};

/// How an evaluation retrieves: BM25 alone, or hybrid with an embedder.
#[derive(Clone, Default)]
pub struct Retrieval {
    /// None: BM25 only.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Where vectors are kept between runs (content-addressed, so one folder serves every
    /// set and business); None embeds everything afresh in memory or in the scratch dir.
    pub vector_dir: Option<PathBuf>,
    pub hybrid: HybridParams,
}

impl Retrieval {
    /// `engine` set up to retrieve this way.
    pub(crate) fn apply(&self, engine: Engine) -> Result<Engine, EvalError> {
        let mut engine = engine.with_hybrid(self.hybrid);
        if let Some(dir) = &self.vector_dir {
            engine = engine.with_vector_dir(dir);
        }
        if let Some(embedder) = &self.embedder {
            engine.set_embedder(embedder.clone())?;
        }
        Ok(engine)
    }
}

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
