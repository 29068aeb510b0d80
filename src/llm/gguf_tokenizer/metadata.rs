//! Typed reads of GGUF metadata values, with errors that name the key and say what is wrong.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use crate::llm::LlmError;

/// Typed access to GGUF metadata, with errors that name the key.
pub(super) struct Metadata<'a>(pub(super) &'a HashMap<String, Value>);

impl Metadata<'_> {
    pub(super) fn invalid(&self, key: &str, why: &str) -> LlmError {
        LlmError::Tokenize(format!("metadata {key} is invalid: {why}"))
    }

    pub(super) fn str(&self, key: &str) -> Result<Option<&str>, LlmError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(self.invalid(key, "not a string")),
        }
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>, LlmError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => integer(v)
                .map(|i| Some(i != 0))
                .ok_or_else(|| self.invalid(key, "not a boolean")),
        }
    }

    /// A token id; one outside the vocabulary is ignored, as llama.cpp does.
    pub(super) fn id(&self, key: &str, n_tokens: usize) -> Result<Option<u32>, LlmError> {
        let Some(value) = self.0.get(key) else {
            return Ok(None);
        };
        let id = integer(value).ok_or_else(|| self.invalid(key, "not an integer"))?;
        match u32::try_from(id) {
            Ok(id) if (id as usize) < n_tokens => Ok(Some(id)),
            _ => {
                tracing::warn!(key, id, "token id outside the vocabulary; ignored");
                Ok(None)
            }
        }
    }

    pub(super) fn array(&self, key: &str) -> Result<Option<&[Value]>, LlmError> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.as_slice())),
            Some(_) => Err(self.invalid(key, "not an array")),
        }
    }

    pub(super) fn str_array(&self, key: &str) -> Result<Option<Vec<String>>, LlmError> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(self.invalid(key, "an entry is not a string")),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    pub(super) fn i32_array(&self, key: &str) -> Result<Option<Vec<i32>>, LlmError> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| {
                integer(v)
                    .and_then(|i| i32::try_from(i).ok())
                    .ok_or_else(|| self.invalid(key, "an entry is not an integer"))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    pub(super) fn f32_array(&self, key: &str) -> Result<Option<Vec<f32>>, LlmError> {
        let Some(items) = self.array(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .map(|v| match v {
                Value::F32(f) => Ok(*f),
                Value::F64(f) => Ok(*f as f32),
                _ => Err(self.invalid(key, "an entry is not a number")),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

fn integer(value: &Value) -> Option<i64> {
    match *value {
        Value::U8(v) => Some(v.into()),
        Value::I8(v) => Some(v.into()),
        Value::U16(v) => Some(v.into()),
        Value::I16(v) => Some(v.into()),
        Value::U32(v) => Some(v.into()),
        Value::I32(v) => Some(v.into()),
        Value::U64(v) => i64::try_from(v).ok(),
        Value::I64(v) => Some(v),
        _ => None,
    }
}
