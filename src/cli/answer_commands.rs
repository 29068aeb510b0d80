//! `clerk ask` (one question through the answer pipeline, as the API would answer it) and
//! `clerk eval answers` (the demo eval files through the pipeline, with the figures the answer
//! targets are stated in).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::generate_commands::ModelArgs;
use super::CommonArgs;
use crate::answer::{AnswerSettings, Judge, JudgeSettings, StreamEvent};
use crate::config::{default_corpus_dir, Overrides};
use crate::engine::History;
use crate::eval;

/// Pipeline settings a command may change (defaults: the calibrated ones).
#[derive(Debug, Args, Clone)]
pub struct AnswerTuning {
    /// Abstain when the best passage covers less than this share of the question (0–1).
    #[arg(long, env = "CLERK_ABSTAIN_BELOW")]
    pub abstain_below: Option<f32>,
    /// Answer with an FAQ entry's text when it covers at least this share (0–1).
    #[arg(long, env = "CLERK_FAQ_ABOVE")]
    pub faq_above: Option<f32>,
    /// Most prompt tokens for a generated reply.
    #[arg(long, env = "CLERK_PROMPT_BUDGET")]
    pub prompt_budget: Option<usize>,
    /// Most tokens in a generated reply.
    #[arg(long, env = "CLERK_MAX_REPLY_TOKENS")]
    pub max_reply_tokens: Option<usize>,
    /// Whether generated replies copy every figure from their sources while decoding
    /// [default: true].
    #[arg(long, env = "CLERK_COPY_FIGURES")]
    pub copy_figures: Option<bool>,
    /// Languages the model may write, comma-separated (default: what the model declares).
    #[arg(long, env = "CLERK_MODEL_LANGUAGES", value_delimiter = ',')]
    pub model_languages: Option<Vec<String>>,
    /// The judge: a language model that reads the strongest passages with the question
    /// before an answer is decided (with an encoder only): a .gguf path,
    /// hf:OWNER/REPO[@REVISION]/FILE.gguf, or `none` [default: none].
    #[arg(long, env = "CLERK_JUDGE")]
    pub judge: Option<String>,
    /// The judge's log-odds of "yes" at or above which a passage answers.
    #[arg(long, env = "CLERK_JUDGE_THRESHOLD")]
    pub judge_threshold: Option<f32>,
    /// Passages below this calibrated confidence are not shown to the judge (0–1).
    #[arg(long, env = "CLERK_JUDGE_FLOOR")]
    pub judge_floor: Option<f32>,
}

impl AnswerTuning {
    pub fn settings(&self) -> anyhow::Result<AnswerSettings> {
        let defaults = AnswerSettings::default();
        let settings = AnswerSettings {
            abstain_below: self.abstain_below.unwrap_or(defaults.abstain_below),
            faq_above: self.faq_above.unwrap_or(defaults.faq_above),
            prompt_budget: self.prompt_budget.unwrap_or(defaults.prompt_budget),
            max_reply_tokens: self.max_reply_tokens.unwrap_or(defaults.max_reply_tokens),
            copy_figures: self.copy_figures.unwrap_or(defaults.copy_figures),
            judge: JudgeSettings {
                threshold: self.judge_threshold.unwrap_or(defaults.judge.threshold),
                floor: self.judge_floor.unwrap_or(defaults.judge.floor),
                ..defaults.judge
            },
            ..defaults
        };
        for (name, value) in [
            ("--abstain-below", settings.abstain_below),
            ("--faq-above", settings.faq_above),
            ("--judge-floor", settings.judge.floor),
        ] {
            anyhow::ensure!(
                (0.0..=1.0).contains(&value),
                "{name} must be between 0 and 1, got {value}"
            );
        }
        anyhow::ensure!(
            settings.max_reply_tokens >= 8 && settings.prompt_budget >= 64,
            "--max-reply-tokens must be at least 8 and --prompt-budget at least 64"
        );
        Ok(settings)
    }

    /// The judge `--judge` names, loaded on `model`'s models dir and device; None for none,
    /// and without `dense` retrieval (the judge reads what the encoder found, so it would never
    /// be asked).
    pub fn load_judge(&self, model: &ModelArgs, dense: bool) -> anyhow::Result<Option<Arc<Judge>>> {
        Ok(model.choice().load_judge(self.judge.as_deref(), dense)?)
    }
}

#[derive(Debug, Args)]
pub struct AskArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub tuning: AnswerTuning,
    #[arg(long, short, env = "CLERK_BUSINESS")]
    pub business: String,
    /// Continue this conversation (its earlier questions resolve follow-ups).
    #[arg(long, env = "CLERK_CONVERSATION")]
    pub conversation: Option<String>,
    /// Print the answer as JSON.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
    /// The customer's question.
    pub question: String,
}

