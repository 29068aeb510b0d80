//! The tokenizer a GGUF model carries, rebuilt as a `tokenizers::Tokenizer` that gives the ids
//! llama.cpp gives. Owns reading `tokenizer.ggml.*` metadata: the vocabulary model (`gpt2`:
//! byte-level BPE from tokens + merges; `llama`: SentencePiece-style BPE from tokens + scores
//! with byte fallback), the pre-tokenizer named by `tokenizer.ggml.pre` (llama.cpp's split
//! regexes, see `pre_tokenizer`), which tokens are special (control, unknown and user-defined
//! token types), the bos/eos/unk/pad ids and the end-of-generation set. A `tokenizer.json` beside
//! the model (`<model stem>.tokenizer.json`, else `tokenizer.json`) replaces the rebuilt one;
//! special ids still come from the GGUF.

mod metadata;
mod models;
mod pre_tokenizer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use tokenizers::{AddedToken, Tokenizer};

pub use pre_tokenizer::{split_regexes, SplitRegexes};

use self::metadata::Metadata;
use self::models::{byte_level_bpe, sentencepiece_bpe};
use super::LlmError;

/// GGUF token types (llama.cpp's `llama_token_type`).
const TYPE_NORMAL: i32 = 1;
const TYPE_UNKNOWN: i32 = 2;
const TYPE_CONTROL: i32 = 3;
const TYPE_USER_DEFINED: i32 = 4;

/// Texts llama.cpp recognizes as ending a turn, in addition to the eos/eot/eom ids.
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "<|eom_id|>",
    "<|return|>",
    "<|call|>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
];

/// The special ids the GGUF names, and whether llama.cpp adds bos/eos when asked to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    /// End of turn, for models that have one apart from eos.
    pub eot: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
}

/// Where the tokenizer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenizerSource {
    /// Rebuilt from the GGUF's metadata.
    Gguf,
    /// Read from this tokenizer.json.
    TokenizerJson(PathBuf),
}

/// A GGUF model's tokenizer. `encode` adds no BOS and parses special tokens written in the text.
#[derive(Clone)]
pub struct GgufTokenizer {
    tokenizer: Tokenizer,
    /// The same tokenizer with control tokens left as plain text, for untrusted input.
    literal: Tokenizer,
    special: SpecialTokens,
    eog: Vec<u32>,
    source: TokenizerSource,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .field("source", &self.source)
            .finish()
    }
}

/// Reads a GGUF file's metadata and tensor index (not the weights).
pub fn read_gguf(path: &Path) -> Result<gguf_file::Content, LlmError> {
    let mut file = std::fs::File::open(path).map_err(|e| LlmError::ModelRead {
        path: path.to_path_buf(),
        source: e,
    })?;
    gguf_file::Content::read(&mut file).map_err(|e| LlmError::Gguf {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

impl GgufTokenizer {
    /// The tokenizer of the GGUF file at `path` (or the tokenizer.json beside it).
    pub fn from_gguf_file(path: &Path) -> Result<Self, LlmError> {
        let content = read_gguf(path)?;
        Self::from_gguf_metadata(&content.metadata, Some(path))
    }

    /// The tokenizer described by GGUF metadata already read. With `model_path`, a
    /// tokenizer.json beside that file takes precedence over the metadata.
    pub fn from_gguf_metadata(
        metadata: &HashMap<String, Value>,
        model_path: Option<&Path>,
    ) -> Result<Self, LlmError> {
        let md = Metadata(metadata);
        let tokens = md.str_array("tokenizer.ggml.tokens")?.ok_or_else(|| {
            LlmError::Tokenize(
                "the model has no tokenizer.ggml.tokens; put a tokenizer.json beside it"
                    .to_string(),
            )
        })?;
        let types = md.i32_array("tokenizer.ggml.token_type")?;
        if let Some(types) = &types {
            if types.len() != tokens.len() {
                return Err(md.invalid("tokenizer.ggml.token_type", "length differs from tokens"));
            }
        }
        let model = md
            .str("tokenizer.ggml.model")?
            .unwrap_or("llama")
            .to_string();
        let special = SpecialTokens {
            bos: md.id("tokenizer.ggml.bos_token_id", tokens.len())?,
            eos: md.id("tokenizer.ggml.eos_token_id", tokens.len())?,
            unk: md.id("tokenizer.ggml.unknown_token_id", tokens.len())?,
            pad: md.id("tokenizer.ggml.padding_token_id", tokens.len())?,
            eot: md.id("tokenizer.ggml.eot_token_id", tokens.len())?,
            add_bos: md
                .bool("tokenizer.ggml.add_bos_token")?
                .unwrap_or(model == "llama"),
            add_eos: md.bool("tokenizer.ggml.add_eos_token")?.unwrap_or(false),
        };
        let eog = end_of_generation(&md, &tokens, &special)?;

        let override_json = model_path.and_then(tokenizer_json_beside);
        let (tokenizer, source) = match override_json {
            Some(json) => {
                let tokenizer = Tokenizer::from_file(&json).map_err(|e| {
                    LlmError::Tokenize(format!("cannot read {}: {e}", json.display()))
                })?;
                tracing::info!(path = %json.display(), "using the tokenizer.json beside the model");
                (tokenizer, TokenizerSource::TokenizerJson(json))
            }
            None => {
                let mut tokenizer = match model.as_str() {
                    "gpt2" => byte_level_bpe(&md, &tokens)?,
                    "llama" => sentencepiece_bpe(&md, &tokens, types.as_deref(), &special)?,
                    other => {
                        return Err(LlmError::Tokenize(format!(
                            "tokenizer.ggml.model {other:?} is not supported (only \"gpt2\" and \
                             \"llama\"); put the model's tokenizer.json beside the GGUF file"
                        )))
                    }
                };
                add_special_tokens(&mut tokenizer, &tokens, types.as_deref(), &special);
                (tokenizer, TokenizerSource::Gguf)
            }
        };
        let mut literal = tokenizer.clone();
        literal.set_encode_special_tokens(true);
        Ok(Self {
            tokenizer,
            literal,
            special,
            eog,
            source,
        })
    }

    /// Token ids for `text`: no BOS added; special tokens written in the text (`<|im_start|>`)
    /// become their ids.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        encode_with(&self.tokenizer, text)
    }

    /// Token ids for `text` with special tokens in it treated as plain text, for content that
    /// must not be able to open or close a turn (a customer's message).
    pub fn encode_literal(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        encode_with(&self.literal, text)
    }

    /// The text of `ids`; with `skip_special`, control tokens are left out.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, LlmError> {
        self.tokenizer
            .decode(ids, skip_special)
            .map_err(|e| LlmError::Tokenize(format!("decoding failed: {e}")))
    }

    /// A token's vocabulary entry as stored (byte-level BPE shows a space as `Ġ`).
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// The id of a vocabulary entry, special tokens included.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.tokenizer.token_to_id(text)
    }

    /// Number of ids, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    pub fn special(&self) -> &SpecialTokens {
        &self.special
    }

    /// Ids that end a generated turn (eos, eot, and tokens such as `<|im_end|>`,
    /// `<|endoftext|>`), sorted.
    pub fn eog_ids(&self) -> &[u32] {
        &self.eog
    }

    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.binary_search(&id).is_ok()
    }

    pub fn source(&self) -> &TokenizerSource {
        &self.source
    }

    /// The underlying tokenizer (for `decode_stream` and the like).
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

