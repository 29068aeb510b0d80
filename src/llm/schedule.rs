//! Continuous batching on the engine thread. Every accepted job gets a slot, one of the
//! model's KV caches: the free slot whose last sequence shares the longest prefix with the
//! job's prompt, else the one used least recently. A slot keeps the tokens it holds after its
//! job ends, so the part of a prompt shared across questions (the system text, a business's
//! preamble, the question a judge reads several passages for) is not run again while it stays
//! in a slot: the slots are a bounded LRU of prefixes, at no copying cost. A prompt runs alone
//! (prefill); then every generating sequence decodes in one pass per step, and waiting jobs
//! join between steps while slots are free. Jobs beyond the slots wait in the engine's bounded
//! queue, and a full queue is refused at submission (`Busy`), never waited on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, TryRecvError};

use crate::llm::engine::{score_logits, Job, Prompt, Queued, TokenCodec};
use crate::llm::generate::{Decoding, Event, Next};
use crate::llm::model::{LanguageModel, SlotToken};
use crate::llm::LlmError;

/// Fewest shared tokens for which a prompt takes a slot for its prefix rather than the least
/// recently used one. Every prompt shares its chat template's first few tokens with every
/// slot; choosing by those would send each prompt to the same slot, evicting its longer
/// prefix, instead of filling the free ones. A share this short saves a few ms at most.
const MIN_SHARED: usize = 16;

/// What one KV cache holds: `tokens` at positions `0 ..`, valid for reuse.
#[derive(Default)]
struct Slot {
    tokens: Vec<u32>,
    last_used: u64,
    busy: bool,
}

/// A sequence that is generating: the token it needs run next, in its slot.
struct Running {
    slot: usize,
    next: u32,
    decoding: Decoding,
    job: Queued,
}

/// Sends `job`'s events; `false` once its caller stopped listening.
fn send_event(job: &Job) -> impl FnMut(Event) -> bool + '_ {
    move |e| match job {
        Job::Generate { events, .. } => events.send(Ok(e)).is_ok(),
        Job::Score { .. } => false,
    }
}

struct Scheduler<'m> {
    model: &'m mut dyn LanguageModel,
    codec: &'m dyn TokenCodec,
    slots: Vec<Slot>,
    clock: u64,
}

