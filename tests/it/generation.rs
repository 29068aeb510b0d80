//! The forward pass and decoding against llama.cpp's reference outputs for the default model
//! (first-step logits, greedy continuations), qwen2 and llama on tiny random-weight GGUF files
//! written here (our CPU forward against candle-transformers' models), the refusal of other
//! architectures, and streaming through the engine. No test asserts on timings.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use clerk::llm::engine::{Engine, Generator, Prompt, Request};
use clerk::llm::generate::{
    generate, CopyFigures, Event, FinishReason, GenerateParams, SamplingParams,
};
use clerk::llm::model::{self, Backend, LanguageModel, LoadOptions};
use clerk::llm::{fetch, GgufTokenizer, LlmError};
use serde_json::Value as Json;

use crate::support::{self, cosine};

struct Case {
    prompt_ids: Vec<u32>,
    greedy_ids: Vec<u32>,
    logits: Vec<f32>,
}

fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let json: Json = support::fixture("smollm2-135m-instruct-q4_1.llamacpp.json");
        json["greedy"]["cases"]
            .as_array()
            .expect("greedy.cases")
            .iter()
            .map(|c| Case {
                prompt_ids: support::token_ids(&c["prompt_ids"]),
                greedy_ids: support::token_ids(&c["greedy_ids"]),
                logits: c["first_step_logits"]
                    .as_array()
                    .expect("logits")
                    .iter()
                    .map(|x| x.as_f64().expect("logit") as f32)
                    .collect(),
            })
            .collect()
    })
}

fn model_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        fetch::pull_default(&fetch::default_models_dir()).expect("the default model is available")
    })
}

/// One loaded default model shared by the tests (they take turns).
fn default_model() -> std::sync::MutexGuard<'static, Box<dyn LanguageModel>> {
    static MODEL: OnceLock<Mutex<Box<dyn LanguageModel>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let opts = LoadOptions {
                context: Some(512),
                ..LoadOptions::default()
            };
            Mutex::new(model::load(model_path(), &opts).expect("load the default model"))
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn argmax(v: &[f32]) -> usize {
    clerk::llm::generate::argmax(v) as usize
}

#[test]
fn first_step_logits_match_llama_cpp() {
    let mut m = default_model();
    for (i, c) in cases().iter().enumerate() {
        let logits = m.forward(&c.prompt_ids, 0).expect("forward");
        assert_eq!(logits.len(), c.logits.len());
        let cos = cosine(&logits, &c.logits);
        eprintln!("case {i}: first-step logits cosine vs llama.cpp {cos:.6}");
        assert!(cos >= 0.998, "case {i}: cosine {cos:.5} vs llama.cpp");
        assert_eq!(argmax(&logits), argmax(&c.logits), "case {i}: top-1");
        assert_eq!(
            argmax(&logits) as u32,
            c.greedy_ids[0],
            "case {i}: first greedy id"
        );
    }
}

#[test]
fn greedy_continuations_match_llama_cpp() {
    let mut m = default_model();
    let dec = GgufTokenizer::from_gguf_file(model_path()).expect("tokenizer");
    for (i, c) in cases().iter().enumerate() {
        let params = GenerateParams {
            max_tokens: 8,
            sampling: SamplingParams::greedy(),
            stop_tokens: vec![2],
            stop_strings: vec![],
            copy_figures: None,
        };
        let mut got = Vec::new();
        let summary = generate(&mut **m, &dec, &c.prompt_ids, &params, &mut |e| {
            if let Event::Token { id, .. } = e {
                got.push(id);
            }
            true
        })
        .expect("generate");
        // llama.cpp's list ends with the EOS it stopped at; ours ends the stream there.
        if summary.finish == FinishReason::StopToken {
            got.push(2);
        }
        let n = 8.min(c.greedy_ids.len());
        assert_eq!(
            got.get(..n),
            c.greedy_ids.get(..n),
            "case {i}: greedy continuation differs from llama.cpp's in its first {n} tokens"
        );
    }
}

