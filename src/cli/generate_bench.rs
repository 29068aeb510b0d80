//! `clerk bench generate`: load time, prompt processing and generation speed, time to first
//! token and peak memory, in llama-bench's terms, on the model alone; then through the engine
//! as the service runs it: several streams decoded at once against one, and the time to first
//! token of a question sharing a long prefix with an earlier one against a cold one.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use super::generate_commands::{prompt_ids, tokenizer_and_template, BenchCommand};
use crate::llm::engine::{Engine, Generator, Prompt, Request};
use crate::llm::generate::{argmax, Event, GenerateParams, SamplingParams, Summary};
use crate::llm::model::{self, LanguageModel, LoadOptions, SlotToken, DEFAULT_SLOTS};
use crate::llm::ChatMessage;

#[derive(Debug, serde::Serialize)]
struct BenchReport {
    load_s: f64,
    #[serde(flatten)]
    model_alone: ModelAlone,
    /// Before the engine's measurements (one sequence's KV cache).
    peak_rss_mb: f64,
    /// Streams decoding at once in `aggregate_tg`.
    concurrent: usize,
    /// Tokens per second decoded by all streams together.
    aggregate_tg: f64,
    /// Mean decode speed one of those streams saw.
    per_stream_tg: f64,
    /// One stream alone through the same engine, same sitting.
    single_stream_tg: f64,
    /// `concurrent` sequences decoded in one pass per step on the model itself (no engine):
    /// what the kernels give, against which `aggregate_tg` shows the engine's cost.
    model_batch_tg: f64,
    shared_prefix_tokens: usize,
    /// Time to first token of a prompt nothing is cached for.
    ttft_cold_ms: f64,
    /// The same for a prompt whose first `shared_prefix_tokens` an earlier one ran.
    ttft_shared_prefix_ms: f64,
    /// After every measurement (all the slots' KV caches used).
    peak_rss_all_mb: f64,
}

/// Deterministic in-vocabulary tokens (the content does not change the work done); `seed`
/// makes different runs of the same length.
fn bench_tokens(n: usize, vocab: usize, seed: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + 13 + seed * 104_729) % vocab.max(1)) as u32)
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Tokens per second of one forward over `n` prompt tokens.
fn pp(m: &mut dyn LanguageModel, n: usize, reps: usize) -> anyhow::Result<f64> {
    let toks = bench_tokens(n, m.config().vocab_size, 0);
    let mut rates = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        m.forward(&toks, 0)?;
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    Ok(mean(&rates))
}

