//! `clerk generate` (stream a model's answer to the terminal) and `clerk bench generate` (load
//! time, prompt processing and generation speed, time to first token and peak memory, in
//! llama-bench's terms).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::app::ModelChoice;
use crate::llm::engine::{Engine, Generator, Prompt, Request};
use crate::llm::generate::{argmax, Event, GenerateParams, SamplingParams};
use crate::llm::gguf_tokenizer::read_gguf;
use crate::llm::model::{self, DeviceSpec, LanguageModel, LoadOptions};
use crate::llm::{ChatMessage, ChatModel, ChatTemplate, GgufTokenizer};

#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// `default` or a model name from `clerk models pull --help` (pulled if missing), a path to
    /// a .gguf file, hf:OWNER/REPO[@REVISION]/FILE, or `none` (where a model is optional: answer
    /// without the generated path).
    #[arg(long, env = "CLERK_MODEL", default_value = "default")]
    pub model: String,
    /// Folder for model files [default: the checkout's models/ if there is one, else ./models].
    #[arg(long, env = "CLERK_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Where the model runs: cpu, cuda, cuda:N or metal.
    #[arg(long, env = "CLERK_DEVICE", default_value = "cpu")]
    pub device: String,
}

impl ModelArgs {
    /// Whether `--model none` asked for no model.
    pub fn is_none(&self) -> bool {
        self.model.eq_ignore_ascii_case("none")
    }

    /// The same choice as the service takes it.
    pub fn choice(&self) -> ModelChoice {
        ModelChoice {
            model: self.model.clone(),
            models_dir: self.models_dir.clone(),
            device: self.device.clone(),
        }
    }

    /// The chat model for answering, behind an engine with `queue` waiting places; None for
    /// `--model none`.
    pub fn load_chat(
        &self,
        queue: usize,
        languages: Option<Vec<String>>,
    ) -> anyhow::Result<Option<std::sync::Arc<ChatModel>>> {
        Ok(self.choice().load_chat(queue, languages)?)
    }

    pub fn path(&self) -> anyhow::Result<PathBuf> {
        Ok(self.choice().path()?)
    }

    pub fn device(&self) -> anyhow::Result<DeviceSpec> {
        Ok(self.choice().device()?)
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Most tokens to generate.
    #[arg(long, env = "CLERK_MAX_TOKENS", default_value_t = 256)]
    pub max_tokens: usize,
    /// 0 is greedy.
    #[arg(long, env = "CLERK_TEMPERATURE", default_value_t = 0.7)]
    pub temperature: f32,
    /// Sample among the k most likely tokens (0: all).
    #[arg(long, env = "CLERK_TOP_K", default_value_t = 40)]
    pub top_k: usize,
    /// Sample among the most likely tokens covering this probability.
    #[arg(long, env = "CLERK_TOP_P", default_value_t = 0.9)]
    pub top_p: f32,
    /// Penalty on recently seen tokens (1: off).
    #[arg(long, env = "CLERK_REPEAT_PENALTY", default_value_t = 1.1)]
    pub repeat_penalty: f32,
    /// RNG seed for reproducible sampling.
    #[arg(long, env = "CLERK_SEED")]
    pub seed: Option<u64>,
    /// Treat the prompt as a user message rendered through the model's chat template.
    #[arg(long, env = "CLERK_CHAT")]
    pub chat: bool,
    /// Also stop at this text (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    /// The prompt.
    pub prompt: String,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Model speed: load time, pp128/512/1024, tg128 (at depth 0 and 512), time to first
    /// token, peak RSS.
    Generate(BenchGenerateArgs),
    /// WhatsApp webhook load: signed deliveries at a steady rate through a real server, a
    /// fake Cloud API and the real index and model; acknowledgement latency and memory.
    Whatsapp(Box<super::whatsapp_commands::BenchWhatsAppArgs>),
    /// Sentence encoder speed: load time, query latency (p50, p90), passages per second of
    /// ~200-token passages, peak RSS.
    Embed(super::embed_commands::BenchEmbedArgs),
}

#[derive(Debug, Args)]
pub struct BenchGenerateArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Print one JSON object.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
    /// Repetitions of each measurement (the mean is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
}

struct Loaded {
    model: Box<dyn LanguageModel>,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
}

fn load(args: &ModelArgs, context: Option<usize>) -> anyhow::Result<Loaded> {
    let path = args.path()?;
    let model = model::load(
        &path,
        &LoadOptions {
            device: Some(args.device()?),
            context,
            ..LoadOptions::default()
        },
    )
    .with_context(|| format!("loading {}", path.display()))?;
    let (tokenizer, template) = tokenizer_and_template(&path)?;
    Ok(Loaded {
        model,
        tokenizer,
        template,
    })
}

fn tokenizer_and_template(path: &Path) -> anyhow::Result<(GgufTokenizer, ChatTemplate)> {
    let content = read_gguf(path)?;
    let tokenizer = GgufTokenizer::from_gguf_metadata(&content.metadata, Some(path))
        .with_context(|| format!("loading the tokenizer of {}", path.display()))?;
    let template = ChatTemplate::from_gguf_metadata(&content.metadata, &tokenizer)?;
    Ok((tokenizer, template))
}

/// Token ids for `text`, with BOS when the model asks for it.
fn prompt_ids(tok: &GgufTokenizer, text: &str) -> anyhow::Result<Vec<u32>> {
    let mut ids = Vec::new();
    if let (true, Some(bos)) = (tok.special().add_bos, tok.special().bos) {
        ids.push(bos);
    }
    ids.extend(tok.encode(text)?);
    Ok(ids)
}

