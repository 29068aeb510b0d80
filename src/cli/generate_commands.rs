//! `clerk generate` (stream a model's answer to the terminal) and the arguments of `clerk bench
//! generate` (which `generate_bench` runs).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::app::ModelChoice;
use crate::llm::engine::{Engine, Generator, Prompt, Request};
use crate::llm::generate::{Event, GenerateParams, SamplingParams};
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
    /// Streams decoded at once through the engine (aggregate and per-stream decode speed,
    /// beside one stream through the same engine).
    #[arg(long, default_value_t = 4)]
    pub concurrent: usize,
    /// Length of the prompt prefix shared by two questions (time to first token of the
    /// second against a cold one).
    #[arg(long, default_value_t = 300)]
    pub shared_prefix: usize,
}

pub(super) struct Loaded {
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

pub(super) fn tokenizer_and_template(path: &Path) -> anyhow::Result<(GgufTokenizer, ChatTemplate)> {
    let content = read_gguf(path)?;
    let tokenizer = GgufTokenizer::from_gguf_metadata(&content.metadata, Some(path))
        .with_context(|| format!("loading the tokenizer of {}", path.display()))?;
    let template = ChatTemplate::from_gguf_metadata(&content.metadata, &tokenizer)?;
    Ok((tokenizer, template))
}

/// Token ids for `text`, with BOS when the model asks for it.
pub(super) fn prompt_ids(tok: &GgufTokenizer, text: &str) -> anyhow::Result<Vec<u32>> {
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
        copy_figures: None,
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
