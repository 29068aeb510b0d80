//! Whether a passage answers the question: the evidence it brings, weighed by one calibration
//! fitted on the demo businesses' dev questions, instead of lists of words.
//!
//! The evidence of a passage is what the retrieval measured about it: the share of the
//! question's words it covers (by rarity), the sentence encoder's similarity of the question
//! to the passage and — for an FAQ entry — to the entry's own question, and how far its dense
//! similarity stands above the best other passage's (an ambiguous question has several
//! passages about as close). A logistic model turns these into the probability that the
//! question is answerable from this passage; the pipeline ranks its passages by it and abstains
//! below the calibrated threshold. Without vectors (BM25-only retrieval) coverage alone
//! decides, against `AnswerSettings::abstain_below`.
//!
//! The weights are fitted by `clerk eval calibrate` (logistic regression on every dev
//! question of every demo business, labelled by whether the passage decided on answers it)
//! and written here by hand with the figures it printed; the test split never enters the fit.

use serde::{Deserialize, Serialize};

use crate::index::{best_of, Hit};

/// With vectors: an FAQ entry answers with its own text when the customer's question is at
/// least this similar to the entry's question (fitted with the calibration).
pub const FAQ_SIMILARITY: f32 = 0.8909;

/// What one passage brings to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PassageEvidence {
    /// Share (0–1) of the question the passage covers, words weighted by rarity.
    pub coverage: f32,
    /// Cosine similarity of the question with the passage (None without vectors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// For prose of several sentences: cosine similarity of the question with the closest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentence_similarity: Option<f32>,
    /// For an FAQ entry: cosine similarity of the question with the entry's question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question_similarity: Option<f32>,
    /// This passage's best dense similarity minus the best of the other passages retrieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<f32>,
    /// The question is in another language than the documents.
    #[serde(default)]
    pub foreign: bool,
    /// The calibrated probability that the question is answered here.
    pub confidence: f32,
    /// The judge's log-odds that the passage answers (where it was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<f32>,
}

/// When the judge (a language model reading question and passage together) is asked, and
/// what it must say.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JudgeSettings {
    /// Passages asked about, strongest first, until one answers.
    pub candidates: usize,
    /// Passages below this calibrated confidence are not worth asking about.
    pub floor: f32,
    /// The log-odds of "yes" at or above which a passage answers.
    pub threshold: f32,
}

impl Default for JudgeSettings {
    /// Fitted by `clerk eval calibrate --judge qwen2.5-coder-1.5b` on the dev questions
    /// (133 of 149 decided right, against 130 by the calibration alone; 1.4 judgements per
    /// question).
    fn default() -> Self {
        JudgeSettings {
            candidates: 3,
            floor: 0.02,
            threshold: 0.0,
        }
    }
}

/// Number of features the model weighs.
pub const FEATURES: usize = 6;

/// The features, as measured for one passage.
pub type Features = [f32; FEATURES];

/// Weights of the logistic model over the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub intercept: f32,
    pub coverage: f32,
    pub similarity: f32,
    /// The closest sentence's similarity (the passage's own where it is one sentence).
    pub sentence_similarity: f32,
    pub question_similarity: f32,
    pub margin: f32,
    /// The question is in another language than the documents: lexical coverage is then
    /// expected to be low, and cross-lingual similarities run lower.
    pub foreign: f32,
    /// Answer at or above this probability.
    pub threshold: f32,
}

impl Calibration {
    /// Fitted by `clerk eval calibrate` on the dev split of every demo business (see the
    /// README for the run and its figures).
    pub const HYBRID: Calibration = Calibration {
        intercept: -3.0761,
        coverage: 2.3460,
        similarity: 8.5838,
        sentence_similarity: 9.4640,
        question_similarity: -1.1965,
        margin: 35.003,
        foreign: 0.9457,
        threshold: 0.25,
    };

    fn weights(&self) -> Features {
        [
            self.coverage,
            self.similarity,
            self.sentence_similarity,
            self.question_similarity,
            self.margin,
            self.foreign,
        ]
    }

