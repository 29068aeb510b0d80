//! The scheduler on a scripted model with several slots: what it runs where, and that batching
//! and prefix reuse change nothing a caller sees.

use std::sync::{Arc, Barrier, Mutex};

use crate::llm::engine::tests::{cfg, Letters};
use crate::llm::engine::{Engine, Generator, Prompt, Request, TokenCodec};
use crate::llm::generate::{Event, GenerateParams, SamplingParams};
use crate::llm::model::{LanguageModel, ModelConfig, SlotToken};
use crate::llm::LlmError;

/// What the model was asked to run.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Prefill {
        slot: usize,
        tokens: Vec<u32>,
        pos: usize,
    },
    Step(Vec<SlotToken>),
}

/// Predicts `(the sum of every token its slot holds + position) % vocab`, so a wrong prefix,
/// position or slot changes the answer; records each call.
struct Scripted {
    cfg: ModelConfig,
    slots: Vec<Vec<u32>>,
    calls: Arc<Mutex<Vec<Call>>>,
    /// Waited on by the first prompt run, to hold the engine while requests queue up.
    gate: Option<Arc<Barrier>>,
}

impl Scripted {
    fn new(slots: usize) -> (Scripted, Arc<Mutex<Vec<Call>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let cfg = cfg();
        let model = Scripted {
            cfg,
            slots: vec![Vec::new(); slots],
            calls: calls.clone(),
            gate: None,
        };
        (model, calls)
    }

    fn run(&mut self, slot: usize, tokens: &[u32], pos: usize) -> Vec<f32> {
        let held = &mut self.slots[slot];
        assert!(pos <= held.len(), "position {pos} skips cached positions");
        held.truncate(pos);
        held.extend_from_slice(tokens);
        let next = (held.iter().sum::<u32>() as usize + held.len()) % self.cfg.vocab_size;
        let mut logits = vec![0f32; self.cfg.vocab_size];
        logits[next] = 1.0;
        logits
    }
}

impl LanguageModel for Scripted {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn context_capacity(&self) -> usize {
        64
    }
    fn reset(&mut self) {}
    fn slots(&self) -> usize {
        self.slots.len()
    }
    fn reuses_prefix(&self) -> bool {
        true
    }
    fn forward(&mut self, tokens: &[u32], pos: usize) -> Result<Vec<f32>, LlmError> {
        self.forward_in(0, tokens, pos)
    }
    fn forward_in(
        &mut self,
        slot: usize,
        tokens: &[u32],
        pos: usize,
    ) -> Result<Vec<f32>, LlmError> {
        if let Some(gate) = self.gate.take() {
            gate.wait();
        }
        self.calls.lock().unwrap().push(Call::Prefill {
            slot,
            tokens: tokens.to_vec(),
            pos,
        });
        Ok(self.run(slot, tokens, pos))
    }
    fn decode_batch(&mut self, batch: &[SlotToken]) -> Result<Vec<Vec<f32>>, LlmError> {
        self.calls.lock().unwrap().push(Call::Step(batch.to_vec()));
        Ok(batch
            .iter()
            .map(|t| self.run(t.slot, &[t.token], t.pos))
            .collect())
    }
}

fn request(prompt: &str, max_tokens: usize) -> Request {
    Request {
        prompt: Prompt::Text(prompt.into()),
        params: GenerateParams {
            max_tokens,
            sampling: SamplingParams::greedy(),
            stop_tokens: vec![],
            stop_strings: vec![],
            copy_figures: None,
        },
    }
}

fn text_of(stream: crate::llm::engine::EventStream) -> String {
    stream
        .filter_map(|e| match e.unwrap() {
            Event::Done(s) => Some(s.text),
            _ => None,
        })
        .next()
        .expect("a summary")
}

/// What each prompt gives alone, on a fresh one-slot engine.
fn alone(prompt: &str, max_tokens: usize) -> String {
    let (model, _) = Scripted::new(1);
    let engine = Engine::start(Box::new(model), Box::new(Letters), 4).unwrap();
    text_of(engine.submit(request(prompt, max_tokens)).unwrap())
}

