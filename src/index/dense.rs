//! Dense retrieval over one business index: which texts of a passage are embedded, embedding
//! the ones the vector file lacks, and scoring every live passage against a question.
//!
//! A passage is embedded as a passage (its title, headings and text together); an FAQ entry
//! also has its question embedded as a question, since a customer's question is compared best
//! with the question the business wrote down (e5 reads both sides of such a symmetric pair
//! with the `query: ` prefix). Which vector rows belong to which tantivy document is worked
//! out once per segment, from the stored text, and kept until the segment is merged away.

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

/// The texts a passage is embedded as: itself, and for an FAQ entry its question.
pub fn texts(kind: &str, title: &str, headings: &str, body: &str) -> Vec<(Reading, String)> {
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
    let mut out = vec![(Reading::Passage, passage)];
    if kind == PassageKind::Faq.as_str() && !title.is_empty() {
        out.push((Reading::Query, title.to_string()));
    }
    out
}

/// Vector rows of one segment's documents, by doc id.
struct SegmentRows {
    passage: Vec<u32>,
    question: Vec<u32>,
    /// Every passage had its vectors when this was built (else it is rebuilt once more exist).
    complete: bool,
    built_with: usize,
}

pub struct Dense {
    embedder: Arc<dyn Embedder>,
    vectors: RwLock<VectorFile>,
    rows: Mutex<HashMap<SegmentId, Arc<SegmentRows>>>,
}

/// A passage's dense evidence: cosine of the question with the passage, and with the FAQ
/// question where the passage is an FAQ entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    pub passage: f32,
    pub question: Option<f32>,
}

impl Similarity {
    /// The stronger of the two signals.
    pub fn best(&self) -> f32 {
        self.question.map_or(self.passage, |q| q.max(self.passage))
    }
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
        Some(Similarity {
            passage: at(&rows.passage)?,
            question: at(&rows.question),
        })
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

    /// Embeds the texts the vector file lacks and appends them (synced); returns how many.
    pub fn embed_missing(&self, texts: &[(Reading, String)]) -> Result<usize, IndexError> {
        let mut missing: Vec<(Key, Reading, &str)> = Vec::new();
        {
            let vectors = self.vectors.read();
            let mut seen = std::collections::HashSet::new();
            for (reading, text) in texts {
                let k = key(*reading, text);
                if vectors.row(&k).is_none() && seen.insert(k) {
                    missing.push((k, *reading, text));
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
    ) -> Result<Vec<(Reading, String)>, IndexError> {
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
            complete: true,
            built_with: vectors.len(),
        };
        for_each_stored(segment, fields, |doc, texts| {
            for (reading, text) in texts {
                let row = vectors.row(&key(reading, &text));
                let slot = match reading {
                    Reading::Passage => &mut rows.passage,
                    Reading::Query => &mut rows.question,
                };
                match row {
                    Some(row) => slot[doc as usize] = row,
                    None => rows.complete = false,
                }
            }
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
    mut f: impl FnMut(u32, Vec<(Reading, String)>),
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
