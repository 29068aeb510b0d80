//! The answer pipeline against the demo businesses' eval files: does the reply hold the
//! expected facts, does it state anything its sources do not, and does it abstain exactly when
//! the documents cannot answer.
//!
//! Every question goes through `Engine::answer` as the API would send it (a fresh conversation
//! each), so latencies include retrieval, the decision, generation, the check and the store.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::demo::{by_split, index_demo, EvalQuestion, Split};
use super::metrics::percentile;
use super::EvalError;
use crate::answer::{language, Judge};
use crate::answer::{unsupported, AnswerSettings, Evidence, Mode};
use crate::engine::{Engine, EngineLimits, History};
use crate::eval::Retrieval;
use crate::llm::ChatModel;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModeReport {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AnswerReport {
    pub business: String,
    pub split: Split,
    pub questions: usize,
    /// Answerable questions whose judged passage is in the top 5.
    pub hit_at_5: f64,
    /// Expected facts found in the replies, over all answerable questions' facts.
    pub fact_recall: f64,
    /// Replies holding a figure, address or name that their cited sources do not.
    pub unsupported: usize,
    /// Replies holding one of their question's `not_facts` (judged by the eval file, not by
    /// the pipeline's own check).
    pub not_facts_hits: usize,
    pub abstain_precision: f64,
    pub abstain_recall: f64,
    /// Replies that were an FAQ entry's answer, and the share of them whose entry is one the
    /// question names as its answer.
    pub faq_replies: usize,
    pub faq_precision: f64,
    /// Answerable questions in another language than the documents', and the share of them
    /// answered with every expected fact.
    pub cross_language: usize,
    pub cross_language_answered: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub modes: BTreeMap<String, ModeReport>,
    /// Replies the model drafted, and how many of those failed the fact check (and were
    /// replaced by extractive ones).
    pub drafts: usize,
    pub drafts_rejected: usize,
    pub drafts_accepted: usize,
    /// Share of the answered (not abstained) questions whose reply the model wrote.
    pub generated_share: f64,
    /// Median length in words of the replies that answered.
    pub median_words: f64,
    /// Share of the answered questions whose reply is in the question's language (the eval
    /// file's `language`, else the documents'); a reply whose language the detector cannot
    /// tell counts as the documents'.
    pub reply_language_match: f64,
    /// Time the model took per draft (prompt, generation and check), accepted or not.
    pub draft_p50_ms: f64,
    pub draft_p95_ms: f64,
    /// Questions that went wrong, for reading: missing facts, wrong abstentions, unsupported
    /// spans.
    pub problems: Vec<String>,
}

/// Indexes every (or one) demo business into a scratch data dir and runs its eval file
/// through the answer pipeline with `model` (None: no generated path) and `judge` (None: the
/// calibration decides alone): one report per business and split (dev first).
pub fn evaluate(
    corpus_dir: &Path,
    only: Option<&str>,
    model: Option<Arc<ChatModel>>,
    judge: Option<Arc<Judge>>,
    settings: AnswerSettings,
    retrieval: &Retrieval,
) -> Result<Vec<AnswerReport>, EvalError> {
    let scratch = tempfile::tempdir()?;
    let engine = retrieval.apply(
        Engine::open(scratch.path(), EngineLimits::default())?.with_answer_settings(settings),
    )?;
    engine.set_model(model);
    engine.set_judge(judge);
    by_split(
        index_demo(&engine, corpus_dir, only)?,
        |id, split, questions| score(&engine, id, split, questions),
    )
}

fn share(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        1.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Scores one business's questions (the engine already holds its documents).
pub fn score(
    engine: &Engine,
    id: &str,
    split: Split,
    questions: &[EvalQuestion],
) -> Result<AnswerReport, EvalError> {
    let mut latencies = Vec::new();
    let mut by_mode: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut judged, mut hits_at_5) = (0, 0);
    let (mut facts, mut facts_found) = (0, 0);
    let mut unsupported_replies = 0;
    let mut not_facts_hits = 0;
    let (mut abstained, mut abstained_right, mut unanswerable) = (0, 0, 0);
    let mut problems = Vec::new();
    let (mut drafts, mut drafts_rejected) = (0, 0);
    let mut draft_times = Vec::new();
    let (mut faq_replies, mut faq_right) = (0, 0);
    let (mut foreign, mut foreign_answered) = (0, 0);
    let (mut answered, mut generated, mut language_matches) = (0, 0, 0);
    let mut reply_words = Vec::new();
    let documents_language = engine.business(id)?.language;
    for q in questions {
        let hits = engine.search(id, &q.question, 5)?;
        let catalog = engine.catalog(id)?;
        if q.answerable && !q.passages.is_empty() {
            judged += 1;
            if hits.iter().any(|h| q.passages.iter().any(|p| p.matches(h))) {
                hits_at_5 += 1;
            }
        }
        let started = Instant::now();
        let answer = engine.answer(id, &q.question, History::Stored(None), &mut |_| {})?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        latencies.push(elapsed);
        by_mode
            .entry(answer.mode.as_str().to_string())
            .or_default()
            .push(elapsed);
        if let Some(generation) = &answer.generation {
            drafts += 1;
            draft_times.push(answer.timings.generate_ms);
            drafts_rejected += usize::from(generation.rejected.is_some());
            if let Some(span) = &generation.rejected {
                problems.push(format!("draft withdrawn at {span:?} for {:?}", q.question));
            }
        }
        let is_abstained = answer.mode == Mode::Abstained;
        if !is_abstained {
            answered += 1;
            generated += usize::from(answer.mode == Mode::Generated);
            reply_words.push(answer.text.split_whitespace().count() as f64);
            let wanted = q.language.as_deref().unwrap_or(&documents_language);
            let written = language::detect(&answer.text, &documents_language);
            if written == wanted {
                language_matches += 1;
            } else {
                problems.push(format!(
                    "reply in {written:?} to a question in {wanted:?}: {:?}",
                    q.question
                ));
            }
        }
        if !q.answerable {
            unanswerable += 1;
        }
        if answer.mode == Mode::Faq {
            faq_replies += 1;
            let top = answer.sources.first();
            let right =
                q.answerable && top.is_some_and(|s| q.passages.iter().any(|p| p.matches_source(s)));
            if right {
                faq_right += 1;
            } else {
                problems.push(format!(
                    "faq reply from {:?} to {:?}",
                    top.map(|s| s.title.as_str()).unwrap_or_default(),
                    q.question
                ));
            }
        }
        let cross_language = q
            .language
            .as_deref()
            .is_some_and(|l| l != documents_language);
        if q.answerable && cross_language {
            foreign += 1;
            let lowered = answer.text.to_lowercase();
            if !is_abstained && q.facts.iter().all(|f| lowered.contains(&f.to_lowercase())) {
                foreign_answered += 1;
            }
        }
        if is_abstained {
            abstained += 1;
            if !q.answerable {
                abstained_right += 1;
            } else {
                problems.push(format!("abstained on answerable {:?}", q.question));
            }
        } else if !q.answerable {
            problems.push(format!(
                "answered unanswerable {:?} ({}): {:?}",
                q.question,
                answer.mode.as_str(),
                answer.text
            ));
        }
        let lowered = answer.text.to_lowercase();
        let wrong: Vec<&String> = q
            .not_facts
            .iter()
            .filter(|f| lowered.contains(&f.to_lowercase()))
            .collect();
        if !wrong.is_empty() {
            not_facts_hits += 1;
            problems.push(format!(
                "not-facts {wrong:?} in reply to {:?} ({}): {:?}",
                q.question,
                answer.mode.as_str(),
                answer.text
            ));
        }
        if q.answerable {
            let text = &lowered;
            for fact in &q.facts {
                facts += 1;
                if text.contains(&fact.to_lowercase()) {
                    facts_found += 1;
                } else if !is_abstained {
                    problems.push(format!(
                        "fact {fact:?} missing for {:?} ({}): {:?}",
                        q.question,
                        answer.mode.as_str(),
                        answer.text
                    ));
                }
            }
        }
        if !is_abstained {
            // The cited passages' full text: the engine retrieved them for this same question;
            // a catalog listing cites products from the whole catalog, read with their fields.
            let cited_hits: Vec<&crate::index::Hit> = hits
                .iter()
                .filter(|h| {
                    answer
                        .sources
                        .iter()
                        .any(|s| s.document == h.document && s.passage == h.ordinal)
                })
                .collect();
            let listed: Vec<String> = match (&answer.catalog, &catalog) {
                (Some(_), Some(catalog)) => catalog
                    .entries()
                    .iter()
                    .filter(|e| {
                        answer
                            .sources
                            .iter()
                            .any(|s| s.document == e.document && s.passage == e.ordinal)
                    })
                    .map(|e| e.fields.texts().join("\n"))
                    .collect(),
                _ => Vec::new(),
            };
            let evidence = Evidence::new(
                cited_hits
                    .iter()
                    .flat_map(|h| {
                        [h.title.as_str(), h.text.as_str()]
                            .into_iter()
                            .chain(h.heading_path.iter().map(String::as_str))
                    })
                    .chain(listed.iter().map(String::as_str)),
            );
            // clerk's own catalog labels ("Preis", "Vorrätig") need no source; all else does.
            let mut own = crate::answer::language::own_words();
            own.push(id);
            let bad = unsupported(&answer.text, &evidence, &own);
            if !bad.is_empty() {
                unsupported_replies += 1;
                problems.push(format!(
                    "unsupported {:?} in reply to {:?} ({}): {:?}",
                    bad.iter().map(|b| b.span.as_str()).collect::<Vec<_>>(),
                    q.question,
                    answer.mode.as_str(),
                    answer.text
                ));
            }
        }
    }
    let modes = by_mode
        .into_iter()
        .map(|(mode, times)| {
            let report = ModeReport {
                count: times.len(),
                p50_ms: percentile(&times, 50.0),
                p95_ms: percentile(&times, 95.0),
            };
            (mode, report)
        })
        .collect();
    Ok(AnswerReport {
        business: id.to_string(),
        split,
        questions: questions.len(),
        hit_at_5: share(hits_at_5, judged),
        fact_recall: share(facts_found, facts),
        unsupported: unsupported_replies,
        not_facts_hits,
        abstain_precision: share(abstained_right, abstained),
        abstain_recall: share(abstained_right, unanswerable),
        faq_replies,
        faq_precision: share(faq_right, faq_replies),
        cross_language: foreign,
        cross_language_answered: share(foreign_answered, foreign),
        p50_ms: percentile(&latencies, 50.0),
        p95_ms: percentile(&latencies, 95.0),
        modes,
        drafts,
        drafts_rejected,
        drafts_accepted: drafts - drafts_rejected,
        generated_share: share(generated, answered),
        median_words: percentile(&reply_words, 50.0),
        reply_language_match: share(language_matches, answered),
        draft_p50_ms: percentile(&draft_times, 50.0),
        draft_p95_ms: percentile(&draft_times, 95.0),
        problems,
    })
}
