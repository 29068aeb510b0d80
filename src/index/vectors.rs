//! Passage embeddings kept beside a business's index, for dense retrieval.
//!
//! Vectors are content-addressed: each is filed under a hash of what was embedded (how it was
//! read — as a passage or as a question — and its text), in an append-only file per embedding
//! model (`vectors-<model>.bin` in the index directory). An upload embeds the texts the file
//! lacks and appends them, synced, *before* tantivy commits the passages, so every committed
//! passage has its vector; a crash in between leaves only vectors no passage refers to. An
//! index written by a version without vectors, or opened with another model, has texts
//! without vectors in that model's file; `BusinessIndex::attach_embedder` embeds them then.
//! Re-uploading unchanged text costs no embedding at all.
//!
//! Vectors are kept as Q8_0 rows (32 values sharing one f16 scale), the layout the language
//! model's kernels multiply, so an exact search over every vector of a business is one
//! quantized matrix-vector product spread over the kernels' pool.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::llm::kernels::quant::quantize_q8_0;
use crate::llm::kernels::{matmul, pool, Acts, QMatrix, QType};

/// What turns text into unit-length vectors; the engine supplies one (the sentence encoder),
/// the index only calls it.
pub trait Embedder: Send + Sync {
    /// Names the model, its version and anything else that changes its vectors: vectors under
    /// another id are never compared with this one's.
    fn model_id(&self) -> &str;
    fn dim(&self) -> usize;
    /// Unit-length vectors of `texts` read as `kind`, in order.
    fn embed(&self, kind: Reading, texts: &[&str]) -> Result<Vec<Vec<f32>>, String>;
}

/// How a text is read by the encoder (e5 is trained with a prefix for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reading {
    /// A question, or an FAQ entry's question matched against the customer's.
    Query,
    /// A passage that may answer a question.
    Passage,
}

/// The address of one embedded text.
pub type Key = [u8; 16];

pub fn key(reading: Reading, text: &str) -> Key {
    let mut hash = Sha256::new();
    hash.update(match reading {
        Reading::Query => b"q\0",
        Reading::Passage => b"p\0",
    });
    hash.update(text.as_bytes());
    let digest = hash.finalize();
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

const MAGIC: &[u8; 16] = b"clerk-vectors 1\n";
/// Chunks merged into one when there are more (each upload adds one).
const MAX_CHUNKS: usize = 8;

/// The vectors of one model, in memory and (for an index on disk) in its file.
pub struct VectorFile {
    model: String,
    dim: usize,
    file: Option<File>,
    rows: HashMap<Key, u32>,
    /// Rows in order of their numbers, a chunk per append.
    chunks: Vec<QMatrix>,
    total: usize,
}

impl VectorFile {
    /// The file for `model` in `dir` (read if present), or vectors in memory only.
    pub fn open(dir: Option<&Path>, model: &str, dim: usize) -> std::io::Result<VectorFile> {
        if dim == 0 || !dim.is_multiple_of(32) {
            return Err(std::io::Error::other(format!(
                "embeddings of {dim} values cannot be stored in blocks of 32"
            )));
        }
        let mut vectors = VectorFile {
            model: model.to_string(),
            dim,
            file: None,
            rows: HashMap::new(),
            chunks: Vec::new(),
            total: 0,
        };
        let Some(dir) = dir else {
            return Ok(vectors);
        };
        let path = dir.join(file_name(model));
        let header = header(model, dim);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let length = file.metadata()?.len();
        if length == 0 {
            file.write_all(&header)?;
            file.sync_data()?;
        } else {
            vectors.read_records(&path, &header, length)?;
        }
        vectors.file = Some(file);
        Ok(vectors)
    }

    /// Reads the records after the header; a torn last record (a crash while appending) is
    /// cut off, since its passages were never committed.
    fn read_records(&mut self, path: &Path, header: &[u8], length: u64) -> std::io::Result<()> {
        let mut reader = BufReader::new(File::open(path)?);
        let mut found = vec![0u8; header.len()];
        reader.read_exact(&mut found).map_err(|_| bad(path))?;
        if found != header {
            return Err(bad(path));
        }
        let record = 16 + self.row_bytes();
        let whole = (length - header.len() as u64) / record as u64;
        let mut keys = Vec::with_capacity(whole as usize);
        let mut data = Vec::with_capacity(whole as usize * self.row_bytes());
        let mut buf = vec![0u8; record];
        for _ in 0..whole {
            reader.read_exact(&mut buf)?;
            let mut key = [0u8; 16];
            key.copy_from_slice(&buf[..16]);
            keys.push(key);
            data.extend_from_slice(&buf[16..]);
        }
        let expected = header.len() as u64 + whole * record as u64;
        if expected != length {
            tracing::warn!(path = %path.display(), "cutting off a torn vector record");
            OpenOptions::new()
                .write(true)
                .open(path)?
                .set_len(expected)?;
        }
        self.add_chunk(keys, data);
        Ok(())
    }

    fn row_bytes(&self) -> usize {
        QType::Q8_0.row_bytes(self.dim)
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of vectors held.
    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn row(&self, key: &Key) -> Option<u32> {
        self.rows.get(key).copied()
    }

    /// Adds vectors (unit length, `dim` long) under their keys: written and synced to the file
    /// first, then visible. Keys already held are skipped.
    pub fn append(&mut self, entries: &[(Key, Vec<f32>)]) -> std::io::Result<()> {
        let mut keys = Vec::new();
        let mut data = Vec::new();
        let mut record = Vec::new();
        for (key, vector) in entries {
            if vector.len() != self.dim {
                return Err(std::io::Error::other(format!(
                    "the encoder gave {} values where {} were expected",
                    vector.len(),
                    self.dim
                )));
            }
            if self.rows.contains_key(key) || keys.contains(key) {
                continue;
            }
            let row = quantize_q8_0(vector);
            record.extend_from_slice(key);
            record.extend_from_slice(&row);
            keys.push(*key);
            data.extend_from_slice(&row);
        }
        if keys.is_empty() {
            return Ok(());
        }
        if let Some(file) = &mut self.file {
            file.write_all(&record)?;
            file.sync_data()?;
        }
        self.add_chunk(keys, data);
        Ok(())
    }

    fn add_chunk(&mut self, keys: Vec<Key>, data: Vec<u8>) {
        if keys.is_empty() {
            return;
        }
        for key in &keys {
            self.rows.insert(*key, self.total as u32);
            self.total += 1;
        }
        self.chunks.push(QMatrix {
            qtype: QType::Q8_0,
            rows: keys.len(),
            cols: self.dim,
            data: data.into(),
        });
        if self.chunks.len() > MAX_CHUNKS {
            let parts: Vec<&QMatrix> = self.chunks.iter().collect();
            if let Some(merged) = QMatrix::stack(&parts) {
                self.chunks = vec![merged];
            }
        }
    }

    /// The dot product of `query` (unit length) with every vector held, by row number.
    pub fn scores(&self, query: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; self.total];
        if query.len() != self.dim {
            return out;
        }
        let mut acts = Acts::default();
        let Some(first) = self.chunks.first() else {
            return out;
        };
        acts.prepare(query, 1, &[first]);
        let mut at = 0;
        for chunk in &self.chunks {
            matmul(pool::global(), chunk, &acts, &mut out[at..at + chunk.rows]);
            at += chunk.rows;
        }
        out
    }
}

fn header(model: &str, dim: usize) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&(dim as u32).to_le_bytes());
    header.extend_from_slice(&(model.len() as u32).to_le_bytes());
    header.extend_from_slice(model.as_bytes());
    header
}