    pub fn probability(&self, features: Features) -> f32 {
        let z = self.intercept
            + self
                .weights()
                .iter()
                .zip(features)
                .map(|(w, x)| w * x)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// The strongest dense signal of a hit, as retrieval ranks by it.
fn dense_best(h: &Hit) -> Option<f32> {
    h.similarity
        .map(|s| best_of(s, h.sentence_similarity, h.question_similarity))
}

/// The features of every hit (in order), or None when the index has no vectors. Similarities
/// are measured from 0.8, e5's middle ground, so the intercept stays small.
pub fn features(hits: &[Hit], foreign: bool) -> Option<Vec<Features>> {
    if hits.iter().any(|h| h.similarity.is_none()) {
        return None;
    }
    let features = hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mine = dense_best(h).unwrap_or(0.0);
            let others = hits
                .iter()
                .enumerate()
                .filter(|&(j, o)| j != i && !same_answer(h, o))
                .filter_map(|(_, o)| dense_best(o))
                .reduce(f32::max);
            let similarity = h.similarity.unwrap_or(0.0);
            [
                h.coverage.unwrap_or(0.0),
                similarity - 0.8,
                h.sentence_similarity.unwrap_or(similarity) - 0.8,
                h.question_similarity.map_or(0.0, |q| q - 0.8),
                others.map_or(0.0, |o| mine - o),
                f32::from(u8::from(foreign)),
            ]
        })
        .collect();
    Some(features)
}

/// The evidence of every hit (in order). With vectors the confidence is calibrated; without,
/// it is the coverage itself.
pub fn weigh(hits: &[Hit], foreign: bool, calibration: &Calibration) -> Vec<PassageEvidence> {
    let Some(features) = features(hits, foreign) else {
        return hits
            .iter()
            .map(|h| {
                let coverage = h.coverage.unwrap_or(0.0);
                PassageEvidence {
                    coverage,
                    similarity: None,
                    sentence_similarity: None,
                    question_similarity: None,
                    margin: None,
                    foreign,
                    confidence: coverage,
                    judgement: None,
                }
            })
            .collect();
    };
    hits.iter()
        .zip(features)
        .map(|(h, x)| PassageEvidence {
            coverage: x[0],
            similarity: h.similarity,
            sentence_similarity: h.sentence_similarity,
            question_similarity: h.question_similarity,
            margin: Some(x[4]),
            foreign,
            confidence: calibration.probability(x),
            judgement: None,
        })
        .collect()
}

/// Chunks of one section (same document, title and headings) are one answer, not rivals.
fn same_answer(a: &Hit, b: &Hit) -> bool {
    a.document == b.document && a.title == b.title && a.heading_path == b.heading_path
}

/// One dev question as the fit sees it: the features of each passage retrieved, in retrieval
/// order, and whether each answers the question (all false where nothing does).
#[derive(Debug, Clone)]
pub struct Judged {
    pub features: Vec<Features>,
    pub answers: Vec<bool>,
}

/// Fits the calibration in two steps that depend on nothing but the retrieval and the labels
/// (so refitting under the result gives the result again):
/// 1. a logistic model of "this passage answers the question", on every retrieved passage of
///    every question (gradient descent on standardized features, a little L2);
/// 2. the threshold at which deciding on each question's most confident passage — answer
///    when it reaches the threshold, else hand over — is right for the most questions.
pub fn fit(questions: &[Judged]) -> Calibration {
    let rows: Vec<(Features, bool)> = questions
        .iter()
        .flat_map(|q| q.features.iter().copied().zip(q.answers.iter().copied()))
        .collect();
    let (intercept, raw) = logistic(&rows);
    let mut calibration = Calibration {
        intercept,
        coverage: raw[0],
        similarity: raw[1],
        sentence_similarity: raw[2],
        question_similarity: raw[3],
        margin: raw[4],
        foreign: raw[5],
        threshold: 0.5,
    };
    let decided = decided(questions, &calibration);
    let mut best = (0usize, 0.5f32);
    for step in 1..100 {
        let t = step as f32 / 100.0;
        let right = decided.iter().filter(|(p, y)| (*p >= t) == *y).count();
        // Ties go to the threshold nearest 0.5.
        if right > best.0 || (right == best.0 && (t - 0.5).abs() < (best.1 - 0.5).abs()) {
            best = (right, t);
        }
    }
    calibration.threshold = best.1;
    calibration
}

