//! BM25F scoring over tantivy's postings, with a proximity bonus.
//!
//! tantivy's own BM25 fixes k1 = 1.2 and b = 0.75 and scores each field on its own; questions
//! answered from a title and a body do better when the fields are combined before saturation
//! (BM25F: a term seen in the title and the body counts once, weighted), with length
//! normalization per field. This module reads tantivy's postings and field norms directly and
//! accumulates scores term by term; it never touches stored documents.

use std::collections::HashMap;

use super::schema;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::Postings;
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, DocSet, Searcher, Term, TERMINATED};

/// Tuning of the scorer; the defaults are what the evaluations in the README were run with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25Params {
    pub k1: f32,
    /// Field weights and length-normalization strengths for title, headings, body.
    pub weights: [f32; 3],
    pub b: [f32; 3],
    /// Bonus for two consecutive question terms found close together, relative to their idf.
    pub proximity: f32,
    /// How far a passage's score moves toward the best score among passages of the same group
    /// (same document, title and headings: one question's answers, one section's chunks).
    pub group: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Bm25Params {
            k1: 1.5,
            weights: [2.5, 0.5, 1.0],
            b: [0.5, 0.5, 0.75],
            proximity: 0.3,
            group: 0.7,
        }
    }
}

/// One analyzed term of a question, with the share of a full match it earns (fuzzy and
/// decompounded terms earn less than exact ones).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTerm {
    pub text: String,
    pub weight: f32,
    /// Position of the question word it came from; consecutive positions earn proximity.
    pub position: usize,
    /// Whether it is the question's own word (proximity is only rewarded between those).
    pub exact: bool,
}

/// A scored passage before its stored fields are read.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    pub address: DocAddress,
    pub score: f32,
}

pub struct Scorer<'a> {
    pub searcher: &'a Searcher,
    pub fields: [Field; 3],
    pub params: Bm25Params,
    /// Passages in the index (manifest records excluded).
    pub passages: u64,
    /// Whether the language builds compounds (German, Dutch): question words then also match
    /// their parts and the compounds they begin.
    pub compounds: bool,
}

