//! From a customer's question to weighted index terms.
//!
//! The question runs through the business's analyzer. A word whose stem is in the index is used
//! as is. A word that is not is what customers' typing produces: a compound the documents split
//! ("Kinderbuecher" against "Kinder" and "Buch"), or a typo ("opning", "Zauberbeg"). Compounds
//! are split against the index's own vocabulary; typos are matched to index terms within a small
//! edit distance (longer words tolerate more), at a reduced weight.

use std::collections::HashMap;
use std::sync::OnceLock;

use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, DFA};
use tantivy::tokenizer::TextAnalyzer;

use super::analysis::{fold, Language};
use super::glossary;
use super::scoring::{Scorer, WeightedTerm};

/// How much of a full match a corrected or split word earns.
const FUZZY_WEIGHT: [f32; 3] = [1.0, 0.7, 0.45];
const SPLIT_WEIGHT: f32 = 0.8;
const PREFIX_WEIGHT: f32 = 0.5;
/// What a word from the glossary earns for the question word it stands in for.
const GLOSSARY_WEIGHT: f32 = 0.5;
/// A glossary word in a passage is good evidence the passage is about the question's word,
/// even though it ranks below the word itself.
const GLOSSARY_EVIDENCE: f32 = 0.9;
/// How much a guessed correction shows the passage is about the customer's word: one edit in
/// a long word is usually the word itself ("Zauberbeg" → "zauberberg", 0.8), two edits in a
/// short stem are another word altogether ("insur" → "inner", 0.2).
fn fuzzy_evidence(term: &str, distance: u8) -> f32 {
    let length = term.chars().count().max(1) as f32;
    (1.0 - 2.0 * f32::from(distance) / length).max(0.0)
}
/// Stems shorter than this do not expand to the compounds they begin.
const MIN_PREFIX: usize = 5;
/// At most this many index terms stand in for one misspelt word.
const MAX_EXPANSIONS: usize = 3;

/// A question word as typed (folded, stop words removed) and its stem.
struct Word {
    surface: String,
    stem: String,
    position: usize,
}

fn words(surface: &mut TextAnalyzer, full: &mut TextAnalyzer, question: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut stream = surface.token_stream(question);
    while let Some(token) = stream.next() {
        let mut stems = full.token_stream(&token.text);
        let stem = stems
            .next()
            .map(|t| t.text.clone())
            .unwrap_or_else(|| token.text.clone());
        out.push(Word {
            surface: token.text.clone(),
            stem,
            position: token.position,
        });
    }
    out
}

/// Allowed edits for a word as typed: short words must be exact.
fn max_distance(surface: &str) -> u8 {
    match surface.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

pub(super) fn automaton_builder(distance: u8) -> &'static LevenshteinAutomatonBuilder {
    static BUILDERS: OnceLock<[LevenshteinAutomatonBuilder; 2]> = OnceLock::new();
    let builders = BUILDERS.get_or_init(|| {
        [
            LevenshteinAutomatonBuilder::new(1, true),
            LevenshteinAutomatonBuilder::new(2, true),
        ]
    });
    &builders[usize::from(distance.clamp(1, 2)) - 1]
}

struct Dfa<'a>(&'a DFA);

impl tantivy_fst::Automaton for Dfa<'_> {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != levenshtein_automata::SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// One question word's share of the evidence: how rare it is, and which index terms stand for it
/// (with what share of a full match each earns).
#[derive(Debug, Clone)]
pub struct WordEvidence {
    pub idf: f32,
    pub terms: Vec<(String, f32)>,
    /// The halves of a split compound, with what each shows alone (they add up).
    pub parts: Vec<(String, f32)>,
}

