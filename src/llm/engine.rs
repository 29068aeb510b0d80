//! The one owner of a loaded model: a thread that holds the model and its tokenizer and serves
//! requests from a bounded queue, decoding every running generation in one pass per step and
//! reusing prompt prefixes its KV caches still hold (`llm::schedule`). Submitting to a full
//! queue fails at once with `LlmError::Busy` instead of waiting; each accepted request gets a
//! stream of events. Dropping the stream cancels the request. Besides generating, the thread
//! scores a prompt: how likely each of a few continuations is after it (a yes/no judgement),
//! from one forward pass. `Generator` is the seam callers depend on, so tests elsewhere can use
//! a scripted fake.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::llm::generate::{Event, GenerateParams, TokenDecoder};
use crate::llm::model::LanguageModel;
use crate::llm::schedule;
use crate::llm::LlmError;

/// Text → token ids and back, as the model's tokenizer does it.
pub trait TokenCodec: TokenDecoder + Send + Sync {
    fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError>;
}

impl TokenCodec for crate::llm::GgufTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        crate::llm::GgufTokenizer::encode(self, text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Text, tokenized as is (special tokens written in it are parsed).
    Text(String),
    /// Token ids.
    Tokens(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub prompt: Prompt,
    pub params: GenerateParams,
}

/// Events of one request, in order; ends after `Event::Done` or an error.
pub struct EventStream {
    rx: Receiver<Result<Event, LlmError>>,
}

impl EventStream {
    /// A stream over a channel the caller feeds (for fakes).
    pub fn from_receiver(rx: Receiver<Result<Event, LlmError>>) -> Self {
        EventStream { rx }
    }
}

impl Iterator for EventStream {
    type Item = Result<Event, LlmError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

/// Something that generates answers: the engine, or a fake in tests.
pub trait Generator: Send + Sync {
    /// Queues `request`; `Err(LlmError::Busy)` when the queue is full.
    fn submit(&self, request: Request) -> Result<EventStream, LlmError>;

    /// The log-probability, after `prompt`, of the next token being one of each group of
    /// token ids (e.g. the ids of "yes"/"Yes" and of "no"/"No"); queued like a request.
    fn score(&self, prompt: Prompt, groups: &[Vec<u32>]) -> Result<Vec<f32>, LlmError> {
        let _ = (prompt, groups);
        Err(LlmError::Unsupported("scoring".into()))
    }

    /// Requests accepted and not yet finished (the running one included).
    fn queue_depth(&self) -> usize {
        0
    }
}

/// Counts a job as finished when dropped.
struct Finished(Arc<AtomicUsize>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A job as queued: counted in `Engine::queue_depth` until it is dropped, wherever that is.
pub(super) struct Queued {
    pub job: Job,
    _counted: Finished,
}

pub(super) enum Job {
    Generate {
        request: Request,
        events: mpsc::Sender<Result<Event, LlmError>>,
    },
    Score {
        prompt: Prompt,
        groups: Vec<Vec<u32>>,
        reply: mpsc::Sender<Result<Vec<f32>, LlmError>>,
    },
}

impl Job {
    pub fn prompt(&self) -> &Prompt {
        match self {
            Job::Generate { request, .. } => &request.prompt,
            Job::Score { prompt, .. } => prompt,
        }
    }

    /// Tells the job's caller that the engine failed it.
    pub fn fail(&self, error: LlmError) {
        match self {
            Job::Generate { events, .. } => {
                let _ = events.send(Err(error));
            }
            Job::Score { reply, .. } => {
                let _ = reply.send(Err(error));
            }
        }
    }
}

pub struct Engine {
    tx: Option<SyncSender<Queued>>,
    queue: usize,
    worker: Option<JoinHandle<()>>,
    pending: Arc<AtomicUsize>,
}

impl Engine {
    /// Starts the owner thread; at most `queue` requests wait while the model's slots are busy.
    pub fn start(
        mut model: Box<dyn LanguageModel>,
        codec: Box<dyn TokenCodec>,
        queue: usize,
    ) -> Result<Engine, LlmError> {
        let (tx, rx) = mpsc::sync_channel::<Queued>(queue);
        let worker = std::thread::Builder::new()
            .name("clerk-llm-engine".into())
            .spawn(move || loop {
                // The scheduler fails only the jobs a panic touched; should it panic itself, the
                // jobs it held end (their streams close) and it starts again on a clean model.
                let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    schedule::serve(&mut *model, &*codec, &rx)
                }));
                if served.is_ok() {
                    return;
                }
                model.reset();
            })?;
        Ok(Engine {
            tx: Some(tx),
            queue,
            worker: Some(worker),
            pending: Arc::new(AtomicUsize::new(0)),
        })
    }
}

