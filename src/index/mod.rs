//! One tantivy index per business: writing passages, listing documents, retrieving passages.
//!
//! Each business's passages live in their own index directory, so a search can never reach
//! another business's documents. A [`BusinessIndex`] holds the only writer of its index (tantivy
//! also locks the directory against other processes) and takes a fresh searcher for every
//! question. Every upload is one commit: its documents replace any earlier ones of the same name
//! together, or nothing changes. Each document also gets one "manifest" record carrying its
//! metadata, so the list of documents commits atomically with their passages. This module knows
//! nothing about HTTP, businesses' keys or the model.

mod analysis;
pub mod catalog;
mod dense;
pub mod glossary;
mod hybrid;
mod query;
mod schema;
mod scoring;
pub mod vectors;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use tantivy::collector::DocSetCollector;
use tantivy::directory::MmapDirectory;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    doc, DocAddress, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

pub use analysis::{fold, is_function_word, Language};
pub use catalog::{Catalog, CatalogEntry, FieldKind, Posting, Stock, Unit, WordLookup};
pub use dense::{best_of, sentences, Similarity};
pub use hybrid::HybridParams;
pub use scoring::Bm25Params;
pub use vectors::{Embedder, Reading};

use crate::documents::{Document, Format, PassageKind, ProductFields};
use dense::Dense;
use query::WordEvidence;
use schema::Fields;
use scoring::Scorer;

const SETTINGS_FILE: &str = "clerk-index.json";
const MANIFEST_KIND: &str = "manifest";
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "the index at {path} is in use by another clerk process; stop it or use another data dir"
    )]
    Locked { path: PathBuf },
    #[error("the index at {path} is damaged or from an incompatible version: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("index I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("index operation failed: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("embedding passages failed: {0}")]
    Embedding(String),
}

/// What the index knows about one uploaded document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DocumentInfo {
    /// The name it was uploaded under, e.g. `faq.md`.
    pub name: String,
    pub format: Format,
    /// How many passages it was split into.
    pub passages: u32,
    /// Size of the uploaded file.
    pub bytes: u64,
    /// Seconds since the Unix epoch.
    pub uploaded_at: u64,
}

/// A retrieved passage with its stored fields, exactly as uploaded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hit {
    /// The document's name.
    pub document: String,
    /// The passage's ordinal within its document, from 0.
    pub ordinal: u32,
    pub kind: PassageKind,
    /// The FAQ question, the product name, or the nearest heading (may be empty).
    pub title: String,
    /// Headings from the document's top down to the passage.
    pub heading_path: Vec<String>,
    pub text: String,
    /// The ranking score (BM25F with proximity, or the hybrid score with vectors).
    pub score: f32,
    /// Present only on catalog entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<ProductFields>,
    /// Share (0–1) of the question this passage covers: each question word counts by its
    /// rarity, and a word the index does not know counts fully against every passage. Only
    /// [`BusinessIndex::search_with_evidence`] fills it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<f32>,
    /// Cosine similarity (sentence encoder) of the question with this passage, when the index
    /// has vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// For prose of several sentences: cosine similarity of the question with its closest
    /// sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentence_similarity: Option<f32>,
    /// For prose of several sentences: the question's similarity to each of
    /// [`sentences`]`(text)`, in order (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentence_similarities: Vec<f32>,
    /// For an FAQ entry: cosine similarity of the question with the entry's own question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_similarity: Option<f32>,
}

