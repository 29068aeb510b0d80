//! Loading what answers need beside the indexes: the sentence encoder (dense retrieval), the
//! chat model (generated replies) and the judge, each named by a spec (`default`, a file,
//! `hf:…`, `none`). The service loads them on a thread of their own while it already
//! listens (see [`load_in_background`]); the CLI's one-shot commands call the same functions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::AppError;
use crate::answer::Judge;
use crate::engine::{EncoderEmbedder, Engine};
use crate::llm::model::{DeviceSpec, LoadOptions};
use crate::llm::{fetch, ChatModel, ModelSpec};

/// KV cache positions for answering: a budgeted prompt and a short reply need far less than
/// the models' own contexts, and the cache is allocated up front.
pub const ANSWER_CONTEXT: usize = 2048;

/// Judgements that may wait while one runs (each answer asks for at most a few, in turn).
const JUDGE_QUEUE: usize = 8;

/// Which model file, from where, on which device.
#[derive(Debug, Clone)]
pub struct ModelChoice {
    /// `default`, a catalog name, a .gguf path, `hf:OWNER/REPO[@REVISION]/FILE.gguf`, or `none`.
    pub model: String,
    /// Folder for model files; None is the checkout's models/ or ./models.
    pub models_dir: Option<PathBuf>,
    /// cpu, cuda, cuda:N or metal.
    pub device: String,
}

impl ModelChoice {
    /// Whether `none` asked for no model.
    pub fn is_none(&self) -> bool {
        self.model.eq_ignore_ascii_case("none")
    }

    /// The model file, pulled first when the spec names one to pull.
    pub fn path(&self) -> Result<PathBuf, AppError> {
        let dir = self
            .models_dir
            .clone()
            .unwrap_or_else(fetch::default_models_dir);
        let model = |source| AppError::Model {
            spec: self.model.clone(),
            source,
        };
        let spec: ModelSpec = self.model.parse().map_err(model)?;
        crate::llm::resolve(&spec, &dir).map_err(model)
    }

    pub fn device(&self) -> Result<DeviceSpec, AppError> {
        self.device.parse().map_err(|source| AppError::Model {
            spec: self.model.clone(),
            source,
        })
    }

    /// The chat model for answering, behind an engine with `queue` waiting places, writing
    /// `languages` (None: what the model declares); None for `none`.
    pub fn load_chat(
        &self,
        queue: usize,
        languages: Option<Vec<String>>,
    ) -> Result<Option<Arc<ChatModel>>, AppError> {
        if self.is_none() {
            return Ok(None);
        }
        let path = self.path()?;
        let options = LoadOptions {
            device: Some(self.device()?),
            context: Some(ANSWER_CONTEXT),
            ..LoadOptions::default()
        };
        let model = ChatModel::load(&path, &options, queue, languages).map_err(|source| {
            AppError::Model {
                spec: path.display().to_string(),
                source,
            }
        })?;
        tracing::info!(model = model.name, languages = ?model.languages, "model ready");
        Ok(Some(Arc::new(model)))
    }

    /// The judge `spec` names, on this choice's models dir and device; None for `none`, and
    /// without `dense` retrieval (the judge reads what the encoder found, so it would never
    /// be asked).
    pub fn load_judge(
        &self,
        spec: Option<&str>,
        dense: bool,
    ) -> Result<Option<Arc<Judge>>, AppError> {
        let spec = spec.unwrap_or("none");
        if spec.eq_ignore_ascii_case("none") || !dense {
            return Ok(None);
        }
        let choice = ModelChoice {
            model: spec.to_string(),
            ..self.clone()
        };
        // Every language: the judge reads, it never writes to a customer.
        let Some(chat) = choice.load_chat(JUDGE_QUEUE, None)? else {
            return Ok(None);
        };
        let judge = Judge::new(chat).map_err(|source| AppError::Model {
            spec: spec.to_string(),
            source,
        })?;
        tracing::info!(model = judge.model_name(), "judge ready");
        Ok(Some(Arc::new(judge)))
    }
}

