//! Reading tensors out of a GGUF file into the CPU forward's formats. Q4_0, Q4_1, Q5_0, Q5_1,
//! Q8_0, Q4_K, Q5_K and Q6_K bytes are read straight from the file into their matrix (one copy,
//! no f32 detour); other weight types (f32, f16, bf16, the other K-quants) are dequantized by
//! candle and re-encoded to Q8_0 so every matrix runs on our kernels; vectors (norms, biases)
//! become f32.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::GgmlDType;
use candle_core::Device;

use crate::llm::kernels::kquant::KFormat;
use crate::llm::kernels::quant::{quantize_q8_0, QK};
use crate::llm::kernels::{QMatrix, QType};
use crate::llm::LlmError;

pub struct GgufReader {
    pub content: Content,
    file: File,
}

impl GgufReader {
    pub fn open(path: &std::path::Path) -> Result<GgufReader, LlmError> {
        let mut file = File::open(path)
            .map_err(|e| LlmError::BadModel(format!("cannot open {}: {e}", path.display())))?;
        let content = Content::read(&mut file).map_err(|e| {
            LlmError::BadModel(format!(
                "{} is not a readable GGUF file: {e}",
                path.display()
            ))
        })?;
        Ok(GgufReader { content, file })
    }

    /// The metadata and the open file, for loaders that read tensors themselves.
    pub fn into_parts(self) -> (Content, File) {
        (self.content, self.file)
    }

    pub fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// (rows, cols) of a 2-D tensor, `cols` being the contiguous dimension.
    pub fn matrix_shape(&self, name: &str) -> Result<(usize, usize), LlmError> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| LlmError::BadModel(format!("tensor {name} is missing")))?;
        match info.shape.dims() {
            [rows, cols] => Ok((*rows, *cols)),
            d => Err(LlmError::BadModel(format!(
                "tensor {name} has shape {d:?}, want 2-D"
            ))),
        }
    }

    /// The block format a tensor with rows of `cols` is kept in: its own where our kernels
    /// take it (the whole rows of super-blocks being what the K-quant kernels take).
    fn kept_as(dtype: GgmlDType, cols: usize) -> Option<QType> {
        let qtype = match dtype {
            GgmlDType::Q4_0 => QType::Q4_0,
            GgmlDType::Q4_1 => QType::Q4_1,
            GgmlDType::Q5_0 => QType::Q5_0,
            GgmlDType::Q5_1 => QType::Q5_1,
            GgmlDType::Q8_0 => QType::Q8_0,
            GgmlDType::Q4K => QType::K(KFormat::Q4K),
            GgmlDType::Q5K => QType::K(KFormat::Q5K),
            GgmlDType::Q6K => QType::K(KFormat::Q6K),
            _ => return None,
        };
        cols.is_multiple_of(qtype.block_len()).then_some(qtype)
    }

    /// Bytes every 2-D tensor of the file takes once loaded by `matrix` (an upper bound on
    /// what a model keeps: it may not use them all).
    pub fn matrix_sizes(&self) -> Vec<usize> {
        self.content
            .tensor_infos
            .values()
            .filter_map(|info| match info.shape.dims() {
                [rows, cols] if cols % QK == 0 => {
                    let qtype = Self::kept_as(info.ggml_dtype, *cols).unwrap_or(QType::Q8_0);
                    Some(rows.saturating_mul(qtype.row_bytes(*cols)))
                }
                _ => None,
            })
            .collect()
    }

    pub fn matrix(&mut self, name: &str) -> Result<QMatrix, LlmError> {
        let (rows, cols) = self.matrix_shape(name)?;
        let info = &self.content.tensor_infos[name];
        let qtype = Self::kept_as(info.ggml_dtype, cols);
        if cols % QK != 0 {
            return Err(LlmError::BadModel(format!(
                "tensor {name} rows have {cols} values, not a multiple of {QK}"
            )));
        }
        if let Some(qtype) = qtype {
            let len = rows * qtype.row_bytes(cols);
            let start = self.content.tensor_data_offset + info.offset;
            let mut data = vec![0u8; len];
            self.file.seek(SeekFrom::Start(start))?;
            self.file.read_exact(&mut data).map_err(|e| {
                LlmError::BadModel(format!("tensor {name} runs past the end of the file: {e}"))
            })?;
            return Ok(QMatrix {
                qtype,
                rows,
                cols,
                data: data.into(),
            });
        }
        let f = self.f32s(name)?;
        Ok(QMatrix {
            qtype: QType::Q8_0,
            rows,
            cols,
            data: quantize_q8_0(&f).into(),
        })
    }

    /// Any tensor as f32 values in storage order.
    pub fn f32s(&mut self, name: &str) -> Result<Vec<f32>, LlmError> {
        if !self.has(name) {
            return Err(LlmError::BadModel(format!("tensor {name} is missing")));
        }
        let t = self
            .content
            .tensor(&mut self.file, name, &Device::Cpu)
            .map_err(|e| LlmError::BadModel(format!("tensor {name}: {e}")))?;
        Ok(t.dequantize(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?)
    }

    /// A vector tensor of exactly `len` values.
    pub fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, LlmError> {
        let v = self.f32s(name)?;
        if v.len() != len {
            return Err(LlmError::BadModel(format!(
                "tensor {name} has {} values, want {len}",
                v.len()
            )));
        }
        Ok(v)
    }
}
