//! The sentence encoder as the index's [`Embedder`]: the glue that keeps `embed` ignorant of
//! indexes and `index` ignorant of the encoder.
//!
//! The model id names the file by its stem and the first bytes of its sha256, and the token
//! limit: a different file or a different cut gives different vectors, and the index keeps
//! vectors of each id apart (re-embedding when the id changes).

use std::path::Path;
use std::sync::Arc;

use crate::embed::{EmbedError, Encoder, TextKind};
use crate::index::{Embedder, Reading};
use crate::llm::fetch::sha256_file;

pub struct EncoderEmbedder {
    encoder: Arc<Encoder>,
    id: String,
}

impl EncoderEmbedder {
    /// Loads the encoder file at `path`.
    pub fn load(path: &Path) -> Result<EncoderEmbedder, EmbedError> {
        Self::load_with(path, None)
    }

    /// Loads the encoder file at `path`, cutting texts at `max_tokens` where given.
    pub fn load_with(
        path: &Path,
        max_tokens: Option<usize>,
    ) -> Result<EncoderEmbedder, EmbedError> {
        let digest = sha256_file(path)?;
        Self::load_known(path, &digest, max_tokens)
    }

    /// Loads a file whose sha256 is already known (a pull has just checked it), without
    /// reading it a second time for its id.
    pub fn load_known(
        path: &Path,
        sha256: &str,
        max_tokens: Option<usize>,
    ) -> Result<EncoderEmbedder, EmbedError> {
        let mut encoder = Encoder::load(path)?;
        if let Some(max_tokens) = max_tokens {
            encoder = encoder.with_max_tokens(max_tokens);
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("encoder");
        let prefix = sha256.get(..12).unwrap_or(sha256);
        let id = format!("{stem}-{prefix}-t{}", encoder.max_tokens());
        Ok(EncoderEmbedder {
            encoder: Arc::new(encoder),
            id,
        })
    }

    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }
}

impl Embedder for EncoderEmbedder {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn dim(&self) -> usize {
        self.encoder.dim()
    }

    fn embed(&self, reading: Reading, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let kind = match reading {
            Reading::Query => TextKind::Query,
            Reading::Passage => TextKind::Passage,
        };
        self.encoder.embed(kind, texts).map_err(|e| e.to_string())
    }
}
