//! candle-transformers' quantized llama and qwen2 models behind `LanguageModel`: the path for
//! CUDA and Metal devices (our kernels are CPU-only), and a reference for our CPU forward.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};

use super::config::{architecture_name, Architecture, ModelConfig};
use super::weights::GgufReader;
use super::LanguageModel;
use crate::llm::LlmError;

enum Inner {
    Llama(quantized_llama::ModelWeights),
    Qwen2(quantized_qwen2::ModelWeights),
}

pub struct CandleModel {
    cfg: ModelConfig,
    inner: Inner,
    device: Device,
    capacity: usize,
    /// Positions in candle's cache (it appends, so a forward must continue from here or 0).
    cached: usize,
}

impl CandleModel {
    pub fn load(path: &Path, device: &Device, context: Option<usize>) -> Result<Self, LlmError> {
        let (content, mut file) = GgufReader::open(path)?.into_parts();
        let vocab = content
            .tensor_infos
            .get("token_embd.weight")
            .map(|t| t.shape.dims()[0])
            .ok_or_else(|| LlmError::BadModel("tensor token_embd.weight is missing".into()))?;
        let cfg = ModelConfig::from_metadata(&content.metadata, vocab)?;
        debug_assert!(architecture_name(&content.metadata).is_some());
        let bad = |e: candle_core::Error| LlmError::BadModel(e.to_string());
        let (inner, limit) = match cfg.arch {
            Architecture::Llama => (
                Inner::Llama(
                    quantized_llama::ModelWeights::from_gguf(content, &mut file, device)
                        .map_err(bad)?,
                ),
                quantized_llama::MAX_SEQ_LEN,
            ),
            Architecture::Qwen2 => (
                Inner::Qwen2(
                    quantized_qwen2::ModelWeights::from_gguf(content, &mut file, device)
                        .map_err(bad)?,
                ),
                cfg.context_length,
            ),
        };
        let capacity = context.unwrap_or(limit).min(limit).min(cfg.context_length);
        Ok(CandleModel {
            cfg,
            inner,
            device: device.clone(),
            capacity,
            cached: 0,
        })
    }
}

impl LanguageModel for CandleModel {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn context_capacity(&self) -> usize {
        self.capacity
    }

    fn reset(&mut self) {
        match &mut self.inner {
            Inner::Llama(m) => m.clear_kv_cache(),
            Inner::Qwen2(m) => m.clear_kv_cache(),
        }
        self.cached = 0;
    }

    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        if tokens.is_empty() {
            return Err(LlmError::InvalidParams("no tokens to run".into()));
        }
        if pos + tokens.len() > self.capacity {
            return Err(LlmError::ContextFull {
                needed: pos + tokens.len(),
                capacity: self.capacity,
            });
        }
        if pos == 0 {
            self.reset();
        } else if pos != self.cached {
            return Err(LlmError::InvalidParams(format!(
                "the candle backend continues only from position {} (asked {pos})",
                self.cached
            )));
        }
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab_size) {
            return Err(LlmError::InvalidParams(format!(
                "token id {bad} is outside the vocabulary of {}",
                self.cfg.vocab_size
            )));
        }
        let x = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let logits = match &mut self.inner {
            Inner::Llama(m) => m.forward(&x, pos)?,
            Inner::Qwen2(m) => m.forward(&x, pos)?,
        };
        self.cached = pos + tokens.len();
        Ok(logits
            .squeeze(0)?
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .to_vec1()?)
    }
}
