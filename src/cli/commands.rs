//! What each subcommand does, in terms of library calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};

use super::generate_commands::ModelArgs;
use super::{
    BusinessCommand, DocumentsCommand, EvalCalibrateArgs, EvalRetrievalArgs, IngestArgs,
    RetrievalArgs, SearchArgs, ServeArgs,
};
use crate::channels::whatsapp::WhatsApp;
use crate::config::{default_corpus_dir, Config, Overrides};
use crate::engine::{spawn_retention, system_clock, EncoderEmbedder, Engine, EngineError, Upload};
use crate::eval;
use crate::http::{self, AppState};
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

/// How often `serve` removes what is past its retention.
const RETENTION_EVERY: std::time::Duration = std::time::Duration::from_secs(60 * 60);

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
    let settings = args.tuning.settings()?;
    let engine = Arc::new(
        open_engine(&config)?
            .with_answer_settings(settings)
            .with_retention_days(config.retention_days),
    );
    if engine.businesses()?.is_empty() {
        seed_demo(&engine, &config.corpus_dir)?;
    }
    let admin_token = match &config.admin_token {
        Some(token) => token.clone(),
        None => generated_admin_token(&config.data_dir)?,
    };
    let model_args = ModelArgs {
        model: config.model.clone(),
        models_dir: config.models_dir.clone(),
        device: config.device.clone(),
    };
    let engine_for_channel = engine.clone();
    let engine_for_retention = engine.clone();
    let state = AppState::new(engine.clone(), Some(&admin_token));
    let state = if model_args.is_none() && config.encoder.eq_ignore_ascii_case("none") {
        state
    } else {
        // The API listens at once; /readyz and the answer endpoints say 503 until the encoder
        // and the model (pulled on first start) are loaded.
        let state = state.starting();
        let loading = state.clone();
        let (queue, languages) = (config.queue, args.tuning.model_languages.clone());
        let tuning = args.tuning.clone();
        let config = config.clone();
        std::thread::Builder::new()
            .name("clerk-model-loader".into())
            .spawn(move || {
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    if let Err(e) = attach_encoder(&engine, &config) {
                        tracing::error!(
                            error = format!("{e:#}"),
                            "no sentence encoder: retrieval is BM25 only"
                        );
                    }
                    model_args.load_chat(queue, languages)
                }));
                match loaded {
                    Ok(Ok(Some(model))) => engine.set_model(Some(model)),
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => tracing::error!(
                        error = format!("{e:#}"),
                        "no model: answers use FAQ, catalog and extractive replies only"
                    ),
                    Err(_) => tracing::error!(
                        "loading the model panicked: answers use FAQ, catalog and extractive \
                         replies only"
                    ),
                }
                // The judge reads what dense retrieval found: without vectors it is never asked.
                let dense = engine.embedding_model().is_some();
                match tuning.load_judge(&model_args, dense) {
                    Ok(judge) => engine.set_judge(judge),
                    Err(e) => tracing::error!(
                        error = format!("{e:#}"),
                        "no judge: the calibration decides alone"
                    ),
                }
                // Ready either way: a service without a model still answers from documents.
                loading.set_ready();
            })?;
        state
    };
    let channel = WhatsApp::new(
        engine_for_channel,
        config.whatsapp.clone(),
        state.readiness(),
    )
    .context("opening the WhatsApp channel")?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        // Customer messages a previous run acknowledged but did not answer are answered now.
        channel.start();
        spawn_retention(engine_for_retention, RETENTION_EVERY, system_clock());
        let state = state.with_whatsapp(channel);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (CLERK_LISTEN)", config.listen))?;
        tracing::info!(address = %listener.local_addr()?, "clerk is listening");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        http::serve(listener, state, shutdown).await?;
        Ok(())
    })
}

/// The sentence encoder `spec` names (`default`: pulled into the models dir on first use, a
/// file, or `none` for None).
pub(super) fn load_encoder(
    spec: &str,
    models_dir: Option<&Path>,
) -> anyhow::Result<Option<Arc<EncoderEmbedder>>> {
    let started = std::time::Instant::now();
    let embedder = match spec {
        e if e.eq_ignore_ascii_case("none") => return Ok(None),
        e if e.eq_ignore_ascii_case("default") => {
            let dir = models_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(crate::llm::fetch::default_models_dir);
            let path = crate::embed::pull_encoder(&dir).context("pulling the sentence encoder")?;
            // The pull has just checked the file's sha256.
            EncoderEmbedder::load_known(&path, crate::embed::ENCODER_MODEL.sha256, None)
                .with_context(|| format!("loading the sentence encoder {}", path.display()))?
        }
        path => EncoderEmbedder::load(Path::new(path))
            .with_context(|| format!("loading the sentence encoder {path}"))?,
    };
    tracing::info!(
        model = crate::index::Embedder::model_id(&embedder),
        seconds = started.elapsed().as_secs_f64(),
        "sentence encoder ready"
    );
    Ok(Some(Arc::new(embedder)))
}

/// Makes `engine`'s retrieval hybrid with the configured encoder (embedding the passages that
/// have no vectors yet); nothing for `none`.
pub(super) fn attach_encoder(engine: &Engine, config: &Config) -> anyhow::Result<()> {
    let Some(embedder) = load_encoder(&config.encoder, config.models_dir.as_deref())? else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let embedded = engine.set_embedder(embedder)?;
    let total: usize = embedded.iter().map(|(_, n)| n).sum();
    if total > 0 {
        tracing::info!(
            texts = total,
            seconds = started.elapsed().as_secs_f64(),
            "embedded the passages that had no vectors"
        );
    }
    Ok(())
}

/// Indexes the demo corpus into an empty data dir so a new user has businesses at once.
pub(super) fn seed_demo(engine: &Engine, corpus: &Path) -> anyhow::Result<()> {
    if !corpus.is_dir() {
        tracing::warn!(corpus = %corpus.display(), "no demo corpus found; starting empty");
        return Ok(());
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!(
        "indexing demo businesses from {}",
        corpus.display()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let seeded = engine.seed_demo(corpus)?;
    spinner.finish_and_clear();
    // Keys never go to the log, which other people and tools read; a private file holds them.
    let keys_path = engine.data_dir().join("demo-api-keys");
    let keys: String = seeded
        .iter()
        .map(|(report, key)| format!("{} {key}\n", report.business))
        .collect();
    crate::engine::write_private(&keys_path, keys.as_bytes())
        .with_context(|| format!("writing {}", keys_path.display()))?;
    for (report, _) in &seeded {
        tracing::info!(
            business = report.business,
            documents = report.documents.len(),
            passages = report.passages,
            language = report.language,
            "demo business ready"
        );
    }
    tracing::info!(
        path = %keys_path.display(),
        "the demo businesses' API keys are in this file (readable by this user only); the admin token works too"
    );
    Ok(())
}

/// The admin token kept in the data dir when none is configured, made on first use.
fn generated_admin_token(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_string();
        if token.len() >= 16 {
            tracing::info!(path = %path.display(), "using the admin token stored in the data dir");
            return Ok(token);
        }
    }
    let token = crate::store::new_api_key().replacen("ck_", "adm_", 1);
    crate::engine::write_private(&path, token.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::warn!(path = %path.display(), "CLERK_ADMIN_TOKEN is not set; generated an admin token and wrote it there");
    Ok(token)
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
