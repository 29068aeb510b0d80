//! Local generation: GGUF models loaded through candle, with the tokenizer and chat template
//! they carry, and the decoding loop that streams tokens out.
//!
//! This module owns finding and fetching models (`fetch`), turning a GGUF's tokenizer metadata
//! into a `tokenizers::Tokenizer` (`gguf_tokenizer`), rendering its chat template
//! (`chat_template`), the forward pass (`model`) and decoding (`generate`). It knows nothing
//! about retrieval or HTTP.

pub mod chat_model;
pub mod chat_template;
pub mod engine;
mod error;
pub mod fetch;
pub mod generate;
pub mod gguf_tokenizer;
pub mod kernels;
pub mod model;
mod schedule;

pub use chat_model::ChatModel;
pub use chat_template::{ChatMessage, ChatTemplate};
pub use error::LlmError;
pub use fetch::{default_models_dir, pull_default, resolve, ModelSpec};
pub use gguf_tokenizer::GgufTokenizer;
