//! The engine: the one domain API that the CLI, HTTP and (later) WhatsApp call.
//!
//! It owns the store and every business's index, checks business ids and limits, parses uploads
//! all-or-nothing and routes each call to the right business's index; orders and their
//! changes are in `orders`; settings, export, erasure, a person's replies and retention in
//! `privacy`; what the WhatsApp channel keeps (inbox, outbox, numbers) in `whatsapp`, the
//! channel's only way into the store. Its inputs and outputs are
//! plain Rust data; no tantivy, axum or SQLite type crosses this seam. Its methods do blocking,
//! CPU-heavy work: async callers run them on the blocking pool.

mod answers;
mod data_dir;
mod encoder;
mod ordering;
mod orders;
mod privacy;
pub mod whatsapp;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::answer::{AnswerError, AnswerSettings, Judge};
use crate::documents::{self, Cancel, Document, DocumentError, Format, Limits};
use crate::index::{
    Bm25Params, BusinessIndex, Catalog, DocumentInfo, Embedder, Hit, HybridParams, IndexError,
    Language,
};
use crate::llm::{ChatModel, LlmError};
use crate::store::{Business, Store, StoreError};

pub use answers::{validate_conversation_id, History};
pub use data_dir::write_private;
pub use encoder::EncoderEmbedder;
pub use ordering::{
    CartLine, Choice, Choices, Consent, OrderMessage, OrderReply, OrderStep, MOST_CHOICES,
};
pub use orders::{
    check_note, Fulfilment, NewOrder, Order, OrderAction, OrderChange, OrderCustomer, OrderItem,
    OrderState, MAX_ITEMS, MAX_NOTE_CHARS, MAX_QUANTITY,
};
pub use privacy::{
    spawn_retention, system_clock, Clock, SettingsView, DEFAULT_RETENTION_DAYS,
    MAX_DISCLOSURE_CHARS, MAX_PIX_CHARS, MAX_REPLY_CHARS, MAX_RETENTION_DAYS,
};
pub use whatsapp::WhatsAppDesk;

/// Limits on what one call may carry; all configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineLimits {
    pub documents: Limits,
    /// Most files in one upload.
    pub max_files: usize,
    /// Longest question accepted, in characters.
    pub max_question_chars: usize,
    /// Most passages one search returns.
    pub max_results: usize,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            documents: Limits::default(),
            max_files: 100,
            max_question_chars: 2000,
            max_results: 100,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid business id {0:?}: use 1-64 characters a-z, 0-9, '-' or '_', starting with a letter or digit")]
    InvalidBusinessId(String),
    #[error("invalid business name: {0}")]
    InvalidName(String),
    #[error("no business {0:?}; create it first (POST /v1/businesses or `clerk business create`)")]
    UnknownBusiness(String),
    #[error("business {0:?} already exists")]
    BusinessExists(String),
    #[error("unknown language {0:?}: use one of en, de, fr, es, pt, it, nl, plain or auto")]
    UnknownLanguage(String),
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("the upload holds no files; attach at least one document")]
    NoFiles,
    #[error("the upload holds {count} files; at most {limit} are accepted at once")]
    TooManyFiles { count: usize, limit: usize },
    #[error("the upload holds two files named {0:?}; names must be unique")]
    DuplicateName(String),
    #[error("business {business:?} has no document {name:?}")]
    UnknownDocument { business: String, name: String },
    #[error("the question is empty; send the customer's text")]
    EmptyQuestion,
    #[error("the question is {chars} characters long; at most {limit} are accepted")]
    QuestionTooLong { chars: usize, limit: usize },
    #[error("invalid conversation id {0:?}: use 1-128 letters, digits or -_.:+@")]
    InvalidConversationId(String),
    #[error("business {business:?} has no conversation {id:?}")]
    UnknownConversation { business: String, id: String },
    #[error("invalid order: {0}")]
    InvalidOrder(String),
    #[error("invalid note: {0}")]
    InvalidNote(String),
    #[error("business {business:?} has no order {id:?}")]
    UnknownOrder { business: String, id: String },
    #[error("order {id} is {from} and cannot be moved by {action}; from {from} it can be moved by: {}", if allowed.is_empty() { "nothing (it is final)" } else { allowed })]
    IllegalTransition {
        id: String,
        from: OrderState,
        action: OrderAction,
        /// The business's actions that are allowed from `from`, comma-separated.
        allowed: String,
    },
    #[error("business {0:?} has no such WhatsApp customer; an order from WhatsApp needs a customer who has written to the business")]
    UnknownCustomer(String),
    #[error("phone number {0} is already connected to another business")]
    PhoneNumberTaken(String),
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    #[error("the reply cannot reach the customer and was kept as a dead letter: {0}")]
    Undeliverable(String),
    #[error(transparent)]
    Llm(LlmError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<AnswerError> for EngineError {
    fn from(e: AnswerError) -> Self {
        match e {
            AnswerError::Index(e) => EngineError::Index(e),
            AnswerError::Llm(e) => EngineError::Llm(e),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BusinessExists(id) => EngineError::BusinessExists(id),
            StoreError::UnknownBusiness(id) => EngineError::UnknownBusiness(id),
            StoreError::PhoneNumberTaken(id) => EngineError::PhoneNumberTaken(id),
            other => EngineError::Store(other),
        }
    }
}

/// One file of an upload.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What an upload added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub business: String,
    pub documents: Vec<IngestedDocument>,
    /// Passages added by this upload.
    pub passages: usize,
    /// The business's retrieval language after the upload.
    pub language: String,
}

