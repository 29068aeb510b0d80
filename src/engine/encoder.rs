//! The sentence encoder as the index's [`Embedder`]: the glue that keeps `embed` ignorant of
//! indexes and `index` ignorant of the encoder.
//!
//! The model id names the file by its stem and the first bytes of its sha256, and the token
//! limit: a different file or a different cut gives different vectors, and the index keeps
//! vectors of each id apart (re-embedding when the id changes).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::embed::{EmbedError, Encoder, TextKind};
use crate::index::{Embedder, Reading};

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
        let mut encoder = Encoder::load(path)?;
        if let Some(max_tokens) = max_tokens {
            encoder = encoder.with_max_tokens(max_tokens);
        }
        let digest = file_digest(path).map_err(|source| EmbedError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("encoder");
        let id = format!("{stem}-{}-t{}", &digest[..12], encoder.max_tokens());
        Ok(EncoderEmbedder {
            encoder: Arc::new(encoder),
            id,
        })
    }

    pub fn encoder(&self) -> &Arc<Encoder> {
        &self.encoder
    }
}

fn file_digest(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
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
