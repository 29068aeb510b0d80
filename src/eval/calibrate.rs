//! `clerk eval calibrate`: fits the answer decision's calibration on the dev questions of every
//! demo business, and nothing else.
//!
//! Every dev question goes through the pipeline with abstention and the FAQ path turned off,
//! so the evidence of the passage it would be decided on is seen for every question. Each is
//! labelled by whether the reply's passage is one the question names as its answer (never,
//! for a question the documents do not answer), and the labels fit the logistic model
//! (`answer::decision::fit`); the FAQ
//! similarity threshold is the lowest at which the FAQ entries chosen are the labelled ones
//! for at least `FAQ_PRECISION` of the dev questions (an unanswerable one counts as wrong).
//!
//! The passages are still ranked by the calibration in force, so which passage is decided on
//! — and so the fit — depends on it: the weights in `Calibration::HYBRID` came from a run
//! under the ones before them, and a run under themselves gives others (threshold 0.38, 128
//! of 149). Fitting on a ranking that does not depend on the weights is still to do.

use std::path::Path;

use serde::Serialize;

use super::demo::{index_demo, Split};
use super::{EvalError, Retrieval};
use crate::answer::decision::{fit, Calibration};
use crate::answer::AnswerSettings;
use crate::engine::{Engine, EngineLimits, History};

/// Share of FAQ replies that must be the right entry on dev.
const FAQ_PRECISION: f64 = 0.9;

#[derive(Debug, Serialize)]
pub struct CalibrationReport {
    pub calibration: Calibration,
    pub faq_similarity: f32,
    /// Dev questions fitted on, and how many the fitted model classifies right.
    pub questions: usize,
    pub classified_right: usize,
    /// Dev questions whose passage is an FAQ entry, and how many of those the threshold lets
    /// through.
    pub faq_candidates: usize,
    pub faq_through: usize,
}

pub fn calibrate(corpus_dir: &Path, retrieval: &Retrieval) -> Result<CalibrationReport, EvalError> {
    if retrieval.embedder.is_none() {
        return Err(EvalError::data(
            corpus_dir,
            "calibration weighs dense evidence: run it with an encoder",
        ));
    }
    let scratch = tempfile::tempdir()?;
    let open = AnswerSettings {
        abstain_below: 0.0,
        faq_above: 2.0,
        faq_similarity: 2.0,
        calibration: Calibration {
            threshold: 0.0,
            ..Calibration::HYBRID
        },
        ..AnswerSettings::default()
    };
    let engine = retrieval
        .apply(Engine::open(scratch.path(), EngineLimits::default())?.with_answer_settings(open))?;
    let mut rows = Vec::new();
    let mut faq: Vec<(f32, bool)> = Vec::new();
    for (id, eval) in index_demo(&engine, corpus_dir, None)? {
        for q in eval.split(Split::Dev) {
            let answer = engine.answer(&id, &q.question, History::Stored(None), &mut |_| {})?;
            let Some(e) = answer.evidence else { continue };
            let features = Calibration::features(
                e.coverage,
                e.similarity.unwrap_or(0.0),
                e.question_similarity,
                e.margin.unwrap_or(0.0),
                e.foreign,
            );
            // Whether the passage decided on is one the question names as its answer: the
            // model learns when a passage answers, not only whether an answer exists.
            let right = q.answerable
                && (q.passages.is_empty()
                    || answer
                        .sources
                        .first()
                        .is_some_and(|s| q.passages.iter().any(|p| p.matches_source(s))));
            rows.push((features, right));
            // An FAQ reply to a question the documents do not answer is a wrong one too.
            if let Some(similarity) = e.question_similarity {
                faq.push((similarity, right));
            }
        }
    }
    let calibration = fit(&rows);
    let classified_right = rows
        .iter()
        .filter(|(x, y)| (calibration.probability(*x) >= calibration.threshold) == *y)
        .count();
    let faq_similarity = faq_threshold(&faq);
    Ok(CalibrationReport {
        calibration,
        faq_similarity,
        questions: rows.len(),
        classified_right,
        faq_candidates: faq.len(),
        faq_through: faq.iter().filter(|f| f.0 >= faq_similarity).count(),
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
