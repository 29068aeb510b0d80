//! Which architecture a GGUF file holds and its hyperparameters, read from its metadata. Only
//! the llama family (SmolLM2, Llama 3.x) and qwen2 (Qwen2.5) are accepted; anything else is
//! refused here with a message naming what is supported.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use crate::llm::LlmError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// llama, SmolLM2, Llama 3.x: no q/k/v bias, RoPE on adjacent pairs (GGUF's permuted
    /// weights).
    Llama,
    /// Qwen2 / Qwen2.5: q/k/v bias, RoPE on halves ("NeoX" order).
    Qwen2,
}

impl Architecture {
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub arch: Architecture,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    /// Leading dimensions of each head that RoPE rotates.
    pub rope_dim: usize,
    pub rope_theta: f32,
    pub rms_eps: f32,
    /// The context the model was trained for.
    pub context_length: usize,
    pub vocab_size: usize,
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::U8(x) => Some(*x as u64),
        Value::I8(x) => u64::try_from(*x).ok(),
        Value::U16(x) => Some(*x as u64),
        Value::I16(x) => u64::try_from(*x).ok(),
        Value::U32(x) => Some(*x as u64),
        Value::I32(x) => u64::try_from(*x).ok(),
        Value::U64(x) => Some(*x),
        Value::I64(x) => u64::try_from(*x).ok(),
        _ => None,
    }
}

fn as_f32(v: &Value) -> Option<f32> {
    match v {
        Value::F32(x) => Some(*x),
        Value::F64(x) => Some(*x as f32),
        other => as_u64(other).map(|x| x as f32),
    }
}

/// The value of `general.architecture`, if any.
pub fn architecture_name(md: &HashMap<String, Value>) -> Option<&str> {
    match md.get("general.architecture") {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

impl ModelConfig {
    /// Reads the hyperparameters from GGUF metadata; `vocab_size` is the embedding's row count.
    pub fn from_metadata(
        md: &HashMap<String, Value>,
        vocab_size: usize,
    ) -> Result<ModelConfig, LlmError> {
        let arch_name = architecture_name(md).ok_or_else(|| {
            LlmError::BadModel("the GGUF file has no general.architecture".into())
        })?;
        let arch = match arch_name {
            "llama" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            other => {
                return Err(LlmError::UnsupportedArchitecture(other.to_string()));
            }
        };
        let p = arch_name;
        let int = |key: &str| -> Result<usize, LlmError> {
            md.get(&format!("{p}.{key}"))
                .and_then(as_u64)
                .map(|v| v as usize)
                .ok_or_else(|| LlmError::BadModel(format!("missing or invalid {p}.{key}")))
        };
        let opt_int = |key: &str| {
            md.get(&format!("{p}.{key}"))
                .and_then(as_u64)
                .map(|v| v as usize)
        };
        let opt_f32 = |key: &str| md.get(&format!("{p}.{key}")).and_then(as_f32);
        let n_embd = int("embedding_length")?;
        let n_head = int("attention.head_count")?;
        if n_head == 0 {
            return Err(LlmError::BadModel(format!("{p}.attention.head_count is 0")));
        }
        let n_kv_head = opt_int("attention.head_count_kv").unwrap_or(n_head);
        if n_kv_head == 0 || n_head % n_kv_head != 0 {
            return Err(LlmError::BadModel(format!(
                "{n_head} attention heads cannot share {n_kv_head} kv heads evenly"
            )));
        }
        let head_dim = opt_int("attention.key_length").unwrap_or(n_embd / n_head);
        let rope_dim = opt_int("rope.dimension_count")
            .unwrap_or(head_dim)
            .min(head_dim);
        let cfg = ModelConfig {
            arch,
            n_layer: int("block_count")?,
            n_embd,
            n_ff: int("feed_forward_length")?,
            n_head,
            n_kv_head,
            head_dim,
            rope_dim,
            rope_theta: opt_f32("rope.freq_base").unwrap_or(10_000.0),
            rms_eps: opt_f32("attention.layer_norm_rms_epsilon").unwrap_or(1e-5),
            context_length: opt_int("context_length").unwrap_or(2048),
            vocab_size,
        };
        if cfg.head_dim == 0 || !cfg.head_dim.is_multiple_of(2) || !cfg.rope_dim.is_multiple_of(2) {
            return Err(LlmError::BadModel(format!(
                "head dimension {} / rope dimension {} must be even",
                cfg.head_dim, cfg.rope_dim
            )));
        }
        Ok(cfg)
    }
}