/// Tokens per second of `n` greedy single-token steps after a prompt of `depth` tokens.
fn tg(m: &mut dyn LanguageModel, n: usize, depth: usize, reps: usize) -> anyhow::Result<f64> {
    let vocab = m.config().vocab_size;
    let mut rates = Vec::new();
    for _ in 0..reps {
        let mut tok = 1u32.min(vocab as u32 - 1);
        let mut pos = 0;
        if depth > 0 {
            let logits = m.forward(&bench_tokens(depth, vocab, 0), 0)?;
            tok = argmax(&logits);
            pos = depth;
        }
        let t = Instant::now();
        for _ in 0..n {
            let logits = m.forward(&[tok], pos)?;
            tok = argmax(&logits);
            pos += 1;
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    Ok(mean(&rates))
}

/// Tokens per second of `n` decode steps of `streams` sequences in one pass each, on the model
/// itself (slots `0..streams`, each after its own 16-token prompt).
fn batch_tg(m: &mut dyn LanguageModel, streams: usize, n: usize) -> anyhow::Result<f64> {
    let vocab = m.config().vocab_size;
    let mut batch = Vec::with_capacity(streams);
    for slot in 0..streams {
        let prompt = bench_tokens(16, vocab, 3000 + slot);
        let logits = m.forward_in(slot, &prompt, 0)?;
        batch.push(SlotToken {
            slot,
            token: argmax(&logits),
            pos: prompt.len(),
        });
    }
    let t = Instant::now();
    for _ in 0..n {
        let logits = m.decode_batch(&batch)?;
        for (row, l) in batch.iter_mut().zip(&logits) {
            row.token = argmax(l);
            row.pos += 1;
        }
    }
    Ok((n * streams) as f64 / t.elapsed().as_secs_f64())
}

/// Peak resident memory in MB (from /proc; NaN where there is none).
pub(super) fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Greedy, exactly `max_tokens` tokens (no stop token), from `prompt`.
fn request(prompt: Vec<u32>, max_tokens: usize) -> Request {
    Request {
        prompt: Prompt::Tokens(prompt),
        params: GenerateParams {
            max_tokens,
            sampling: SamplingParams::greedy(),
            stop_tokens: Vec::new(),
            stop_strings: Vec::new(),
            copy_figures: None,
        },
    }
}

fn summaries(engine: &Engine, requests: Vec<Request>) -> anyhow::Result<Vec<Summary>> {
    // All are submitted before any is read, so they run together.
    let streams = requests
        .into_iter()
        .map(|r| engine.submit(r))
        .collect::<Result<Vec<_>, _>>()?;
    streams
        .into_iter()
        .map(|stream| {
            for event in stream {
                if let Event::Done(summary) = event? {
                    return Ok(summary);
                }
            }
            anyhow::bail!("a stream ended without its summary")
        })
        .collect()
}

/// `streams` greedy generations of `n` tokens at once: (tokens per second of all of them over
/// the longest one's decoding, mean tokens per second of each).
fn engine_tg(
    engine: &Engine,
    streams: usize,
    n: usize,
    vocab: usize,
) -> anyhow::Result<(f64, f64)> {
    let requests = (0..streams)
        .map(|i| request(bench_tokens(16, vocab, 1000 + i), n))
        .collect();
    let done = summaries(engine, requests)?;
    let decoded = |s: &Summary| s.generated_tokens.saturating_sub(1) as f64;
    let longest = done
        .iter()
        .map(|s| s.decode_time.as_secs_f64())
        .fold(1e-9, f64::max);
    let aggregate = done.iter().map(decoded).sum::<f64>() / longest;
    let per_stream = mean(
        &done
            .iter()
            .map(|s| decoded(s) / s.decode_time.as_secs_f64().max(1e-9))
            .collect::<Vec<_>>(),
    );
    Ok((aggregate, per_stream))
}

/// Time to first token (ms) of a `prefix`-token prompt plus a 30-token question: cold (a
/// prefix never run) and after another question with the same prefix.
fn prefix_ttft(
    engine: &Engine,
    prefix: usize,
    vocab: usize,
    reps: usize,
) -> anyhow::Result<(f64, f64)> {
    let prompt = |prefix_seed: usize, question_seed: usize| {
        let mut p = bench_tokens(prefix, vocab, prefix_seed);
        p.extend(bench_tokens(30, vocab, question_seed));
        p
    };
    let ttft = |p: Vec<u32>| -> anyhow::Result<f64> {
        let s = summaries(engine, vec![request(p, 1)])?.remove(0);
        Ok(s.time_to_first_token.as_secs_f64() * 1e3)
    };
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        cold.push(ttft(prompt(2000 + 2 * rep, 1))?);
        let shared = 2001 + 2 * rep;
        ttft(prompt(shared, 2))?;
        warm.push(ttft(prompt(shared, 3))?);
    }
    Ok((mean(&cold), mean(&warm)))
}

pub fn bench(cmd: BenchCommand) -> anyhow::Result<()> {
    let args = match cmd {
        BenchCommand::Generate(args) => args,
        BenchCommand::Whatsapp(args) => return super::whatsapp_commands::bench(*args),
        BenchCommand::Embed(args) => return super::embed_commands::bench(args),
    };
    let reps = args.reps.max(1);
    let concurrent = args.concurrent.max(1);
    let path = args.model.path()?;
    let t = Instant::now();
    let mut m = model::load(
        &path,
        &LoadOptions {
            device: Some(args.model.device()?),
            context: Some(2048),
            slots: Some(concurrent.max(DEFAULT_SLOTS)),
            ..LoadOptions::default()
        },
    )
    .with_context(|| format!("loading {}", path.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let model_alone = on_the_model(&mut *m, &path, reps)?;
    let peak_rss = peak_rss_mb();
    let model_batch_tg = batch_tg(&mut *m, concurrent, 64)?;

    let (vocab, description) = {
        let cfg = m.config();
        let d = format!(
            "model {} ({}, {} layers, dim {}) on {}",
            path.display(),
            cfg.arch.name(),
            cfg.n_layer,
            cfg.n_embd,
            args.model.device
        );
        (cfg.vocab_size, d)
    };
    let (tokenizer, _) = tokenizer_and_template(&path)?;
    let engine = Engine::start(m, Box::new(tokenizer), concurrent)?;
    let (single_stream_tg, _) = engine_tg(&engine, 1, 128, vocab)?;
    let (aggregate_tg, per_stream_tg) = engine_tg(&engine, concurrent, 128, vocab)?;
    let prefix = args.shared_prefix.min(1024);
    let (ttft_cold_ms, ttft_shared_prefix_ms) = prefix_ttft(&engine, prefix, vocab, reps)?;
    let report = BenchReport {
        load_s,
        model_alone,
        peak_rss_mb: peak_rss,
        concurrent,
        aggregate_tg,
        per_stream_tg,
        single_stream_tg,
        model_batch_tg,
        shared_prefix_tokens: prefix,
        ttft_cold_ms,
        ttft_shared_prefix_ms,
        peak_rss_all_mb: peak_rss_mb(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("{description}");
    println!(
        "kernels {}, {} threads",
        crate::llm::kernels::dot::kernels().name,
        crate::llm::kernels::pool::global().threads()
    );
    let r = &report;
    println!("load          {:>9.3} s", r.load_s);
    println!("pp128         {:>9.1} tok/s", r.model_alone.pp128);
    println!("pp512         {:>9.1} tok/s", r.model_alone.pp512);
    println!("pp1024        {:>9.1} tok/s", r.model_alone.pp1024);
    println!("tg128         {:>9.1} tok/s", r.model_alone.tg128);
    println!("tg128 @ 512   {:>9.1} tok/s", r.model_alone.tg128_at_512);
    println!("ttft (chat)   {:>9.1} ms", r.model_alone.ttft_ms);
    println!("peak RSS      {:>9.1} MB", r.peak_rss_mb);
    println!(
        "model, {} in one pass     {:>9.1} tok/s together",
        r.concurrent, r.model_batch_tg
    );
    println!("engine, 1 stream        {:>9.1} tok/s", r.single_stream_tg);
    println!(
        "engine, {} streams       {:>9.1} tok/s together, {:.1} each",
        r.concurrent, r.aggregate_tg, r.per_stream_tg
    );
    println!(
        "ttft, {}-token prefix   {:>9.1} ms cold, {:.1} ms shared",
        r.shared_prefix_tokens, r.ttft_cold_ms, r.ttft_shared_prefix_ms
    );
    println!("peak RSS, all slots     {:>9.1} MB", r.peak_rss_all_mb);
    Ok(())
}

/// llama-bench's measurements, on the model itself.
#[derive(Debug, serde::Serialize)]
struct ModelAlone {
    pp128: f64,
    pp512: f64,
    pp1024: f64,
    tg128: f64,
    tg128_at_512: f64,
    ttft_ms: f64,
}

/// llama-bench's measurements on the model itself (slot 0).
fn on_the_model(m: &mut dyn LanguageModel, path: &Path, reps: usize) -> anyhow::Result<ModelAlone> {
    // Warm-up: first touches of scratch memory and the thread pool.
    pp(m, 64, 1)?;
    let pp128 = pp(m, 128, reps)?;
    let pp512 = pp(m, 512, reps)?;
    let pp1024 = pp(m, 1024, reps)?;
    let tg128 = tg(m, 128, 0, reps)?;
    let tg128_at_512 = tg(m, 128, 512, reps)?;
    // Time to first token of a short chat question: prompt forward plus choosing the token.
    let ids = match tokenizer_and_template(path) {
        Ok((tok, tpl)) => {
            let text = tpl.render(&[ChatMessage::user("What are your opening hours?")], true)?;
            prompt_ids(&tok, &text)?
        }
        Err(_) => bench_tokens(36, m.config().vocab_size, 0),
    };
    let mut ttfts = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let logits = m.forward(&ids, 0)?;
        std::hint::black_box(argmax(&logits));
        ttfts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(ModelAlone {
        pp128,
        pp512,
        pp1024,
        tg128,
        tg128_at_512,
        ttft_ms: mean(&ttfts),
    })
}
