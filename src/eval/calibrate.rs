//! `clerk eval calibrate`: fits the answer decision's calibration on the dev questions of every
//! demo business, and nothing else.
//!
//! Every dev question is retrieved for as the pipeline retrieves (the passages an answer
//! weighs, with their evidence), and each passage is labelled by whether the question names it
//! as its answer (never, for a question the documents do not answer). The labels fit the
//! logistic model and its threshold (`answer::decision::fit`); neither step depends on the
//! calibration in force, so a rerun under the fitted weights fits them again. The FAQ
//! similarity threshold is the lowest at which the FAQ entries decided on are the labelled
//! ones for at least `FAQ_PRECISION` of the dev questions (an unanswerable one counts as
//! wrong).
//!
//! With a judge, each question's strongest passages (by the fitted confidence) are judged
//! once, and the judge's confidence floor and log-odds threshold are the pair under which
//! deciding as the pipeline does — the first passage the judge accepts answers, none is a
//! hand-over — is right for the most dev questions.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::demo::{index_demo, Split};
use super::{EvalError, Retrieval};
use crate::answer::decision::{decided_right, fit, Calibration, JudgeSettings, Judged};
use crate::answer::Judge;
use crate::engine::{Engine, EngineLimits};
use crate::index::Hit;

/// Share of FAQ replies that must be the right entry on dev.
const FAQ_PRECISION: f64 = 0.9;

#[derive(Debug, Serialize)]
pub struct CalibrationReport {
    pub calibration: Calibration,
    pub faq_similarity: f32,
    /// Dev questions fitted on, and how many the fitted model decides rightly (answers from
    /// a passage that answers, or hands over where none does).
    pub questions: usize,
    pub classified_right: usize,
    /// Dev questions decided on an FAQ entry, and how many of those the threshold lets
    /// through.
    pub faq_candidates: usize,
    pub faq_through: usize,
    /// With a judge: its fitted settings and how many dev questions they decide rightly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeFit>,
}

#[derive(Debug, Serialize)]
pub struct JudgeFit {
    pub settings: JudgeSettings,
    pub decided_right: usize,
    /// Judgements made per question, on average, under these settings.
    pub judgements_per_question: f64,
}

pub fn calibrate(
    corpus_dir: &Path,
    retrieval: &Retrieval,
    judge: Option<Arc<Judge>>,
) -> Result<CalibrationReport, EvalError> {
    if retrieval.embedder.is_none() {
        return Err(EvalError::data(
            corpus_dir,
            "calibration weighs dense evidence: run it with an encoder",
        ));
    }
    let scratch = tempfile::tempdir()?;
    let engine = retrieval.apply(Engine::open(scratch.path(), EngineLimits::default())?)?;
    let mut judged = Vec::new();
    let mut faq_similarity = Vec::new();
    let mut retrieved = Vec::new();
    for (id, eval) in index_demo(&engine, corpus_dir, None)? {
        for q in eval.split(Split::Dev) {
            // An answerable question nobody named a passage for cannot label its passages.
            if q.answerable && q.passages.is_empty() {
                continue;
            }
            let (hits, features) = engine.weigh_passages(&id, &q.question)?;
            let Some(features) = features else { continue };
            let answers = hits
                .iter()
                .map(|h| q.answerable && q.passages.iter().any(|p| p.matches(h)))
                .collect();
            faq_similarity.push(hits.iter().map(|h| h.question_similarity).collect());
            judged.push(Judged { features, answers });
            retrieved.push((q.question.clone(), hits));
        }
    }
    let calibration = fit(&judged);
    let (classified_right, questions) = decided_right(&judged, &calibration);
    // The FAQ entry each question would be decided on, its similarity and whether it is right.
    let faq: Vec<(f32, bool)> = judged
        .iter()
        .zip(&faq_similarity)
        .filter_map(|(q, similarity): (&Judged, &Vec<Option<f32>>)| {
            let top = q.strongest(&calibration)?;
            similarity[top].map(|s| (s, q.answers[top]))
        })
        .collect();
    let faq_threshold = faq_threshold(&faq);
    let judge = match judge {
        Some(judge) => Some(fit_judge(&judge, &judged, &retrieved, &calibration)?),
        None => None,
    };
    Ok(CalibrationReport {
        calibration,
        faq_similarity: faq_threshold,
        questions,
        classified_right,
        faq_candidates: faq.len(),
        faq_through: faq.iter().filter(|f| f.0 >= faq_threshold).count(),
        judge,
    })
}

