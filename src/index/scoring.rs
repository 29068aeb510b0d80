//! BM25F scoring over tantivy's postings, with a proximity bonus.
//!
//! tantivy's own BM25 fixes k1 = 1.2 and b = 0.75 and scores each field on its own; questions
//! answered from a title and a body do better when the fields are combined before saturation
//! (BM25F: a term seen in the title and the body counts once, weighted), with length
//! normalization per field. This module reads tantivy's postings and field norms directly and
//! accumulates scores term by term, each segment on its own rayon task, pruning passages that
//! can no longer reach the shortlist; it never touches stored documents.

use std::collections::HashMap;

use rayon::prelude::*;

use super::analysis::Language;
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
    /// How strongly a passage holding this term shows it is about the question word (0–1):
    /// the word itself fully, a synonym nearly so, a guessed correction much less.
    pub evidence: f32,
    /// One half of a split compound: it shows the question word only together with the other.
    pub part: bool,
}

/// Seeking to one passage in a postings list costs about this many postings read in a row.
const SEEK_COST: usize = 16;

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
    /// The index's language: German and Dutch build compounds, so question words then also
    /// match their parts and the compounds they begin; German folds ae/oe/ue.
    pub language: Language,
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

    pub fn idf(&self, doc_freq: u64) -> f32 {
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
        let idfs: Vec<f32> = terms
            .iter()
            .map(|t| self.doc_freq(&t.text).map(|df| self.idf(df)))
            .collect::<tantivy::Result<_>>()?;
        // Proximity re-ranks a short list; it is cheap there and meaningless further down.
        let shortlist = limit.max(30);
        let segments = self.raw_scores(terms, &idfs, shortlist)?;
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

    /// Raw BM25F scores of each segment's passages (dense, by doc id) and the passages matched;
    /// a passage that cannot reach the best `shortlist` of its segment may be left out of the
    /// matches, and its score then stops short.
    fn raw_scores(
        &self,
        terms: &[WeightedTerm],
        idfs: &[f32],
        shortlist: usize,
    ) -> tantivy::Result<Vec<(Vec<f32>, Vec<DocId>)>> {
        let averages = self.average_lengths()?;
        // Per field, what one occurrence is worth at each field length (tantivy stores lengths
        // as one-byte codes).
        let length_factor: Vec<[f32; 256]> = (0..3)
            .map(|fi| {
                let (w, b, avg) = (self.params.weights[fi], self.params.b[fi], averages[fi]);
                std::array::from_fn(|id| {
                    let len = FieldNormReader::id_to_fieldnorm(id as u8) as f32;
                    w / (1.0 - b + b * len / avg)
                })
            })
            .collect();
        // Terms by the most they can add to a passage, largest first: once the terms left
        // cannot lift a passage that has nothing yet past the shortlist's current cut, they
        // only need visiting on the passages still in the running.
        let k1 = self.params.k1;
        let mut order: Vec<usize> = (0..terms.len()).collect();
        let bound = |t: usize| terms[t].weight * idfs[t] * (k1 + 1.0);
        order.sort_by(|&a, &b| bound(b).total_cmp(&bound(a)));
        let mut rest: Vec<f32> = order.iter().map(|&t| bound(t)).collect();
        for i in (0..rest.len().saturating_sub(1)).rev() {
            rest[i] += rest[i + 1];
        }
        // Segments are independent until their scores meet, so they are scored in parallel
        // (rayon's pool; a lone segment runs on the calling thread).
        self.searcher
            .segment_readers()
            .par_iter()
            .map(|segment| {
                self.score_segment(
                    segment,
                    terms,
                    idfs,
                    &order,
                    &rest,
                    &length_factor,
                    shortlist,
                )
            })
            .collect()
    }

    /// Raw BM25F scores of one segment's passages (dense, by doc id) and the passages matched.
    #[allow(clippy::too_many_arguments)]
    fn score_segment(
        &self,
        segment: &tantivy::SegmentReader,
        terms: &[WeightedTerm],
        idfs: &[f32],
        order: &[usize],
        rest: &[f32],
        length_factor: &[[f32; 256]],
        shortlist: usize,
    ) -> tantivy::Result<(Vec<f32>, Vec<DocId>)> {
        let max_doc = segment.max_doc() as usize;
        let k1 = self.params.k1;
        let mut scores = vec![0f32; max_doc];
        let mut term_tf = vec![0f32; max_doc];
        let mut touched: Vec<DocId> = Vec::new();
        let mut matched: Vec<DocId> = Vec::new();
        let mut best = 0f32;
        let mut pruned = false;
        let norms: Vec<FieldNormReader> = self
            .fields
            .iter()
            .map(|f| segment.get_fieldnorms_reader(*f))
            .collect::<tantivy::Result<_>>()?;
        let alive = segment.alive_bitset();
        // Once pruning starts, `running[doc]` says whether a passage is still in the running;
        // `matched` then lists the same passages, in document order.
        let mut running = Vec::new();
        for (step, &t) in order.iter().enumerate() {
            let term = &terms[t];
            // Once no newcomer can reach the cut, only passages still in the running are
            // visited; and as the terms left can add less, fewer stay in the running.
            if matched.len() >= shortlist && best > rest[step] {
                // Only scores above what the terms left could give a newcomer can make a cut
                // that shuts newcomers out.
                let mut top: Vec<f32> = matched
                    .iter()
                    .map(|&d| scores[d as usize])
                    .filter(|&s| s > rest[step])
                    .collect();
                let cut = if top.len() >= shortlist {
                    *top.select_nth_unstable_by(shortlist - 1, |a, b| b.total_cmp(a))
                        .1
                } else {
                    0.0
                };
                if cut > rest[step] {
                    let stays = |score: f32| score + rest[step] >= cut;
                    if pruned {
                        matched.retain(|&d| {
                            let keep = stays(scores[d as usize]);
                            running[d as usize] = keep;
                            keep
                        });
                    } else {
                        // One pass over the dense scores leaves the survivors in document
                        // order, which seeking needs (sorting tens of thousands of matches
                        // cost more than the pass).
                        running = vec![false; max_doc];
                        matched.clear();
                        for (doc, &score) in scores.iter().enumerate() {
                            if stays(score) {
                                running[doc] = true;
                                matched.push(doc as DocId);
                            }
                        }
                        pruned = true;
                    }
                }
            }
            for (fi, field) in self.fields.iter().enumerate() {
                let inverted = segment.inverted_index(*field)?;
                let key = Term::from_field_text(*field, &term.text);
                let factor = &length_factor[fi];
                let Some(info) = inverted.get_term_info(&key)? else {
                    continue;
                };
                let mut add = |doc: DocId, freq: u32| {
                    let slot = &mut term_tf[doc as usize];
                    if *slot == 0.0 {
                        touched.push(doc);
                    }
                    *slot += freq as f32 * factor[norms[fi].fieldnorm_id(doc) as usize];
                };
                // Few passages in the running against a long list: seek to each of them
                // (a skip and a search within a block, many times the cost of reading one
                // posting); otherwise read the list and skip those out of the running.
                if pruned && matched.len() * SEEK_COST < info.doc_freq as usize {
                    let mut postings = inverted
                        .read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
                    for &doc in &matched {
                        if postings.doc() > doc {
                            continue;
                        }
                        if postings.seek(doc) == doc {
                            add(doc, postings.term_freq());
                        } else if postings.doc() == TERMINATED {
                            break;
                        }
                    }
                    continue;
                }
                let mut block = inverted
                    .read_block_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
                loop {
                    let docs = block.docs();
                    if docs.is_empty() {
                        break;
                    }
                    for (&doc, &freq) in docs.iter().zip(block.freqs()) {
                        if !pruned || running[doc as usize] {
                            add(doc, freq);
                        }
                    }
                    block.advance();
                }
            }
            for doc in touched.drain(..) {
                let tf = std::mem::take(&mut term_tf[doc as usize]);
                if alive.is_some_and(|a| a.is_deleted(doc)) {
                    continue;
                }
                let score = &mut scores[doc as usize];
                if *score == 0.0 {
                    matched.push(doc);
                }
                *score += term.weight * idfs[t] * tf * (k1 + 1.0) / (k1 + tf);
                best = best.max(*score);
            }
        }
        Ok((scores, matched))
    }

    /// The passages that can reach the top `shortlist` once each is pulled toward the best
    /// score of its group, with their pulled scores.
    ///
    /// Pulling never lowers a score, so the `shortlist`-th best raw score `cut` bounds the final
    /// cut from below; and a passage never ends above its group's best raw score. So only groups
    /// whose best passage is at or above `cut` can lift anyone, and those best passages are
    /// among the raw top: their groups are found from the raw top alone, and every other
    /// passage is looked at only to see whether it belongs to one of them.
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
        let cut = if raw.len() > shortlist {
            let (_, nth, _) = raw.select_nth_unstable_by(shortlist - 1, |a, b| b.total_cmp(a));
            *nth
        } else {
            0.0
        };
        let lambda = self.params.group.clamp(0.0, 1.0);
        let columns = segments
            .iter()
            .enumerate()
            .map(|(ord, _)| {
                if lambda > 0.0 {
                    let fast = self.searcher.segment_reader(ord as u32).fast_fields();
                    fast.u64(schema::GROUP).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<tantivy::Result<Vec<_>>>()?;
        // The best raw score of each group that reaches the cut.
        let mut lifting: HashMap<u64, f32, KeyIsHash> = HashMap::default();
        for ((scores, matched), column) in segments.iter().zip(&columns) {
            let Some(column) = column else { continue };
            for &doc in matched {
                let score = scores[doc as usize];
                if score >= cut {
                    if let Some(key) = column.first(doc) {
                        let best = lifting.entry(key).or_insert(score);
                        *best = best.max(score);
                    }
                }
            }
        }
        let mut out: Vec<Scored> = Vec::new();
        let mut keys: Vec<Option<u64>> = Vec::new();
        for (ord, ((scores, matched), column)) in segments.iter().zip(&columns).enumerate() {
            keys.clear();
            keys.resize(matched.len(), None);
            if let (Some(column), false) = (column, lifting.is_empty()) {
                column.first_vals(matched, &mut keys);
            }
            for (&doc, key) in matched.iter().zip(&keys) {
                let mut score = scores[doc as usize];
                if let Some(best) = key.and_then(|k| lifting.get(&k)) {
                    score += lambda * (best - score);
                } else if score < cut {
                    continue;
                }
                out.push(Scored {
                    address: DocAddress::new(ord as u32, doc),
                    score,
                });
            }
        }
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
        // Each term's postings are opened once per field and walked forward over the
        // candidates in document order; pairs then compare the positions collected.
        let mut involved: Vec<usize> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        involved.sort_unstable();
        involved.dedup();
        let slot = |term: usize| involved.binary_search(&term).unwrap_or(0);
        let mut positions: Vec<Vec<u32>> = vec![Vec::new(); involved.len()];
        for (segment_ord, mut indices) in by_segment {
            indices.sort_unstable_by_key(|&i| candidates[i].address.doc_id);
            let segment = self.searcher.segment_reader(segment_ord);
            for field in [self.fields[0], self.fields[2]] {
                let inverted = segment.inverted_index(field)?;
                let mut postings = involved
                    .iter()
                    .map(|&t| {
                        inverted.read_postings(
                            &Term::from_field_text(field, &terms[t].text),
                            IndexRecordOption::WithFreqsAndPositions,
                        )
                    })
                    .collect::<std::io::Result<Vec<_>>>()?;
                for &i in &indices {
                    let doc = candidates[i].address.doc_id;
                    for (list, out) in postings.iter_mut().zip(positions.iter_mut()) {
                        out.clear();
                        if let Some(list) = list {
                            if list.doc() <= doc
                                && list.doc() != TERMINATED
                                && list.seek(doc) == doc
                            {
                                list.positions(out);
                            }
                        }
                    }
                    for &(a, b) in &pairs {
                        let (first, second) = (&positions[slot(a)], &positions[slot(b)]);
                        if let Some(gap) = closest_gap(first, second) {
                            let bonus = self.params.proximity * idfs[a].min(idfs[b]);
                            candidates[i].score += bonus / gap as f32;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Group keys are FNV hashes already: hashing them again (SipHash) was a tenth of a search.
#[derive(Default, Clone, Copy)]
struct KeyIsHash;

impl std::hash::BuildHasher for KeyIsHash {
    type Hasher = PassThrough;

    fn build_hasher(&self) -> PassThrough {
        PassThrough(0)
    }
}

struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
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
#[path = "scoring_tests.rs"]
mod tests;
