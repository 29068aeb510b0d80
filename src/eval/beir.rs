//! `clerk eval retrieval --beir DIR`: a BEIR-layout set (corpus.jsonl, queries*.jsonl,
//! qrels*.tsv) indexed in memory and searched query by query.
//!
//! Corpus `title` is indexed as a passage title, `text` as its body, and a `context` field where
//! the set has one (XQuAD-R gives each sentence its paragraph) as the passage's heading path,
//! the way a chunk of an uploaded page carries its section.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::metrics::{mean, ndcg_at, percentile, recall_at, rr_at};
use super::{EvalError, Retrieval};
use crate::documents::{Document, Format, Passage, PassageKind};
use crate::index::{Bm25Params, BusinessIndex, Language};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RetrievalReport {
    pub ndcg_at_10: f64,
    pub mrr_at_10: f64,
    pub recall_at_10: f64,
    pub recall_at_100: f64,
    pub queries: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub language: String,
    pub passages: usize,
}

#[derive(Deserialize)]
struct CorpusLine {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    context: Option<String>,
}

#[derive(Deserialize)]
struct QueryLine {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

/// A loaded BEIR set.
pub struct BeirSet {
    pub ids: Vec<String>,
    pub document: Document,
    pub queries: Vec<(String, String)>,
    pub qrels: HashMap<String, HashMap<String, u32>>,
}

/// The split's file: `queries.test.jsonl` if present, else the only `queries*.jsonl`.
fn split_file(dir: &Path, prefix: &str, ext: &str) -> Result<PathBuf, EvalError> {
    let preferred = dir.join(format!("{prefix}.test.{ext}"));
    if preferred.exists() {
        return Ok(preferred);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(ext))
        })
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .ok_or_else(|| EvalError::data(dir, format!("no {prefix}*.{ext} file in a BEIR folder")))
}

fn jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, EvalError> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| EvalError::data(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

impl BeirSet {
    pub fn load(dir: &Path) -> Result<BeirSet, EvalError> {
        Self::load_as(dir, PassageKind::Page)
    }

    /// Loads the corpus as passages of `kind`: `Faq` for a set whose titles are the questions
    /// its texts answer (StackFAQ), as an uploaded FAQ would be read.
    pub fn load_as(dir: &Path, kind: PassageKind) -> Result<BeirSet, EvalError> {
        let corpus_path = dir.join("corpus.jsonl");
        let corpus: Vec<CorpusLine> = jsonl(&corpus_path)?;
        let mut ids = Vec::with_capacity(corpus.len());
        let passages = corpus
            .into_iter()
            .enumerate()
            .map(|(i, line)| {
                ids.push(line.id);
                Passage {
                    ordinal: i as u32,
                    kind,
                    title: line.title,
                    heading_path: line.context.into_iter().filter(|c| !c.is_empty()).collect(),
                    text: line.text,
                    product: None,
                }
            })
            .collect();
        let queries: Vec<QueryLine> = jsonl(&split_file(dir, "queries", "jsonl")?)?;
        let qrels_path = split_file(dir, "qrels", "tsv")?;
        let mut qrels: HashMap<String, HashMap<String, u32>> = HashMap::new();
        for (i, line) in std::fs::read_to_string(&qrels_path)?.lines().enumerate() {
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 3 || (i == 0 && cols[2].parse::<i64>().is_err()) {
                continue;
            }
            let grade: i64 = cols[2].trim().parse().map_err(|_| {
                EvalError::data(
                    &qrels_path,
                    format!("line {}: score is not a number", i + 1),
                )
            })?;
            if grade > 0 {
                qrels
                    .entry(cols[0].to_string())
                    .or_default()
                    .insert(cols[1].to_string(), grade as u32);
            }
        }
        Ok(BeirSet {
            ids,
            document: Document {
                name: "corpus.jsonl".into(),
                format: Format::Jsonl,
                passages,
            },
            queries: queries.into_iter().map(|q| (q.id, q.text)).collect(),
            qrels,
        })
    }

    /// A sample of the corpus text, for language detection.
    pub fn sample(&self) -> String {
        self.document
            .passages
            .iter()
            .take(200)
            .map(|p| format!("{} {}\n", p.title, p.text))
            .collect()
    }
}

/// Indexes the set in memory and runs every judged query.
pub fn evaluate(
    dir: &Path,
    language: Option<Language>,
    params: Bm25Params,
    retrieval: &Retrieval,
) -> Result<RetrievalReport, EvalError> {
    evaluate_as(dir, language, params, retrieval, PassageKind::Page)
}

/// [`evaluate`] with the corpus read as passages of `kind` (see [`BeirSet::load_as`]).
pub fn evaluate_as(
    dir: &Path,
    language: Option<Language>,
    params: Bm25Params,
    retrieval: &Retrieval,
    kind: PassageKind,
) -> Result<RetrievalReport, EvalError> {
    let set = BeirSet::load_as(dir, kind)?;
    let language = language.unwrap_or_else(|| Language::detect(&set.sample()));
    let mut index = BusinessIndex::in_memory(language)?;
    index.set_params(params);
    index.set_hybrid(retrieval.hybrid);
    if let Some(embedder) = &retrieval.embedder {
        index.attach_embedder(embedder.clone(), retrieval.vector_dir.as_deref())?;
    }
    let passages = set.document.passages.len();
    index.replace_documents(&[(set.document.clone(), 0)])?;
    let (mut ndcg, mut mrr, mut r10, mut r100, mut latencies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, text) in &set.queries {
        let Some(relevant) = set.qrels.get(id) else {
            continue;
        };
        let start = Instant::now();
        let hits = index.search(text, 100)?;
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        let ranked: Vec<String> = hits
            .iter()
            .map(|h| set.ids[h.ordinal as usize].clone())
            .collect();
        ndcg.push(ndcg_at(10, &ranked, relevant));
        mrr.push(rr_at(10, &ranked, relevant));
        r10.push(recall_at(10, &ranked, relevant));
        r100.push(recall_at(100, &ranked, relevant));
    }
    Ok(RetrievalReport {
        ndcg_at_10: mean(&ndcg),
        mrr_at_10: mean(&mrr),
        recall_at_10: mean(&r10),
        recall_at_100: mean(&r100),
        queries: ndcg.len(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        language: language.code().to_string(),
        passages,
    })
}