/// Judges each question's strongest passages once, then picks the floor and threshold under
/// which the pipeline's way of deciding is right for the most questions (ties: fewer
/// judgements, then the threshold nearest 0).
fn fit_judge(
    judge: &Judge,
    judged: &[Judged],
    retrieved: &[(String, Vec<Hit>)],
    calibration: &Calibration,
) -> Result<JudgeFit, EvalError> {
    let candidates = JudgeSettings::default().candidates;
    // Per question, its strongest passages: (confidence, log-odds, answers).
    let mut seen: Vec<Vec<(f32, f32, bool)>> = Vec::new();
    for (q, (question, hits)) in judged.iter().zip(retrieved) {
        let mut order: Vec<usize> = (0..hits.len()).collect();
        let confidence = |i: usize| calibration.probability(q.features[i]);
        order.sort_by(|&a, &b| confidence(b).total_cmp(&confidence(a)));
        let mut strongest = Vec::new();
        for &i in order.iter().take(candidates) {
            let log_odds = judge
                .judge(question, &hits[i])
                .map_err(|e| EvalError::data(Path::new("judge"), e))?;
            strongest.push((confidence(i), log_odds, q.answers[i]));
        }
        seen.push(strongest);
    }
    let decide = |floor: f32, threshold: f32| {
        let mut right = 0;
        let mut asked = 0;
        for strongest in &seen {
            let mut answered = None;
            for &(confidence, log_odds, answers) in strongest {
                if confidence < floor {
                    break;
                }
                asked += 1;
                if log_odds >= threshold {
                    answered = Some(answers);
                    break;
                }
            }
            let none_answers = strongest.iter().all(|s| !s.2);
            // Right: answered from a passage that answers, or handed over where none does.
            right += usize::from(answered.unwrap_or(none_answers));
        }
        (right, asked)
    };
    let mut best: Option<(usize, usize, JudgeSettings)> = None;
    for floor in [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3] {
        for step in -16..=16 {
            let threshold = step as f32 * 0.25;
            let (right, asked) = decide(floor, threshold);
            let better = best.as_ref().is_none_or(|&(r, a, s)| {
                (
                    right,
                    std::cmp::Reverse(asked),
                    std::cmp::Reverse((threshold.abs() * 100.0) as i32),
                ) > (
                    r,
                    std::cmp::Reverse(a),
                    std::cmp::Reverse((s.threshold.abs() * 100.0) as i32),
                )
            });
            if better {
                best = Some((
                    right,
                    asked,
                    JudgeSettings {
                        candidates,
                        floor,
                        threshold,
                    },
                ));
            }
        }
    }
    let (decided_right, asked, settings) = best.expect("the grid is not empty");
    Ok(JudgeFit {
        settings,
        decided_right,
        judgements_per_question: asked as f64 / seen.len().max(1) as f64,
    })
}

/// The lowest similarity at which every FAQ match at or above it is right often enough.
fn faq_threshold(faq: &[(f32, bool)]) -> f32 {
    let mut sorted = faq.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut threshold = 1.0;
    let mut right = 0;
    for (i, (similarity, ok)) in sorted.iter().enumerate() {
        right += usize::from(*ok);
        if right as f64 / (i + 1) as f64 >= FAQ_PRECISION {
            threshold = *similarity;
        }
    }
    threshold
}