pub fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let loaded = load(&args.model, None)?;
    let text = if args.chat {
        loaded
            .template
            .render(&[ChatMessage::user(args.prompt.clone())], true)?
    } else {
        args.prompt.clone()
    };
    let ids = prompt_ids(&loaded.tokenizer, &text)?;
    let params = GenerateParams {
        max_tokens: args.max_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repeat_penalty: args.repeat_penalty,
            seed: args.seed,
            ..SamplingParams::default()
        },
        stop_tokens: loaded.tokenizer.eog_ids().to_vec(),
        stop_strings: args.stop.clone(),
    };
    params.sampling.validate()?;
    let engine = Engine::start(loaded.model, Box::new(loaded.tokenizer), 1)?;
    let stream = engine.submit(Request {
        prompt: Prompt::Tokens(ids),
        params,
    })?;
    let mut out = std::io::stdout().lock();
    for event in stream {
        match event? {
            Event::Token { text, .. } | Event::Text(text) => {
                out.write_all(text.as_bytes())?;
                out.flush()?;
            }
            Event::Done(s) => {
                writeln!(out)?;
                let tps = if s.generated_tokens > 1 {
                    (s.generated_tokens - 1) as f64 / s.decode_time.as_secs_f64().max(1e-9)
                } else {
                    0.0
                };
                tracing::info!(
                    "{} prompt tokens, {} generated ({:?}); first token after {:.0} ms, {:.1} tok/s",
                    s.prompt_tokens,
                    s.generated_tokens,
                    s.finish,
                    s.time_to_first_token.as_secs_f64() * 1e3,
                    tps
                );
            }
        }
    }
    Ok(())
}

#[derive(Debug, serde::Serialize)]
struct BenchReport {
    load_s: f64,
    pp128: f64,
    pp512: f64,
    pp1024: f64,
    tg128: f64,
    tg128_at_512: f64,
    ttft_ms: f64,
    peak_rss_mb: f64,
}

/// Deterministic in-vocabulary tokens (the content does not change the work done).
fn bench_tokens(n: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|i| ((i * 7919 + 13) % vocab.max(1)) as u32)
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Tokens per second of one forward over `n` prompt tokens.
fn pp(m: &mut dyn LanguageModel, n: usize, reps: usize) -> anyhow::Result<f64> {
    let toks = bench_tokens(n, m.config().vocab_size);
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
            let logits = m.forward(&bench_tokens(depth, vocab), 0)?;
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

pub fn bench(cmd: BenchCommand) -> anyhow::Result<()> {
    let args = match cmd {
        BenchCommand::Generate(args) => args,
        BenchCommand::Whatsapp(args) => return super::whatsapp_commands::bench(*args),
        BenchCommand::Embed(args) => return super::embed_commands::bench(args),
    };
    let reps = args.reps.max(1);
    let path = args.model.path()?;
    let t = Instant::now();
    let mut m = model::load(
        &path,
        &LoadOptions {
            device: Some(args.model.device()?),
            context: Some(2048),
            ..LoadOptions::default()
        },
    )
    .with_context(|| format!("loading {}", path.display()))?;
    let load_s = t.elapsed().as_secs_f64();
    let m = &mut *m;
    // Warm-up: first touches of scratch memory and the thread pool.
    pp(m, 64, 1)?;
    let pp128 = pp(m, 128, reps)?;
    let pp512 = pp(m, 512, reps)?;
    let pp1024 = pp(m, 1024, reps)?;
    let tg128 = tg(m, 128, 0, reps)?;
    let tg128_at_512 = tg(m, 128, 512, reps)?;
    // Time to first token of a short chat question: prompt forward plus choosing the token.
    let ids = match tokenizer_and_template(&path) {
        Ok((tok, tpl)) => {
            let text = tpl.render(&[ChatMessage::user("What are your opening hours?")], true)?;
            prompt_ids(&tok, &text)?
        }
        Err(_) => bench_tokens(36, m.config().vocab_size),
    };
    let mut ttfts = Vec::new();
    for _ in 0..reps {
        let t = Instant::now();
        let logits = m.forward(&ids, 0)?;
        std::hint::black_box(argmax(&logits));
        ttfts.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let report = BenchReport {
        load_s,
        pp128,
        pp512,
        pp1024,
        tg128,
        tg128_at_512,
        ttft_ms: mean(&ttfts),
        peak_rss_mb: peak_rss_mb(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let cfg = m.config();
        println!(
            "model {} ({}, {} layers, dim {}) on {}",
            path.display(),
            cfg.arch.name(),
            cfg.n_layer,
            cfg.n_embd,
            args.model.device
        );
        println!(
            "kernels {}, {} threads",
            crate::llm::kernels::dot::kernels().name,
            crate::llm::kernels::pool::global().threads()
        );
        println!("load          {:>9.3} s", report.load_s);
        println!("pp128         {:>9.1} tok/s", report.pp128);
        println!("pp512         {:>9.1} tok/s", report.pp512);
        println!("pp1024        {:>9.1} tok/s", report.pp1024);
        println!("tg128         {:>9.1} tok/s", report.tg128);
        println!("tg128 @ 512   {:>9.1} tok/s", report.tg128_at_512);
        println!("ttft ({} tok) {:>9.1} ms", ids.len(), report.ttft_ms);
        println!("peak RSS      {:>9.1} MB", report.peak_rss_mb);
    }
    Ok(())
}