/// `vectors-<model>.bin`, the model id kept to characters every file system takes.
pub fn file_name(model: &str) -> PathBuf {
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("vectors-{safe}.bin"))
}

fn bad(path: &Path) -> std::io::Error {
    std::io::Error::other(format!(
        "{} is not a vector file of this model; delete it and the vectors are made again",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let v = crate::llm::kernels::test_values(dim, seed);
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn scores_are_dot_products_within_quantization() {
        let mut file = VectorFile::open(None, "m", 64).unwrap();
        let vectors: Vec<(Key, Vec<f32>)> = (0..20)
            .map(|i| (key(Reading::Passage, &i.to_string()), unit(i, 64)))
            .collect();
        for pair in vectors.chunks(3) {
            file.append(pair).unwrap();
        }
        let query = unit(99, 64);
        let scores = file.scores(&query);
        for (k, v) in &vectors {
            let exact: f32 = v.iter().zip(&query).map(|(a, b)| a * b).sum();
            let got = scores[file.row(k).unwrap() as usize];
            assert!((got - exact).abs() < 0.02, "{got} vs {exact}");
        }
    }

    #[test]
    fn vectors_survive_reopening_and_a_torn_record_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<(Key, Vec<f32>)> = (0..3)
            .map(|i| (key(Reading::Query, &format!("q{i}")), unit(i, 32)))
            .collect();
        {
            let mut file = VectorFile::open(Some(dir.path()), "e5/small", 32).unwrap();
            file.append(&entries).unwrap();
            file.append(&entries[..1]).unwrap();
            assert_eq!(file.len(), 3);
        }
        let path = dir.path().join(file_name("e5/small"));
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(&[7u8; 20]).unwrap();
        drop(raw);
        let file = VectorFile::open(Some(dir.path()), "e5/small", 32).unwrap();
        assert_eq!(file.len(), 3);
        assert_eq!(file.row(&entries[2].0), Some(2));
        // Another model has its own file, with nothing in it yet.
        let other = VectorFile::open(Some(dir.path()), "e5/base", 32).unwrap();
        assert!(other.is_empty());
    }

    #[test]
    fn keys_tell_readings_apart() {
        assert_ne!(key(Reading::Query, "x"), key(Reading::Passage, "x"));
        assert_eq!(key(Reading::Query, "x"), key(Reading::Query, "x"));
    }
}
