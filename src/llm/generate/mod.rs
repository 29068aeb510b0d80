//! The decoding loop: one forward over the prompt, then one token at a time, each sampled
//! (`sampler`), turned into text safely for streaming and checked against stop strings
//! (`text`), and handed to the caller as an `Event` the moment it exists. Stops at a stop token,
//! a stop string, `max_tokens`, a full context, or when the caller says so.

mod sampler;
mod text;

use std::time::{Duration, Instant};

pub use sampler::{argmax, Sampler, SamplingParams};
pub use text::{StopMatcher, StreamDecoder, TokenDecoder};

use crate::llm::model::LanguageModel;
use crate::llm::LlmError;

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Ids that end the answer (not shown); usually the tokenizer's end-of-generation ids.
    pub stop_tokens: Vec<u32>,
    /// Texts that end the answer (not shown).
    pub stop_strings: Vec<String>,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop_tokens: Vec::new(),
            stop_strings: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// A stop token was generated.
    StopToken,
    /// A stop string appeared in the text.
    StopString,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The model's context is full.
    ContextFull,
    /// The caller stopped listening.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub finish: FinishReason,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// The answer as shown (stop strings and stop tokens excluded).
    pub text: String,
    /// From the start of the call to the first generated token.
    pub time_to_first_token: Duration,
    /// Time spent generating after the first token.
    pub decode_time: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A generated token and the text it makes visible (may be empty while a character or a
    /// possible stop string is incomplete).
    Token { id: u32, text: String },
    /// Text held back until the end (an unfinished character, a partial stop string).
    Text(String),
    /// Generation ended.
    Done(Summary),
}

/// Generates from `prompt` (token ids), calling `on_event` for each token and once at the end;
/// `on_event` returns `false` to stop early. Returns the same summary as the last event.
pub fn generate(
    model: &mut dyn LanguageModel,
    decoder: &dyn TokenDecoder,
    prompt: &[u32],
    params: &GenerateParams,
    on_event: &mut dyn FnMut(Event) -> bool,
) -> Result<Summary, LlmError> {
    let start = Instant::now();
    if prompt.is_empty() {
        return Err(LlmError::InvalidParams("the prompt has no tokens".into()));
    }
    let capacity = model.context_capacity();
    if prompt.len() >= capacity {
        return Err(LlmError::ContextFull {
            needed: prompt.len() + 1,
            capacity,
        });
    }
    let mut sampler = Sampler::new(params.sampling.clone())?;
    let mut stream = StreamDecoder::new();
    let mut stops = StopMatcher::new(&params.stop_strings);
    let mut history = prompt.to_vec();
    let mut text = String::new();
    let mut generated = 0usize;
    let mut first_token_at = None;

    model.reset();
    let mut logits = model.forward(prompt, 0)?;
    let finish = loop {
        if generated >= params.max_tokens {
            break FinishReason::MaxTokens;
        }
        let id = sampler.sample(&mut logits, &history);
        generated += 1;
        first_token_at.get_or_insert_with(Instant::now);
        if params.stop_tokens.contains(&id) {
            break FinishReason::StopToken;
        }
        history.push(id);
        let piece = stream.push(id, decoder)?;
        let (shown, hit_stop) = stops.push(&piece);
        text.push_str(&shown);
        if !on_event(Event::Token { id, text: shown }) {
            break FinishReason::Cancelled;
        }
        if hit_stop {
            break FinishReason::StopString;
        }
        if history.len() >= capacity {
            break FinishReason::ContextFull;
        }
        if generated >= params.max_tokens {
            break FinishReason::MaxTokens;
        }
        logits = model.forward(&[id], history.len() - 1)?;
    };
    if !matches!(finish, FinishReason::StopString | FinishReason::Cancelled) {
        let rest = stream.finish(decoder)?;
        let (mut shown, hit) = stops.push(&rest);
        if !hit {
            shown.push_str(&stops.finish());
        }
        if !shown.is_empty() {
            text.push_str(&shown);
            on_event(Event::Text(shown));
        }
    }
    let first = first_token_at.unwrap_or_else(Instant::now);
    let summary = Summary {
        finish,
        prompt_tokens: prompt.len(),
        generated_tokens: generated,
        text,
        time_to_first_token: first - start,
        decode_time: first.elapsed(),
    };
    on_event(Event::Done(summary.clone()));
    Ok(summary)
}