impl Hit {
    /// "document#ordinal": how sources are cited.
    pub fn passage_id(&self) -> String {
        format!("{}#{}", self.document, self.ordinal)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Settings {
    language: Language,
}

/// A catalog read at one searcher generation with one embedding model.
struct CachedCatalog {
    generation: u64,
    model: Option<String>,
    catalog: Arc<Catalog>,
}

pub struct BusinessIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    language: Language,
    analyzer: TextAnalyzer,
    surface_analyzer: TextAnalyzer,
    params: Bm25Params,
    hybrid: HybridParams,
    /// Set once an embedder is attached: searches are then hybrid.
    dense: RwLock<Option<Arc<Dense>>>,
    /// Where the index lives (`None` in memory): its vector files go there too.
    dir: Option<PathBuf>,
    /// The catalog as of a searcher generation and embedding model, read again after a
    /// commit changes it or an encoder is attached.
    catalog: Mutex<Option<CachedCatalog>>,
}

impl BusinessIndex {
    /// Opens the index in `dir`, creating it with `language` if there is none yet.
    pub fn open_or_create(dir: &Path, language: Language) -> Result<BusinessIndex, IndexError> {
        let settings_path = dir.join(SETTINGS_FILE);
        if settings_path.exists() {
            return Self::open(dir);
        }
        std::fs::create_dir_all(dir)?;
        let directory = MmapDirectory::open(dir).map_err(|e| corrupt(dir, e))?;
        let index = Index::open_or_create(directory, schema::build())?;
        let settings = serde_json::to_vec_pretty(&Settings { language }).map_err(io_error)?;
        write_atomically(&settings_path, &settings)?;
        Self::from_index(index, language, dir)
    }

    /// Opens an existing index.
    pub fn open(dir: &Path) -> Result<BusinessIndex, IndexError> {
        let settings_path = dir.join(SETTINGS_FILE);
        let settings: Settings =
            serde_json::from_slice(&std::fs::read(&settings_path)?).map_err(|e| corrupt(dir, e))?;
        let index = Index::open_in_dir(dir).map_err(|e| corrupt(dir, e))?;
        Self::from_index(index, settings.language, dir)
    }

    /// An index held in memory only (evaluations, tests).
    pub fn in_memory(language: Language) -> Result<BusinessIndex, IndexError> {
        let index = Index::create_in_ram(schema::build());
        let mut index = Self::from_index(index, language, Path::new(":memory:"))?;
        index.dir = None;
        Ok(index)
    }

    fn from_index(index: Index, language: Language, dir: &Path) -> Result<Self, IndexError> {
        index
            .tokenizers()
            .register(analysis::ANALYZER, language.analyzer());
        let fields = Fields::resolve(&index.schema()).map_err(|e| corrupt(dir, e))?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1);
        let writer = index
            .writer_with_num_threads(threads, WRITER_MEMORY)
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => IndexError::Locked {
                    path: dir.to_path_buf(),
                },
                other => other.into(),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(BusinessIndex {
            reader,
            writer: Mutex::new(writer),
            fields,
            language,
            analyzer: language.analyzer(),
            surface_analyzer: language.surface_analyzer(),
            params: Bm25Params::default(),
            hybrid: HybridParams::default(),
            dense: RwLock::new(None),
            dir: Some(dir.to_path_buf()),
            catalog: Mutex::new(None),
        })
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Replaces the scorer's tuning (evaluations compare settings with it).
    pub fn set_params(&mut self, params: Bm25Params) {
        self.params = params;
    }

    /// Replaces how BM25 and dense rankings are merged.
    pub fn set_hybrid(&mut self, params: HybridParams) {
        self.hybrid = params;
    }

