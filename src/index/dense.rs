//! Dense retrieval over one business index: which texts of a passage are embedded, embedding
//! the ones the vector file lacks, and scoring every live passage against a question.
//!
//! A passage is embedded as a passage (its title, headings and text together); an FAQ entry
//! also has its question embedded as a question, since a customer's question is compared best
//! with the question the business wrote down (e5 reads both sides of such a symmetric pair
//! with the `query: ` prefix). A page or FAQ answer of several sentences also has each
//! sentence embedded, behind its title: the answer to a question is often one sentence of a
//! section about something broader ("Gut erzogene Hunde sind willkommen" under "Im Salon"), and
//! one vector for the whole section dilutes it. Catalog rows are one vector each: their lines
//! are fields, and a catalog may have hundreds of thousands of rows. Which vector rows belong
//! to which tantivy document is worked out once per segment, from the stored text, and kept
//! until the segment is merged away.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tantivy::index::SegmentId;
use tantivy::schema::Value;
use tantivy::{DocAddress, Searcher, SegmentReader, TantivyDocument};

use super::schema::Fields;
use super::vectors::{key, Embedder, Key, Reading, VectorFile};
use super::{IndexError, MANIFEST_KIND};
use crate::documents::PassageKind;

/// Texts embedded per call to the encoder: enough to fill its batches, few enough that
/// progress shows.
const EMBED_BATCH: usize = 64;
const NONE: u32 = u32::MAX;
/// Most sentences of one passage embedded on their own (passages are chunked to a few hundred
/// words, so this is rarely reached; it bounds the work a pathological passage causes).
const MAX_SENTENCES: usize = 32;
/// e5 rates a question against another question higher than against a passage that answers
/// it; an FAQ entry's question similarity is lowered by this much before it is compared with
/// other passages' similarities (fitted on the demo dev questions: 0.02–0.1 rank alike).
pub const QUESTION_OFFSET: f32 = 0.03;

/// What an embedded text is to its passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The whole passage.
    Passage,
    /// An FAQ entry's question.
    Question,
    /// One sentence of the passage, behind its title.
    Sentence,
}

impl Role {
    fn reading(self) -> Reading {
        match self {
            Role::Passage | Role::Sentence => Reading::Passage,
            Role::Question => Reading::Query,
        }
    }
}

/// The sentences of a passage's text: each line (a list item, a table row) and, within a
/// line, each run ending in `.`, `?` or `!` before a space. Fragments of three characters or
/// fewer carry nothing to match on.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut start = 0;
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let ends = matches!(c, '.' | '?' | '!')
                && chars.peek().is_none_or(|&(_, next)| next.is_whitespace());
            if ends {
                out.push(&line[start..i + c.len_utf8()]);
                start = i + c.len_utf8();
            }
        }
        out.push(&line[start..]);
    }
    out.retain(|s| s.trim().chars().count() > 3);
    out.iter_mut().for_each(|s| *s = s.trim());
    out
}

/// The texts a passage is embedded as: itself; for an FAQ entry its question; for prose of
/// several sentences each sentence.
pub fn texts(kind: &str, title: &str, headings: &str, body: &str) -> Vec<(Role, String)> {
    if kind == MANIFEST_KIND {
        return Vec::new();
    }
    let mut passage = String::with_capacity(title.len() + headings.len() + body.len() + 2);
    for part in [title, headings, body] {
        if !part.is_empty() {
            if !passage.is_empty() {
                passage.push('\n');
            }
            passage.push_str(part);
        }
    }
    let mut out = vec![(Role::Passage, passage)];
    if kind == PassageKind::Faq.as_str() && !title.is_empty() {
        out.push((Role::Question, title.to_string()));
    }
    if kind != PassageKind::Product.as_str() {
        let sentences = sentences(body);
        if sentences.len() > 1 {
            out.extend(sentences.into_iter().take(MAX_SENTENCES).map(|s| {
                let text = if title.is_empty() {
                    s.to_string()
                } else {
                    format!("{title}: {s}")
                };
                (Role::Sentence, text)
            }));
        }
    }
    out
}

/// Vector rows of one segment's documents, by doc id.
struct SegmentRows {
    passage: Vec<u32>,
    question: Vec<u32>,
    /// Each document's sentence rows: `sentence_rows[sentences[doc].0 ..][.. sentences[doc].1]`.
    sentences: Vec<(u32, u32)>,
    sentence_rows: Vec<u32>,
    /// Every passage had its vectors when this was built (else it is rebuilt once more exist).
    complete: bool,
    built_with: usize,
}

pub struct Dense {
    embedder: Arc<dyn Embedder>,
    vectors: RwLock<VectorFile>,
    rows: Mutex<HashMap<SegmentId, Arc<SegmentRows>>>,
}

/// A passage's dense evidence: cosine of the question with the passage, with its closest
/// sentence where it has several, and with the FAQ question where it is an FAQ entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub passage: f32,
    pub sentence: Option<f32>,
    pub question: Option<f32>,
}

