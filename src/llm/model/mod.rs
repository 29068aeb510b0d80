//! Loading a GGUF model and running its forward pass. `load` reads `general.architecture`
//! (llama family or qwen2; anything else is refused), then builds our CPU forward (`cpu`, on
//! our own kernels) for the CPU, or candle-transformers' quantized models (`candle`) for a
//! CUDA or Metal device. Both sit behind `LanguageModel`, which generation drives.

mod candle;
mod config;
mod cpu;
mod weights;

use std::path::Path;

pub use self::candle::CandleModel;
pub use config::{Architecture, ModelConfig};
pub use cpu::CpuModel;

use crate::llm::LlmError;

/// One token of a decode step over several sequences: the slot (KV cache) of its sequence and
/// its position there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotToken {
    pub slot: usize,
    pub token: u32,
    pub pos: usize,
}

/// A loaded model with its KV caches: feed it tokens, get next-token logits. A model holds one
/// sequence or several, each in its own slot; slot 0 is the one `forward` uses.
pub trait LanguageModel: Send {
    fn config(&self) -> &ModelConfig;

    /// How many positions (prompt + generated) fit in one slot's KV cache.
    fn context_capacity(&self) -> usize;

    /// Runs `tokens` at positions `pos ..` of slot 0, storing their keys and values, and
    /// returns the logits after the last one (`vocab_size` values). Positions from `pos` on
    /// are overwritten, so a new sequence simply starts again at 0.
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, LlmError>;

    /// Forgets the cached sequence (needed by implementations that append to their cache).
    fn reset(&mut self);

    /// How many sequences can be held at once, each in its own KV cache.
    fn slots(&self) -> usize {
        1
    }

    /// Whether what a slot holds below `pos` stays valid for a later `forward_in` at `pos`
    /// (so a prompt sharing a prefix with the slot's last sequence skips that prefix). Models
    /// that append to their cache must be `reset` instead and say no.
    fn reuses_prefix(&self) -> bool {
        false
    }

    /// `forward` on slot `slot`.
    fn forward_in(
        &mut self,
        slot: usize,
        tokens: &[u32],
        pos: usize,
    ) -> Result<Vec<f32>, LlmError> {
        if slot != 0 {
            return Err(LlmError::InvalidParams(format!(
                "slot {slot} of a model with {} slot(s)",
                self.slots()
            )));
        }
        self.forward(tokens, pos)
    }

    /// One decode step of several sequences: each token at its position in its own slot (no
    /// two in the same slot), logits after each, in order. Models with one pass for the whole
    /// batch read their weights once per step instead of once per sequence.
    fn decode_batch(&mut self, batch: &[SlotToken]) -> Result<Vec<Vec<f32>>, LlmError> {
        batch
            .iter()
            .map(|t| self.forward_in(t.slot, &[t.token], t.pos))
            .collect()
    }
}

/// Where the forward pass runs; parsed from `cpu`, `cuda`, `cuda:N` or `metal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    Cuda(usize),
    Metal,
}

impl std::str::FromStr for DeviceSpec {
    type Err = LlmError;

    fn from_str(s: &str) -> Result<Self, LlmError> {
        let bad = || {
            LlmError::Device(
                s.to_string(),
                "not a device; use cpu, cuda, cuda:N or metal".into(),
            )
        };
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" | "gpu" => Ok(DeviceSpec::Cuda(0)),
            "metal" => Ok(DeviceSpec::Metal),
            other => match other.strip_prefix("cuda:") {
                Some(n) => n.parse().map(DeviceSpec::Cuda).map_err(|_| bad()),
                None => Err(bad()),
            },
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
            DeviceSpec::Metal => write!(f, "metal"),
        }
    }
}

impl DeviceSpec {
    /// The candle device; fails with what to rebuild with when support is not compiled in.
    pub fn candle_device(&self) -> Result<candle_core::Device, LlmError> {
        let dev = match self {
            DeviceSpec::Cpu => Ok(candle_core::Device::Cpu),
            DeviceSpec::Cuda(n) => candle_core::Device::new_cuda(*n),
            DeviceSpec::Metal => candle_core::Device::new_metal(0),
        };
        dev.map_err(|e| {
            let hint = match self {
                DeviceSpec::Cuda(_) => " (build with `--features cuda` on a machine with CUDA)",
                DeviceSpec::Metal => " (build with `--features metal` on macOS)",
                DeviceSpec::Cpu => "",
            };
            LlmError::Device(self.to_string(), format!("{e}{hint}"))
        })
    }
}

/// Which implementation runs the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Ours on the CPU, candle's on a GPU.
    #[default]
    Auto,
    /// candle-transformers' quantized models on any device (the reference).
    Candle,
}

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub device: Option<DeviceSpec>,
    pub backend: Backend,
    /// KV cache positions to allocate per slot (default: the model's context length).
    pub context: Option<usize>,
    /// Sequences held at once (default `DEFAULT_SLOTS` on the CPU; GPU models hold one).
    pub slots: Option<usize>,
}

/// Sequences a CPU model holds at once: the engine decodes up to this many conversations in one
/// pass per step, and a finished sequence's slot keeps its tokens for prefix reuse. A slot's
/// KV cache is allocated when first used, and its pages only as positions are written.
pub const DEFAULT_SLOTS: usize = 8;

/// Loads the GGUF model at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Box<dyn LanguageModel>, LlmError> {
    let device = opts.device.clone().unwrap_or(DeviceSpec::Cpu);
    if device == DeviceSpec::Cpu && opts.backend == Backend::Auto {
        let slots = opts.slots.unwrap_or(DEFAULT_SLOTS).max(1);
        return Ok(Box::new(CpuModel::load(path, opts.context, slots)?));
    }
    let dev = device.candle_device()?;
    Ok(Box::new(CandleModel::load(path, &dev, opts.context)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert_eq!("CUDA".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("metal".parse::<DeviceSpec>().unwrap(), DeviceSpec::Metal);
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }
}