    /// Makes searches hybrid with `embedder`'s vectors, kept in `vector_dir` (the index's own
    /// directory when `None`; in memory for an in-memory index without one). Passages that
    /// have no vector of this model yet — an index from before vectors, or a changed model —
    /// are embedded now. Returns how many texts were embedded.
    pub fn attach_embedder(
        &self,
        embedder: Arc<dyn Embedder>,
        vector_dir: Option<&Path>,
    ) -> Result<usize, IndexError> {
        let dir = vector_dir.or(self.dir.as_deref());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)?;
        }
        let file = vectors::VectorFile::open(dir, embedder.model_id(), embedder.dim())?;
        let dense = Arc::new(Dense::new(embedder, file));
        // The writer's lock keeps an upload from committing passages between the scan and
        // the switch, which would leave them without vectors.
        let _writer = self.writer.lock();
        let texts = Dense::texts_in(&self.reader.searcher(), &self.fields)?;
        let embedded = dense.embed_missing(&texts)?;
        *self.dense.write() = Some(dense);
        Ok(embedded)
    }

    /// The embedding model searches use, if any.
    pub fn embedding_model(&self) -> Option<String> {
        self.dense.read().as_ref().map(|d| d.model())
    }

    /// Indexes `documents` (with their upload sizes) in one commit, replacing any earlier
    /// documents of the same names. On error nothing of it is visible.
    pub fn replace_documents(&self, documents: &[(Document, u64)]) -> Result<(), IndexError> {
        // The writer's lock first: an embedder attached meanwhile (which scans under the same
        // lock) then either sees these passages or is seen here.
        let mut writer = self.writer.lock();
        let dense = self.dense.read().clone();
        if let Some(dense) = dense {
            // Vectors first, synced: every passage committed below has its vectors.
            let texts: Vec<_> = documents
                .iter()
                .flat_map(|(d, _)| &d.passages)
                .flat_map(|p| {
                    dense::texts(
                        p.kind.as_str(),
                        &p.title,
                        &p.heading_path.join(" > "),
                        &p.text,
                    )
                })
                .collect();
            dense.embed_missing(&texts)?;
        }
        let uploaded_at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let f = self.fields;
        let staged = (|| -> Result<(), IndexError> {
            for (document, bytes) in documents {
                writer.delete_term(Term::from_field_text(f.document, &document.name));
                let info = DocumentInfo {
                    name: document.name.clone(),
                    format: document.format,
                    passages: document.passages.len() as u32,
                    bytes: *bytes,
                    uploaded_at,
                };
                writer.add_document(doc!(
                    f.document => document.name.as_str(),
                    f.kind => MANIFEST_KIND,
                    f.manifest => serde_json::to_string(&info).map_err(io_error)?,
                    // Every record has a group, so the column is dense and read without a rank.
                    f.group => 0u64,
                ))?;
                for passage in &document.passages {
                    let mut doc = doc!(
                        f.document => document.name.as_str(),
                        f.kind => passage.kind.as_str(),
                        f.ordinal => u64::from(passage.ordinal),
                        f.title => passage.title.as_str(),
                        f.headings => passage.heading_path.join(" > "),
                        f.body => passage.text.as_str(),
                        f.group => group_key(&document.name, &passage.title, &passage.heading_path),
                    );
                    if let Some(product) = &passage.product {
                        doc.add_text(f.product, serde_json::to_string(product).map_err(io_error)?);
                    }
                    writer.add_document(doc)?;
                }
            }
            Ok(())
        })();
        let outcome = staged.and_then(|()| writer.commit().map(drop).map_err(IndexError::from));
        if let Err(e) = outcome {
            // Drop everything staged since the last commit, so a failed upload leaves no trace.
            writer.rollback()?;
            return Err(e);
        }
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// Deletes a document and its passages; false if there was none of that name.
    pub fn delete_document(&self, name: &str) -> Result<bool, IndexError> {
        if !self.documents()?.iter().any(|d| d.name == name) {
            return Ok(false);
        }
        let mut writer = self.writer.lock();
        writer.delete_term(Term::from_field_text(self.fields.document, name));
        writer.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(true)
    }

    /// Every document in the index, by name.
    pub fn documents(&self) -> Result<Vec<DocumentInfo>, IndexError> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.kind, MANIFEST_KIND),
            IndexRecordOption::Basic,
        );
        let mut out = Vec::new();
        for address in searcher.search(&query, &DocSetCollector)? {
            let doc: TantivyDocument = searcher.doc(address)?;
            let json = doc
                .get_first(self.fields.manifest)
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let info: DocumentInfo = serde_json::from_str(json).map_err(io_error)?;
            out.push(info);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Number of passages (not counting manifest records).
    pub fn passage_count(&self) -> Result<u64, IndexError> {
        let searcher = self.reader.searcher();
        let manifests =
            searcher.doc_freq(&Term::from_field_text(self.fields.kind, MANIFEST_KIND))?;
        Ok(searcher.num_docs().saturating_sub(manifests))
    }

    /// Number of tantivy segments (for benchmarks and diagnostics: a search scores them in
    /// parallel).
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Every live product of the index, as the catalog questions read them.
    pub fn catalog(&self) -> Result<Arc<Catalog>, IndexError> {
        let searcher = self.reader.searcher();
        let generation = searcher.generation().generation_id();
        let dense = self.dense.read().clone();
        let model = dense.as_ref().map(|d| d.model());
        let mut cached = self.catalog.lock();
        if let Some(c) = cached
            .as_ref()
            .filter(|c| c.generation == generation && c.model == model)
        {
            return Ok(c.catalog.clone());
        }
        let catalog = Arc::new(Catalog::read(
            &searcher,
            &self.fields,
            self.analyzer.clone(),
            self.surface_analyzer.clone(),
            dense.map(|d| d.embedder()),
        )?);
        *cached = Some(CachedCatalog {
            generation,
            model,
            catalog: catalog.clone(),
        });
        Ok(catalog)
    }

    /// The `limit` passages that best answer `question`, best first.
    pub fn search(&self, question: &str, limit: usize) -> Result<Vec<Hit>, IndexError> {
        self.search_inner(question, limit, None)
    }

    /// Like [`search`](Self::search), and each hit says how much of the question it covers
    /// (the answer step's evidence; it costs a re-analysis of each hit). Words in `ignored`
    /// (question phrasing such as "how much", "habt ihr") do not count toward coverage.
    pub fn search_with_evidence(
        &self,
        question: &str,
        limit: usize,
        ignored: &[&str],
    ) -> Result<Vec<Hit>, IndexError> {
        self.search_inner(question, limit, Some(ignored))
    }

    fn search_inner(
        &self,
        question: &str,
        limit: usize,
        evidence: Option<&[&str]>,
    ) -> Result<Vec<Hit>, IndexError> {
        let searcher = self.reader.searcher();
        let manifests =
            searcher.doc_freq(&Term::from_field_text(self.fields.kind, MANIFEST_KIND))?;
        let scorer = Scorer {
            searcher: &searcher,
            fields: self.fields.text(),
            params: self.params,
            passages: searcher.num_docs().saturating_sub(manifests),
            language: self.language,
        };
        let mut surface = self.surface_analyzer.clone();
        let mut full = self.analyzer.clone();
        let terms = scorer.question_terms(&mut surface, &mut full, question)?;
        let dense = self.dense.read().clone();
        let shortlist = match dense {
            Some(_) => limit.max(self.hybrid.shortlist),
            None => limit,
        };
        let bm25: Vec<(DocAddress, f32)> = scorer
            .top(&terms, shortlist)?
            .into_iter()
            .map(|s| (s.address, s.score))
            .collect();
        let mut sentence_similarities: Vec<Vec<f32>> = Vec::new();
        let mut ranked: Vec<hybrid::Fused> = match dense {
            None => bm25
                .iter()
                .map(|&(address, score)| hybrid::Fused {
                    address,
                    score,
                    bm25: Some(score),
                    similarity: None,
                })
                .collect(),
            Some(dense) => {
                let scores = dense.scores(&searcher, &self.fields, question)?;
                let top = scores.top(&searcher, self.hybrid.shortlist);
                let mut fused = hybrid::fuse(&self.hybrid, &bm25, &top, |a| scores.of(a));
                fused.truncate(limit);
                sentence_similarities = fused
                    .iter()
                    .map(|f| scores.sentences_of(f.address))
                    .collect();
                fused
            }
        };
        ranked.truncate(limit);
        let words = match evidence {
            Some(ignored) => {
                let german = self.language == Language::German;
                let ignored: std::collections::HashSet<String> =
                    ignored.iter().map(|w| fold(w, german)).collect();
                let is_ignored = |surface: &str| ignored.contains(surface);
                let words =
                    scorer.word_evidence(&mut surface, &mut full, question, &terms, &is_ignored)?;
                if words.is_empty() {
                    // A question of phrasing only ("wann habt ihr auf?"): every word counts.
                    scorer.word_evidence(&mut surface, &mut full, question, &terms, &|_| false)?
                } else {
                    words
                }
            }
            None => Vec::new(),
        };
        sentence_similarities.resize(ranked.len(), Vec::new());
        ranked
            .into_iter()
            .zip(sentence_similarities)
            .map(|(s, sentences)| {
                let doc: TantivyDocument = searcher.doc(s.address)?;
                let mut hit = self.hit(&doc, s.score);
                hit.sentence_similarities = sentences;
                hit.similarity = s.similarity.map(|s| s.passage);
                hit.sentence_similarity = s.similarity.and_then(|s| s.sentence);
                hit.question_similarity = s.similarity.and_then(|s| s.question);
                if evidence.is_some() {
                    hit.coverage = Some(coverage(&mut full, &hit, &words));
                }
                Ok(hit)
            })
            .collect()
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Hit {
        let f = self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let headings = text(f.headings);
        Hit {
            document: text(f.document),
            ordinal: doc
                .get_first(f.ordinal)
                .and_then(|v| v.as_u64())
                .unwrap_or_default() as u32,
            kind: PassageKind::parse(&text(f.kind)).unwrap_or(PassageKind::Page),
            title: text(f.title),
            heading_path: if headings.is_empty() {
                Vec::new()
            } else {
                headings.split(" > ").map(str::to_string).collect()
            },
            text: text(f.body),
            score,
            product: doc
                .get_first(f.product)
                .and_then(|v| v.as_str())
                .and_then(|json| serde_json::from_str(json).ok()),
            coverage: None,
            similarity: None,
            sentence_similarity: None,
            sentence_similarities: Vec::new(),
            question_similarity: None,
        }
    }
}

/// The idf-weighted share of question words whose terms occur in the hit's text.
fn coverage(analyzer: &mut TextAnalyzer, hit: &Hit, words: &[WordEvidence]) -> f32 {
    let total: f32 = words.iter().map(|w| w.idf).sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut present = std::collections::HashSet::new();
    for text in [&hit.title, &hit.text]
        .into_iter()
        .chain(hit.heading_path.iter())
    {
        let mut stream = analyzer.token_stream(text);
        while let Some(token) = stream.next() {
            present.insert(token.text.clone());
        }
    }
    let covered: f32 = words
        .iter()
        .map(|w| {
            let best = w
                .terms
                .iter()
                .filter(|(t, _)| present.contains(t))
                .map(|(_, evidence)| *evidence)
                .fold(0.0f32, f32::max);
            let parts: f32 = w
                .parts
                .iter()
                .filter(|(t, _)| present.contains(t))
                .map(|(_, evidence)| *evidence)
                .sum();
            w.idf * best.max(parts).min(1.0)
        })
        .sum();
    covered / total
}

/// Passages of one document with the same title and headings answer the same question.
/// FNV-1a over the parts with separators: stored in the index, so it must never change.
fn group_key(document: &str, title: &str, headings: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [document, title]
        .into_iter()
        .chain(headings.iter().map(String::as_str));
    for part in parts {
        for byte in part.bytes().chain([0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn corrupt(dir: &Path, e: impl std::fmt::Display) -> IndexError {
    IndexError::Corrupt {
        path: dir.to_path_buf(),
        message: e.to_string(),
    }
}

fn io_error(e: serde_json::Error) -> IndexError {
    IndexError::Io(std::io::Error::other(e))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