impl Similarity {
    /// The strongest signal, on the passage's scale: what ranks passages.
    pub fn best(&self) -> f32 {
        best_of(self.passage, self.sentence, self.question)
    }
}

/// The strongest of a passage's similarities, its FAQ question's lowered to a passage's scale.
pub fn best_of(passage: f32, sentence: Option<f32>, question: Option<f32>) -> f32 {
    let text = sentence.map_or(passage, |s| s.max(passage));
    question.map_or(text, |q| text.max(q - QUESTION_OFFSET))
}

/// Every live passage's similarity to one question.
pub struct Scores {
    segments: Vec<Arc<SegmentRows>>,
    values: Vec<f32>,
}

impl Scores {
    pub fn of(&self, address: DocAddress) -> Option<Similarity> {
        let rows = self.segments.get(address.segment_ord as usize)?;
        let at = |rows: &[u32]| {
            rows.get(address.doc_id as usize)
                .filter(|&&r| r != NONE)
                .map(|&r| self.values[r as usize])
        };
        let (start, len) = rows.sentences[address.doc_id as usize];
        let sentence = rows.sentence_rows[start as usize..][..len as usize]
            .iter()
            .map(|&r| self.values[r as usize])
            .reduce(f32::max);
        Some(Similarity {
            passage: at(&rows.passage)?,
            sentence,
            question: at(&rows.question),
        })
    }

    /// The question's similarity to each embedded sentence of the passage, in the order
    /// `sentences` gives them (empty where the passage is one vector).
    pub fn sentences_of(&self, address: DocAddress) -> Vec<f32> {
        let Some(rows) = self.segments.get(address.segment_ord as usize) else {
            return Vec::new();
        };
        let (start, len) = rows.sentences[address.doc_id as usize];
        rows.sentence_rows[start as usize..][..len as usize]
            .iter()
            .map(|&r| self.values[r as usize])
            .collect()
    }

    /// The `n` passages most similar to the question, best first.
    pub fn top(&self, searcher: &Searcher, n: usize) -> Vec<(DocAddress, Similarity)> {
        let mut all = Vec::new();
        for (ord, segment) in searcher.segment_readers().iter().enumerate() {
            let alive = segment.alive_bitset();
            for doc in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let address = DocAddress::new(ord as u32, doc);
                if let Some(s) = self.of(address) {
                    all.push((address, s));
                }
            }
        }
        let by_best = |a: &(DocAddress, Similarity), b: &(DocAddress, Similarity)| {
            b.1.best().total_cmp(&a.1.best())
        };
        if all.len() > n {
            all.select_nth_unstable_by(n, by_best);
            all.truncate(n);
        }
        all.sort_unstable_by(by_best);
        all
    }
}

impl Dense {
    pub fn new(embedder: Arc<dyn Embedder>, vectors: VectorFile) -> Dense {
        Dense {
            embedder,
            vectors: RwLock::new(vectors),
            rows: Mutex::new(HashMap::new()),
        }
    }

    pub fn model(&self) -> String {
        self.vectors.read().model().to_string()
    }

    pub fn embedder(&self) -> Arc<dyn Embedder> {
        self.embedder.clone()
    }

    /// Embeds the texts the vector file lacks and appends them (synced); returns how many.
    pub fn embed_missing(&self, texts: &[(Role, String)]) -> Result<usize, IndexError> {
        let mut missing: Vec<(Key, Reading, &str)> = Vec::new();
        {
            let vectors = self.vectors.read();
            let mut seen = std::collections::HashSet::new();
            for (role, text) in texts {
                let reading = role.reading();
                let k = key(reading, text);
                if vectors.row(&k).is_none() && seen.insert(k) {
                    missing.push((k, reading, text));
                }
            }
        }
        for reading in [Reading::Passage, Reading::Query] {
            let of_kind: Vec<&(Key, Reading, &str)> =
                missing.iter().filter(|m| m.1 == reading).collect();
            for batch in of_kind.chunks(EMBED_BATCH) {
                let batch_texts: Vec<&str> = batch.iter().map(|m| m.2).collect();
                let embedded = self
                    .embedder
                    .embed(reading, &batch_texts)
                    .map_err(IndexError::Embedding)?;
                let entries: Vec<(Key, Vec<f32>)> =
                    batch.iter().map(|m| m.0).zip(embedded).collect();
                self.vectors.write().append(&entries)?;
            }
        }
        Ok(missing.len())
    }

    /// The texts of every live passage in `searcher` (for filling in missing vectors).
    pub fn texts_in(
        searcher: &Searcher,
        fields: &Fields,
    ) -> Result<Vec<(Role, String)>, IndexError> {
        let mut out = Vec::new();
        for segment in searcher.segment_readers() {
            for_each_stored(segment, fields, |_, texts| out.extend(texts))?;
        }
        Ok(out)
    }

