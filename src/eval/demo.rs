//! The demo businesses' own questions (`corpus/<id>/eval.json`): retrieval hit rates on the
//! answerable ones, run through the engine exactly as an upload and a search would be.
//!
//! Every question belongs to a split: `dev`, which decisions may be tuned on, or `test`, which
//! is only reported. Each evaluation reports the two apart; a question without a split is
//! `dev`, so nothing counts as held out unless its file says so.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::metrics::{mean, percentile};
use super::{EvalError, Retrieval};
use crate::engine::{demo_businesses, Engine, EngineLimits};
use crate::index::{Bm25Params, Hit};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EvalFile {
    pub business: String,
    pub questions: Vec<EvalQuestion>,
}

/// Which part of an eval a question belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Questions settings and rules may be fitted on.
    #[default]
    Dev,
    /// Questions only ever reported, never tuned on.
    Test,
}

impl Split {
    pub const ALL: [Split; 2] = [Split::Dev, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EvalQuestion {
    #[serde(default)]
    pub split: Split,
    pub question: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub passages: Vec<PassageRef>,
    #[serde(default)]
    pub facts: Vec<String>,
    /// Strings a reply must not hold: the fact stated about the wrong thing (the weekday
    /// hours for a Saturday question, a neighbouring product's price).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_facts: Vec<String>,
    #[serde(default = "yes")]
    pub answerable: bool,
}

fn yes() -> bool {
    true
}

/// A passage that answers a question: its document, and text its title contains.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct PassageRef {
    pub document: String,
    pub title: String,
}

impl PassageRef {
    pub fn matches(&self, hit: &Hit) -> bool {
        self.names(&hit.document, &hit.title)
    }

    /// Whether a reply's source is this passage.
    pub fn matches_source(&self, source: &crate::answer::Source) -> bool {
        self.names(&source.document, &source.title)
    }

    fn names(&self, document: &str, title: &str) -> bool {
        document == self.document && title.to_lowercase().contains(&self.title.to_lowercase())
    }
}

impl EvalFile {
    pub fn load(path: &Path) -> Result<EvalFile, EvalError> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|e| EvalError::data(path, e))
    }

    /// The questions of one split, in file order.
    pub fn split(&self, split: Split) -> Vec<EvalQuestion> {
        self.questions
            .iter()
            .filter(|q| q.split == split)
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DemoRetrievalReport {
    pub business: String,
    pub split: Split,
    /// Answerable questions with judged passages.
    pub questions: usize,
    pub hit_at_1: f64,
    pub hit_at_5: f64,
    pub mrr_at_10: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Questions whose answer was not in the top 5, for reading.
    pub misses: Vec<String>,
}

/// Indexes every (or one) demo business into a scratch data dir and scores its eval file, one
/// report per business and split (dev first).
pub fn evaluate(
    corpus_dir: &Path,
    only: Option<&str>,
    params: Bm25Params,
    retrieval: &Retrieval,
) -> Result<Vec<DemoRetrievalReport>, EvalError> {
    let scratch = tempfile::tempdir()?;
    let engine = retrieval
        .apply(Engine::open(scratch.path(), EngineLimits::default())?.with_params(params))?;
    by_split(
        index_demo(&engine, corpus_dir, only)?,
        |id, split, questions| score(&engine, id, split, questions),
    )
}

/// One report per business and split (dev first), each from `score` over that split's
/// questions; a split without questions gets none.
pub fn by_split<R>(
    indexed: Vec<(String, EvalFile)>,
    mut score: impl FnMut(&str, Split, &[EvalQuestion]) -> Result<R, EvalError>,
) -> Result<Vec<R>, EvalError> {
    let mut reports = Vec::new();
    for (id, eval) in indexed {
        for split in Split::ALL {
            let questions = eval.split(split);
            if !questions.is_empty() {
                reports.push(score(&id, split, &questions)?);
            }
        }
    }
    Ok(reports)
}

/// Creates and indexes in `engine` every (or only the named) demo business that has an
/// eval.json, and returns each business's eval file.
pub fn index_demo(
    engine: &Engine,
    corpus_dir: &Path,
    only: Option<&str>,
) -> Result<Vec<(String, EvalFile)>, EvalError> {
    let mut indexed = Vec::new();
    for (id, uploads) in demo_businesses(corpus_dir)? {
        if only.is_some_and(|o| o != id) {
            continue;
        }
        let eval_path: PathBuf = corpus_dir.join(&id).join("eval.json");
        if !eval_path.exists() {
            continue;
        }
        let eval = EvalFile::load(&eval_path)?;
        engine.create_business(&id, None, None)?;
        engine.ingest(&id, &uploads)?;
        indexed.push((id, eval));
    }
    if let Some(o) = only {
        if indexed.is_empty() {
            return Err(EvalError::data(
                corpus_dir,
                format!("no demo business {o:?} with an eval.json"),
            ));
        }
    }
    Ok(indexed)
}

fn score(
    engine: &Engine,
    id: &str,
    split: Split,
    questions: &[EvalQuestion],
) -> Result<DemoRetrievalReport, EvalError> {
    let (mut h1, mut h5, mut rr, mut latencies, mut misses) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for q in questions
        .iter()
        .filter(|q| q.answerable && !q.passages.is_empty())
    {
        let start = Instant::now();
        let hits = engine.search(id, &q.question, 10)?;
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        let rank = hits
            .iter()
            .position(|h| q.passages.iter().any(|p| p.matches(h)));
        h1.push(f64::from(u8::from(rank == Some(0))));
        h5.push(f64::from(u8::from(rank.is_some_and(|r| r < 5))));
        rr.push(rank.map_or(0.0, |r| 1.0 / (r + 1) as f64));
        if rank.is_none_or(|r| r >= 5) {
            misses.push(q.question.clone());
        }
    }
    Ok(DemoRetrievalReport {
        business: id.to_string(),
        split,
        questions: h1.len(),
        hit_at_1: mean(&h1),
        hit_at_5: mean(&h5),
        mrr_at_10: mean(&rr),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        misses,
    })
}