/// Each group's log-probability after the prompt whose next-token `logits` these are
/// (log-sum-exp of its ids' log-softmax).
pub(super) fn score_logits(logits: &[f32], groups: &[Vec<u32>]) -> Result<Vec<f32>, LlmError> {
    let log_sum_exp = |values: &mut dyn Iterator<Item = f32>| {
        let values: Vec<f32> = values.collect();
        let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        max + values.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
    };
    let all = log_sum_exp(&mut logits.iter().copied());
    groups
        .iter()
        .map(|ids| {
            let mut of_group = ids.iter().filter_map(|&i| logits.get(i as usize).copied());
            Ok(log_sum_exp(&mut of_group) - all)
        })
        .collect()
}

impl Generator for Engine {
    fn submit(&self, request: Request) -> Result<EventStream, LlmError> {
        let (events, rx) = mpsc::channel();
        self.enqueue(Job::Generate { request, events })?;
        Ok(EventStream { rx })
    }

    fn score(&self, prompt: Prompt, groups: &[Vec<u32>]) -> Result<Vec<f32>, LlmError> {
        let (reply, rx) = mpsc::channel();
        self.enqueue(Job::Score {
            prompt,
            groups: groups.to_vec(),
            reply,
        })?;
        rx.recv().map_err(|_| LlmError::EngineStopped)?
    }