#[derive(Debug, Args)]
pub struct EvalAnswersArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub retrieval: super::RetrievalArgs,
    #[command(flatten)]
    pub tuning: AnswerTuning,
    /// A corpus folder of demo businesses with eval.json files [default: ./corpus].
    #[arg(long, env = "CLERK_CORPUS_DIR")]
    pub corpus: Option<PathBuf>,
    /// Only this demo business.
    #[arg(long, env = "CLERK_BUSINESS")]
    pub business: Option<String>,
    /// Print a JSON array, one object per business.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalCatalogArgs {
    #[command(flatten)]
    pub retrieval: super::RetrievalArgs,
    #[command(flatten)]
    pub tuning: AnswerTuning,
    #[command(flatten)]
    pub demo: DemoEvalArgs,
}

pub fn eval_catalog(args: EvalCatalogArgs) -> anyhow::Result<()> {
    let corpus = args.demo.corpus.clone().unwrap_or_else(default_corpus_dir);
    let retrieval = super::commands::retrieval(&args.retrieval)?;
    let reports = eval::catalog::evaluate(
        &corpus,
        args.demo.business.as_deref(),
        args.demo.split.as_deref().map(split_named),
        args.tuning.settings()?,
        &retrieval,
    )
    .with_context(|| format!("evaluating catalog questions on {}", corpus.display()))?;
    if print_json(args.demo.json, &reports)? {
        return Ok(());
    }
    for r in &reports {
        print_heading(&r.business, r.split, r.questions);
        println!(
            "  precision {:.3} · recall {:.3} · exact {}/{} · items with exact price and stock {}/{} · ordered {}/{} · repeats after \"more\" {}",
            r.precision,
            r.recall,
            r.exact,
            r.questions,
            r.items_exact,
            r.items_shown,
            r.ordered_right,
            r.ordered,
            r.more_repeats
        );
        println!("  latency p50 {:.1} ms · p95 {:.1} ms", r.p50_ms, r.p95_ms);
        for (kind, k) in &r.by_kind {
            println!(
                "  {:<8} {:>3} · precision {:.3} · recall {:.3} · exact {}",
                format!("{kind:?}").to_lowercase(),
                k.questions,
                k.precision,
                k.recall,
                k.exact
            );
        }
        for p in &r.problems {
            println!("  - {p}");
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct EvalOrdersArgs {
    #[command(flatten)]
    pub retrieval: super::RetrievalArgs,
    #[command(flatten)]
    pub demo: DemoEvalArgs,
}

/// Which demo businesses and split an eval of their own files runs on, and how it prints.
#[derive(Debug, Args)]
pub struct DemoEvalArgs {
    /// A corpus folder of demo businesses with their eval files [default: ./corpus].
    #[arg(long, env = "CLERK_CORPUS_DIR")]
    pub corpus: Option<PathBuf>,
    /// Only this demo business.
    #[arg(long, env = "CLERK_BUSINESS")]
    pub business: Option<String>,
    /// Only this split (`dev` to tune on, `test` to report) [default: both].
    #[arg(long, value_parser = ["dev", "test"])]
    pub split: Option<String>,
    /// Print a JSON array, one object per business and split.
    #[arg(long, env = "CLERK_JSON")]
    pub json: bool,
}

pub fn eval_orders(args: EvalOrdersArgs) -> anyhow::Result<()> {
    let corpus = args.demo.corpus.clone().unwrap_or_else(default_corpus_dir);
    let retrieval = super::commands::retrieval(&args.retrieval)?;
    let reports = eval::orders::evaluate(
        &corpus,
        args.demo.business.as_deref(),
        args.demo.split.as_deref().map(split_named),
        &retrieval,
    )
    .with_context(|| format!("evaluating order messages on {}", corpus.display()))?;
    if print_json(args.demo.json, &reports)? {
        return Ok(());
    }
    for r in &reports {
        print_heading(&r.business, r.split, r.cases);
        println!(
            "  right {}/{} · intent precision {:.3} · recall {:.3} · orders with the right items {}/{}, and pickup/delivery {}/{}",
            r.right,
            r.cases,
            r.intent_precision,
            r.intent_recall,
            r.orders_items_right,
            r.orders,
            r.orders_fulfilment_right,
            r.orders
        );
        for (kind, k) in &r.by_kind {
            println!(
                "  {:<9} {:>2}/{:<2}",
                format!("{kind:?}").to_lowercase(),
                k.right,
                k.cases
            );
        }
        for p in &r.problems {
            println!("  - {p}");
        }
    }
    Ok(())
}

fn split_named(name: &str) -> eval::demo::Split {
    match name {
        "test" => eval::demo::Split::Test,
        _ => eval::demo::Split::Dev,
    }
}

pub fn ask(args: AskArgs) -> anyhow::Result<()> {
    let config = args.common.config(Overrides::default())?;
    let engine =
        super::commands::open_engine(&config)?.with_answer_settings(args.tuning.settings()?);
    if engine.businesses()?.is_empty() {
        super::commands::seed_demo(&engine, &config.corpus_dir)?;
    }
    super::commands::attach_encoder(&engine, &config)?;
    engine.set_model(
        args.model
            .load_chat(1, args.tuning.model_languages.clone())?,
    );
    let dense = engine.embedding_model().is_some();
    engine.set_judge(args.tuning.load_judge(&args.model, dense)?);
    let json = args.json;
    let mut streamed = false;
    let answer = engine.answer(
        &args.business,
        &args.question,
        History::Stored(args.conversation.as_deref()),
        &mut |event| {
            if json {
                return;
            }
            match event {
                StreamEvent::Text(text) => {
                    streamed = true;
                    eprint!("{text}");
                }
                StreamEvent::Reset => eprintln!("  [withdrawn: failed the fact check]"),
                StreamEvent::Drafting => {}
            }
        },
    )?;
    if streamed {
        eprintln!();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!("{}\n", answer.text);
    println!(
        "mode: {} · language: {} · conversation: {}{}",
        answer.mode.as_str(),
        answer.language,
        answer.conversation_id.as_deref().unwrap_or("-"),
        if answer.needs_person {
            " · handed to a person"
        } else {
            ""
        }
    );
    for (i, s) in answer.sources.iter().enumerate() {
        println!(
            "[{}] {}#{} {} (score {:.2})",
            i + 1,
            s.document,
            s.passage,
            s.title,
            s.score
        );
    }
    let t = answer.timings;
    println!(
        "timings: retrieve {:.1} ms · judge {:.1} ms · generate {:.1} ms · total {:.1} ms",
        t.retrieve_ms, t.judge_ms, t.generate_ms, t.total_ms
    );
    if let Some(g) = &answer.generation {
        println!(
            "model {}: {} prompt tokens, {} generated at {:.0} tokens/s{}",
            answer.model.as_deref().unwrap_or("?"),
            g.prompt_tokens,
            g.tokens,
            g.tokens_per_second,
            g.rejected
                .as_ref()
                .map(|r| format!("; rejected for {r:?}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

pub fn eval_answers(args: EvalAnswersArgs) -> anyhow::Result<()> {
    let corpus = args.corpus.clone().unwrap_or_else(default_corpus_dir);
    let settings = args.tuning.settings()?;
    let model = args
        .model
        .load_chat(1, args.tuning.model_languages.clone())?;
    let retrieval = super::commands::retrieval(&args.retrieval)?;
    let judge = args
        .tuning
        .load_judge(&args.model, retrieval.embedder.is_some())?;
    let reports = eval::answers::evaluate(
        &corpus,
        args.business.as_deref(),
        model,
        judge,
        settings,
        &retrieval,
    )
    .with_context(|| format!("evaluating answers on {}", corpus.display()))?;
    if print_json(args.json, &reports)? {
        return Ok(());
    }
    for r in &reports {
        print_heading(&r.business, r.split, r.questions);
        println!(
            "  hit@5 {:.3} · fact recall {:.3} · unsupported {} · not-facts {} · abstain precision {:.3} recall {:.3}",
            r.hit_at_5,
            r.fact_recall,
            r.unsupported,
            r.not_facts_hits,
            r.abstain_precision,
            r.abstain_recall
        );
        println!(
            "  faq replies {} · precision {:.3} · cross-language questions {} · answered {:.3}",
            r.faq_replies, r.faq_precision, r.cross_language, r.cross_language_answered
        );
        println!("  latency p50 {:.1} ms · p95 {:.1} ms", r.p50_ms, r.p95_ms);
        println!(
            "  model drafts {} · rejected by the check {} · draft time p50 {:.0} ms · p95 {:.0} ms",
            r.drafts, r.drafts_rejected, r.draft_p50_ms, r.draft_p95_ms
        );
        println!(
            "  generated {:.3} of answered · median reply {:.0} words · in the question's language {:.3}",
            r.generated_share, r.median_words, r.reply_language_match
        );
        for (mode, m) in &r.modes {
            println!(
                "  {mode:<10} {:>3} answers · p50 {:.1} ms · p95 {:.1} ms",
                m.count, m.p50_ms, m.p95_ms
            );
        }
        for p in &r.problems {
            println!("  - {p}");
        }
    }
    Ok(())
}

/// Prints `reports` as JSON when asked to; returns whether it did.
fn print_json<T: serde::Serialize>(json: bool, reports: &[T]) -> anyhow::Result<bool> {
    if json {
        println!("{}", serde_json::to_string_pretty(reports)?);
    }
    Ok(json)
}

/// "business · split (N questions)", the first line of each report.
fn print_heading(business: &str, split: eval::demo::Split, questions: usize) {
    println!("{business} · {} ({questions} questions)", split.as_str());
}