/// The sentence encoder `spec` names (`default`: pulled into the models dir on first use, a
/// file, or `none` for None).
pub fn load_encoder(
    spec: &str,
    models_dir: Option<&Path>,
) -> Result<Option<Arc<EncoderEmbedder>>, AppError> {
    let started = std::time::Instant::now();
    let encoder = |source| AppError::Encoder {
        spec: spec.to_string(),
        source,
    };
    let embedder = match spec {
        e if e.eq_ignore_ascii_case("none") => return Ok(None),
        e if e.eq_ignore_ascii_case("default") => {
            let dir = models_dir
                .map(Path::to_path_buf)
                .unwrap_or_else(fetch::default_models_dir);
            let path = crate::embed::pull_encoder(&dir).map_err(encoder)?;
            // The pull has just checked the file's sha256.
            EncoderEmbedder::load_known(&path, crate::embed::ENCODER_MODEL.sha256, None)
                .map_err(encoder)?
        }
        path => EncoderEmbedder::load(Path::new(path)).map_err(encoder)?,
    };
    tracing::info!(
        model = crate::index::Embedder::model_id(&embedder),
        seconds = started.elapsed().as_secs_f64(),
        "sentence encoder ready"
    );
    Ok(Some(Arc::new(embedder)))
}

/// Makes `engine`'s retrieval hybrid with the encoder `spec` names (embedding the passages
/// that have no vectors yet); nothing for `none`.
pub fn attach_encoder(
    engine: &Engine,
    spec: &str,
    models_dir: Option<&Path>,
) -> Result<(), AppError> {
    let Some(embedder) = load_encoder(spec, models_dir)? else {
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

/// What the loader thread loads.
pub(super) struct Loading {
    /// The sentence encoder's spec (`none`: BM25 only).
    pub encoder: String,
    /// The model files' choice, for the chat model and the judge.
    pub choice: ModelChoice,
    /// Whether to load `choice`'s chat model (false when one was given already loaded).
    pub chat: bool,
    /// Generation requests that may wait while one runs.
    pub queue: usize,
    /// The languages the model may write (None: what it declares).
    pub languages: Option<Vec<String>>,
    /// The judge's spec (None: no judge).
    pub judge: Option<String>,
}

impl Loading {
    /// Whether there is anything to load at all (else the service is ready at once).
    pub fn is_empty(&self) -> bool {
        self.encoder.eq_ignore_ascii_case("none") && (!self.chat || self.choice.is_none())
    }
}

/// Loads the encoder, the model and the judge into `engine` on a thread of its own, then
/// calls `ready`, whatever failed: a service without them still answers from documents.
pub(super) fn load_in_background(
    engine: Arc<Engine>,
    loading: Loading,
    ready: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("clerk-model-loader".into())
        .spawn(move || {
            let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let models_dir = loading.choice.models_dir.as_deref();
                if let Err(e) = attach_encoder(&engine, &loading.encoder, models_dir) {
                    tracing::error!(error = %e, "no sentence encoder: retrieval is BM25 only");
                }
                if loading.chat {
                    let languages = loading.languages.clone();
                    loading.choice.load_chat(loading.queue, languages)
                } else {
                    Ok(None)
                }
            }));
            match loaded {
                Ok(Ok(Some(model))) => engine.set_model(Some(model)),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "no model: answers use FAQ, catalog and extractive replies only"
                ),
                Err(_) => tracing::error!(
                    "loading the model panicked: answers use FAQ, catalog and extractive \
                     replies only"
                ),
            }
            // The judge reads what dense retrieval found: without vectors it is never asked.
            let dense = engine.embedding_model().is_some();
            match loading.choice.load_judge(loading.judge.as_deref(), dense) {
                Ok(judge) => engine.set_judge(judge),
                Err(e) => tracing::error!(error = %e, "no judge: the calibration decides alone"),
            }
            ready();
        })
        .map(|_| ())
}