impl Scorer<'_> {
    /// Every question word (stop words and `ignored` surface forms excluded) with its rarity
    /// and the terms that stand for it.
    /// A word the index does not know at all counts as the rarest there is: a question about
    /// something the documents never mention is exactly what the answer step must notice.
    pub fn word_evidence(
        &self,
        surface: &mut TextAnalyzer,
        full: &mut TextAnalyzer,
        question: &str,
        terms: &[WeightedTerm],
        ignored: &dyn Fn(&str) -> bool,
    ) -> tantivy::Result<Vec<WordEvidence>> {
        let rarest = self.idf(0);
        let mut out = Vec::new();
        for word in words(surface, full, question) {
            if ignored(&word.surface) {
                continue;
            }
            let mut evidence = WordEvidence {
                idf: 0.0,
                terms: Vec::new(),
                parts: Vec::new(),
            };
            for term in terms.iter().filter(|t| t.position == word.position) {
                let idf = self.idf(self.doc_freq(&term.text)?);
                evidence.idf = evidence.idf.max(idf);
                let entry = (term.text.clone(), term.evidence);
                if term.part {
                    evidence.parts.push(entry);
                } else {
                    evidence.terms.push(entry);
                }
            }
            if evidence.terms.is_empty() && evidence.parts.is_empty() {
                evidence.idf = rarest;
            }
            out.push(evidence);
        }
        Ok(out)
    }

    /// The question's terms, with unknown words split or corrected against the index.
    pub fn question_terms(
        &self,
        surface: &mut TextAnalyzer,
        full: &mut TextAnalyzer,
        question: &str,
    ) -> tantivy::Result<Vec<WeightedTerm>> {
        let mut terms: Vec<WeightedTerm> = Vec::new();
        let push = |terms: &mut Vec<WeightedTerm>, t: WeightedTerm| {
            if let Some(seen) = terms.iter_mut().find(|s| s.text == t.text) {
                // A question word that is itself the term owns it (its position counts for
                // proximity and coverage), even when a glossary entry of an earlier word
                // brought the same term in.
                if t.exact && !seen.exact {
                    seen.position = t.position;
                    seen.exact = true;
                }
                seen.weight = seen.weight.max(t.weight);
                seen.evidence = seen.evidence.max(t.evidence);
            } else {
                terms.push(t);
            }
        };
        let compounds = matches!(self.language, Language::German | Language::Dutch);
        for word in words(surface, full, question) {
            let known = self.doc_freq(&word.stem)? > 0;
            let related = |text: String, weight: f32, evidence: f32| WeightedTerm {
                text,
                weight,
                position: word.position,
                exact: false,
                evidence,
                part: false,
            };
            if known {
                push(
                    &mut terms,
                    WeightedTerm {
                        text: word.stem.clone(),
                        weight: 1.0,
                        position: word.position,
                        exact: true,
                        evidence: 1.0,
                        part: false,
                    },
                );
            }
            let mut found = known;
            // In compounding languages a known compound also brings its parts and the longer
            // compounds it begins, at lower weight: "Kinderbücher" finds "Bücher für Kinder",
            // "Rollstuhl" finds "rollstuhlgerecht".
            if !known || compounds {
                if let Some((head, tail)) = self.split_compound(full, &word.stem)? {
                    let weight = if known {
                        SPLIT_WEIGHT / 2.0
                    } else {
                        SPLIT_WEIGHT
                    };
                    for half in [head, tail] {
                        push(
                            &mut terms,
                            WeightedTerm {
                                part: true,
                                ..related(half, weight, weight / 2.0)
                            },
                        );
                    }
                    found = true;
                }
            }
            if compounds {
                for text in self.extensions(&word.stem)? {
                    push(&mut terms, related(text, PREFIX_WEIGHT, PREFIX_WEIGHT));
                    found = true;
                }
            }
            if !found {
                for (text, distance) in self.corrections(&word)? {
                    let evidence = fuzzy_evidence(&text, distance);
                    push(
                        &mut terms,
                        related(text, FUZZY_WEIGHT[usize::from(distance)], evidence),
                    );
                }
            }
            // Words customers use for the documents' words, in their language or another.
            for other in glossary_words(&word.surface, self.language == Language::German) {
                let mut stream = full.token_stream(other);
                let mut stems = Vec::new();
                while let Some(token) = stream.next() {
                    stems.push(token.text.clone());
                }
                for stem in stems {
                    if self.doc_freq(&stem)? > 0 {
                        push(
                            &mut terms,
                            related(stem, GLOSSARY_WEIGHT, GLOSSARY_EVIDENCE),
                        );
                    }
                }
            }
        }
        Ok(terms)
    }

    /// The most common index terms that begin with `stem` and are longer (compounds).
    fn extensions(&self, stem: &str) -> tantivy::Result<Vec<String>> {
        if stem.chars().count() < MIN_PREFIX {
            return Ok(Vec::new());
        }
        let mut found: Vec<String> = Vec::new();
        for segment in self.searcher.segment_readers() {
            for field in self.fields {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted.terms().range().ge(stem).into_stream()?;
                let mut scanned = 0;
                while stream.advance() && scanned < 64 {
                    scanned += 1;
                    let key = stream.key();
                    if !key.starts_with(stem.as_bytes()) {
                        break;
                    }
                    if key.len() == stem.len() {
                        continue;
                    }
                    if let Ok(text) = std::str::from_utf8(key) {
                        if !found.iter().any(|f| f == text) {
                            found.push(text.to_string());
                        }
                    }
                }
            }
        }
        let mut ranked = found
            .into_iter()
            .map(|t| self.doc_freq(&t).map(|df| (t, df)))
            .collect::<tantivy::Result<Vec<_>>>()?;
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(MAX_EXPANSIONS);
        Ok(ranked.into_iter().map(|(t, _)| t).collect())
    }

    /// Index terms within the word's allowed edit distance of its stem, closest and most
    /// common first.
    fn corrections(&self, word: &Word) -> tantivy::Result<Vec<(String, u8)>> {
        let distance = max_distance(&word.surface);
        if distance == 0 {
            return Ok(Vec::new());
        }
        let dfa = automaton_builder(distance).build_dfa(&word.stem);
        // Typos seldom touch the first letter; keeping it fixed walks one branch of the term
        // dictionary instead of all of it (what made misspelt questions the slowest ones).
        let Some(first) = word.stem.chars().next().map(String::from) else {
            return Ok(Vec::new());
        };
        let mut after_first = first.clone().into_bytes();
        if let Some(last) = after_first.last_mut() {
            *last = last.saturating_add(1);
        }
        let mut found: Vec<(String, u8, u64)> = Vec::new();
        for segment in self.searcher.segment_readers() {
            // Headings repeat words of titles and bodies; their dictionary adds nothing here.
            for field in [self.fields[0], self.fields[2]] {
                let inverted = segment.inverted_index(field)?;
                let mut stream = inverted
                    .terms()
                    .search(Dfa(&dfa))
                    .ge(first.as_bytes())
                    .lt(&after_first)
                    .into_stream()?;
                while stream.advance() {
                    let Ok(text) = std::str::from_utf8(stream.key()) else {
                        continue;
                    };
                    if found.iter().any(|(t, _, _)| t == text) {
                        continue;
                    }
                    let d = match dfa.eval(text) {
                        Distance::Exact(d) => d,
                        Distance::AtLeast(_) => continue,
                    };
                    found.push((text.to_string(), d, 0));
                }
            }
        }
        for entry in &mut found {
            entry.2 = self.doc_freq(&entry.0)?;
        }
        found.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)));
        found.truncate(MAX_EXPANSIONS);
        Ok(found.into_iter().map(|(t, d, _)| (t, d)).collect())
    }

    /// Splits an unknown compound into a known head and a known tail, allowing the linking
    /// letters German puts between them (Kind-er-buch, Liebe-s-roman).
    fn split_compound(
        &self,
        full: &mut TextAnalyzer,
        stem: &str,
    ) -> tantivy::Result<Option<(String, String)>> {
        const MIN_PART: usize = 3;
        let chars: Vec<(usize, char)> = stem.char_indices().collect();
        if chars.len() < 2 * MIN_PART + 1 {
            return Ok(None);
        }
        let mut best: Option<(String, String, u64)> = None;
        for &(at, _) in &chars[MIN_PART..=chars.len() - MIN_PART] {
            let (head, rest) = stem.split_at(at);
            for link in ["", "s", "n", "e", "er", "en", "es"] {
                let Some(tail) = rest.strip_prefix(link) else {
                    continue;
                };
                if tail.chars().count() < MIN_PART {
                    continue;
                }
                let head_stem = stem_of(full, head);
                let tail_stem = stem_of(full, tail);
                let df_head = self.doc_freq(&head_stem)?;
                if df_head == 0 {
                    continue;
                }
                let df_tail = self.doc_freq(&tail_stem)?;
                if df_tail == 0 {
                    continue;
                }
                let rarity = df_head.min(df_tail);
                if best.as_ref().is_none_or(|b| rarity > b.2) {
                    best = Some((head_stem, tail_stem, rarity));
                }
            }
        }
        Ok(best.map(|(h, t, _)| (h, t)))
    }
}

/// The glossary's other words for a question word as typed (folded like the index folds).
fn glossary_words(surface: &str, german: bool) -> impl Iterator<Item = &'static str> + '_ {
    static TABLES: [OnceLock<HashMap<String, Vec<usize>>>; 2] = [OnceLock::new(), OnceLock::new()];
    let table = TABLES[usize::from(german)].get_or_init(|| {
        let mut table: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, concept) in glossary::CONCEPTS.iter().enumerate() {
            for word in *concept {
                table.entry(fold(word, german)).or_default().push(i);
            }
        }
        table
    });
    let concepts = table.get(surface).map(Vec::as_slice).unwrap_or_default();
    concepts
        .iter()
        .flat_map(|&i| glossary::CONCEPTS[i].iter().copied())
        .filter(move |w| fold(w, german) != surface)
}

fn stem_of(full: &mut TextAnalyzer, word: &str) -> String {
    let mut stream = full.token_stream(word);
    stream
        .next()
        .map(|t| t.text.clone())
        .unwrap_or_else(|| word.to_string())
}