fn encode_with(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>, LlmError> {
    tokenizer
        .encode_fast(text, false)
        .map(|enc| enc.get_ids().to_vec())
        .map_err(|e| LlmError::Tokenize(format!("encoding failed: {e}")))
}

fn tokenizer_json_beside(model: &Path) -> Option<PathBuf> {
    let dir = model.parent()?;
    let stem = model.file_stem()?.to_string_lossy();
    [
        dir.join(format!("{stem}.tokenizer.json")),
        dir.join("tokenizer.json"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// Control and unknown tokens are matched in text as special tokens (when parsing specials);
/// user-defined ones always, as llama.cpp does. Without token types, the named special ids are
/// the special tokens.
fn add_special_tokens(
    tokenizer: &mut Tokenizer,
    tokens: &[String],
    types: Option<&[i32]>,
    special: &SpecialTokens,
) {
    let mut specials = Vec::new();
    let mut user_defined = Vec::new();
    match types {
        Some(types) => {
            for (token, &ty) in tokens.iter().zip(types) {
                if token.is_empty() {
                    continue;
                }
                match ty {
                    TYPE_CONTROL | TYPE_UNKNOWN => {
                        specials.push(AddedToken::from(token.clone(), true).normalized(false))
                    }
                    TYPE_USER_DEFINED => {
                        user_defined.push(AddedToken::from(token.clone(), false).normalized(false))
                    }
                    _ => {}
                }
            }
        }
        None => {
            let ids = [
                special.bos,
                special.eos,
                special.unk,
                special.pad,
                special.eot,
            ];
            for id in ids.into_iter().flatten() {
                if let Some(token) = tokens.get(id as usize).filter(|t| !t.is_empty()) {
                    specials.push(AddedToken::from(token.clone(), true).normalized(false));
                }
            }
        }
    }
    tokenizer.add_special_tokens(&specials);
    tokenizer.add_tokens(&user_defined);
}

fn end_of_generation(
    md: &Metadata,
    tokens: &[String],
    special: &SpecialTokens,
) -> Result<Vec<u32>, LlmError> {
    let mut eog: Vec<u32> = [
        special.eos,
        special.eot,
        md.id("tokenizer.ggml.eom_token_id", tokens.len())?,
    ]
    .into_iter()
    .flatten()
    .collect();
    // llama.cpp takes these by text whatever their type (and makes them control tokens).
    for (id, token) in tokens.iter().enumerate() {
        if EOG_TEXTS.contains(&token.as_str()) {
            eog.push(id as u32);
        }
    }
    eog.sort_unstable();
    eog.dedup();
    Ok(eog)
}

#[cfg(test)]
mod tests;