impl Scorer<'_> {
    /// Documents containing `text` in any text field (an upper bound on the true union is not
    /// needed: the largest per-field count is what BM25F implementations commonly use).
    pub fn doc_freq(&self, text: &str) -> tantivy::Result<u64> {
        let mut best = 0;
        for field in self.fields {
            best = best.max(
                self.searcher
                    .doc_freq(&Term::from_field_text(field, text))?,
            );
        }
        Ok(best)
    }

    fn idf(&self, doc_freq: u64) -> f32 {
        let n = self.passages.max(doc_freq) as f32;
        let df = doc_freq as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn average_lengths(&self) -> tantivy::Result<[f32; 3]> {
        let mut totals = [0u64; 3];
        for segment in self.searcher.segment_readers() {
            for (i, field) in self.fields.iter().enumerate() {
                totals[i] += segment.inverted_index(*field)?.total_num_tokens();
            }
        }
        let n = self.passages.max(1) as f32;
        Ok(totals.map(|t| (t as f32 / n).max(1.0)))
    }

    /// The `limit` best passages for `terms`, best first.
    pub fn top(&self, terms: &[WeightedTerm], limit: usize) -> tantivy::Result<Vec<Scored>> {
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let averages = self.average_lengths()?;
        let idfs: Vec<f32> = terms
            .iter()
            .map(|t| self.doc_freq(&t.text).map(|df| self.idf(df)))
            .collect::<tantivy::Result<_>>()?;
        // Proximity re-ranks a short list; it is cheap there and meaningless further down.
        let shortlist = limit.max(30);
        let mut segments: Vec<(Vec<f32>, Vec<DocId>)> = Vec::new();
        for segment in self.searcher.segment_readers() {
            let max_doc = segment.max_doc() as usize;
            let mut scores = vec![0f32; max_doc];
            let mut term_tf = vec![0f32; max_doc];
            let mut touched: Vec<DocId> = Vec::new();
            let mut matched: Vec<DocId> = Vec::new();
            let norms: Vec<FieldNormReader> = self
                .fields
                .iter()
                .map(|f| segment.get_fieldnorms_reader(*f))
                .collect::<tantivy::Result<_>>()?;
            let alive = segment.alive_bitset();
            for (term, idf) in terms.iter().zip(&idfs) {
                for (fi, field) in self.fields.iter().enumerate() {
                    let inverted = segment.inverted_index(*field)?;
                    let key = Term::from_field_text(*field, &term.text);
                    let Some(mut block) =
                        inverted.read_block_postings(&key, IndexRecordOption::WithFreqs)?
                    else {
                        continue;
                    };
                    let (w, b, avg) = (self.params.weights[fi], self.params.b[fi], averages[fi]);
                    let length_factor: Vec<f32> = (0..=255u8)
                        .map(|id| {
                            let len = FieldNormReader::id_to_fieldnorm(id) as f32;
                            w / (1.0 - b + b * len / avg)
                        })
                        .collect();
                    loop {
                        let docs = block.docs();
                        if docs.is_empty() {
                            break;
                        }
                        for (&doc, &freq) in docs.iter().zip(block.freqs()) {
                            let slot = &mut term_tf[doc as usize];
                            if *slot == 0.0 {
                                touched.push(doc);
                            }
                            *slot +=
                                freq as f32 * length_factor[norms[fi].fieldnorm_id(doc) as usize];
                        }
                        block.advance();
                    }
                }
                let k1 = self.params.k1;
                for doc in touched.drain(..) {
                    let tf = std::mem::take(&mut term_tf[doc as usize]);
                    if alive.is_some_and(|a| a.is_deleted(doc)) {
                        continue;
                    }
                    let score = &mut scores[doc as usize];
                    if *score == 0.0 {
                        matched.push(doc);
                    }
                    *score += term.weight * idf * tf * (k1 + 1.0) / (k1 + tf);
                }
            }
            segments.push((scores, matched));
        }
        let mut all = self.smooth_groups(&segments, shortlist)?;
        all.sort_unstable_by(by_score);
        all.truncate(shortlist);
        if self.params.proximity > 0.0 {
            self.add_proximity(terms, &idfs, &mut all)?;
            all.sort_unstable_by(by_score);
        }
        all.truncate(limit);
        Ok(all)
    }

    /// The passages that can reach the top `shortlist` once each is pulled toward the best
    /// score of its group, with their pulled scores.
    ///
    /// Pulling never lowers a score, so the `shortlist`-th best raw score `t` bounds the final
    /// cut from below, and a passage with raw score `s` ends at most at `(1-λ)s + λ·max`. Only
    /// passages above that bound are looked at, and every group's best member is among them
    /// whenever the group can matter, so the group maxima taken over them are exact.
    fn smooth_groups(
        &self,
        segments: &[(Vec<f32>, Vec<DocId>)],
        shortlist: usize,
    ) -> tantivy::Result<Vec<Scored>> {
        let mut raw: Vec<f32> = segments
            .iter()
            .flat_map(|(scores, matched)| matched.iter().map(|&d| scores[d as usize]))
            .collect();
        if raw.is_empty() {
            return Ok(Vec::new());
        }
        let max = raw.iter().copied().fold(0.0, f32::max);
        let cut = if raw.len() > shortlist {
            let (_, nth, _) = raw.select_nth_unstable_by(shortlist - 1, |a, b| b.total_cmp(a));
            *nth
        } else {
            0.0
        };
        let lambda = self.params.group.clamp(0.0, 1.0);
        let mut candidates: Vec<(Scored, Option<u64>)> = Vec::new();
        for (segment_ord, (scores, matched)) in segments.iter().enumerate() {
            let groups = if lambda > 0.0 {
                Some(
                    self.searcher
                        .segment_reader(segment_ord as u32)
                        .fast_fields()
                        .u64(schema::GROUP)?,
                )
            } else {
                None
            };
            for &doc in matched {
                let score = scores[doc as usize];
                if (1.0 - lambda) * score + lambda * max < cut {
                    continue;
                }
                candidates.push((
                    Scored {
                        address: DocAddress::new(segment_ord as u32, doc),
                        score,
                    },
                    groups.as_ref().and_then(|g| g.first(doc)),
                ));
            }
        }
        if lambda > 0.0 {
            let mut best: HashMap<u64, f32> = HashMap::new();
            for (scored, group) in &candidates {
                if let Some(group) = group {
                    let slot = best.entry(*group).or_insert(0.0);
                    *slot = slot.max(scored.score);
                }
            }
            for (scored, group) in &mut candidates {
                if let Some(top) = group.and_then(|g| best.get(&g)) {
                    scored.score += lambda * (top - scored.score);
                }
            }
        }
        let mut out: Vec<Scored> = candidates.into_iter().map(|(s, _)| s).collect();
        out.sort_unstable_by(by_score);
        out.truncate(shortlist);
        Ok(out)
    }

    /// Rewards passages where consecutive question words stand close together (in the same
    /// field), e.g. "opening hours" over a passage with "opening" in one sentence and "hours" in
    /// another.
    fn add_proximity(
        &self,
        terms: &[WeightedTerm],
        idfs: &[f32],
        candidates: &mut [Scored],
    ) -> tantivy::Result<()> {
        let pairs: Vec<(usize, usize)> = (0..terms.len())
            .flat_map(|i| (0..terms.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| {
                terms[i].exact && terms[j].exact && terms[j].position == terms[i].position + 1
            })
            .collect();
        if pairs.is_empty() {
            return Ok(());
        }
        let mut by_segment: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            by_segment.entry(c.address.segment_ord).or_default().push(i);
        }
        let mut positions_a = Vec::new();
        let mut positions_b = Vec::new();
        for (segment_ord, mut indices) in by_segment {
            indices.sort_unstable_by_key(|&i| candidates[i].address.doc_id);
            let segment = self.searcher.segment_reader(segment_ord);
            for field in [self.fields[0], self.fields[2]] {
                let inverted = segment.inverted_index(field)?;
                for &(a, b) in &pairs {
                    let open = |t: &WeightedTerm| {
                        inverted.read_postings(
                            &Term::from_field_text(field, &t.text),
                            IndexRecordOption::WithFreqsAndPositions,
                        )
                    };
                    let (Some(mut pa), Some(mut pb)) = (open(&terms[a])?, open(&terms[b])?) else {
                        continue;
                    };
                    let bonus = self.params.proximity * idfs[a].min(idfs[b]);
                    for &i in &indices {
                        let doc = candidates[i].address.doc_id;
                        if pa.doc() > doc || pb.doc() > doc {
                            continue;
                        }
                        if pa.seek(doc) != doc || pb.seek(doc) != doc {
                            if pa.doc() == TERMINATED || pb.doc() == TERMINATED {
                                break;
                            }
                            continue;
                        }
                        pa.positions(&mut positions_a);
                        pb.positions(&mut positions_b);
                        if let Some(gap) = closest_gap(&positions_a, &positions_b) {
                            candidates[i].score += bonus / gap as f32;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Best first; ties in document order, so results do not depend on sort internals.
fn by_score(a: &Scored, b: &Scored) -> std::cmp::Ordering {
    b.score
        .total_cmp(&a.score)
        .then(a.address.segment_ord.cmp(&b.address.segment_ord))
        .then(a.address.doc_id.cmp(&b.address.doc_id))
}

/// Smallest distance from an occurrence of the first term to a following occurrence of the
/// second, if it is within a short window (stop words removed still count as positions).
fn closest_gap(first: &[u32], second: &[u32]) -> Option<u32> {
    const WINDOW: u32 = 4;
    let mut best: Option<u32> = None;
    let mut j = 0;
    for &p in first {
        while j < second.len() && second[j] <= p {
            j += 1;
        }
        if let Some(&q) = second.get(j) {
            let gap = q - p;
            if gap <= WINDOW && best.is_none_or(|b| gap < b) {
                best = Some(gap);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::closest_gap;

    #[test]
    fn gap_is_smallest_forward_distance_within_window() {
        assert_eq!(closest_gap(&[1, 10], &[2, 30]), Some(1));
        assert_eq!(closest_gap(&[1], &[9]), None);
        assert_eq!(closest_gap(&[5], &[3]), None);
        assert_eq!(closest_gap(&[3, 7], &[5, 9]), Some(2));
    }
}
