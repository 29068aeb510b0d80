//! A model ready for chat: the loaded weights behind their engine thread, with the tokenizer,
//! chat template, stop tokens and languages that callers need to prompt it.
//!
//! This is what the answer pipeline holds. Its fields are plain and public so tests can build
//! one around a scripted generator.

use std::path::Path;
use std::sync::Arc;

use candle_core::quantized::gguf_file::Value;

use crate::llm::engine::{Engine, Generator, TokenCodec};
use crate::llm::gguf_tokenizer::read_gguf;
use crate::llm::model::{self, LoadOptions};
use crate::llm::{ChatTemplate, GgufTokenizer, LlmError};

/// Languages a multilingual family is trusted to write.
const QWEN_LANGUAGES: [&str; 7] = ["en", "de", "fr", "es", "pt", "it", "nl"];

pub struct ChatModel {
    /// A display name: the GGUF's `general.name`, else its file name.
    pub name: String,
    /// Languages the model writes well enough to answer customers in (ISO 639-1 codes).
    pub languages: Vec<String>,
    pub generator: Arc<dyn Generator>,
    pub codec: Arc<dyn TokenCodec>,
    pub template: ChatTemplate,
    /// Prepended to every prompt when the model wants it.
    pub bos: Option<u32>,
    pub stop_tokens: Vec<u32>,
    /// Positions the KV cache holds: prompt and reply together must fit.
    pub context: usize,
}

impl ChatModel {
    /// Loads `path` and starts its engine with room for `queue` waiting requests. `languages`
    /// overrides what the model is trusted to write; by default the GGUF's `general.languages`,
    /// the Qwen family's languages, or English.
    pub fn load(
        path: &Path,
        options: &LoadOptions,
        queue: usize,
        languages: Option<Vec<String>>,
    ) -> Result<ChatModel, LlmError> {
        let content = read_gguf(path)?;
        let tokenizer = GgufTokenizer::from_gguf_metadata(&content.metadata, Some(path))?;
        let template = ChatTemplate::from_gguf_metadata(&content.metadata, &tokenizer)?;
        let text = |key: &str| match content.metadata.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let name = text("general.name").unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let declared = match content.metadata.get("general.languages") {
            Some(Value::Array(values)) => values
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.to_lowercase()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let architecture = text("general.architecture").unwrap_or_default();
        let languages = languages.unwrap_or_else(|| {
            if !declared.is_empty() {
                declared
            } else if architecture == "qwen2" {
                QWEN_LANGUAGES.iter().map(|s| s.to_string()).collect()
            } else {
                vec!["en".to_string()]
            }
        });
        drop(content);
        let model = model::load(path, options)?;
        let context = model.context_capacity();
        let bos = tokenizer
            .special()
            .add_bos
            .then_some(tokenizer.special().bos)
            .flatten();
        let stop_tokens = tokenizer.eog_ids().to_vec();
        let engine = Engine::start(model, Box::new(tokenizer.clone()), queue)?;
        Ok(ChatModel {
            name,
            languages,
            generator: Arc::new(engine),
            codec: Arc::new(tokenizer),
            template,
            bos,
            stop_tokens,
            context,
        })
    }

    /// Whether the model may write to a customer in `language`.
    pub fn writes(&self, language: &str) -> bool {
        self.languages.iter().any(|l| l == language)
    }
}
