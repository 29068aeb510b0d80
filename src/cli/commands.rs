//! What each subcommand does, in terms of library calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use super::{
    BusinessCommand, DocumentsCommand, EvalCalibrateArgs, EvalRetrievalArgs, IngestArgs,
    RetrievalArgs, SearchArgs, ServeArgs,
};
use crate::app;
use crate::config::{default_corpus_dir, Config, Overrides};
use crate::engine::{EncoderEmbedder, Engine, EngineError, Upload};
use crate::eval;
use crate::index::Language;

pub(super) fn open_engine(config: &Config) -> anyhow::Result<Engine> {
    Engine::open(&config.data_dir, config.limits)
        .with_context(|| format!("opening data dir {}", config.data_dir.display()))
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.common.config(Overrides {
        listen: args.listen,
        admin_token: args.admin_token,
        corpus_dir: args.corpus,
        model: args.model,
        models_dir: args.models_dir,
        device: args.device,
        queue: args.queue,
        retention_days: args.retention_days,
        ..args.whatsapp.clone().overrides(Overrides::default())
    })?;
    let service = app::Builder::new(config)
        .answer_settings(args.tuning.settings()?)
        .model_languages(args.tuning.model_languages.clone())
        .judge(args.tuning.judge.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let app = service.start().await?;
        app.serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok(())
    })
}

/// The sentence encoder `spec` names (`default`: pulled into the models dir on first use, a
/// file, or `none` for None).
pub(super) fn load_encoder(
    spec: &str,
    models_dir: Option<&Path>,
) -> anyhow::Result<Option<Arc<EncoderEmbedder>>> {
    Ok(app::load_encoder(spec, models_dir)?)
}

/// Makes `engine`'s retrieval hybrid with the configured encoder (embedding the passages that
/// have no vectors yet); nothing for `none`.
pub(super) fn attach_encoder(engine: &Engine, config: &Config) -> anyhow::Result<()> {
    Ok(app::attach_encoder(
        engine,
        &config.encoder,
        config.models_dir.as_deref(),
    )?)
}

/// Indexes the demo corpus into an empty data dir so a new user has businesses at once.
pub(super) fn seed_demo(engine: &Engine, corpus: &Path) -> anyhow::Result<()> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "indexing demo businesses from {}",
        corpus.display()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let seeded = app::seed_demo(engine, corpus);
    spinner.finish_and_clear();
    seeded?;
    Ok(())
}

/// Files named on the command line, with folders expanded to the files they hold.
fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading folder {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            inner.sort();
            files.extend(inner);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            bail!("{}: no such file or folder", path.display());
        }
    }
    Ok(files)
}

pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let config = args.common.config(Overrides::default())?;
    let engine = open_engine(&config)?;
    attach_encoder(&engine, &config)?;
    match engine.business(&args.business) {
        Ok(_) => {}
        Err(EngineError::UnknownBusiness(_)) if args.create => {
            let (business, key) =
                engine.create_business(&args.business, None, args.language.as_deref())?;
            println!(
                "created business {} (API key, shown once: {key})",
                business.id
            );
        }
        Err(EngineError::UnknownBusiness(id)) => {
            bail!("no business {id:?}; pass --create to create it")
        }
        Err(e) => return Err(e.into()),
    }
    let files = collect_files(&args.paths)?;
    let uploads = files
        .iter()
        .map(|p| {
            Ok(Upload {
                name: p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| format!("{}: file name is not UTF-8", p.display()))?
                    .to_string(),
                bytes: std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    engine.check_upload(&args.business, &uploads)?;
    let progress = bar(uploads.len() as u64, "parsing");
    let mut parsed = Vec::with_capacity(uploads.len());
    for upload in &uploads {
        progress.set_message(format!("parsing {}", upload.name));
        parsed.push((engine.parse(upload)?, upload.bytes.len() as u64));
        progress.inc(1);
    }
    progress.set_message("indexing");
    let report = engine.ingest_parsed(&args.business, parsed)?;
    progress.finish_and_clear();
    for doc in &report.documents {
        println!(
            "{:<40} {:>9} {:>6} passages{}",
            doc.name,
            doc.format.as_str(),
            doc.passages,
            if doc.replaced { "  (replaced)" } else { "" }
        );
    }
    println!(
        "{}: {} documents, {} passages indexed (language {})",
        report.business,
        report.documents.len(),
        report.passages,
        report.language
    );
    Ok(())
}

pub fn search(args: SearchArgs) -> anyhow::Result<()> {
    let config = args.common.config(Overrides::default())?;
    let engine = open_engine(&config)?;
    attach_encoder(&engine, &config)?;
    let hits = engine.search(&args.business, &args.query, args.limit)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no passages match");
    }
    for (rank, hit) in hits.iter().enumerate() {
        println!(
            "{}. [{:.3}] {} ({}) — {}",
            rank + 1,
            hit.score,
            hit.passage_id(),
            hit.kind.as_str(),
            hit.title
        );
        let snippet: String = hit.text.chars().take(240).collect();
        for line in snippet.lines().take(4) {
            println!("     {line}");
        }
    }
    Ok(())
}

pub fn business(cmd: BusinessCommand) -> anyhow::Result<()> {
    match cmd {
        BusinessCommand::Create {
            common,
            id,
            name,
            language,
        } => {
            let engine = open_engine(&common.config(Overrides::default())?)?;
            let (business, key) =
                engine.create_business(&id, name.as_deref(), language.as_deref())?;
            println!("created business {} ({})", business.id, business.name);
            println!("API key (shown once): {key}");
        }
        BusinessCommand::List { common } => {
            let engine = open_engine(&common.config(Overrides::default())?)?;
            for b in engine.businesses()? {
                let docs = engine.documents(&b.id)?.len();
                println!(
                    "{:<32} {:<6} {:>4} documents  {}",
                    b.id, b.language, docs, b.name
                );
            }
        }
    }
    Ok(())
}

pub fn documents(cmd: DocumentsCommand) -> anyhow::Result<()> {
    match cmd {
        DocumentsCommand::List { common, business } => {
            let engine = open_engine(&common.config(Overrides::default())?)?;
            for d in engine.documents(&business)? {
                println!(
                    "{:<40} {:>9} {:>6} passages {:>10} bytes",
                    d.name,
                    d.format.as_str(),
                    d.passages,
                    d.bytes
                );
            }
        }
        DocumentsCommand::Delete {
            common,
            business,
            name,
        } => {
            let engine = open_engine(&common.config(Overrides::default())?)?;
            engine.delete_document(&business, &name)?;
            println!("deleted {name} from {business}");
        }
    }
    Ok(())
}

/// An evaluation's retrieval from its flags: the encoder loaded, vectors cached in the models
/// dir unless told otherwise.
pub(super) fn retrieval(args: &RetrievalArgs) -> anyhow::Result<eval::Retrieval> {
    let mut hybrid = crate::index::HybridParams::default();
    if let Some(w) = args.bm25_weight {
        if !(0.0..=1.0).contains(&w) {
            bail!("--bm25-weight must lie between 0 and 1, not {w}");
        }
        hybrid.bm25_weight = w;
    }
    let embedder = load_encoder(&args.encoder, None)?;
    let vector_dir = match &args.vector_cache {
        Some(dir) => Some(dir.clone()),
        None if embedder.is_some() => {
            Some(crate::llm::fetch::default_models_dir().join("vector-cache"))
        }
        None => None,
    };
    Ok(eval::Retrieval {
        embedder: embedder.map(|e| e as Arc<dyn crate::index::Embedder>),
        vector_dir,
        hybrid,
    })
}

pub fn eval_calibrate(args: EvalCalibrateArgs) -> anyhow::Result<()> {
    let corpus = args.corpus.unwrap_or_else(default_corpus_dir);
    let judge = args.tuning.load_judge(&args.model, true)?;
    let report = eval::calibrate::calibrate(&corpus, &retrieval(&args.retrieval)?, judge)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

pub fn eval_retrieval(args: EvalRetrievalArgs) -> anyhow::Result<()> {
    let language = match args.language.as_deref() {
        None | Some("auto") => None,
        Some(code) => Some(Language::from_code(code).with_context(|| {
            format!("unknown language {code:?}; use en, de, fr, es, pt, it, nl or plain")
        })?),
    };
    let defaults = crate::index::Bm25Params::default();
    let params = crate::index::Bm25Params {
        k1: args.k1.unwrap_or(defaults.k1),
        weights: args.weights.unwrap_or(defaults.weights),
        b: args.b.unwrap_or(defaults.b),
        proximity: args.proximity.unwrap_or(defaults.proximity),
        group: args.group.unwrap_or(defaults.group),
    };
    if let Some(dir) = args.beir {
        let kind = if args.as_faq {
            crate::documents::PassageKind::Faq
        } else {
            crate::documents::PassageKind::Page
        };
        let report =
            eval::beir::evaluate_as(&dir, language, params, &retrieval(&args.retrieval)?, kind)?;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!(
                "{}: {} queries over {} passages (language {})",
                dir.display(),
                report.queries,
                report.passages,
                report.language
            );
            println!("  nDCG@10    {:.4}", report.ndcg_at_10);
            println!("  MRR@10     {:.4}", report.mrr_at_10);
            println!("  Recall@10  {:.4}", report.recall_at_10);
            println!("  Recall@100 {:.4}", report.recall_at_100);
            println!(
                "  latency    p50 {:.3} ms, p99 {:.3} ms",
                report.p50_ms, report.p99_ms
            );
        }
        return Ok(());
    }
    let corpus = args.corpus.unwrap_or_else(default_corpus_dir);
    let reports = eval::demo::evaluate(
        &corpus,
        args.business.as_deref(),
        params,
        &retrieval(&args.retrieval)?,
    )?;
    if args.json {
        println!("{}", serde_json::to_string(&reports)?);
        return Ok(());
    }
    for r in reports {
        println!(
            "{} · {}: {} questions",
            r.business,
            r.split.as_str(),
            r.questions
        );
        println!(
            "  hit@1 {:.3}  hit@5 {:.3}  MRR@10 {:.3}",
            r.hit_at_1, r.hit_at_5, r.mrr_at_10
        );
        println!("  latency p50 {:.3} ms, p99 {:.3} ms", r.p50_ms, r.p99_ms);
        for miss in r.misses {
            println!("  missed: {miss}");
        }
    }
    Ok(())
}