/// One file of an upload, as indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestedDocument {
    pub name: String,
    pub format: Format,
    pub passages: usize,
    /// Whether a document of this name existed and was replaced.
    pub replaced: bool,
}

pub struct Engine {
    data_dir: PathBuf,
    store: Store,
    indexes: Mutex<HashMap<String, Arc<BusinessIndex>>>,
    limits: EngineLimits,
    params: Bm25Params,
    model: RwLock<Option<Arc<ChatModel>>>,
    /// The language model that reads question and passage together before deciding.
    judge: RwLock<Option<Arc<Judge>>>,
    /// Once set, every index is searched hybrid (BM25F and dense) with its vectors.
    embedder: RwLock<Option<Arc<dyn Embedder>>>,
    hybrid: HybridParams,
    /// Where vectors are kept when not in each index's own folder (evaluations share one).
    vector_dir: Option<PathBuf>,
    answer_settings: AnswerSettings,
    /// Days a business without its own setting keeps conversation texts (see `privacy`).
    retention_days: u32,
}

pub fn validate_business_id(id: &str) -> Result<(), EngineError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(EngineError::InvalidBusinessId(id.to_string()))
    }
}

/// The longest business name accepted: it is shown in replies and stands in every prompt.
pub const MAX_NAME_CHARS: usize = 120;

