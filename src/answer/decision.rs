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

use crate::index::Hit;

/// With vectors: an FAQ entry answers with its own text when the customer's question is at
/// least this similar to the entry's question (fitted with the calibration).
pub const FAQ_SIMILARITY: f32 = 0.8764;

/// What one passage brings to the decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PassageEvidence {
    /// Share (0–1) of the question the passage covers, words weighted by rarity.
    pub coverage: f32,
    /// Cosine similarity of the question with the passage (None without vectors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
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
}

/// Number of features the model weighs.
pub const FEATURES: usize = 5;

/// The features, as measured for one passage.
pub type Features = [f32; FEATURES];

/// Weights of the logistic model over the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub intercept: f32,
    pub coverage: f32,
    pub similarity: f32,
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
        intercept: -2.2528,
        coverage: 3.3628,
        similarity: 20.952,
        question_similarity: 1.2146,
        margin: 11.704,
        foreign: 1.1098,
        threshold: 0.47,
    };

    /// The features in the model's order (similarities as distances from 0.8, e5's middle
    /// ground, so the intercept stays small).
    pub fn features(
        coverage: f32,
        similarity: f32,
        question: Option<f32>,
        margin: f32,
        foreign: bool,
    ) -> Features {
        [
            coverage,
            similarity - 0.8,
            question.map_or(0.0, |q| q - 0.8),
            margin,
            f32::from(u8::from(foreign)),
        ]
    }

    fn weights(&self) -> Features {
        [
            self.coverage,
            self.similarity,
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

/// The evidence of every hit (in order); `None` entries for similarity when the index has no
/// vectors. With vectors the confidence is calibrated; without, it is the coverage itself.
pub fn weigh(hits: &[Hit], foreign: bool, calibration: &Calibration) -> Vec<PassageEvidence> {
    let best = |h: &Hit| {
        h.similarity
            .map(|s| h.question_similarity.map_or(s, |q| q.max(s)))
    };
    hits.iter()
        .enumerate()
        .map(|(i, h)| {
            let coverage = h.coverage.unwrap_or(0.0);
            let Some(mine) = best(h) else {
                return PassageEvidence {
                    coverage,
                    similarity: None,
                    question_similarity: None,
                    margin: None,
                    foreign,
                    confidence: coverage,
                };
            };
            let others = hits
                .iter()
                .enumerate()
                .filter(|&(j, o)| j != i && !same_answer(h, o))
                .filter_map(|(_, o)| best(o))
                .fold(f32::MIN, f32::max);
            let margin = if others == f32::MIN {
                0.0
            } else {
                mine - others
            };
            let similarity = h.similarity.unwrap_or(0.0);
            let features =
                Calibration::features(coverage, similarity, h.question_similarity, margin, foreign);
            PassageEvidence {
                coverage,
                similarity: h.similarity,
                question_similarity: h.question_similarity,
                margin: Some(margin),
                foreign,
                confidence: calibration.probability(features),
            }
        })
        .collect()
}

/// Chunks of one section (same document, title and headings) are one answer, not rivals.
fn same_answer(a: &Hit, b: &Hit) -> bool {
    a.document == b.document && a.title == b.title && a.heading_path == b.heading_path
}

/// Fits the calibration by logistic regression (gradient descent, a little L2) on feature
/// rows labelled true where the passage answers the question; the threshold is the
/// probability that classifies the most rows right.
pub fn fit(rows: &[(Features, bool)]) -> Calibration {
    // Standardized features converge evenly (a similarity varies over ~0.1, a coverage over
    // 1); the weights are mapped back to the raw features at the end.
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
    let mut calibration = Calibration {
        intercept: intercept as f32,
        coverage: raw[0] as f32,
        similarity: raw[1] as f32,
        question_similarity: raw[2] as f32,
        margin: raw[3] as f32,
        foreign: raw[4] as f32,
        threshold: 0.5,
    };
    let mut best = (0usize, 0.5f32);
    for step in 1..100 {
        let t = step as f32 / 100.0;
        let right = rows
            .iter()
            .filter(|(x, y)| (calibration.probability(*x) >= t) == *y)
            .count();
        // Ties go to the threshold nearest 0.5.
        if right > best.0 || (right == best.0 && (t - 0.5).abs() < (best.1 - 0.5).abs()) {
            best = (right, t);
        }
    }
    calibration.threshold = best.1;
    calibration
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_separates_what_the_features_separate() {
        let rows: Vec<(Features, bool)> = (0..200)
            .map(|i| {
                let answerable = i % 2 == 0;
                let s = if answerable { 0.9 } else { 0.75 } + (i % 7) as f32 * 0.005;
                ([0.5, s - 0.8, 0.0, 0.0, 0.0], answerable)
            })
            .collect();
        let c = fit(&rows);
        assert!(c.similarity > 0.0, "{c:?}");
        let right = rows
            .iter()
            .filter(|(x, y)| (c.probability(*x) >= c.threshold) == *y)
            .count();
        assert_eq!(right, rows.len());
    }
}