#[test]
fn the_engine_streams_text_from_the_default_model() {
    let m = model::load(
        model_path(),
        &LoadOptions {
            context: Some(256),
            ..LoadOptions::default()
        },
    )
    .expect("load");
    let tok = GgufTokenizer::from_gguf_file(model_path()).expect("tokenizer");
    let engine = Engine::start(m, Box::new(tok), 2).expect("engine");
    let c = &cases()[0];
    let stream = engine
        .submit(Request {
            prompt: Prompt::Tokens(c.prompt_ids.clone()),
            params: GenerateParams {
                max_tokens: 12,
                sampling: SamplingParams::greedy(),
                stop_tokens: vec![2],
                stop_strings: vec![],
                copy_figures: None,
            },
        })
        .expect("submit");
    let mut streamed = String::new();
    let mut summary = None;
    for e in stream {
        match e.expect("event") {
            Event::Token { text, .. } | Event::Text(text) => streamed.push_str(&text),
            Event::Done(s) => summary = Some(s),
        }
    }
    let s = summary.expect("done event");
    assert_eq!(s.text, streamed);
    assert!(!streamed.contains('\u{FFFD}'));
    assert!(matches!(
        s.finish,
        FinishReason::MaxTokens | FinishReason::StopToken
    ));
    assert!(!streamed.trim().is_empty());
}

/// Digit runs with the joiners the fact check joins them by ("9:30", "14,90").
fn figures(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let joins = matches!(c, '.' | ',' | ':')
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_ascii_digit() || joins {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    out.extend((!current.is_empty()).then_some(current));
    out
}

#[test]
fn copy_constrained_decoding_writes_only_the_allowed_figures() {
    let mut m = default_model();
    let tok = GgufTokenizer::from_gguf_file(model_path()).expect("tokenizer");
    // Left to itself the model counts on; fenced in, every figure it writes is one of these.
    let allowed = ["1", "2", "3", "4", "9:30", "18:00"];
    let prompt = tok.encode("Counting aloud: 1, 2, 3, 4,").expect("encode");
    let run = |m: &mut dyn LanguageModel, copy: Option<CopyFigures>| {
        let params = GenerateParams {
            max_tokens: 16,
            sampling: SamplingParams::greedy(),
            stop_tokens: vec![2],
            stop_strings: vec![],
            copy_figures: copy,
        };
        generate(m, &tok, &prompt, &params, &mut |_| true)
            .expect("generate")
            .text
    };
    let free = run(&mut **m, None);
    assert!(
        figures(&free)
            .iter()
            .any(|f| !allowed.contains(&f.as_str())),
        "the unconstrained model should count past 4: {free:?}"
    );
    let fenced = run(
        &mut **m,
        Some(CopyFigures::new(allowed.iter().map(|f| f.to_string()))),
    );
    eprintln!("free: {free:?}\nfenced: {fenced:?}");
    assert!(!fenced.trim().is_empty());
    for figure in figures(&fenced) {
        assert!(
            allowed.contains(&figure.as_str()),
            "{figure:?} is not an allowed figure: {fenced:?}"
        );
    }
}

// ---- tiny random-weight models -------------------------------------------------------------

struct Tiny {
    n_embd: usize,
    n_head: usize,
    n_kv: usize,
    n_ff: usize,
    vocab: usize,
    layers: usize,
}

const TINY: Tiny = Tiny {
    n_embd: 64,
    n_head: 4,
    n_kv: 2,
    n_ff: 128,
    vocab: 96,
    layers: 2,
};

fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// Writes a GGUF file of architecture `arch` with random weights (Q8_0 matrices, f32 vectors).
fn write_tiny(path: &Path, arch: &str) {
    let t = &TINY;
    let hd = t.n_embd / t.n_head;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let mut seed = 1;
    let mut add = |name: String, shape: &[usize], dtype: GgmlDType, scale: f32, offset: f32| {
        seed += 1;
        let n: usize = shape.iter().product();
        let v: Vec<f32> = random(n, seed, scale).iter().map(|x| x + offset).collect();
        let tensor = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
        tensors.push((name, QTensor::quantize(&tensor, dtype).unwrap()));
    };
    add(
        "token_embd.weight".into(),
        &[t.vocab, t.n_embd],
        GgmlDType::Q8_0,
        1.0,
        0.0,
    );
    add(
        "output_norm.weight".into(),
        &[t.n_embd],
        GgmlDType::F32,
        0.1,
        1.0,
    );
    for l in 0..t.layers {
        let p = |s: &str| format!("blk.{l}.{s}");
        add(p("attn_norm.weight"), &[t.n_embd], GgmlDType::F32, 0.1, 1.0);
        add(p("ffn_norm.weight"), &[t.n_embd], GgmlDType::F32, 0.1, 1.0);
        add(
            p("attn_q.weight"),
            &[t.n_embd, t.n_embd],
            GgmlDType::Q8_0,
            0.3,
            0.0,
        );
        add(
            p("attn_k.weight"),
            &[t.n_kv * hd, t.n_embd],
            GgmlDType::Q8_0,
            0.3,
            0.0,
        );
        add(
            p("attn_v.weight"),
            &[t.n_kv * hd, t.n_embd],
            GgmlDType::Q8_0,
            0.3,
            0.0,
        );
        add(
            p("attn_output.weight"),
            &[t.n_embd, t.n_embd],
            GgmlDType::Q8_0,
            0.2,
            0.0,
        );
        add(
            p("ffn_gate.weight"),
            &[t.n_ff, t.n_embd],
            GgmlDType::Q8_0,
            0.2,
            0.0,
        );
        add(
            p("ffn_up.weight"),
            &[t.n_ff, t.n_embd],
            GgmlDType::Q8_0,
            0.2,
            0.0,
        );
        add(
            p("ffn_down.weight"),
            &[t.n_embd, t.n_ff],
            GgmlDType::Q8_0,
            0.2,
            0.0,
        );
        if arch == "qwen2" {
            add(p("attn_q.bias"), &[t.n_embd], GgmlDType::F32, 0.5, 0.0);
            add(p("attn_k.bias"), &[t.n_kv * hd], GgmlDType::F32, 0.5, 0.0);
            add(p("attn_v.bias"), &[t.n_kv * hd], GgmlDType::F32, 0.5, 0.0);
        }
    }
    let u = |v: usize| Value::U32(v as u32);
    let md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (format!("{arch}.block_count"), u(t.layers)),
        (format!("{arch}.context_length"), u(128)),
        (format!("{arch}.embedding_length"), u(t.n_embd)),
        (format!("{arch}.feed_forward_length"), u(t.n_ff)),
        (format!("{arch}.attention.head_count"), u(t.n_head)),
        (format!("{arch}.attention.head_count_kv"), u(t.n_kv)),
        (format!("{arch}.rope.dimension_count"), u(hd)),
        (format!("{arch}.rope.freq_base"), Value::F32(10_000.0)),
        (
            format!("{arch}.attention.layer_norm_rms_epsilon"),
            Value::F32(1e-6),
        ),
    ];
    let md_refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = std::fs::File::create(path).unwrap();
    gguf_file::write(&mut f, &md_refs, &t_refs).unwrap();
}

