//! Several conversations at once on the default model: one decode pass for all of them gives
//! each the logits it gets alone, and through the engine each gets the text it gets alone,
//! also when its prompt starts with a prefix an earlier prompt left in a KV cache. No test
//! asserts on timings.

use std::path::PathBuf;

use clerk::llm::engine::{Engine, Generator, Prompt, Request};
use clerk::llm::generate::{Event, GenerateParams, SamplingParams};
use clerk::llm::model::{self, LanguageModel, LoadOptions, SlotToken};
use clerk::llm::{fetch, GgufTokenizer};

use crate::support::{self, cosine};

fn model_path() -> PathBuf {
    fetch::pull_default(&fetch::default_models_dir()).expect("the default model is available")
}

/// The prompts of llama.cpp's fixture for the default model (real chat prompts).
fn prompts() -> Vec<Vec<u32>> {
    let json: serde_json::Value = support::fixture("smollm2-135m-instruct-q4_1.llamacpp.json");
    json["greedy"]["cases"]
        .as_array()
        .expect("greedy.cases")
        .iter()
        .map(|c| support::token_ids(&c["prompt_ids"]))
        .collect()
}

fn load(slots: usize) -> Box<dyn LanguageModel> {
    model::load(
        &model_path(),
        &LoadOptions {
            context: Some(256),
            slots: Some(slots),
            ..LoadOptions::default()
        },
    )
    .expect("load the default model")
}

fn top_two(v: &[f32]) -> (usize, f32) {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    (idx[0], v[idx[0]] - v[idx[1]])
}

#[test]
fn one_decode_pass_for_several_sequences_gives_each_its_own_logits() {
    let prompts = prompts();
    let steps = 6;
    // Alone: each prompt, then its greedy tokens one at a time, in slot 0.
    let mut single = load(1);
    let mut alone: Vec<Vec<Vec<f32>>> = Vec::new();
    let mut fed: Vec<Vec<u32>> = Vec::new();
    for p in &prompts {
        let mut logits = vec![single.forward(p, 0).expect("prompt")];
        let mut tokens = Vec::new();
        for s in 0..steps {
            let next = top_two(&logits[s]).0 as u32;
            tokens.push(next);
            logits.push(single.forward(&[next], p.len() + s).expect("step"));
        }
        alone.push(logits);
        fed.push(tokens);
    }
    // Together: each prompt in a slot of its own, then every step one pass over all of them,
    // fed the same tokens.
    let mut batched = load(prompts.len());
    for (slot, p) in prompts.iter().enumerate() {
        let first = batched.forward_in(slot, p, 0).expect("prompt");
        assert!(cosine(&first, &alone[slot][0]) > 0.99999, "prompt {slot}");
    }
    for s in 0..steps {
        let batch: Vec<SlotToken> = prompts
            .iter()
            .enumerate()
            .map(|(slot, p)| SlotToken {
                slot,
                token: fed[slot][s],
                pos: p.len() + s,
            })
            .collect();
        let together = batched.decode_batch(&batch).expect("decode step");
        assert_eq!(together.len(), prompts.len());
        for (slot, logits) in together.iter().enumerate() {
            let reference = &alone[slot][s + 1];
            let cos = cosine(logits, reference);
            assert!(cos > 0.9999, "sequence {slot}, step {s}: cosine {cos}");
            let (top, margin) = top_two(reference);
            if margin > 0.05 {
                assert_eq!(top_two(logits).0, top, "sequence {slot}, step {s}: top-1");
            }
        }
    }
}

fn greedy(prompt: Vec<u32>, max_tokens: usize) -> Request {
    Request {
        prompt: Prompt::Tokens(prompt),
        params: GenerateParams {
            max_tokens,
            sampling: SamplingParams::greedy(),
            stop_tokens: vec![2],
            stop_strings: vec![],
            copy_figures: None,
        },
    }
}

fn text(stream: clerk::llm::engine::EventStream) -> String {
    for e in stream {
        if let Event::Done(s) = e.expect("event") {
            return s.text;
        }
    }
    panic!("no summary")
}

#[test]
fn the_engine_answers_conversations_at_once_and_after_a_shared_prefix_as_alone() {
    let prompts: Vec<Vec<u32>> = prompts().into_iter().take(3).collect();
    let tok = || Box::new(GgufTokenizer::from_gguf_file(&model_path()).expect("tokenizer"));
    // A one-slot engine, one request at a time, is the reference.
    let alone = Engine::start(load(1), tok(), 4).expect("engine");
    let expected: Vec<String> = prompts
        .iter()
        .map(|p| text(alone.submit(greedy(p.clone(), 10)).expect("submit")))
        .collect();
    drop(alone);

    let engine = Engine::start(load(4), tok(), 8).expect("engine");
    let streams: Vec<_> = prompts
        .iter()
        .map(|p| engine.submit(greedy(p.clone(), 10)).expect("submit"))
        .collect();
    for (i, (s, want)) in streams.into_iter().zip(&expected).enumerate() {
        assert_eq!(&text(s), want, "prompt {i} among others");
    }
    // The same prompts again start from what the slots hold (each its whole prompt but the
    // last token) and still answer the same.
    for (i, (p, want)) in prompts.iter().zip(&expected).enumerate() {
        assert_eq!(
            &text(engine.submit(greedy(p.clone(), 10)).expect("submit")),
            want,
            "prompt {i} after its prefix was cached"
        );
    }
}