impl Judged {
    /// The passage `calibration` is most confident in, if any was retrieved.
    pub fn strongest(&self, calibration: &Calibration) -> Option<usize> {
        let confidence = |i: usize| calibration.probability(self.features[i]);
        (0..self.features.len()).max_by(|&a, &b| confidence(a).total_cmp(&confidence(b)))
    }
}

/// Each question's strongest passage: its confidence, and whether deciding on it is answering
/// rightly (questions with no passage left out).
fn decided(questions: &[Judged], calibration: &Calibration) -> Vec<(f32, bool)> {
    questions
        .iter()
        .filter_map(|q| {
            let i = q.strongest(calibration)?;
            Some((calibration.probability(q.features[i]), q.answers[i]))
        })
        .collect()
}

/// How many questions `calibration` decides rightly (see `fit`), of how many.
pub fn decided_right(questions: &[Judged], calibration: &Calibration) -> (usize, usize) {
    let decided = decided(questions, calibration);
    let right = decided
        .iter()
        .filter(|(p, y)| (*p >= calibration.threshold) == *y)
        .count();
    (right, decided.len())
}

/// Logistic regression by gradient descent on standardized features (a similarity varies over
/// ~0.1, a coverage over 1: standardized, they converge evenly), mapped back to the raw ones.
fn logistic(rows: &[(Features, bool)]) -> (f32, Features) {
    let n = rows.len().max(1) as f64;
    let mut mean = [0f64; FEATURES];
    let mut spread = [0f64; FEATURES];
    for (x, _) in rows {
        for k in 0..FEATURES {
            mean[k] += x[k] as f64 / n;
        }
    }
    for (x, _) in rows {
        for k in 0..FEATURES {
            spread[k] += (x[k] as f64 - mean[k]).powi(2) / n;
        }
    }
    let spread = spread.map(|v| v.sqrt().max(1e-6));
    let mut w = [0f64; FEATURES + 1];
    let (rate, l2) = (0.5, 0.02);
    for _ in 0..5_000 {
        let mut grad = [0f64; FEATURES + 1];
        for (x, y) in rows {
            let mut xs = [1.0; FEATURES + 1];
            for k in 0..FEATURES {
                xs[k + 1] = (x[k] as f64 - mean[k]) / spread[k];
            }
            let z: f64 = w.iter().zip(&xs).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let err = p - f64::from(u8::from(*y));
            for (g, xi) in grad.iter_mut().zip(&xs) {
                *g += err * xi / n;
            }
        }
        for (k, (wk, g)) in w.iter_mut().zip(grad).enumerate() {
            let decay = if k == 0 { 0.0 } else { l2 * *wk };
            *wk -= rate * (g + decay);
        }
    }
    let raw: [f64; FEATURES] = std::array::from_fn(|k| w[k + 1] / spread[k]);
    let intercept = w[0] - (0..FEATURES).map(|k| raw[k] * mean[k]).sum::<f64>();
    (intercept as f32, raw.map(|r| r as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_separates_what_the_features_separate() {
        // Each question: the first passage answers it when it is answerable (even i), and
        // answering passages are the more similar ones.
        let questions: Vec<Judged> = (0..100)
            .map(|i| {
                let answerable = i % 2 == 0;
                let s = if answerable { 0.9 } else { 0.75 } + (i % 7) as f32 * 0.005;
                Judged {
                    features: vec![
                        [0.5, s - 0.8, s - 0.8, 0.0, 0.05, 0.0],
                        [0.3, -0.05, -0.05, 0.0, -0.05, 0.0],
                    ],
                    answers: vec![answerable, false],
                }
            })
            .collect();
        let c = fit(&questions);
        assert!(c.similarity + c.sentence_similarity > 0.0, "{c:?}");
        assert_eq!(decided_right(&questions, &c), (100, 100));
        // Refitting on the same data gives the same calibration: the fit does not depend on
        // the weights in force.
        assert_eq!(fit(&questions), c);
    }
}