/// Our CPU forward and candle-transformers' model on the same tiny file: prompt logits, then
/// a few single-token steps, must agree.
fn ours_matches_candle(arch: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("tiny-{arch}.gguf"));
    write_tiny(&path, arch);
    let mut ours = model::load(&path, &LoadOptions::default()).expect("load ours");
    assert_eq!(ours.config().arch.name(), arch);
    let mut reference = model::load(
        &path,
        &LoadOptions {
            backend: Backend::Candle,
            ..LoadOptions::default()
        },
    )
    .expect("load candle's");
    let prompt = [3u32, 17, 42, 5, 77, 8, 1];
    let mut a = ours.forward(&prompt, 0).unwrap();
    let mut b = reference.forward(&prompt, 0).unwrap();
    for step in 0..6 {
        let cos = cosine(&a, &b);
        assert!(cos > 0.999, "{arch} step {step}: cosine {cos}");
        assert_eq!(argmax(&a), argmax(&b), "{arch} step {step}: top-1");
        let next = argmax(&a) as u32;
        let pos = prompt.len() + step;
        a = ours.forward(&[next], pos).unwrap();
        b = reference.forward(&[next], pos).unwrap();
    }
}

#[test]
fn qwen2_forward_matches_candle_on_a_tiny_model() {
    ours_matches_candle("qwen2");
}

#[test]
fn llama_forward_matches_candle_on_a_tiny_model() {
    ours_matches_candle("llama");
}

#[test]
fn other_architectures_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-gpt2.gguf");
    write_tiny(&path, "gpt2");
    match model::load(&path, &LoadOptions::default()) {
        Err(LlmError::UnsupportedArchitecture(a)) => assert_eq!(a, "gpt2"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a gpt2 file was accepted"),
    }
}

#[test]
fn a_prompt_longer_than_the_context_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-llama.gguf");
    write_tiny(&path, "llama");
    let mut m = model::load(
        &path,
        &LoadOptions {
            context: Some(8),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert!(matches!(
        m.forward(&[1; 9], 0),
        Err(LlmError::ContextFull {
            needed: 9,
            capacity: 8
        })
    ));
    assert!(matches!(
        m.forward(&[1000], 0),
        Err(LlmError::InvalidParams(_))
    ));
}