/// Serves `jobs` until the queue is closed and every running sequence has ended.
pub(super) fn serve(
    model: &mut dyn LanguageModel,
    codec: &dyn TokenCodec,
    jobs: &Receiver<Queued>,
) {
    let slots = model.slots().max(1);
    let mut s = Scheduler {
        model,
        codec,
        slots: (0..slots).map(|_| Slot::default()).collect(),
        clock: 0,
    };
    let mut running: Vec<Running> = Vec::new();
    let mut open = true;
    loop {
        // Wait for work only when nothing runs; otherwise take what is queued, while slots are
        // free, and go on decoding.
        while open && running.len() < slots {
            let queued = if running.is_empty() {
                jobs.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                jobs.try_recv()
            };
            match queued {
                Ok(job) => running.extend(s.admit(job)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if running.is_empty() {
            if open {
                continue;
            }
            return;
        }
        s.step(&mut running);
    }
}

impl Scheduler<'_> {
    /// The free slot for `prompt` and how many of its leading tokens that slot already holds
    /// (never all of them: the last one is run for its logits).
    fn pick(&mut self, prompt: &[u32]) -> (usize, usize) {
        let reuses = self.model.reuses_prefix();
        let shared = |slot: &Slot| {
            if !reuses {
                return 0;
            }
            slot.tokens
                .iter()
                .zip(prompt)
                .take_while(|(a, b)| a == b)
                .count()
        };
        let (index, slot) = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.busy)
            .max_by_key(|(i, s)| {
                use std::cmp::Reverse;
                let worth = Some(shared(s)).filter(|&n| n >= MIN_SHARED).unwrap_or(0);
                (worth, Reverse(s.last_used), Reverse(*i))
            })
            .expect("a job is admitted only while a slot is free");
        let reuse = shared(slot).min(prompt.len().saturating_sub(1));
        self.clock += 1;
        self.slots[index].last_used = self.clock;
        (index, reuse)
    }

    /// Runs `prompt` in a slot of its own (reusing the prefix it holds) and returns the slot,
    /// taken, and the logits after the prompt.
    fn prefill(&mut self, prompt: &[u32]) -> Result<(usize, Vec<f32>), LlmError> {
        let (slot, reuse) = self.pick(prompt);
        if !self.model.reuses_prefix() {
            self.model.reset();
        }
        // Whatever happens, positions from `reuse` on no longer hold what the slot said.
        self.slots[slot].tokens.truncate(reuse);
        let run = catch_unwind(AssertUnwindSafe(|| {
            self.model.forward_in(slot, &prompt[reuse..], reuse)
        }));
        let logits = match run {
            Ok(result) => result?,
            Err(_) => {
                self.forget_all();
                return Err(LlmError::EngineStopped);
            }
        };
        self.slots[slot].tokens.extend_from_slice(&prompt[reuse..]);
        self.slots[slot].busy = true;
        Ok((slot, logits))
    }

    /// After a panic no cache is trusted.
    fn forget_all(&mut self) {
        self.model.reset();
        for slot in &mut self.slots {
            slot.tokens.clear();
        }
    }

    fn release(&mut self, slot: usize) {
        self.slots[slot].busy = false;
    }

    /// Starts `queued`: a score is answered at once, a generation runs its prompt and its first
    /// token and, unless that ended it, is returned to decode with the others.
    fn admit(&mut self, queued: Queued) -> Option<Running> {
        let prompt = match queued.job.prompt() {
            Prompt::Tokens(t) => Ok(t.clone()),
            Prompt::Text(text) => self.codec.encode(text),
        };
        let prompt = match prompt {
            Ok(p) => p,
            Err(e) => {
                queued.job.fail(e);
                return None;
            }
        };
        match &queued.job {
            Job::Score { groups, reply, .. } => {
                let scored = check_score_prompt(&prompt, self.model.context_capacity())
                    .and_then(|()| self.prefill(&prompt))
                    .and_then(|(slot, logits)| {
                        self.release(slot);
                        score_logits(&logits, groups)
                    });
                let _ = reply.send(scored);
                None
            }
            Job::Generate { request, .. } => {
                let capacity = self.model.context_capacity();
                let started = Decoding::new(&prompt, &request.params, capacity).and_then(|d| {
                    self.prefill(&prompt)
                        .map(|(slot, logits)| (d, slot, logits))
                });
                let (decoding, slot, mut logits) = match started {
                    Ok(s) => s,
                    Err(e) => {
                        queued.job.fail(e);
                        return None;
                    }
                };
                let running = Running {
                    slot,
                    next: 0,
                    decoding,
                    job: queued,
                };
                self.advance(running, &mut logits)
            }
        }
    }

    /// Gives `running` its logits: it comes back while it goes on; otherwise it is finished
    /// and its slot free.
    fn advance(&mut self, mut running: Running, logits: &mut [f32]) -> Option<Running> {
        let next = running
            .decoding
            .step(logits, self.codec, &mut send_event(&running.job.job));
        let reason = match next {
            Ok(Next::Feed(id)) => {
                running.next = id;
                return Some(running);
            }
            Ok(Next::Done(reason)) => reason,
            Err(e) => {
                running.job.job.fail(e);
                self.release(running.slot);
                return None;
            }
        };
        let Running {
            slot,
            decoding,
            job,
            ..
        } = running;
        if let Err(e) = decoding.finish(reason, self.codec, &mut send_event(&job.job)) {
            job.job.fail(e);
        }
        self.release(slot);
        None
    }

    /// One decode step of every running sequence, in one pass; each one that ends leaves.
    fn step(&mut self, running: &mut Vec<Running>) {
        let batch: Vec<SlotToken> = running
            .iter()
            .map(|r| SlotToken {
                slot: r.slot,
                token: r.next,
                pos: r.decoding.position(),
            })
            .collect();
        for t in &batch {
            let tokens = &mut self.slots[t.slot].tokens;
            tokens.truncate(t.pos);
        }
        let run = catch_unwind(AssertUnwindSafe(|| self.model.decode_batch(&batch)));
        let results: Vec<Result<Vec<f32>, LlmError>> = match run {
            Ok(Ok(logits)) if logits.len() == batch.len() => logits.into_iter().map(Ok).collect(),
            // One sequence's fault (or the batch's) must not fail the others: run each alone.
            Ok(_) => batch
                .iter()
                .map(|t| {
                    catch_unwind(AssertUnwindSafe(|| {
                        self.model.forward_in(t.slot, &[t.token], t.pos)
                    }))
                    .unwrap_or(Err(LlmError::EngineStopped))
                })
                .collect(),
            Err(_) => {
                self.forget_all();
                batch.iter().map(|_| Err(LlmError::EngineStopped)).collect()
            }
        };
        let mut kept = Vec::with_capacity(running.len());
        for ((r, t), result) in running.drain(..).zip(&batch).zip(results) {
            match result {
                Ok(mut logits) => {
                    self.slots[t.slot].tokens.push(t.token);
                    kept.extend(self.advance(r, &mut logits));
                }
                Err(e) => {
                    r.job.job.fail(e);
                    self.release(r.slot);
                }
            }
        }
        *running = kept;
    }
}

/// A score's prompt must be non-empty and fit the context.
fn check_score_prompt(prompt: &[u32], capacity: usize) -> Result<(), LlmError> {
    if prompt.is_empty() {
        return Err(LlmError::InvalidParams("the prompt is empty".into()));
    }
    if prompt.len() > capacity {
        return Err(LlmError::ContextFull {
            needed: prompt.len(),
            capacity,
        });
    }
    Ok(())
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