    fn queue_depth(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

impl Engine {
    fn enqueue(&self, job: Job) -> Result<(), LlmError> {
        let tx = self.tx.as_ref().ok_or(LlmError::EngineStopped)?;
        // Counted before it is sent, so the worker never finishes a job it was not counted for;
        // a refused job is dropped here and so counted out again.
        self.pending.fetch_add(1, Ordering::Relaxed);
        let queued = Queued {
            job,
            _counted: Finished(self.pending.clone()),
        };
        tx.try_send(queued).map_err(|e| match e {
            TrySendError::Full(_) => LlmError::Busy(self.queue),
            TrySendError::Disconnected(_) => LlmError::EngineStopped,
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::llm::generate::{FinishReason, SamplingParams};
    use crate::llm::model::{Architecture, ModelConfig};
    use std::sync::{Arc, Barrier};

    /// Always predicts `(last token + 1) % vocab`; optionally waits on a barrier first.
    struct Counting {
        cfg: ModelConfig,
        gate: Option<Arc<Barrier>>,
    }
    impl LanguageModel for Counting {
        fn config(&self) -> &ModelConfig {
            &self.cfg
        }
        fn context_capacity(&self) -> usize {
            64
        }
        fn reset(&mut self) {}
        fn forward(&mut self, tokens: &[u32], _pos: usize) -> Result<Vec<f32>, LlmError> {
            if let Some(g) = self.gate.take() {
                g.wait();
            }
            let mut l = vec![0f32; self.cfg.vocab_size];
            l[(*tokens.last().unwrap() as usize + 1) % self.cfg.vocab_size] = 1.0;
            Ok(l)
        }
    }

    /// Token `i` is the letter `'a' + i` (the scheduler's tests share it).
    pub(in crate::llm) struct Letters;
    impl TokenDecoder for Letters {
        fn decode(&self, ids: &[u32]) -> Result<String, LlmError> {
            Ok(ids.iter().map(|&i| (b'a' + i as u8) as char).collect())
        }
    }
    impl TokenCodec for Letters {
        fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
            Ok(text.bytes().map(|b| (b - b'a') as u32).collect())
        }
    }

    /// A one-layer config with a 26-token vocabulary (the scheduler's tests share it).
    pub(in crate::llm) fn cfg() -> ModelConfig {
        ModelConfig {
            arch: Architecture::Llama,
            n_layer: 1,
            n_embd: 32,
            n_ff: 32,
            n_head: 1,
            n_kv_head: 1,
            head_dim: 32,
            rope_dim: 32,
            rope_theta: 1e4,
            rms_eps: 1e-5,
            context_length: 64,
            vocab_size: 26,
        }
    }

    fn params() -> GenerateParams {
        GenerateParams {
            max_tokens: 5,
            sampling: SamplingParams::greedy(),
            stop_tokens: vec![25],
            stop_strings: vec![],
            copy_figures: None,
        }
    }

    #[test]
    fn streams_tokens_then_done() {
        let model = Box::new(Counting {
            cfg: cfg(),
            gate: None,
        });
        let engine = Engine::start(model, Box::new(Letters), 2).unwrap();
        let events: Vec<Event> = engine
            .submit(Request {
                prompt: Prompt::Text("ab".into()),
                params: params(),
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let texts: String = events
            .iter()
            .filter_map(|e| match e {
                Event::Token { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, "cdefg");
        match events.last() {
            Some(Event::Done(s)) => {
                assert_eq!(s.finish, FinishReason::MaxTokens);
                assert_eq!(s.text, "cdefg");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stop_token_and_stop_string_end_the_answer() {
        let engine = Engine::start(
            Box::new(Counting {
                cfg: cfg(),
                gate: None,
            }),
            Box::new(Letters),
            2,
        )
        .unwrap();
        let mut p = params();
        p.max_tokens = 10;
        let done = |stream: EventStream| {
            stream
                .filter_map(|e| match e.unwrap() {
                    Event::Done(s) => Some(s),
                    _ => None,
                })
                .next()
                .unwrap()
        };
        let s = done(
            engine
                .submit(Request {
                    prompt: Prompt::Tokens(vec![22]),
                    params: p.clone(),
                })
                .unwrap(),
        );
        assert_eq!((s.finish, s.text.as_str()), (FinishReason::StopToken, "xy"));
        p.stop_strings = vec!["ef".into()];
        let s = done(
            engine
                .submit(Request {
                    prompt: Prompt::Tokens(vec![1]),
                    params: p,
                })
                .unwrap(),
        );
        assert_eq!(
            (s.finish, s.text.as_str()),
            (FinishReason::StopString, "cd")
        );
    }

    #[test]
    fn a_full_queue_is_busy_not_a_wait() {
        let gate = Arc::new(Barrier::new(2));
        let model = Box::new(Counting {
            cfg: cfg(),
            gate: Some(gate.clone()),
        });
        let engine = Engine::start(model, Box::new(Letters), 1).unwrap();
        let req = || Request {
            prompt: Prompt::Tokens(vec![0]),
            params: params(),
        };
        // The worker takes one request and blocks on the gate; one more fits the queue; then
        // submitting is refused at once.
        let mut accepted = vec![engine.submit(req()).unwrap()];
        let refused = loop {
            match engine.submit(req()) {
                Ok(s) if accepted.len() < 3 => accepted.push(s),
                Ok(_) => break false,
                Err(LlmError::Busy(1)) => break true,
                Err(e) => panic!("{e}"),
            }
        };
        assert!(
            refused,
            "a queue of one accepted {} requests",
            accepted.len()
        );
        gate.wait();
        for stream in accepted {
            assert!(stream
                .map(Result::unwrap)
                .any(|e| matches!(e, Event::Done(_))));
        }
    }
}