    /// The question's similarity to every live passage.
    pub fn scores(
        &self,
        searcher: &Searcher,
        fields: &Fields,
        question: &str,
    ) -> Result<Scores, IndexError> {
        let query = self
            .embedder
            .embed(Reading::Query, &[question])
            .map_err(IndexError::Embedding)?
            .pop()
            .unwrap_or_default();
        let vectors = self.vectors.read();
        let values = vectors.scores(&query);
        let segments = searcher
            .segment_readers()
            .iter()
            .map(|s| self.segment_rows(s, fields, &vectors))
            .collect::<Result<_, _>>()?;
        Ok(Scores { segments, values })
    }

    fn segment_rows(
        &self,
        segment: &SegmentReader,
        fields: &Fields,
        vectors: &VectorFile,
    ) -> Result<Arc<SegmentRows>, IndexError> {
        let id = segment.segment_id();
        if let Some(rows) = self.rows.lock().get(&id) {
            if rows.complete || rows.built_with == vectors.len() {
                return Ok(rows.clone());
            }
        }
        let max = segment.max_doc() as usize;
        let mut rows = SegmentRows {
            passage: vec![NONE; max],
            question: vec![NONE; max],
            sentences: vec![(0, 0); max],
            sentence_rows: Vec::new(),
            complete: true,
            built_with: vectors.len(),
        };
        for_each_stored(segment, fields, |doc, texts| {
            let start = rows.sentence_rows.len();
            let mut sentences_whole = true;
            for (role, text) in texts {
                let Some(row) = vectors.row(&key(role.reading(), &text)) else {
                    rows.complete = false;
                    sentences_whole &= role != Role::Sentence;
                    continue;
                };
                match role {
                    Role::Passage => rows.passage[doc as usize] = row,
                    Role::Question => rows.question[doc as usize] = row,
                    Role::Sentence => rows.sentence_rows.push(row),
                }
            }
            // Sentence similarities are read by position: all of a passage's or none.
            if !sentences_whole {
                rows.sentence_rows.truncate(start);
            }
            let len = rows.sentence_rows.len() - start;
            rows.sentences[doc as usize] = (start as u32, len as u32);
        })?;
        let rows = Arc::new(rows);
        let mut cache = self.rows.lock();
        // Segments merged away are dropped from the cache as they go.
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(id, rows.clone());
        Ok(rows)
    }
}

/// Calls `f(doc id, texts)` for every live document of a segment, with the texts it is
/// embedded as (none for manifest records).
fn for_each_stored(
    segment: &SegmentReader,
    fields: &Fields,
    mut f: impl FnMut(u32, Vec<(Role, String)>),
) -> Result<(), IndexError> {
    let store = segment.get_store_reader(64)?;
    let alive = segment.alive_bitset();
    for doc in 0..segment.max_doc() {
        if alive.is_some_and(|a| !a.is_alive(doc)) {
            continue;
        }
        let stored: TantivyDocument = store.get(doc)?;
        let text = |field| {
            stored
                .get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        f(
            doc,
            texts(
                text(fields.kind),
                text(fields.title),
                text(fields.headings),
                text(fields.body),
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_is_split_into_sentences_and_lines() {
        let text =
            "Gut erzogene Hunde sind willkommen. Kaffee gibt es auch!\n- Montag: geschlossen\n\
                    - Di: 9.00–19.00 Uhr\nOK.";
        assert_eq!(
            sentences(text),
            [
                "Gut erzogene Hunde sind willkommen.",
                "Kaffee gibt es auch!",
                "- Montag: geschlossen",
                "- Di: 9.00–19.00 Uhr",
            ]
        );
    }

    #[test]
    fn sentences_are_embedded_for_prose_not_for_catalog_rows() {
        let page = texts(
            "page",
            "Im Salon",
            "",
            "Hunde sind willkommen. Es gibt WLAN.",
        );
        let roles: Vec<Role> = page.iter().map(|t| t.0).collect();
        assert_eq!(roles, [Role::Passage, Role::Sentence, Role::Sentence]);
        assert_eq!(page[1].1, "Im Salon: Hunde sind willkommen.");
        let faq = texts("faq", "Darf mein Hund mit?", "", "Ja.");
        assert_eq!(
            faq.iter().map(|t| t.0).collect::<Vec<_>>(),
            [Role::Passage, Role::Question]
        );
        let product = texts("product", "Bart", "", "Preis: 18,00 EUR\nDauer: 20 min");
        assert_eq!(product.len(), 1);
    }

    #[test]
    fn an_faq_question_is_weighed_on_a_passage_s_scale() {
        let faq = Similarity {
            passage: 0.80,
            sentence: None,
            question: Some(0.90),
        };
        assert!((faq.best() - (0.90 - QUESTION_OFFSET)).abs() < 1e-6);
        let prose = Similarity {
            passage: 0.80,
            sentence: Some(0.86),
            question: None,
        };
        assert_eq!(prose.best(), 0.86);
    }
}