#[test]
fn sequences_running_together_decode_in_one_pass_and_answer_as_alone() {
    let (mut model, calls) = Scripted::new(4);
    let gate = Arc::new(Barrier::new(2));
    model.gate = Some(gate.clone());
    let engine = Engine::start(Box::new(model), Box::new(Letters), 4).unwrap();
    let prompts = ["abc", "hello", "zz"];
    // The engine is held in a first request until all three are queued, so they run together.
    let first = engine.submit(request("q", 1)).unwrap();
    let streams: Vec<_> = prompts
        .iter()
        .map(|p| engine.submit(request(p, 6)).unwrap())
        .collect();
    gate.wait();
    text_of(first);
    let texts: Vec<String> = streams.into_iter().map(text_of).collect();
    for (p, t) in prompts.iter().zip(&texts) {
        assert_eq!(t, &alone(p, 6), "{p}");
    }
    let calls = calls.lock().unwrap();
    let widest = calls
        .iter()
        .filter_map(|c| match c {
            Call::Step(b) => Some(b.len()),
            _ => None,
        })
        .max();
    assert_eq!(widest, Some(3), "{calls:?}");
    for call in calls.iter() {
        if let Call::Step(batch) = call {
            let mut slots: Vec<usize> = batch.iter().map(|t| t.slot).collect();
            slots.dedup();
            assert_eq!(
                slots.len(),
                batch.len(),
                "two tokens of one slot: {batch:?}"
            );
        }
    }
}

#[test]
fn a_shared_prefix_is_not_run_again() {
    let (model, calls) = Scripted::new(2);
    let engine = Engine::start(Box::new(model), Box::new(Letters), 2).unwrap();
    let first = text_of(engine.submit(request("systemtextquestionone", 3)).unwrap());
    let before = calls.lock().unwrap().len();
    let second = text_of(engine.submit(request("systemtextquestiontwo", 3)).unwrap());
    assert_eq!(first, alone("systemtextquestionone", 3));
    assert_eq!(second, alone("systemtextquestiontwo", 3));
    let calls = calls.lock().unwrap();
    assert_eq!(
        calls[before],
        Call::Prefill {
            slot: 0,
            tokens: Letters.encode("two").unwrap(),
            pos: "systemtextquestion".len(),
        }
    );
    // The same prompt again runs only its last token, for its logits.
    drop(calls);
    let (model, calls) = Scripted::new(1);
    let engine = Engine::start(Box::new(model), Box::new(Letters), 2).unwrap();
    for _ in 0..2 {
        let scores = engine
            .score(Prompt::Text("judgethis".into()), &[vec![0], vec![1]])
            .unwrap();
        assert_eq!(scores.len(), 2);
    }
    assert_eq!(
        calls.lock().unwrap()[1],
        Call::Prefill {
            slot: 0,
            tokens: Letters.encode("s").unwrap(),
            pos: 8,
        }
    );
}

#[test]
fn prompts_sharing_only_a_few_tokens_fill_free_slots_instead_of_evicting_a_prefix() {
    let (model, calls) = Scripted::new(2);
    let engine = Engine::start(Box::new(model), Box::new(Letters), 2).unwrap();
    let long = "theshopsownpreambleforeveryquestion";
    text_of(engine.submit(request(&format!("{long}one"), 2)).unwrap());
    // Shares only "the" with the first: goes to the free slot, keeping the first's prefix.
    text_of(engine.submit(request("thebikeshop", 2)).unwrap());
    text_of(engine.submit(request(&format!("{long}two"), 2)).unwrap());
    let prefills: Vec<(usize, usize)> = calls
        .lock()
        .unwrap()
        .iter()
        .filter_map(|c| match c {
            Call::Prefill { slot, pos, .. } => Some((*slot, *pos)),
            Call::Step(_) => None,
        })
        .collect();
    assert_eq!(prefills, vec![(0, 0), (1, 0), (0, long.len())]);
}

#[test]
fn more_requests_than_slots_wait_their_turn_and_a_cancelled_one_frees_its_slot() {
    let (model, _) = Scripted::new(2);
    let engine = Engine::start(Box::new(model), Box::new(Letters), 8).unwrap();
    let prompts = ["abc", "bcd", "cde", "def", "efg"];
    let mut streams: Vec<_> = prompts
        .iter()
        .map(|p| engine.submit(request(p, 20)).unwrap())
        .collect();
    // Dropping the first stream cancels it; the others all finish, whatever slot they got.
    streams.remove(0);
    for (p, s) in prompts[1..].iter().zip(streams) {
        assert_eq!(text_of(s), alone(p, 20), "{p}");
    }
    // Each job is counted out just after its last event.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while engine.queue_depth() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(engine.queue_depth(), 0);
}
