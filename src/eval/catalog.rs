//! Catalog questions against the demo businesses' `catalog-eval.json`: does the answer find
//! exactly the products a shop assistant would (list precision and recall per question),
//! in the order asked for, with every listed item's price and stock as uploaded, and how fast.
//!
//! Every question goes through `Engine::answer` as the API would send it; a "more" question
//! is sent after the questions before it, in one conversation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::demo::{index_demo, Split};
use super::metrics::percentile;
use super::EvalError;
use crate::answer::{Answer, AnswerSettings, Mode, Role, Turn};
use crate::engine::{Engine, EngineLimits, History};
use crate::eval::Retrieval;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    List,
    Filter,
    Sort,
    Compare,
    More,
    None,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogQuestion {
    pub split: Split,
    pub kind: QuestionKind,
    pub language: String,
    pub question: String,
    /// The products meant, by their name as uploaded.
    pub expected: Vec<String>,
    #[serde(default)]
    pub before: Vec<String>,
    #[serde(default)]
    pub ordered: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct CatalogEvalFile {
    questions: Vec<CatalogQuestion>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct KindReport {
    pub questions: usize,
    pub precision: f64,
    pub recall: f64,
    /// Questions whose products are exactly the expected ones.
    pub exact: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CatalogReport {
    pub business: String,
    pub split: Split,
    pub questions: usize,
    /// Mean over questions of the share of listed products that were expected (a reply
    /// listing nothing for a question expecting nothing is 1).
    pub precision: f64,
    /// Mean over questions of the share of expected products listed.
    pub recall: f64,
    pub exact: usize,
    pub by_kind: BTreeMap<QuestionKind, KindReport>,
    /// Products shown in replies, and how many of them carry their price and stock exactly as
    /// uploaded.
    pub items_shown: usize,
    pub items_exact: usize,
    /// "Ordered" questions listed in the expected order.
    pub ordered: usize,
    pub ordered_right: usize,
    /// "More" replies that showed a product the reply before had shown.
    pub more_repeats: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub problems: Vec<String>,
}

/// Indexes every (or one) demo business with a catalog eval file and scores it, per split
/// (or only `split`).
pub fn evaluate(
    corpus_dir: &Path,
    only: Option<&str>,
    split: Option<Split>,
    settings: AnswerSettings,
    retrieval: &Retrieval,
) -> Result<Vec<CatalogReport>, EvalError> {
    let scratch = tempfile::tempdir()?;
    let engine = retrieval.apply(
        Engine::open(scratch.path(), EngineLimits::default())?.with_answer_settings(settings),
    )?;
    let mut reports = Vec::new();
    for (id, _) in index_demo(&engine, corpus_dir, only)? {
        let path = corpus_dir.join(&id).join("catalog-eval.json");
        if !path.exists() {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let file: CatalogEvalFile = serde_json::from_slice(&bytes)
            .map_err(|e| EvalError::data(&path, format!("not a catalog eval file: {e}")))?;
        for split in Split::ALL
            .into_iter()
            .filter(|s| split.is_none_or(|o| o == *s))
        {
            let questions: Vec<&CatalogQuestion> =
                file.questions.iter().filter(|q| q.split == split).collect();
            if !questions.is_empty() {
                reports.push(score(&engine, &id, split, &questions)?);
            }
        }
    }
    Ok(reports)
}

/// The products an answer lists: a catalog answer's matches, a single product's reply its
/// product, anything else none.
fn listed(answer: &Answer) -> Vec<String> {
    match (&answer.catalog, answer.mode) {
        (Some(result), _) => result.products.iter().map(|p| p.title.clone()).collect(),
        (None, Mode::Catalog) => answer.sources.iter().map(|s| s.title.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The products an answer shows in its text.
fn shown(answer: &Answer) -> Vec<String> {
    match &answer.catalog {
        Some(result) => result.shown.iter().map(|p| p.title.clone()).collect(),
        None => listed(answer),
    }
}

fn ask(engine: &Engine, id: &str, question: &str, turns: &[Turn]) -> Result<Answer, EvalError> {
    Ok(engine.answer(id, question, History::Given(turns), &mut |_| {})?)
}

fn score(
    engine: &Engine,
    id: &str,
    split: Split,
    questions: &[&CatalogQuestion],
) -> Result<CatalogReport, EvalError> {
    let catalog = engine.catalog(id)?;
    let fields_of = |title: &str| {
        catalog
            .iter()
            .flat_map(|c| c.entries())
            .find(|e| e.title == title)
            .map(|e| e.fields.clone())
    };
    let mut latencies = Vec::new();
    let mut by_kind: BTreeMap<QuestionKind, Vec<(f64, f64, bool)>> = BTreeMap::new();
    let mut problems = Vec::new();
    let (mut items_shown, mut items_exact) = (0, 0);
    let (mut ordered, mut ordered_right, mut more_repeats) = (0, 0, 0);
    for q in questions {
        let mut turns = Vec::new();
        let mut shown_before: BTreeSet<String> = BTreeSet::new();
        for before in &q.before {
            let answer = ask(engine, id, before, &turns)?;
            shown_before.extend(shown(&answer));
            turns.push(Turn {
                role: Role::Customer,
                text: before.clone(),
            });
            turns.push(Turn {
                role: Role::Assistant,
                text: answer.text.clone(),
            });
        }
        let started = std::time::Instant::now();
        let answer = ask(engine, id, &q.question, &turns)?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        let got = listed(&answer);
        let got_set: BTreeSet<&str> = got.iter().map(String::as_str).collect();
        let want: BTreeSet<&str> = q.expected.iter().map(String::as_str).collect();
        let right = got_set.intersection(&want).count();
        let precision = match (got_set.is_empty(), want.is_empty()) {
            (true, true) => 1.0,
            (true, false) => 0.0,
            _ => right as f64 / got_set.len() as f64,
        };
        let recall = if want.is_empty() {
            f64::from(got_set.is_empty())
        } else {
            right as f64 / want.len() as f64
        };
        let exact = got_set == want;
        by_kind
            .entry(q.kind)
            .or_default()
            .push((precision, recall, exact));
        if q.ordered {
            ordered += 1;
            if got == q.expected {
                ordered_right += 1;
            }
        }
        let now_shown = shown(&answer);
        if q.kind == QuestionKind::More && now_shown.iter().any(|t| shown_before.contains(t)) {
            more_repeats += 1;
        }
        for title in &now_shown {
            let Some(fields) = fields_of(title) else {
                continue;
            };
            items_shown += 1;
            let has = |value: &Option<String>| {
                value
                    .as_deref()
                    .is_none_or(|v| answer.text.contains(v.trim()))
            };
            // Sold out is said in words; a count is quoted.
            let stock_said = fields
                .stock
                .as_deref()
                .is_none_or(|s| s.trim() == "0" || answer.text.contains(s.trim()));
            if has(&fields.price) && stock_said {
                items_exact += 1;
            } else {
                problems.push(format!(
                    "{:?}: {title} shown without its price or stock as uploaded",
                    q.question
                ));
            }
        }
        if !exact {
            let missing: Vec<&&str> = want.difference(&got_set).collect();
            let extra: Vec<&&str> = got_set.difference(&want).collect();
            problems.push(format!(
                "[{:?}] {:?} ({}): missing {missing:?}, extra {extra:?}",
                q.kind,
                q.question,
                answer.mode.as_str()
            ));
        }
    }
    let mean = |values: &[(f64, f64, bool)], pick: fn(&(f64, f64, bool)) -> f64| {
        if values.is_empty() {
            1.0
        } else {
            values.iter().map(pick).sum::<f64>() / values.len() as f64
        }
    };
    let all: Vec<(f64, f64, bool)> = by_kind.values().flatten().copied().collect();
    let kinds = by_kind
        .iter()
        .map(|(kind, values)| {
            (
                *kind,
                KindReport {
                    questions: values.len(),
                    precision: mean(values, |v| v.0),
                    recall: mean(values, |v| v.1),
                    exact: values.iter().filter(|v| v.2).count(),
                },
            )
        })
        .collect();
    Ok(CatalogReport {
        business: id.to_string(),
        split,
        questions: questions.len(),
        precision: mean(&all, |v| v.0),
        recall: mean(&all, |v| v.1),
        exact: all.iter().filter(|v| v.2).count(),
        by_kind: kinds,
        items_shown,
        items_exact,
        ordered,
        ordered_right,
        more_repeats,
        p50_ms: percentile(&latencies, 50.0),
        p95_ms: percentile(&latencies, 95.0),
        problems,
    })
}