/// A business name as it will be shown: trimmed, one line, not too long.
fn validate_name(name: &str) -> Result<&str, EngineError> {
    let name = name.trim();
    let chars = name.chars().count();
    if name.is_empty() {
        return Err(EngineError::InvalidName(
            "it is empty; leave `name` out to use the id, or give the name customers know".into(),
        ));
    }
    if chars > MAX_NAME_CHARS {
        return Err(EngineError::InvalidName(format!(
            "it is {chars} characters long; at most {MAX_NAME_CHARS} are accepted"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(EngineError::InvalidName(
            "it holds control characters (line breaks, tabs or invisible codes); give it on one line".into(),
        ));
    }
    Ok(name)
}

impl Engine {
    /// Opens (or starts) the data dir: `clerk.sqlite` and `indexes/<business>/`, all private
    /// to this user (see `data_dir`).
    pub fn open(data_dir: &Path, limits: EngineLimits) -> Result<Engine, EngineError> {
        data_dir::prepare(data_dir).map_err(IndexError::from)?;
        let database = data_dir.join("clerk.sqlite");
        data_dir::create_private_if_missing(&database).map_err(IndexError::from)?;
        let store = Store::open(&database)?;
        Ok(Engine {
            data_dir: data_dir.to_path_buf(),
            store,
            indexes: Mutex::new(HashMap::new()),
            limits,
            params: Bm25Params::default(),
            model: RwLock::new(None),
            judge: RwLock::new(None),
            embedder: RwLock::new(None),
            hybrid: HybridParams::default(),
            vector_dir: None,
            answer_settings: AnswerSettings::default(),
            retention_days: DEFAULT_RETENTION_DAYS,
        })
    }

    /// Merges BM25 and dense rankings with other settings (evaluations compare them).
    pub fn with_hybrid(mut self, hybrid: HybridParams) -> Engine {
        self.hybrid = hybrid;
        self
    }

    /// Keeps every index's vectors in `dir` instead of the index's own folder (vectors are
    /// content-addressed, so businesses can share it).
    pub fn with_vector_dir(mut self, dir: &Path) -> Engine {
        self.vector_dir = Some(dir.to_path_buf());
        self
    }

    /// Makes every business's retrieval hybrid with `embedder`: each index gets its vectors,
    /// embedding now the passages that have none of this model (an index from before, or a
    /// changed model). Returns the texts embedded per business.
    pub fn set_embedder(
        &self,
        embedder: Arc<dyn Embedder>,
    ) -> Result<Vec<(String, usize)>, EngineError> {
        *self.embedder.write() = Some(embedder.clone());
        let mut embedded = Vec::new();
        for business in self.businesses()? {
            // Opening an index attaches the embedder; one opened before gets it here.
            let already_open = self.indexes.lock().get(&business.id).cloned();
            match already_open {
                Some(index) => {
                    let n = index.attach_embedder(embedder.clone(), self.vector_dir.as_deref())?;
                    embedded.push((business.id, n));
                }
                None => {
                    if let Some((_, n)) = self.open_index(&business.id)? {
                        embedded.push((business.id, n));
                    }
                }
            }
        }
        Ok(embedded)
    }

    /// The embedding model searches use, if one is set.
    pub fn embedding_model(&self) -> Option<String> {
        self.embedder
            .read()
            .as_ref()
            .map(|e| e.model_id().to_string())
    }

    /// Scores every business's questions with `params` (evaluations compare settings).
    pub fn with_params(mut self, params: Bm25Params) -> Engine {
        self.params = params;
        self
    }

    /// Answers with other pipeline settings (evaluations and configuration).
    pub fn with_answer_settings(mut self, settings: AnswerSettings) -> Engine {
        self.answer_settings = settings;
        self
    }

    pub fn answer_settings(&self) -> &AnswerSettings {
        &self.answer_settings
    }

    pub fn limits(&self) -> &EngineLimits {
        &self.limits
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Creates a business; `language` is a code, or None/"auto" to detect it from the first
    /// upload. Returns the business and its API key, which is not shown again.
    pub fn create_business(
        &self,
        id: &str,
        name: Option<&str>,
        language: Option<&str>,
    ) -> Result<(Business, String), EngineError> {
        validate_business_id(id)?;
        let name = match name {
            Some(name) => validate_name(name)?,
            None => id,
        };
        let language = match language.map(str::trim) {
            None | Some("") | Some("auto") => "auto".to_string(),
            Some(code) => Language::from_code(code)
                .ok_or_else(|| EngineError::UnknownLanguage(code.to_string()))?
                .code()
                .to_string(),
        };
        Ok(self.store.create_business(id, name, &language)?)
    }

    pub fn businesses(&self) -> Result<Vec<Business>, EngineError> {
        Ok(self.store.businesses()?)
    }

    pub fn business(&self, id: &str) -> Result<Business, EngineError> {
        validate_business_id(id)?;
        self.store
            .business(id)?
            .ok_or_else(|| EngineError::UnknownBusiness(id.to_string()))
    }

    /// The business an API key belongs to.
    pub fn business_for_key(&self, key: &str) -> Result<Option<String>, EngineError> {
        Ok(self.store.business_for_key(key)?)
    }

    pub fn rotate_key(&self, id: &str) -> Result<String, EngineError> {
        self.business(id)?;
        Ok(self.store.rotate_key(id)?)
    }

    /// Parses one file under the configured limits.
    pub fn parse(&self, upload: &Upload) -> Result<Document, EngineError> {
        Ok(documents::parse(
            &upload.name,
            &upload.bytes,
            &self.limits.documents,
        )?)
    }

    /// Parses and indexes an upload: every file parses, or nothing changes.
    pub fn ingest(&self, business: &str, uploads: &[Upload]) -> Result<IngestReport, EngineError> {
        self.ingest_unless_cancelled(business, uploads, Cancel::new())
    }

    /// [`Engine::ingest`] for a caller that may go away: once `cancel` is raised the parse
    /// stops at its next check and nothing is stored. All files share one parse budget
    /// (`max_parse_ms`).
    pub fn ingest_unless_cancelled(
        &self,
        business: &str,
        uploads: &[Upload],
        cancel: Cancel,
    ) -> Result<IngestReport, EngineError> {
        self.check_upload(business, uploads)?;
        let limits = &self.limits.documents;
        let budget = limits.budget(cancel);
        let parsed = uploads
            .iter()
            .map(|u| {
                let document = documents::parse_within(&u.name, &u.bytes, limits, &budget)?;
                Ok((document, u.bytes.len() as u64))
            })
            .collect::<Result<Vec<_>, EngineError>>();
        if let Err(EngineError::Document(DocumentError::Cancelled { .. })) = &parsed {
            // Nobody is left to hear the error, so the operator is told here.
            tracing::info!(
                business,
                "the client went away during an upload; its parsing stopped and nothing was stored"
            );
        }
        self.ingest_parsed(business, parsed?)
    }

    /// Checks an upload's shape before any parsing: the business, file count, unique names.
    pub fn check_upload(&self, business: &str, uploads: &[Upload]) -> Result<(), EngineError> {
        self.business(business)?;
        if uploads.is_empty() {
            return Err(EngineError::NoFiles);
        }
        if uploads.len() > self.limits.max_files {
            return Err(EngineError::TooManyFiles {
                count: uploads.len(),
                limit: self.limits.max_files,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for u in uploads {
            if !seen.insert(u.name.as_str()) {
                return Err(EngineError::DuplicateName(u.name.clone()));
            }
        }
        Ok(())
    }

    /// Indexes already parsed documents (with their sizes) in one commit.
    pub fn ingest_parsed(
        &self,
        business: &str,
        documents: Vec<(Document, u64)>,
    ) -> Result<IngestReport, EngineError> {
        let record = self.business(business)?;
        let index = self.index_for_upload(&record, &documents)?;
        let existing: std::collections::HashSet<String> =
            index.documents()?.into_iter().map(|d| d.name).collect();
        index.replace_documents(&documents)?;
        let report = IngestReport {
            business: business.to_string(),
            passages: documents.iter().map(|(d, _)| d.passages.len()).sum(),
            documents: documents
                .iter()
                .map(|(d, _)| IngestedDocument {
                    name: d.name.clone(),
                    format: d.format,
                    passages: d.passages.len(),
                    replaced: existing.contains(&d.name),
                })
                .collect(),
            language: index.language().code().to_string(),
        };
        tracing::info!(
            business,
            documents = report.documents.len(),
            passages = report.passages,
            "indexed upload"
        );
        Ok(report)
    }

    pub fn documents(&self, business: &str) -> Result<Vec<DocumentInfo>, EngineError> {
        match self.index(business)? {
            Some(index) => Ok(index.documents()?),
            None => Ok(Vec::new()),
        }
    }

    pub fn delete_document(&self, business: &str, name: &str) -> Result<(), EngineError> {
        let unknown = || EngineError::UnknownDocument {
            business: business.to_string(),
            name: name.to_string(),
        };
        let index = self.index(business)?.ok_or_else(unknown)?;
        if index.delete_document(name)? {
            tracing::info!(business, document = name, "deleted document");
            Ok(())
        } else {
            Err(unknown())
        }
    }

    /// The passages that best answer `question` in this business's documents.
    pub fn search(
        &self,
        business: &str,
        question: &str,
        limit: usize,
    ) -> Result<Vec<Hit>, EngineError> {
        let question = self.check_question(question)?;
        let Some(index) = self.index(business)? else {
            return Ok(Vec::new());
        };
        Ok(index.search(question, limit.clamp(1, self.limits.max_results))?)
    }

    /// The business's products as catalog questions read them (`None` before any upload).
    pub fn catalog(&self, business: &str) -> Result<Option<Arc<Catalog>>, EngineError> {
        match self.index(business)? {
            Some(index) => Ok(Some(index.catalog()?)),
            None => Ok(None),
        }
    }

    /// Trims a question and enforces the length limit.
    pub fn check_question<'q>(&self, question: &'q str) -> Result<&'q str, EngineError> {
        let question = question.trim();
        if question.is_empty() {
            return Err(EngineError::EmptyQuestion);
        }
        let chars = question.chars().count();
        if chars > self.limits.max_question_chars {
            return Err(EngineError::QuestionTooLong {
                chars,
                limit: self.limits.max_question_chars,
            });
        }
        Ok(question)
    }

    fn index_dir(&self, business: &str) -> PathBuf {
        self.data_dir.join("indexes").join(business)
    }

    /// The business's index, if it has one yet (it is made by the first upload).
    fn index(&self, business: &str) -> Result<Option<Arc<BusinessIndex>>, EngineError> {
        self.business(business)?;
        if let Some(index) = self.indexes.lock().get(business) {
            return Ok(Some(index.clone()));
        }
        Ok(self.open_index(business)?.map(|(index, _)| index))
    }

    /// Opens a business's index (if it has one) with the engine's settings and embedder,
    /// and keeps it; also returns how many texts attaching the embedder embedded.
    fn open_index(
        &self,
        business: &str,
    ) -> Result<Option<(Arc<BusinessIndex>, usize)>, EngineError> {
        let mut indexes = self.indexes.lock();
        if let Some(index) = indexes.get(business) {
            return Ok(Some((index.clone(), 0)));
        }
        let dir = self.index_dir(business);
        if !dir.exists() {
            return Ok(None);
        }
        let index = self.configured(BusinessIndex::open(&dir)?);
        indexes.insert(business.to_string(), index.clone());
        // Embedding what has no vectors can take minutes on a big business: other businesses'
        // requests must not wait for it, so the engine's lock is let go first (meanwhile this
        // index answers with BM25 alone).
        drop(indexes);
        let embedded = self.attach(&index, business)?;
        Ok(Some((index, embedded)))
    }

    fn configured(&self, mut index: BusinessIndex) -> Arc<BusinessIndex> {
        index.set_params(self.params);
        index.set_hybrid(self.hybrid);
        Arc::new(index)
    }

    /// Attaches the engine's embedder, if any, to an index being opened.
    fn attach(&self, index: &BusinessIndex, business: &str) -> Result<usize, EngineError> {
        let Some(embedder) = self.embedder.read().clone() else {
            return Ok(0);
        };
        let embedded = index.attach_embedder(embedder, self.vector_dir.as_deref())?;
        if embedded > 0 {
            tracing::info!(business, embedded, "embedded passages that had no vectors");
        }
        Ok(embedded)
    }

    /// The index an upload goes to, created on the first upload with the configured language or
    /// the one detected from the upload's text.
    fn index_for_upload(
        &self,
        business: &Business,
        documents: &[(Document, u64)],
    ) -> Result<Arc<BusinessIndex>, EngineError> {
        if let Some(index) = self.index(&business.id)? {
            return Ok(index);
        }
        let language = match Language::from_code(&business.language) {
            Some(language) => language,
            None => {
                let detected = Language::detect(&language_sample(documents));
                self.store.set_language(&business.id, detected.code())?;
                tracing::info!(
                    business = business.id,
                    language = detected.code(),
                    "detected language"
                );
                detected
            }
        };
        let index = self.configured(BusinessIndex::open_or_create(
            &self.index_dir(&business.id),
            language,
        )?);
        self.attach(&index, &business.id)?;
        self.indexes
            .lock()
            .insert(business.id.clone(), index.clone());
        Ok(index)
    }

    /// Creates and fills the demo businesses from `corpus_dir` (one folder per business) that do
    /// not exist yet. Returns each new business with its API key.
    pub fn seed_demo(&self, corpus_dir: &Path) -> Result<Vec<(IngestReport, String)>, EngineError> {
        let mut seeded = Vec::new();
        for (id, uploads) in demo_businesses(corpus_dir)? {
            if self.store.business(&id)?.is_some() {
                continue;
            }
            let (_, key) = self.create_business(&id, None, None)?;
            let report = self.ingest(&id, &uploads)?;
            seeded.push((report, key));
        }
        Ok(seeded)
    }
}

/// Enough text from an upload to tell its language (FAQ answers and prose say more than
/// product names).
fn language_sample(documents: &[(Document, u64)]) -> String {
    let mut sample = String::new();
    let mut passages: Vec<_> = documents.iter().flat_map(|(d, _)| &d.passages).collect();
    passages.sort_by_key(|p| p.kind == crate::documents::PassageKind::Product);
    for p in passages {
        if sample.len() > 20_000 {
            break;
        }
        sample.push_str(&p.title);
        sample.push('\n');
        sample.push_str(&p.text);
        sample.push('\n');
    }
    sample
}

/// Files of a corpus folder that are documents (not its evaluation or notes).
pub fn demo_businesses(corpus_dir: &Path) -> Result<Vec<(String, Vec<Upload>)>, EngineError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(corpus_dir).map_err(IndexError::from)?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if validate_business_id(&id).is_err() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(IndexError::from)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_corpus_document(p))
            .collect();
        files.sort();
        let uploads = files
            .into_iter()
            .map(|p| {
                Ok(Upload {
                    name: p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default()
                        .to_string(),
                    bytes: std::fs::read(&p).map_err(IndexError::from)?,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        out.push((id, uploads));
    }
    Ok(out)
}

fn is_corpus_document(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    // The demo folders' eval files (`eval.json`, `catalog-eval.json`, `order-eval.json`)
    // are questions about the business, not its documents.
    !(name.ends_with("eval.json") || name == "README.md") && Format::from_name(name).is_some()
}
