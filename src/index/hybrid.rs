//! Hybrid ranking: BM25F's shortlist and the dense shortlist merged, each passage scored by a
//! convex combination of its two normalized scores.
//!
//! Why not reciprocal-rank fusion: it throws the scores away, so a passage BM25 ranks second
//! by a hair and one it ranks second by a mile count the same; on paraphrased FAQ questions,
//! where BM25 is weak, that pulled plain RRF below dense retrieval alone. Here BM25 scores are
//! divided by the best BM25 score of the question (a passage BM25 did not shortlist counts
//! 0), dense similarities are spread over 0–1 between the lowest and highest of the merged
//! shortlist, and `bm25_weight` sets the mix. The dense score is the best of the question's
//! similarity to the passage, to its closest sentence and — for an FAQ entry, lowered to a
//! passage's scale — to the entry's own question (`Similarity::best`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tantivy::DocAddress;

use super::dense::Similarity;

/// How the two rankings are merged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HybridParams {
    /// Share of the fused score that is BM25's (the rest is the dense similarity's).
    pub bm25_weight: f32,
    /// Passages each ranking contributes to the merged shortlist.
    pub shortlist: usize,
}

impl Default for HybridParams {
    fn default() -> Self {
        // Fitted on the demo businesses' dev questions (see the README's figures).
        HybridParams {
            bm25_weight: 0.6,
            shortlist: 100,
        }
    }
}

/// One passage of the merged shortlist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fused {
    pub address: DocAddress,
    pub score: f32,
    pub bm25: Option<f32>,
    pub similarity: Option<Similarity>,
}

/// Merges `bm25` (best first) and `dense` (best first); `similarity` gives the dense evidence
/// of a BM25 passage the dense shortlist left out. Returns the merged list, best first.
pub fn fuse(
    params: &HybridParams,
    bm25: &[(DocAddress, f32)],
    dense: &[(DocAddress, Similarity)],
    similarity: impl Fn(DocAddress) -> Option<Similarity>,
) -> Vec<Fused> {
    let mut merged: HashMap<DocAddress, Fused> = HashMap::new();
    for &(address, score) in bm25 {
        merged.insert(
            address,
            Fused {
                address,
                score: 0.0,
                bm25: Some(score),
                similarity: similarity(address),
            },
        );
    }
    for &(address, s) in dense {
        merged
            .entry(address)
            .and_modify(|f| f.similarity = Some(s))
            .or_insert(Fused {
                address,
                score: 0.0,
                bm25: None,
                similarity: Some(s),
            });
    }
    let best_bm25 = bm25.iter().map(|b| b.1).fold(0.0f32, f32::max);
    let sims = merged
        .values()
        .filter_map(|f| f.similarity.map(|s| s.best()));
    let (low, high) = sims.fold((f32::MAX, f32::MIN), |(l, h), s| (l.min(s), h.max(s)));
    let spread = (high - low).max(1e-6);
    let w = params.bm25_weight.clamp(0.0, 1.0);
    let mut out: Vec<Fused> = merged
        .into_values()
        .map(|mut f| {
            let lexical = match f.bm25 {
                Some(b) if best_bm25 > 0.0 => b / best_bm25,
                _ => 0.0,
            };
            let dense = f.similarity.map_or(0.0, |s| (s.best() - low) / spread);
            f.score = w * lexical + (1.0 - w) * dense;
            f
        })
        .collect();
    out.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.address.cmp(&b.address)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(doc: u32) -> DocAddress {
        DocAddress::new(0, doc)
    }

    fn sim(passage: f32) -> Similarity {
        Similarity {
            passage,
            sentence: None,
            question: None,
        }
    }

    #[test]
    fn a_passage_both_rankings_like_wins() {
        let params = HybridParams {
            bm25_weight: 0.5,
            shortlist: 10,
        };
        let bm25 = [(at(1), 10.0), (at(2), 9.0)];
        let dense = [(at(2), sim(0.9)), (at(3), sim(0.88))];
        let fused = fuse(&params, &bm25, &dense, |a| {
            Some(sim(if a == at(1) { 0.7 } else { 0.0 }))
        });
        assert_eq!(fused[0].address, at(2));
        assert_eq!(fused.len(), 3);
    }

    #[test]
    fn the_weights_choose_between_the_rankings() {
        let bm25 = [(at(1), 10.0)];
        let dense = [(at(2), sim(0.9)), (at(1), sim(0.7))];
        let order = |w| {
            let params = HybridParams {
                bm25_weight: w,
                shortlist: 10,
            };
            fuse(&params, &bm25, &dense, |_| None)[0].address
        };
        assert_eq!(order(1.0), at(1));
        assert_eq!(order(0.0), at(2));
    }

    #[test]
    fn an_faq_entry_counts_its_question_similarity() {
        let params = HybridParams::default();
        let faq = Similarity {
            passage: 0.75,
            sentence: None,
            question: Some(0.95),
        };
        let dense = [(at(1), faq), (at(2), sim(0.85)), (at(3), sim(0.7))];
        assert_eq!(fuse(&params, &[], &dense, |_| None)[0].address, at(1));
    }
}
