//! The decoding loop: one forward over the prompt, then one token at a time, each sampled
//! (`sampler`; its figures fenced in by `copy` when the request asks), turned into text safely
//! for streaming and checked against stop strings (`text`), and handed to the caller as an
//! `Event` the moment it exists. Stops at a stop token, a stop string, `max_tokens`, a full
//! context, or when the caller says so.

mod copy;
mod sampler;
mod text;

use std::time::{Duration, Instant};

pub use copy::{CopyFigures, CopyState};
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
    /// When set, every figure the answer writes is copied from these (`copy`).
    pub copy_figures: Option<CopyFigures>,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            max_tokens: 256,
            sampling: SamplingParams::default(),
            stop_tokens: Vec::new(),
            stop_strings: Vec::new(),
            copy_figures: None,
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

/// What a sequence needs after a step: its sampled token run at `Decoding::position`, or
/// nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Feed(u32),
    Done(FinishReason),
}

/// One sequence's decoding, a step at a time, so that one loop (`generate`) or a scheduler
/// running several sequences in one pass (`llm::schedule`) drives it the same way: give it the
/// logits after its last token, run what it asks for, and finish it when it is done.
pub struct Decoding {
    params: GenerateParams,
    sampler: Sampler,
    stream: StreamDecoder,
    stops: StopMatcher,
    history: Vec<u32>,
    /// Where the answer stands in the figure it is writing (with `copy_figures`).
    copy: CopyState,
    prompt_tokens: usize,
    capacity: usize,
    text: String,
    generated: usize,
    start: Instant,
    first_token_at: Option<Instant>,
}

impl Decoding {
    /// A sequence for `prompt` in a cache of `capacity` positions; the clock starts now.
    pub fn new(prompt: &[u32], params: &GenerateParams, capacity: usize) -> Result<Self, LlmError> {
        if prompt.is_empty() {
            return Err(LlmError::InvalidParams("the prompt has no tokens".into()));
        }
        if prompt.len() >= capacity {
            return Err(LlmError::ContextFull {
                needed: prompt.len() + 1,
                capacity,
            });
        }
        Ok(Decoding {
            params: params.clone(),
            sampler: Sampler::new(params.sampling.clone())?,
            stream: StreamDecoder::new(),
            stops: StopMatcher::new(&params.stop_strings),
            history: prompt.to_vec(),
            copy: CopyState::default(),
            prompt_tokens: prompt.len(),
            capacity,
            text: String::new(),
            generated: 0,
            start: Instant::now(),
            first_token_at: None,
        })
    }

    /// Where the token of the last `Next::Feed` goes in the cache.
    pub fn position(&self) -> usize {
        self.history.len() - 1
    }

    /// Samples from `logits` (after the last token of the history), tells the caller through
    /// `on_event` (which returns `false` to stop) and says what comes next.
    pub fn step(
        &mut self,
        logits: &mut [f32],
        decoder: &dyn TokenDecoder,
        on_event: &mut dyn FnMut(Event) -> bool,
    ) -> Result<Next, LlmError> {
        if self.generated >= self.params.max_tokens {
            return Ok(Next::Done(FinishReason::MaxTokens));
        }
        let id = match &self.params.copy_figures {
            None => self.sampler.sample(logits, &self.history),
            Some(rule) => {
                let (state, stops) = (&self.copy, &self.params.stop_tokens);
                // The state after the token last allowed: the one taken, unless every one
                // was refused, which leaves the figure to the fact check and starts the rule
                // afresh.
                let mut next = None;
                let id = self.sampler.sample_where(logits, &self.history, &mut |id| {
                    next = if stops.contains(&id) {
                        Some(state.clone()).filter(|s| s.can_end(rule))
                    } else {
                        decoder
                            .decode(&[id])
                            .ok()
                            .and_then(|text| state.after(rule, &text))
                    };
                    next.is_some()
                });
                self.copy = next.unwrap_or_default();
                id
            }
        };
        self.generated += 1;
        self.first_token_at.get_or_insert_with(Instant::now);
        if self.params.stop_tokens.contains(&id) {
            return Ok(Next::Done(FinishReason::StopToken));
        }
        self.history.push(id);
        let piece = self.stream.push(id, decoder)?;
        let (shown, hit_stop) = self.stops.push(&piece);
        self.text.push_str(&shown);
        if !on_event(Event::Token { id, text: shown }) {
            return Ok(Next::Done(FinishReason::Cancelled));
        }
        if hit_stop {
            return Ok(Next::Done(FinishReason::StopString));
        }
        if self.history.len() >= self.capacity {
            return Ok(Next::Done(FinishReason::ContextFull));
        }
        if self.generated >= self.params.max_tokens {
            return Ok(Next::Done(FinishReason::MaxTokens));
        }
        Ok(Next::Feed(id))
    }

    /// Ends the sequence: shows what was held back (unless a stop string or the caller ended
    /// it) and sends the summary as the last event.
    pub fn finish(
        mut self,
        finish: FinishReason,
        decoder: &dyn TokenDecoder,
        on_event: &mut dyn FnMut(Event) -> bool,
    ) -> Result<Summary, LlmError> {
        if !matches!(finish, FinishReason::StopString | FinishReason::Cancelled) {
            let rest = self.stream.finish(decoder)?;
            let (mut shown, hit) = self.stops.push(&rest);
            if !hit {
                shown.push_str(&self.stops.finish());
            }
            if !shown.is_empty() {
                self.text.push_str(&shown);
                on_event(Event::Text(shown));
            }
        }
        let first = self.first_token_at.unwrap_or_else(Instant::now);
        let summary = Summary {
            finish,
            prompt_tokens: self.prompt_tokens,
            generated_tokens: self.generated,
            text: self.text,
            time_to_first_token: first - self.start,
            decode_time: first.elapsed(),
        };
        on_event(Event::Done(summary.clone()));
        Ok(summary)
    }
}

/// Generates from `prompt` (token ids) alone on slot 0, calling `on_event` for each token and
/// once at the end; `on_event` returns `false` to stop early. Returns the same summary as the
/// last event.
pub fn generate(
    model: &mut dyn LanguageModel,
    decoder: &dyn TokenDecoder,
    prompt: &[u32],
    params: &GenerateParams,
    on_event: &mut dyn FnMut(Event) -> bool,
) -> Result<Summary, LlmError> {
    let mut decoding = Decoding::new(prompt, params, model.context_capacity())?;
    model.reset();
    let mut logits = model.forward(prompt, 0)?;
    let finish = loop {
        match decoding.step(&mut logits, decoder, on_event)? {
            Next::Feed(id) => logits = model.forward(&[id], decoding.position())?,
            Next::Done(reason) => break reason,
        }
    };
    decoding.finish(finish, decoder, on_event)
}
